"""The recipe study (experiments/study_recipe.py) in its smoke setting: runs, caches, probes."""

import json

import numpy as np
import pytest

from experiments import study_recipe

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow


def test_smoke_study_probes_every_checkpoint_and_reuses_its_cache(tmp_path):
    out, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["--smoke", "--out", str(out), "--runs", str(runs)]
    assert study_recipe.main(argv) == 0
    result = json.loads((out / "runs" / "smoke-s0.json").read_text())
    # 64 images at batch 16 = 4 steps, a checkpoint every 4 // 2 = 2 steps
    assert result["steps"] == 4 and [p["step"] for p in result["probes"]] == [2, 4]
    probe = result["probes"][-1]
    assert 0.0 <= probe["mig"] <= 1.0 and len(probe["mig_per_factor"]) == 5
    # MSS1 gives each sample's own posterior the weight 1/N: I(x; z) <= log N at any batch
    assert max(probe["index_code_mi_batch"], probe["index_code_mi_large"]) <= np.log(737_280) + 1e-6
    assert probe["tc_gaussian"] >= -1e-9                         # a Gaussian TC is a KL, >= 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["declared_seeds"] == [0, 1, 2, 3, 4]
    assert summary["settings"]["smoke"]["mig_per_seed"] == [round(result["mig"], 4)]
    # half of the 64 images is the first checkpoint's (step 2 of batch 16 = 32 images)
    assert summary["settings"]["smoke"]["mig_half_per_seed"] == [round(result["probes"][0]["mig"], 4)]
    assert study_recipe.mig_at_images(result, 48) != study_recipe.mig_at_images(result, 48)   # no checkpoint: nan
    assert (out / "mig_over_minutes.png").stat().st_size > 1000
    stamp = (out / "runs" / "smoke-s0.json").stat().st_mtime_ns
    assert study_recipe.main(argv) == 0                          # cached: not trained again
    assert (out / "runs" / "smoke-s0.json").stat().st_mtime_ns == stamp


def test_every_screened_setting_changes_one_option_of_its_round():
    # round 1 changes one option of BASE (an MLP also drops the conv filters and sets widths);
    # round 2 one option of BASE at Adam 3e-3; round 3 one option of batch-64
    for name, setting in study_recipe.SCREEN.items():
        start = study_recipe.LR3 if name.startswith("lr-3e-3-") else study_recipe.BASE
        if name.startswith("batch-64-"):
            start = study_recipe.SCREEN["batch-64"]
        changed = {k for k, v in setting.__dict__.items() if v != start.__dict__[k]} - {"filters", "hidden"}
        assert len(changed) <= 1, (name, changed)


def test_the_recipe_preset_is_the_studys_confirmed_batch_64_setting():
    from refvae import runs

    recipe, setting = runs.PRESETS["recipe"], study_recipe.SCREEN["batch-64"]
    assert "batch-64" in study_recipe.CONFIRM                       # confirmed on every declared seed
    for option in ("batch_size", "filters", "hidden", "learning_rate", "estimator"):
        assert recipe[option] == getattr(setting, option), option
    assert recipe["steps"] * recipe["batch_size"] == study_recipe.IMAGES // 2   # half of the study's images
    assert runs.RunConfig.create().batch_size == 64 and runs.RunConfig.create().steps == 1920
