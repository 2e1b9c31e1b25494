"""SAP (Kumar et al.): score matrix from one-code classifiers or R², gap of the top two codes."""

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics


def test_sap_from_scores_hand_case():
    scores = np.array([[0.9, 0.2], [0.3, 0.8], [0.1, 0.7]])
    # factor 0: 0.9 - 0.3; factor 1: 0.8 - 0.7
    assert metrics.sap_from_scores(scores)["sap"] == pytest.approx((0.6 + 0.1) / 2, abs=1e-12)


def test_identity_codes_of_binary_factors_reach_the_largest_gap():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 2, size=(1000, 2))
    codes = factors + 0.01 * rng.normal(size=(1000, 2))
    result = metrics.sap(codes[:600], factors[:600], codes[600:], factors[600:])
    # The informative code classifies perfectly; the other one is at chance (about 1/2).
    assert np.allclose(np.diag(result["scores"]), 1.0)
    assert 0.4 < result["sap"] <= 0.6


def test_identity_codes_of_continuous_factors_score_one():
    rng = np.random.default_rng(1)
    factors = rng.uniform(size=(500, 3))
    result = metrics.sap(2.0 * factors + 1.0, factors, factors, factors, continuous_factors=True)
    assert result["sap"] == pytest.approx(1.0, abs=0.02)
    assert np.allclose(np.diag(result["scores"]), 1.0, atol=1e-12)  # R² of an affine map is 1


def test_constant_codes_score_zero():
    factors = np.random.default_rng(2).integers(0, 3, size=(300, 2))
    assert metrics.sap(np.ones((300, 3)), factors, np.ones((300, 3)), factors)["sap"] == 0.0


def test_duplicated_code_closes_the_gap():
    factors = np.random.default_rng(3).uniform(size=(400, 2))
    codes = np.column_stack([factors[:, 0], factors[:, 0], factors[:, 1]])
    result = metrics.sap(codes, factors, codes, factors, continuous_factors=True)
    assert result["per_factor"][0] == pytest.approx(0.0, abs=1e-12)


def test_compute_sap_same_seed_same_score():
    data = ToyGroundTruth((2, 2))
    first = metrics.compute_sap(data, identity, rng=4, num_train=300, num_test=100)
    second = metrics.compute_sap(data, identity, rng=4, num_train=300, num_test=100)
    assert first["sap"] == second["sap"] > 0.4


def test_sap_rejects_bad_inputs():
    codes, factors = np.zeros((10, 2)), np.tile([[0, 1]], (10, 1))
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.sap(codes[:9], factors, codes, factors)
    with pytest.raises(ValueError, match="at least 2 columns"):
        metrics.sap(np.zeros((10, 1)), factors, np.zeros((10, 1)), factors)
    with pytest.raises(ValueError, match="integer"):
        metrics.sap(codes, factors + 0.5, codes, factors + 0.5)


def test_score_matrix_takes_one_bool_for_every_factor():
    # continuous_factors=False (the default) scores every factor by classification, as [False, False]
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 2, size=(200, 2))
    codes = factors + 0.01 * rng.normal(size=(200, 2))
    default = metrics.sap_score_matrix(codes[:150], factors[:150], codes[150:], factors[150:])
    per_factor = metrics.sap_score_matrix(codes[:150], factors[:150], codes[150:], factors[150:], [False, False])
    assert np.array_equal(default, per_factor)
    assert np.allclose(np.diag(default), 1.0)
