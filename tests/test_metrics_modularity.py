"""Modularity and explicitness (Ridgeway & Mozer)."""

import math

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics


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
