"""experiments/claim6_hfvae.py runs in its smallest setting (--smoke) and writes the term-removal
numbers of the toy (002 Fig 2) and the Concrete MIG / accuracy over β (002 Fig 6 right)."""

import math

import pytest

from experiments import claim6_hfvae
from tests.test_experiments import _written

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    out = tmp_path_factory.mktemp("claim6")
    claim6_hfvae.main(["--smoke", "--out", str(out)])
    return _written(out, claim6_hfvae.NAME)


def test_claim6_toy_terms_add_up_to_elbo_plus_log_n(payload):
    toy = payload["toy"]
    assert toy["log_n"] == pytest.approx(math.log(200))
    for run in toy["runs"]:
        assert set(run["variants"]) == set("ABCDE")
        for key, r in run["variants"].items():
            # 002 Fig 1: ① − ② − ③ − ④ = ELBO + log N, with ① and ③ from the same log p(x)
            assert abs(r["fig1_sum_minus_elbo_minus_log_n"]) < 1e-3, key
            # ③ = −log N − E log p(x) and ① = E log p(x|z) − E log p(x)
            assert r["kl_q_x_p_x"] == pytest.approx(-toy["log_n"] - r["log_px"], abs=1e-6)
            assert r["term1"] == pytest.approx(r["reconstruction"] - r["log_px"], abs=1e-6)
            # the exact index-code MI of N points lies in [0, log N]; KL(q(z)||p(z)) >= 0 (up to MC noise)
            assert -0.05 <= r["index_code_mi"] <= toy["log_n"] + 1e-4, key
            assert r["marginal_kl"] > -0.05 and r["posterior_std"] > 0.0, key
        assert run["variants"]["A"]["quadrature_vs_sampling_error"] < 0.5
        assert set(run["effects"]) == {"B_maps_to_prior", "C_more_information", "D_px_deviates", "E_qz_deviates"}


def test_claim6_concrete_mig_is_the_gap_of_its_two_informations(payload):
    digits = payload["digits"]
    assert payload["settings"]["data"] == "digits" and payload["settings"]["gamma"] == 3.0
    assert {r["beta"] for r in digits["runs"]} == set(claim6_hfvae.SIZES["smoke"]["betas"])
    for run in digits["runs"]:
        for split in ("train", "test"):
            r = run[split]
            assert r["mig"] == pytest.approx(r["concrete_mi"] - max(r["continuous_mi"]), abs=1e-9)
            assert r["mig"] == pytest.approx(r["normalized_mig"] * r["label_entropy"], abs=1e-9)
            # I(y; c) <= H(y) <= log 10; accuracies are fractions, at least chance-like for 10 classes
            assert 0.0 <= r["concrete_mi"] <= r["label_entropy"] + 1e-9 <= math.log(10) + 1e-9
            assert 0.0 < r["accuracy"] <= 1.0 and 1 <= r["classes_used"] <= 10
    # the largest class of the 1,438 training digits holds ~10% of them
    assert 0.09 < digits["chance_accuracy"] < 0.12
    assert digits["chance_accuracy"] < digits["kmeans_on_pixels_accuracy"] <= 1.0
