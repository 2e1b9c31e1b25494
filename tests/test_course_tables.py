"""refvae.course.study_table: the study tables shipped inside the package for the course (chapter 12 reads
the six-objectives study), their columns, and their rows checked against the study file that declared them."""

import fnmatch
import pathlib

import pandas
import pytest

from refvae import course
from refvae.metrics import registry
from refvae.studies import read_study

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "refvae" / "course" / "studies" / "six_objectives.csv"


@pytest.fixture(scope="module")
def table():
    return course.study_table("six-objectives")


@pytest.fixture(scope="module")
def study():
    return read_study(ROOT / course.STUDY_TABLES["six-objectives"][1])


def test_study_table_returns_the_rows_of_the_shipped_file(table):
    pandas.testing.assert_frame_equal(table, pandas.read_csv(SHIPPED))
    assert table["trial"].is_unique


def test_study_table_has_the_columns_the_chapter_reads(table):
    # every metric's headline value, the config fields the report groups by, and a few of the other numbers
    assert set(registry.names()) <= set(table.columns)
    assert {"trial", "status", "error", "model", "seed", "beta", "gamma", "capacity", "lambda_od", "steps", "batch_size",
            "architecture", "filters", "learning_rate", "latent_dim", "train_seconds", "eval_seconds"} <= set(table.columns)
    assert {"dci.completeness", "mig.shape", "final_elbo", "bias.tc_batch"} <= set(table.columns)
    done = table[table["status"] == "done"]
    for name in ("mig", "mig-sampled", "beta-vae", "factor-vae", "dci", "sap", "modularity", "irs"):
        assert done[name].between(0.0, 1.0).all(), name          # scores in [0, 1]
    assert (done["train_seconds"] > 0).all() and set(table["status"]) <= {"done", "failed"}


def test_every_shipped_row_is_a_trial_of_the_declared_study_in_grid_order(table, study):
    grid = {trial.id: trial for trial in study.trials}
    assert set(table["trial"]) <= set(grid), sorted(set(table["trial"]) - set(grid))
    assert list(table["trial"]) == [trial.id for trial in study.trials if trial.id in set(table["trial"])]
    for row in table.to_dict("records"):
        trial = grid[row["trial"]]
        assert (row["model"], row["seed"]) == (trial.model, trial.seed)
        for option, value in trial.swept.items():
            assert row[option] == pytest.approx(value), (row["trial"], option)
        assert (row["steps"], row["batch_size"]) == (trial.config["steps"], trial.config["batch_size"])


def test_the_shipped_table_holds_every_setting_of_the_grid_at_least_once(table, study):
    # chapter 12 needs one trained model of each objective at each value of its weight (18 settings)
    settings = {trial.id.rsplit("-s", 1)[0] for trial in study.trials}
    done = {trial_id.rsplit("-s", 1)[0] for trial_id in table.loc[table["status"] == "done", "trial"]}
    assert len(settings) == 18 and done == settings


def test_an_unknown_table_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="six-objectives"):
        course.study_table("seven-objectives")


def test_pyproject_ships_every_table_as_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["refvae.course"]
    for file_name, study_file in course.STUDY_TABLES.values():
        assert any(fnmatch.fnmatch(f"studies/{file_name}", pattern) for pattern in patterns), file_name
        assert (ROOT / "refvae" / "course" / "studies" / file_name).is_file() and (ROOT / study_file).is_file()
