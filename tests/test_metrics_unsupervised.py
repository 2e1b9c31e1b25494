"""Unsupervised scores: Gaussian total / Wasserstein correlation and pairwise code MI."""

import math

import numpy as np
import pytest
from scipy.linalg import sqrtm
from sklearn.metrics import mutual_info_score
from test_metrics_utils import ToyGroundTruth, identity

from refvae import info, metrics
from refvae.metrics import discrete, sampling


def grid(sizes):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


# ----------------------------------------------------------------------------- Wasserstein


def test_wasserstein_correlation_of_two_correlated_unit_variances():
    # D^½ Σ D^½ = Σ has eigenvalues 1 ± ρ: WC = 4 − 2(√(1 + ρ) + √(1 − ρ)).
    for rho in (0.0, 0.6, -0.9, 1.0):
        expected = 4 - 2 * (math.sqrt(1 + rho) + math.sqrt(1 - rho))
        cov = [[1.0, rho], [rho, 1.0]]
        assert metrics.gaussian_wasserstein_correlation(cov) == pytest.approx(expected, abs=1e-12)


def test_wasserstein_correlation_equals_the_general_gaussian_w2_formula():
    # W₂²(N(0, Σ₁), N(0, Σ₂)) = tr Σ₁ + tr Σ₂ − 2 tr (Σ₂^½ Σ₁ Σ₂^½)^½ with Σ₂ = diag Σ₁.
    rng = np.random.default_rng(0)
    root = rng.normal(size=(4, 4))
    cov = root @ root.T + np.diag([0.1, 2.0, 0.5, 3.0])
    diagonal_root = np.diag(np.sqrt(np.diag(cov)))
    expected = 2 * np.trace(cov) - 2 * np.trace(sqrtm(diagonal_root @ cov @ diagonal_root)).real
    assert metrics.gaussian_wasserstein_correlation(cov) == pytest.approx(expected, rel=1e-9)


def test_diagonal_covariance_has_zero_correlation():
    assert metrics.gaussian_wasserstein_correlation(np.diag([1.0, 4.0, 0.0])) == pytest.approx(0.0, abs=1e-12)


def test_wasserstein_correlation_rejects_bad_covariances():
    with pytest.raises(ValueError, match="square"):
        metrics.gaussian_wasserstein_correlation(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        metrics.gaussian_wasserstein_correlation([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="non-negative diagonal"):
        metrics.gaussian_wasserstein_correlation([[-1.0, 0.0], [0.0, 1.0]])


# ----------------------------------------------------------------------------- Gaussian scores of codes


def test_independent_identity_and_permuted_codes_have_zero_correlation():
    # The full grid: factors are exactly uncorrelated, so Σ is diagonal.
    factors = grid((3, 4, 5)) * 1.0
    for codes in (factors, factors[:, [2, 0, 1]]):
        result = metrics.gaussian_correlation(codes)
        assert result["gaussian_total_correlation"] == pytest.approx(0.0, abs=1e-12)
        assert result["gaussian_wasserstein_correlation"] == pytest.approx(0.0, abs=1e-12)


def test_mixed_codes_match_the_closed_forms():
    # z = (v0, v0 + v1) with v0, v1 independent, variances a, b: Σ = [[a, a], [a, a + b]].
    factors = grid((4, 6)) * 1.0
    codes = np.column_stack([factors[:, 0], factors.sum(axis=1)])
    a, b = np.var(factors[:, 0], ddof=1), np.var(factors[:, 1], ddof=1)
    cov = np.array([[a, a], [a, a + b]])
    result = metrics.gaussian_correlation(codes)
    assert np.allclose(result["covariance"], cov, atol=1e-12)
    # TC = ½ log(Σ_00 Σ_11 / |Σ|) = ½ log(a (a + b) / (a b)) = ½ log(1 + a/b)
    assert result["gaussian_total_correlation"] == pytest.approx(0.5 * math.log(1 + a / b), abs=1e-12)
    assert result["gaussian_total_correlation"] == pytest.approx(info.gaussian_total_correlation(cov), abs=1e-12)
    wasserstein = metrics.gaussian_wasserstein_correlation(cov)
    assert result["gaussian_wasserstein_correlation"] == pytest.approx(wasserstein, abs=1e-12)
    assert result["gaussian_wasserstein_correlation_norm"] == pytest.approx(wasserstein / (2 * a + b), abs=1e-12)


def test_constant_codes_add_nothing_and_all_constant_codes_score_zero():
    factors = grid((3, 4)) * 1.0
    codes = np.column_stack([factors[:, 0], factors.sum(axis=1)])
    live = metrics.gaussian_correlation(codes)
    with_dead = metrics.gaussian_correlation(np.column_stack([codes, np.full(12, 3.0)]))
    assert with_dead["num_active_dims"] == 2
    assert with_dead["gaussian_total_correlation"] == pytest.approx(live["gaussian_total_correlation"], abs=1e-12)
    assert with_dead["gaussian_wasserstein_correlation"] == pytest.approx(
        live["gaussian_wasserstein_correlation"], abs=1e-12
    )
    dead = metrics.gaussian_correlation(np.ones((12, 3)))
    assert dead["gaussian_total_correlation"] == 0.0 and dead["gaussian_wasserstein_correlation"] == 0.0
    assert dead["gaussian_wasserstein_correlation_norm"] == 0.0 and dead["num_active_dims"] == 0


def test_duplicated_codes_have_infinite_tc_but_finite_wasserstein_correlation():
    z = np.arange(10.0)
    result = metrics.gaussian_correlation(np.column_stack([z, z]))
    assert result["gaussian_total_correlation"] == math.inf
    # Σ = s² [[1, 1], [1, 1]] (ρ = 1): WC = s² (4 − 2√2), norm = 2 − √2
    assert result["gaussian_wasserstein_correlation_norm"] == pytest.approx(2 - math.sqrt(2), abs=1e-9)


# ----------------------------------------------------------------------------- pairwise code MI


def test_code_mutual_info_of_independent_identity_and_permuted_codes_is_zero():
    # Every pair of grid factors has exactly independent counts: each I is exactly 0.
    factors = grid((3, 4, 5)) * 1.0
    for codes in (factors, factors[:, [1, 2, 0]]):
        result = metrics.code_mutual_info(codes)
        assert result["mutual_info_score"] == 0.0


def test_code_mutual_info_of_duplicated_codes_is_the_code_entropy():
    z = np.tile(np.arange(4.0), 5)
    result = metrics.code_mutual_info(np.column_stack([z, z]))
    assert result["mutual_info_score"] == pytest.approx(math.log(4), abs=1e-12)


def test_code_mutual_info_hand_worked_sum_of_two_bits():
    # z0 = v0, z1 = v0 + v1 on the grid of two bits: I = H(v0 + v1) − H(v1) = 1.5 log 2 − log 2.
    factors = grid((2, 2)) * 1.0
    codes = np.column_stack([factors[:, 0], factors.sum(axis=1), np.zeros(4)])
    result = metrics.code_mutual_info(codes)
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 0] = 0.5 * math.log(2)
    assert np.allclose(result["mutual_info"], expected, atol=1e-15)
    assert result["mutual_info"][2].tolist() == [0.0, 0.0, 0.0]  # the constant code shares nothing
    assert result["mutual_info_score"] == pytest.approx(math.log(2) / 6, abs=1e-15)  # 2 of 6 pairs


def test_code_mutual_info_matches_sklearn_on_binned_codes():
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(2000, 3))
    codes[:, 2] += codes[:, 0]
    bins = discrete.discretize(codes, 20)
    pairs = [(j, k) for j in range(3) for k in range(3) if j != k]
    expected = np.mean([mutual_info_score(bins[:, j], bins[:, k]) for j, k in pairs])
    assert metrics.code_mutual_info(codes)["mutual_info_score"] == pytest.approx(expected, abs=1e-12)


def test_unsupervised_scores_and_their_sampled_wrapper():
    data = ToyGroundTruth((3, 4))
    result = metrics.compute_unsupervised_scores(data, identity, rng=0, num_train=400)
    codes, _ = sampling.sample_representation(data, identity, 400, np.random.default_rng(0))
    direct = metrics.unsupervised_scores(codes)
    for key in ("gaussian_total_correlation", "gaussian_wasserstein_correlation", "mutual_info_score"):
        assert result[key] == direct[key]
    # independently sampled factors: small but nonzero sample correlation and MI
    assert 0 < result["gaussian_total_correlation"] < 0.02 and 0 < result["mutual_info_score"] < 0.05


def test_unsupervised_scores_reject_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 columns"):
        metrics.code_mutual_info(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        metrics.gaussian_correlation(np.zeros((1, 3)))


# ----------------------------------------------------------------------------- split


def test_split_train_test_keeps_the_first_ceil_fraction_of_rows():
    codes, factors = np.arange(20.0).reshape(10, 2), np.arange(10)[:, None]
    codes_train, codes_test, factors_train, factors_test = metrics.split_train_test(codes, factors, train_fraction=0.7)
    assert factors_train[:, 0].tolist() == list(range(7)) and factors_test[:, 0].tolist() == [7, 8, 9]
    assert codes_train.shape == (7, 2) and codes_test.shape == (3, 2)
    assert [len(part) for part in metrics.split_train_test(np.arange(9), train_fraction=0.5)] == [5, 4]


def test_split_train_test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="train_fraction must be in"):
        metrics.split_train_test(np.arange(10), train_fraction=1.0)
    with pytest.raises(TypeError, match="train_fraction must be a float"):
        metrics.split_train_test(np.arange(10), train_fraction="0.5")
    with pytest.raises(ValueError, match="leaves no test rows"):
        metrics.split_train_test(np.arange(3), train_fraction=0.9)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.split_train_test(np.arange(3), np.arange(4))
