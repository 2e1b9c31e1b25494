"""experiments/claim4_infomax.py in its smallest setting (--smoke): the JSON has the expected
keys and finite numbers, the figure is written, and the reported numbers obey the identities
a reader can check (accuracy range, eq 4.23 of 003, identical initialisation of both models)."""

import math

import pytest

from experiments import claim4_infomax
from tests.test_experiments import _written

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    out = tmp_path_factory.mktemp("claim4")
    claim4_infomax.main(["--smoke", "--out", str(out)])
    return _written(out, claim4_infomax.NAME)


def test_claim4_smoke_runs_both_models_from_the_same_initial_weights(payload):
    runs = payload["runs"]
    assert [(r["seed"], r["lam"]) for r in runs] == [(0, 0.0), (0, claim4_infomax.LAM)]
    # 003 §4.3.2: "two identically initialized VAE models": λ only changes the loss
    assert runs[0]["initial_weights_abs_sum"] == runs[1]["initial_weights_abs_sum"]
    assert payload["settings"]["data"] == "digits"
    assert payload["settings"]["train_points"] + payload["settings"]["test_points"] == 1797
    for key in ("elbo", "infomax", "accuracy_gain"):
        assert key in payload["summary"]


def test_claim4_accuracy_is_at_least_chance_and_categorical_kl_splits_as_eq_4_23(payload):
    log_k = math.log(claim4_infomax.NUM_CLASSES)
    for run in payload["runs"]:
        test = run["test"]
        # Hungarian matching of 10 categories to 10 labels: never below the largest class share
        # of the test split (digits: every class is about 1/10) and at most 1
        assert 0.09 <= test["accuracy"] <= 1.0
        # 003 eq 4.23: E_x KL(q(c|x) || U) = I(x; c) + KL(q̄ || U), both parts >= 0 and <= log K
        assert test["categorical_kl"] == pytest.approx(test["mutual_information"] + test["kl_marginal_uniform"],
                                                       abs=1e-5)
        assert -1e-9 <= test["mutual_information"] <= test["categorical_kl"] + 1e-9 <= log_k + 1e-6
        assert 1 <= test["clusters_used"] <= claim4_infomax.NUM_CLASSES
    table = payload["contingency_first_seed"]["infomax"]
    assert sum(map(sum, table)) == payload["settings"]["test_points"]
