"""experiments/claim7_hierarchical.py (000 §6.1, the hierarchical CorEx VAE's top layer as a
classifier) runs in its smallest setting and writes consistent numbers and a figure."""

import math

import pytest

from experiments import claim7_hierarchical
from tests.test_experiments import _written

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    out = tmp_path_factory.mktemp("claim7")
    claim7_hierarchical.main(["--smoke", "--out", str(out)])
    return _written(out, claim7_hierarchical.NAME)


def test_claim7_smoke_writes_one_run_per_lam_and_seed(payload):
    settings = payload["settings"]
    assert settings["data"] == "digits" and settings["train_points"] + settings["test_points"] == 1797
    assert sorted((r["lam"], r["seed"]) for r in payload["runs"]) == [(lam, 0) for lam in settings["lams"]]
    assert [row["lam"] for row in payload["table"]] == settings["lams"]
    assert payload["paper"]["accuracy"] == 0.85


def test_claim7_accuracy_is_the_diagonal_of_the_matched_contingency_table(payload):
    for run in payload["runs"]:
        table = run["contingency_test"]
        total = sum(map(sum, table))
        assert total == payload["settings"]["test_points"] == sum(run["usage_test"]["cluster_sizes"])
        # rows are ordered by the Hungarian matching, so the matched counts are on the diagonal
        assert run["accuracy_test"] == pytest.approx(sum(table[i][i] for i in range(10)) / total)
        assert 0.0 <= run["accuracy_test"] <= 1.0 and 1 <= run["usage_test"]["clusters_used"] <= 10
        assert 0.0 <= run["usage_test"]["cluster_size_entropy"] <= math.log(10) + 1e-12


def test_claim7_per_layer_bounds_add_up_to_the_elbo(payload):
    # B_1 + B_2 − KL(q(z2) ‖ U) = Σ_i H(x_i) + ELBO (000 eqs 14-19), and the top KL splits into
    # I(z2 : z1) + KL(q(z2) ‖ U) (003 eq 4.23 applied to layer 2)
    for run in payload["runs"]:
        for terms in (run["train_terms"], run["test_terms"]):
            layers = terms["layer_1_bound"] + terms["layer_2_bound"] - terms["top_marginal_kl"]
            assert layers == pytest.approx(payload["settings"]["data_entropy"] + terms["elbo"], abs=1e-3)
            assert terms["kl_2"] == pytest.approx(terms["sum_mi_z2_z1"] + terms["top_marginal_kl"], abs=1e-4)
            assert 0.0 <= terms["kl_2"] <= math.log(10) + 1e-4
