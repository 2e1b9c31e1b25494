"""Histogram MIG (disentanglement_lib definition) and sampled MIG (001 eqs 5-6)."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import mutual_info_score
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics
from refvae.metrics import utils


def grid_factors(sizes):
    return np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), axis=1)


def test_mig_equals_sklearn_mutual_info_score_loop():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, [3, 6, 5], size=(4000, 3))
    codes = np.column_stack([factors[:, 0] + rng.normal(size=4000), np.sin(factors[:, 1]) + 0.3 * rng.normal(size=4000)])
    codes = np.column_stack([codes, rng.normal(size=(4000, 3)), factors[:, 2] * 0.1])
    result = metrics.mig(codes, factors)
    bins = utils.discretize(codes, 20)
    mutual_info = np.array([[mutual_info_score(bins[:, j], factors[:, k]) for k in range(3)] for j in range(6)])
    entropy = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(3)])
    top_two = np.sort(mutual_info, axis=0)[::-1][:2]
    expected = (top_two[0] - top_two[1]) / entropy
    assert np.max(np.abs(result["mutual_info"] - mutual_info)) < 1e-9
    assert np.max(np.abs(result["per_factor"] - expected)) < 1e-9
    assert abs(result["mig"] - expected.mean()) < 1e-9


def test_mig_hand_worked_case():
    factors = np.array([[0], [0], [1], [1]])
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # code 0 = factor: I = log 2. code 1: p(0,0)=1/2, p(0,1)=1/4, p(1,1)=1/4.
    entropy_code_1 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    joint_entropy = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    second = entropy_code_1 + math.log(2) - joint_entropy
    assert metrics.mig(codes, factors)["mig"] == pytest.approx((math.log(2) - second) / math.log(2), abs=1e-12)


def test_mig_of_identity_codes_is_one():
    factors = grid_factors((3, 4, 5))
    assert metrics.mig(factors.astype(float), factors)["mig"] == pytest.approx(1.0, abs=1e-12)


def test_mig_of_constant_codes_is_zero():
    factors = grid_factors((3, 4))
    assert metrics.mig(np.ones((12, 3)), factors)["mig"] == 0.0


def test_mig_drops_to_zero_when_a_code_is_duplicated():
    factors = grid_factors((3, 4))
    codes = np.column_stack([factors[:, 0], factors[:, 0], factors[:, 1]]).astype(float)
    result = metrics.mig(codes, factors)
    assert result["per_factor"][0] == pytest.approx(0.0, abs=1e-12)
    assert result["per_factor"][1] == pytest.approx(1.0, abs=1e-12)


def test_mig_is_invariant_to_permuting_codes_and_to_positive_affine_rescaling():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 4, size=(2000, 2))
    codes = np.column_stack([factors + rng.normal(size=(2000, 2)), rng.normal(size=2000)])
    base = metrics.mig(codes, factors)["mig"]
    assert metrics.mig(codes[:, [2, 0, 1]], factors)["mig"] == pytest.approx(base, abs=1e-12)
    assert metrics.mig(codes * np.array([3.0, 0.5, 7.0]) + 2.0, factors)["mig"] == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize(
    "codes, factors, message",
    [
        (np.zeros(10), np.zeros((10, 1), int), "codes must have shape"),
        (np.zeros((10, 2)), np.zeros((9, 1), int), "same number of rows"),
        (np.zeros((10, 1)), np.arange(10)[:, None], "at least 2 columns"),
        (np.zeros((10, 2)), np.zeros((10, 1), int), "single value"),
    ],
)
def test_mig_rejects_bad_inputs(codes, factors, message):
    with pytest.raises(ValueError, match=message):
        metrics.mig(codes, factors)


def test_compute_mig_of_identity_representation_is_nearly_one():
    result = metrics.compute_mig(ToyGroundTruth(), identity, rng=0, num_train=2000)
    # Below 1 only by the plug-in bias of the MI between independent sampled factors,
    # about (|V_a| - 1)(|V_b| - 1) / (2N) <= 20 / 4000 nats.
    assert 0.99 < result["mig"] < 1.0


# ----------------------------------------------------------------------------- sampled MIG


def test_mig_sampled_of_separated_codes_reaches_log_of_factor_size():
    sizes = (3, 4)
    loc = np.column_stack([grid_factors(sizes) * 10.0, np.zeros(12)])
    result = metrics.mig_sampled(loc, np.full((12, 3), 0.01), sizes, num_samples=200, seed=0)
    # Each sample's own subset holds all the density: log q(z|v) - log q(z) = log |V_k|.
    assert np.allclose(result["mutual_info"][[0, 1], [0, 1]], np.log(sizes), atol=1e-6)
    assert np.allclose(result["normalized_mutual_info"][[0, 1], [0, 1]], 1.0, atol=1e-6)
    assert result["mig"] == pytest.approx(1.0, abs=1e-6)


def test_mig_sampled_mutual_info_is_in_nats_like_mig_and_names_the_normalised_matrix():
    sizes = (3, 4)
    rng = np.random.default_rng(2)
    loc = np.column_stack([grid_factors(sizes) + rng.normal(0, 0.3, size=(12, 2)), rng.normal(size=12)])
    result = metrics.mig_sampled(loc, np.full((12, 3), 0.5), sizes, num_samples=300, seed=1)
    assert result["mutual_info_nats"] is result["mutual_info"]  # the 0.1.0 alias, same nats
    assert np.array_equal(result["normalized_mutual_info"], np.maximum(result["mutual_info"], 0) / np.log(sizes))
    gaps = -np.sort(-result["normalized_mutual_info"], axis=0)
    assert np.allclose(result["per_factor"], gaps[0] - gaps[1])


def test_mig_sampled_of_a_duplicated_code_is_zero_for_that_factor():
    sizes = (3, 4)
    factors = grid_factors(sizes) * 10.0
    loc = np.column_stack([factors[:, 0], factors[:, 0], factors[:, 1]])
    result = metrics.mig_sampled(loc, np.full((12, 3), 0.01), sizes, num_samples=100)
    assert result["per_factor"][0] == pytest.approx(0.0, abs=1e-6)


def test_mig_sampled_matches_quadrature_for_a_two_component_mixture():
    # v uniform on {0, 1}, z | v ~ N(±1, 1): I(z; v) = h(mixture) - h(N(0, 1)).
    loc = np.array([[-1.0, 0.0], [1.0, 0.0]])
    scale = np.ones((2, 2))

    def minus_p_log_p(z):
        density = 0.5 * (stats.norm.pdf(z, -1, 1) + stats.norm.pdf(z, 1, 1))
        return -density * np.log(density)

    mixture_entropy = integrate.quad(minus_p_log_p, -12, 12)[0]
    exact = mixture_entropy - 0.5 * math.log(2 * math.pi * math.e)
    result = metrics.mig_sampled(loc, scale, (2,), num_samples=40000, seed=0)
    # Monte-Carlo standard error of the per-sample log ratio is below 0.004 here.
    assert result["mutual_info"][0, 0] == pytest.approx(exact, abs=0.012)
    assert result["normalized_mutual_info"][0, 0] == pytest.approx(exact / math.log(2), abs=0.018)
    assert result["normalized_mutual_info"][1, 0] == 0.0  # clamped: the second dim carries nothing


def test_mig_sampled_same_seed_same_number_and_factors_subset():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(24, 3))
    scale = rng.uniform(0.3, 1.0, size=(24, 3))
    first = metrics.mig_sampled(loc, scale, (2, 3, 4), num_samples=50, factors=[1, 2], seed=5)
    second = metrics.mig_sampled(loc, scale, (2, 3, 4), num_samples=50, factors=[1, 2], seed=5)
    assert first["mig"] == second["mig"]
    assert first["mutual_info"].shape == (3, 2) and first["per_factor"].shape == (2,)


@pytest.mark.parametrize(
    "loc_rows, scale_value, sizes, factors, message",
    [
        (11, 1.0, (3, 4), None, "whole grid"),
        (12, 0.0, (3, 4), None, "scale must be > 0"),
        (12, 1.0, (3, 4), [2], "factors must be distinct indices"),
        (12, 1.0, (12, 1), None, ">= 2"),
    ],
)
def test_mig_sampled_rejects_bad_inputs(loc_rows, scale_value, sizes, factors, message):
    with pytest.raises(ValueError, match=message):
        metrics.mig_sampled(np.zeros((loc_rows, 2)), np.full((loc_rows, 2), scale_value), sizes, factors=factors)


def test_subgrid_factors_keeps_every_kth_value_and_rejects_bad_steps():
    factors, sizes = metrics.subgrid_factors((3, 6, 40), (1, 2, 10))
    assert sizes == (3, 3, 4) and factors.shape == (36, 3)
    assert factors[:5].tolist() == [[0, 0, 0], [0, 0, 10], [0, 0, 20], [0, 0, 30], [0, 2, 0]]
    with pytest.raises(ValueError, match="one entry per factor"):
        metrics.subgrid_factors((3, 6), (1,))
    with pytest.raises(ValueError, match="steps"):
        metrics.subgrid_factors((3, 6), (1, 0))
