"""BetaVAE score (Higgins et al.) through the ground-truth data protocol."""

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics

SMALL = dict(batch_size=16, num_train=300, num_eval=150)


def test_feature_of_the_fixed_factor_is_zero_for_identity_codes():
    data = ToyGroundTruth()
    features, labels = metrics.beta_vae_features(data, identity, np.random.default_rng(0), 40, batch_size=8)
    assert features.shape == (40, 5)
    assert np.all(features[np.arange(40), labels] == 0.0)


def test_identity_codes_score_above_point_nine():
    result = metrics.beta_vae_score(ToyGroundTruth(), identity, rng=0, **SMALL)
    assert result["train_accuracy"] >= 0.9
    assert result["eval_accuracy"] >= 0.9


def test_constant_codes_score_near_chance():
    constant = lambda observations: np.zeros((len(observations), 3))  # noqa: E731
    result = metrics.beta_vae_score(ToyGroundTruth(), constant, rng=0, **SMALL)
    # five factors: a classifier that sees nothing is right about 1/5 of the time
    assert result["eval_accuracy"] <= 0.3


def test_same_seed_same_score():
    first = metrics.beta_vae_score(ToyGroundTruth(), identity, rng=7, batch_size=8, num_train=100, num_eval=50)
    second = metrics.beta_vae_score(ToyGroundTruth(), identity, rng=7, batch_size=8, num_train=100, num_eval=50)
    assert first == second


def test_score_from_features_reads_the_zero_feature():
    features = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]] * 10)
    labels = np.array([0, 1, 2] * 10)
    assert metrics.beta_vae_score_from_features(features, labels, features, labels)["eval_accuracy"] == 1.0


def test_beta_vae_score_rejects_bad_inputs():
    with pytest.raises(TypeError, match="sample_factors"):
        metrics.beta_vae_score(object(), identity, rng=0)
    with pytest.raises(TypeError, match="rng must be"):
        metrics.beta_vae_score(ToyGroundTruth(), identity, rng="zero")
    with pytest.raises(ValueError, match="num_train must be a positive integer"):
        metrics.beta_vae_score(ToyGroundTruth(), identity, rng=0, num_train=0)


def test_features_take_an_int_seed_as_the_generator_it_seeds():
    # rng may be an int seed, as for the score: 3 draws what default_rng(3) draws
    data = ToyGroundTruth()
    features, labels = metrics.beta_vae_features(data, identity, 3, 20, batch_size=8)
    expected_features, expected_labels = metrics.beta_vae_features(data, identity, np.random.default_rng(3), 20,
                                                                   batch_size=8)
    assert np.array_equal(features, expected_features) and np.array_equal(labels, expected_labels)
