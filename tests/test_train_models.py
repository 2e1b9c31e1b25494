"""`refvae train` / `evaluate` for the models with their own networks and optimisers:
FactorVAE (and 004's discriminator RTC-VAE), the InfoMax VAE and the hierarchical VAE."""

import os
import subprocess
import sys

import numpy as np
import pytest

from refvae import data, evaluate, runs

# Small networks so each run takes seconds; the defaults are the papers' (refvae.runs.registry).
SMALL = {
    "factor-vae": dict(model="factor-vae", gamma=20.0, eta=2.0, discriminator_learning_rate=1e-3,
                       discriminator_hidden=(32, 32)),
    "infomax": dict(model="infomax", lam=5.0, num_classes=6, hidden=(32,)),
    "hierarchical": dict(model="hierarchical", lam=0.5, num_classes=6, hidden=(32,), top_hidden=(16, 8)),
}


def _config(tmp_path, name, **overrides):
    values = dict(data="digits", steps=30, batch_size=32, out=str(tmp_path / "run"), checkpoint_every=10,
                  log_every=5, latent_dim=4, seed=3, **SMALL[name])
    values.update(overrides)
    return runs.RunConfig.create(**values)


@pytest.mark.parametrize(
    "overrides, option",
    [
        (dict(model="beta-vae", discriminator_learning_rate=1e-3), "discriminator_learning_rate does not apply"),
        (dict(model="factor-vae", discriminator_learning_rate=0.0), r"discriminator_learning_rate must be a number in \(0, 1\]"),
        (dict(model="factor-vae", eta=-1.0), "eta must be a number >= 0"),
        (dict(model="factor-vae", beta=2.0), "beta does not apply to model factor-vae"),
        (dict(model="infomax", num_classes=1), "num_classes must be an integer >= 2"),
        (dict(model="infomax", lam=-1.0), "lam must be a number >= 0"),
        (dict(model="infomax", top_hidden=(8,)), "top_hidden does not apply to model infomax"),
        (dict(model="vae", num_classes=10), "num_classes does not apply to model vae"),
        (dict(model="hierarchical", lam=1.5), r"lam must be a number in \[0, 1\]"),
        (dict(model="hierarchical", top_hidden=(8, 0)), "top_hidden must be positive integers"),
        (dict(model="factor-vae", discriminator_hidden=()), "discriminator_hidden must be positive integers"),
        (dict(model="rtc", discriminator_hidden=(8,)), "discriminator_hidden does not apply to model rtc"),
        (dict(model="hierarchical", architecture="conv"), "architecture conv cannot build model hierarchical"),
        (dict(model="hierarchical", gamma=1.0), "gamma does not apply to model hierarchical"),
    ],
)
def test_bad_model_options_are_refused_when_the_config_is_made(tmp_path, overrides, option):
    with pytest.raises(runs.ConfigError, match=option):
        runs.RunConfig.create(data="digits", out=str(tmp_path / "run"), **overrides)


@pytest.mark.slow
def test_options_reach_the_models():
    digits = data.load("digits")
    factor = runs.build_model(runs.RunConfig.create(data="digits", latent_dim=4, **SMALL["factor-vae"]), digits)
    assert (factor.gamma, factor.eta) == (20.0, 2.0)
    assert float(factor.discriminator_optimizer.learning_rate) == pytest.approx(1e-3)
    assert [layer.units for layer in factor.discriminator.layers if hasattr(layer, "units")] == [32, 32, 1]
    # Kim & Mnih's discriminator by default: six hidden layers of 1000 units and one logit
    default = runs.build_model(runs.RunConfig.create(data="digits", model="factor-vae", latent_dim=4), digits)
    assert [layer.units for layer in default.discriminator.layers if hasattr(layer, "units")] == [1000] * 6 + [1]
    assert (default.gamma, default.eta) == (10.0, 0.0)
    assert float(default.discriminator_optimizer.learning_rate) == pytest.approx(1e-4)     # a float32 variable

    infomax = runs.build_model(runs.RunConfig.create(data="digits", latent_dim=4, **SMALL["infomax"]), digits)
    assert infomax.lam == 5.0 and infomax.info_units == [4]               # the Concrete unit after 4 Gaussians
    assert infomax.info["kind"] == "categorical" and infomax.info["num_classes"] == 6
    assert infomax.latent.event_size == 4 + 6

    hierarchical = runs.build_model(runs.RunConfig.create(data="digits", latent_dim=4, **SMALL["hierarchical"]), digits)
    widths = {name: [layer.units for layer in getattr(hierarchical, name).layers if hasattr(layer, "units")]
              for name in hierarchical.NETWORKS}
    assert widths == {"encoder1": [32, 8], "encoder2": [16, 8, 6], "decoder2": [8, 16, 8], "decoder1": [32, 64]}
    assert (hierarchical.z1_dim, hierarchical.num_classes, hierarchical.lam) == (4, 6, 0.5)
    default = runs.build_model(runs.RunConfig.create(data="digits", model="hierarchical", latent_dim=4), digits)
    assert [layer.units for layer in default.encoder2.layers if hasattr(layer, "units")] == [32, 32, 16, 16, 10]


@pytest.mark.slow
@pytest.mark.parametrize("model", list(runs.registry.MODELS))
def test_the_train_step_logs_the_same_terms_with_and_without_autograph(tmp_path, model):
    import tensorflow as tf

    config = runs.RunConfig.create(data="digits", batch_size=32, latent_dim=4, seed=3, out=str(tmp_path / "run"),
                                   **SMALL.get(model, dict(model=model, hidden=(32,))))
    digits = data.load("digits")
    logs = {}
    for autograph in (True, False):
        model_ = runs.build_model(config, digits)
        step = runs.compiled_step(model_, tf.distribute.get_strategy(), autograph=autograph)
        logs[autograph] = [{k: float(v) for k, v in step(runs.batch_at(digits, config, t)).items()} for t in range(3)]
    assert logs[True][0].keys() == logs[False][0].keys() and "loss" in logs[False][0]
    for with_autograph, without in zip(logs[True], logs[False]):
        for name, value in with_autograph.items():
            assert without[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SMALL))
def test_interrupted_then_resumed_run_ends_where_the_uninterrupted_run_ends(tmp_path, name):
    whole = runs.train(_config(tmp_path, name, out=str(tmp_path / "whole")), progress=False)
    runs.train(_config(tmp_path, name, out=str(tmp_path / "split"), steps=20), progress=False)
    resumed = runs.train(_config(tmp_path, name, out=str(tmp_path / "split")), resume=True, progress=False)
    # every optimiser resumed at step 20 and made 10 more steps
    for optimizer in resumed.OPTIMIZERS:
        assert int(getattr(resumed, optimizer).iterations.numpy()) == 30, optimizer
    # every network: encoder, decoder and the discriminator / Q network / second layer
    assert len(whole.get_weights()) == len(resumed.get_weights())
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    history_whole = runs.read_history(tmp_path / "whole")
    history_split = runs.read_history(tmp_path / "split")
    np.testing.assert_array_equal(history_whole["step"], [5, 10, 15, 20, 25, 30])
    for term in history_whole:
        np.testing.assert_allclose(history_whole[term], history_split[term], rtol=1e-5, atol=1e-6, err_msg=term)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SMALL))
def test_evaluate_and_report_score_the_gaussian_code(tmp_path, name):
    config = _config(tmp_path, name, steps=5, checkpoint_every=5)
    model = runs.train(config, progress=False)
    results = evaluate.evaluate(config.out, ("mig", "mi"), num_points=200)
    assert 0.0 <= results["mig"]["mig"] <= 1.0
    assert len(results["mi"]["mutual_info"]) == 4                          # the 4 Gaussian units (z1)
    x = data.load("digits").observations_from_factors(np.arange(6)[:, None])
    posterior = runs.load_model(config.out).code_posterior(x)
    expected = model.posterior1(x) if name == "hierarchical" else model.posterior(x)
    expected = expected.parts[0] if name == "infomax" else expected
    np.testing.assert_allclose(np.asarray(posterior.loc), np.asarray(expected.loc), atol=1e-6)
    page = (tmp_path / "run" / "report.html").read_text()
    for figure in ("reconstructions", "traversals", "samples", "mutual_info", "mutual_info_matrix", "history"):
        assert (tmp_path / "run" / "report" / f"{figure}.png").stat().st_size > 1000, figure
        assert f"report/{figure}.png" in page


def test_train_help_lists_every_model_with_its_options():
    environment = {**os.environ, "COLUMNS": "2000"}                         # no wrapped lines
    text = subprocess.run([sys.executable, "-m", "refvae", "train", "--help"], capture_output=True, text=True,
                          check=True, env=environment).stdout
    for name, spec in runs.registry.MODELS.items():
        flags = " ".join("--" + option.replace("_", "-") for option in spec.option_names) or "none"
        assert f"{name} ({flags})" in text
    for flag in ("--discriminator-learning-rate", "--discriminator-hidden", "--num-classes", "--top-hidden"):
        assert flag in text
