"""DCI (Eastwood & Williams): scores from an importance matrix, and the classifier wrapper."""

import math

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics


def test_diagonal_importance_scores_one():
    scores = metrics.dci_from_importance(np.eye(4))
    assert scores["disentanglement"] == pytest.approx(1.0, abs=1e-8)
    assert scores["completeness"] == pytest.approx(1.0, abs=1e-8)


def test_one_code_informative_about_two_of_ten_factors():
    importance = np.zeros((2, 10))
    importance[0, :2] = 0.5
    expected = 1.0 - math.log(2) / math.log(10)
    assert metrics.dci_from_importance(importance)["disentanglement"] == pytest.approx(expected, abs=1e-8)


def test_completeness_of_one_factor_split_over_two_of_three_codes():
    importance = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # factor 0: weight 2/3, entropy log 2 / log 3; factor 1: weight 1/3, complete.
    expected = (2 / 3) * (1 - math.log(2) / math.log(3)) + 1 / 3
    assert metrics.dci_from_importance(importance)["completeness"] == pytest.approx(expected, abs=1e-8)


def test_uniform_importance_scores_zero():
    scores = metrics.dci_from_importance(np.ones((3, 5)))
    assert scores["disentanglement"] == pytest.approx(0.0, abs=1e-8)
    assert scores["completeness"] == pytest.approx(0.0, abs=1e-8)


def test_dci_scores_are_invariant_to_permuting_codes():
    importance = np.random.default_rng(0).uniform(size=(5, 3))
    base = metrics.dci_from_importance(importance)
    permuted = metrics.dci_from_importance(importance[[3, 1, 4, 0, 2]])
    assert permuted["disentanglement"] == pytest.approx(base["disentanglement"], abs=1e-12)
    assert permuted["completeness"] == pytest.approx(base["completeness"], abs=1e-12)


def test_identity_codes_score_near_one_with_gradient_boosting():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, [4, 5], size=(600, 2))
    codes = np.column_stack([factors, rng.normal(size=600)])
    result = metrics.dci(codes[:400], factors[:400], codes[400:], factors[400:])
    assert result["disentanglement"] > 0.9
    assert result["completeness"] > 0.9
    assert result["informativeness"] == 1.0


def test_histogram_gradient_boosting_reads_the_same_structure_as_gradient_boosting():
    """The fast profile's importance (summed split gains of 100 depth-3 histogram trees) against
    disentanglement_lib's (GradientBoostingClassifier's impurity decrease) on codes with a known
    structure: an identity code each for two factors, a third code that mixes them, one noise code."""
    rng = np.random.default_rng(2)
    factors = rng.integers(0, [4, 6], size=(1500, 2))
    codes = np.column_stack([factors[:, 0] + 0.3 * rng.normal(size=1500), factors[:, 1] + 0.3 * rng.normal(size=1500),
                             factors[:, 0] + factors[:, 1] + 0.3 * rng.normal(size=1500), rng.normal(size=1500)])
    split = (codes[:1000], factors[:1000], codes[1000:], factors[1000:])
    exact = metrics.dci(*split, importance="gradient_boosting")
    fast = metrics.dci(*split, importance="hist_gradient_boosting")
    assert np.allclose(fast["importance"].sum(axis=0), 1.0)               # normalised per factor, as GBC's
    for result in (exact, fast):                                           # each identity code first for its factor
        assert result["importance"][0, 0] > 0.9 and result["importance"][1, 1] > 0.9
        assert result["importance"][3].max() < 0.05                       # the noise code: little
    # the gains of the later, small splits spread a little more over the other codes than GBC's
    # impurity decrease does: here D 0.76 and C 0.71 against 0.88 and 0.82
    for key in ("disentanglement", "completeness"):
        assert exact[key] - 0.15 < fast[key] <= exact[key], key
    assert fast["informativeness"] == pytest.approx(exact["informativeness"], abs=0.05)


def test_rotating_two_factors_into_two_codes_lowers_disentanglement():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 5, size=(600, 2))
    rotation = np.array([[1.0, 1.0], [-1.0, 1.0]]) / math.sqrt(2)
    aligned = metrics.dci(factors[:400] * 1.0, factors[:400], factors[400:] * 1.0, factors[400:], importance="random_forest")
    rotated_codes = factors @ rotation
    rotated = metrics.dci(rotated_codes[:400], factors[:400], rotated_codes[400:], factors[400:], importance="random_forest")
    assert aligned["disentanglement"] > 0.9
    assert rotated["disentanglement"] < aligned["disentanglement"] - 0.3


def test_compute_dci_of_identity_representation_with_logistic_importance():
    result = metrics.compute_dci(ToyGroundTruth((3, 4)), identity, rng=0, num_train=500, num_test=200, importance="logistic")
    assert result["importance"].shape == (2, 2)
    assert result["disentanglement"] > 0.9


def test_dci_rejects_bad_inputs():
    codes, factors = np.zeros((10, 2)), np.tile([[0, 1]], (10, 1))
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.dci(codes, factors[:9], codes, factors)
    with pytest.raises(ValueError, match="importance must be one of"):
        metrics.dci(codes, factors, codes, factors, importance="lasso")
    with pytest.raises(ValueError, match="test_codes must have 2 columns"):
        metrics.dci(codes, factors, np.zeros((10, 3)), factors)
    with pytest.raises(ValueError, match="importance must have shape"):
        metrics.dci_from_importance(np.ones(3))
