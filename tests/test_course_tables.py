"""refvae.course.study_table: the study tables shipped inside the package for the course (chapter 12 reads the
six-objectives study), checked against the grid the study declared. The table grows while the study runs, so every
assertion here holds for any table of its finished trials."""

import fnmatch
import json
import math
import pathlib

import numpy as np
import pandas
import pytest

from refvae import course
from refvae.metrics import registry

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "refvae" / "course" / "studies" / "six_objectives.csv"
GRID = ROOT / "experiments" / "results" / "study_six_objectives" / "grid.json"   # written before the first trial ran


@pytest.fixture(scope="module")
def table():
    return course.study_table("six-objectives")


@pytest.fixture(scope="module")
def grid():
    return {trial["id"]: trial["config"] for trial in json.loads(GRID.read_text())["trials"]}


def test_study_table_returns_the_rows_of_the_shipped_file(table):
    pandas.testing.assert_frame_equal(table, pandas.read_csv(SHIPPED))
    assert len(table) >= 1 and table["trial"].is_unique


def test_the_grid_declares_90_trials_six_objectives_three_values_five_seeds(grid):
    settings = {trial_id.rsplit("-s", 1)[0] for trial_id in grid}
    assert len(grid) == 90 and len(settings) == 18
    assert {config["model"] for config in grid.values()} == {"beta-vae", "capacity", "factor-vae", "dip-vae-i",
                                                              "dip-vae-ii", "beta-tcvae"}
    assert sorted({config["seed"] for config in grid.values()}) == [0, 1, 2, 3, 4]


def test_every_row_is_a_trial_of_the_grid_in_grid_order_with_its_configuration(table, grid):
    assert set(table["trial"]) <= set(grid), sorted(set(table["trial"]) - set(grid))
    assert list(table["trial"]) == [trial_id for trial_id in grid if trial_id in set(table["trial"])]
    for row in table.to_dict("records"):
        config = grid[row["trial"]]
        assert (row["model"], row["seed"], row["steps"], row["batch_size"]) == (
            config["model"], config["seed"], config["steps"], config["batch_size"]), row["trial"]
        for option in ("beta", "gamma", "capacity", "lambda_od"):
            if option in config:
                assert row[option] == pytest.approx(config[option]), (row["trial"], option)


def test_every_row_is_done_or_failed_and_a_done_row_has_every_metric_finite(table):
    assert set(table["status"]) <= {"done", "failed"}
    done = table[table["status"] == "done"]
    headline = [name for name in registry.names() if name in table]
    assert set(headline) == set(registry.names())                  # the study scored every metric refvae has
    values = done[headline].to_numpy(dtype=float)
    assert np.isfinite(values).all(), [(trial, name) for trial, row in zip(done["trial"], values)
                                       for name, value in zip(headline, row) if not math.isfinite(value)]
    for name in ("mig", "mig-sampled", "beta-vae", "factor-vae", "dci", "sap", "modularity", "irs"):
        assert done[name].between(0.0, 1.0).all(), name           # scores in [0, 1]
    assert (done["train_seconds"] > 0).all() and (done["eval_seconds"] > 0).all()


def test_study_table_has_the_columns_the_chapter_reads(table):
    assert {"trial", "status", "error", "model", "seed", "steps", "batch_size", "architecture", "filters",
            "learning_rate", "latent_dim", "train_seconds", "eval_seconds"} <= set(table.columns)
    assert {"dci.completeness", "mig.shape", "final_elbo", "bias.tc_batch"} <= set(table.columns)


def test_an_unknown_table_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="six-objectives"):
        course.study_table("seven-objectives")


def test_pyproject_ships_every_table_as_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["refvae.course"]
    for file_name, study_file in course.STUDY_TABLES.values():
        assert any(fnmatch.fnmatch(f"studies/{file_name}", pattern) for pattern in patterns), file_name
        assert (ROOT / "refvae" / "course" / "studies" / file_name).is_file() and (ROOT / study_file).is_file()
