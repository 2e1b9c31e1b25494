"""Modularity and explicitness (Ridgeway & Mozer)."""

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics
from refvae.metrics import utils


def test_diagonal_mutual_info_is_fully_modular():
    assert metrics.modularity_from_mutual_info(np.eye(3) * 0.7)["modularity"] == pytest.approx(1.0, abs=1e-12)


def test_uninformative_code_scores_zero_and_lowers_the_mean():
    result = metrics.modularity_from_mutual_info([[1, 0], [0, 1], [0, 0]])
    assert result["per_code"].tolist() == [1.0, 1.0, 0.0]
    assert result["modularity"] == pytest.approx(2 / 3, abs=1e-12)


def test_each_code_informative_about_two_of_ten_factors():
    mutual_info = np.zeros((5, 10))
    for code in range(5):
        mutual_info[code, 2 * code : 2 * code + 2] = 1.0
    # deviation = (2 - 1) / (1 * (10 - 1)) = 1/9 for every code
    assert metrics.modularity_from_mutual_info(mutual_info)["modularity"] == pytest.approx(1 - 1 / 9, abs=1e-12)


def test_identity_codes_are_modular_and_explicit():
    factors = np.stack(np.unravel_index(np.arange(60), (3, 4, 5)), axis=1)
    result = metrics.modularity(factors * 1.0, factors)
    assert result["modularity"] == pytest.approx(1.0, abs=1e-12)
    assert result["explicitness"] > 0.9


def test_modularity_is_invariant_to_permuting_and_rescaling_codes():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(800, 2))
    codes = np.column_stack([factors[:, 0] + rng.normal(size=800), factors.sum(axis=1) + rng.normal(size=800)])
    base = metrics.modularity(codes, factors)
    moved = metrics.modularity(codes[:, ::-1] * np.array([5.0, 0.1]) - 3.0, factors)
    assert moved["modularity"] == pytest.approx(base["modularity"], abs=1e-12)
    assert moved["explicitness"] == pytest.approx(base["explicitness"], abs=1e-6)


def test_explicitness_of_a_code_at_chance_is_one_half():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 2, size=(2000, 2))
    codes = rng.normal(size=(2000, 2))
    result = metrics.modularity(codes[:1000], factors[:1000], test_codes=codes[1000:], test_factors=factors[1000:])
    assert result["explicitness"] == pytest.approx(0.5, abs=0.05)
    assert math.isfinite(result["explicitness_train"])


def test_compute_modularity_of_identity_representation():
    result = metrics.compute_modularity(ToyGroundTruth((3, 4)), identity, rng=0, num_train=500, num_test=200)
    assert result["modularity"] > 0.95
    assert result["explicitness"] > 0.9


def test_modularity_rejects_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 factors"):
        metrics.modularity(np.zeros((4, 2)), np.array([[0], [1], [0], [1]]))
    with pytest.raises(ValueError, match="both test_codes and test_factors"):
        metrics.modularity(np.zeros((4, 2)), np.zeros((4, 2), int), test_codes=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        metrics.modularity_from_mutual_info([[-1.0, 0.0]])


def _three_codes_and_a_dead_one(seed, num_points=1000):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 10, size=(num_points, 3))
    codes = np.column_stack([factors + 0.01 * rng.normal(size=(num_points, 3)), np.zeros(num_points)])
    return codes, factors


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_dead_code_scores_zero_modularity(seed):
    # Each live code is binned from one factor (per-code modularity 1 − small leakage); the
    # constant code carries no information about any factor (θ = 0), so it scores 0 and
    # the mean is about 3/4, as the sklearn loop gives.
    codes, factors = _three_codes_and_a_dead_one(seed)
    result = metrics.modularity(codes, factors)
    assert result["per_code"][3] == 0.0
    assert result["mutual_info"][3].tolist() == [0.0, 0.0, 0.0]
    bins = utils.discretize(codes, 20)
    by_hand = np.array([[mutual_info_score(bins[:, j], factors[:, k]) for k in range(3)] for j in range(4)])
    expected = metrics.modularity_from_mutual_info(by_hand)["modularity"]
    assert result["modularity"] == pytest.approx(expected, abs=1e-12)
    assert result["modularity"] == pytest.approx(0.75, abs=0.001)


def test_a_near_constant_code_scores_from_its_small_but_real_information():
    # One of 1000 points moved to another bin: that bin reveals the point's three factor
    # values, so each I(z_3; v_k) is small (of order log(10)/1000) but real, and the code's
    # modularity is 1 − (Σ_k m_k² − θ)/(θ (K − 1)) of that row, not 0 and not round-off.
    codes, factors = _three_codes_and_a_dead_one(4)
    codes[0, 3] = 1.0
    result = metrics.modularity(codes, factors)
    bins = utils.discretize(codes, 20)
    row = np.array([mutual_info_score(bins[:, 3], factors[:, k]) for k in range(3)])
    assert np.all(row > 0)
    squared = row**2
    expected = 1 - (squared.sum() - squared.max()) / (squared.max() * 2)
    assert result["per_code"][3] == pytest.approx(expected, rel=1e-9)


def test_a_collapsed_code_reads_the_plug_in_bias_not_zero():
    # A code that moves by 1e-9 is binned over its own range: its histogram MI with each
    # factor is the plug-in bias ≈ (bins − 1)(|V| − 1) / (2N) = 19 · 9 / 2000 = 0.0855 nats.
    values = []
    for seed in (1, 2, 3):
        codes, factors = _three_codes_and_a_dead_one(seed)
        codes[:, 3] = 1e-9 * np.random.default_rng(seed + 10).normal(size=1000)
        result = metrics.modularity(codes, factors)
        values.extend(result["mutual_info"][3])
        assert 0.0 < result["per_code"][3] < 0.5
    assert np.mean(values) == pytest.approx(19 * 9 / 2000, rel=0.2)
