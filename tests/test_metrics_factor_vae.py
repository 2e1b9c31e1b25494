"""FactorVAE score (Kim & Mnih): pruning, normalised-variance votes, majority vote."""

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics

SMALL = dict(batch_size=16, num_train=200, num_eval=100, num_variance_estimate=500)


def test_identity_codes_score_one():
    result = metrics.factor_vae_score(ToyGroundTruth(), identity, rng=0, **SMALL)
    # The fixed factor's code has zero variance inside the batch, so every vote is right.
    assert result == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 5}


def test_constant_codes_score_zero_with_no_active_dims():
    constant = lambda observations: np.zeros((len(observations), 4))  # noqa: E731
    result = metrics.factor_vae_score(ToyGroundTruth(), constant, rng=0, **SMALL)
    assert result == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_collapsed_dims_are_pruned():
    def with_collapsed(observations):
        noise = 0.01 * np.sin(np.arange(len(observations)))[:, None]  # std < 0.05
        return np.hstack([observations, noise, noise])

    result = metrics.factor_vae_score(ToyGroundTruth(), with_collapsed, rng=0, **SMALL)
    assert result["num_active_dims"] == 5
    assert result["eval_accuracy"] == 1.0


def test_majority_vote_accuracy_hand_case():
    train_votes = np.array([[8, 2, 0], [1, 9, 0], [0, 3, 7]])
    eval_votes = np.array([[4, 1, 0], [5, 5, 0], [0, 0, 5]])
    result = metrics.majority_vote_accuracy(train_votes, eval_votes)
    assert result["train_accuracy"] == pytest.approx(24 / 30)
    assert result["eval_accuracy"] == pytest.approx(14 / 20)


def test_prune_dims_uses_standard_deviation():
    assert metrics.prune_dims(np.array([0.0024, 0.0026, 1.0])).tolist() == [False, True, True]


def test_same_seed_same_score():
    mixing = lambda observations: observations @ np.array([[1.0, 0.5], [0.2, 1.0], [0.0, 0.3]])  # noqa: E731
    data = ToyGroundTruth((3, 4, 5))
    first = metrics.factor_vae_score(data, mixing, rng=3, **SMALL)
    second = metrics.factor_vae_score(data, mixing, rng=3, **SMALL)
    assert first == second


def test_factor_vae_score_rejects_bad_inputs():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        metrics.factor_vae_score(ToyGroundTruth(), identity, rng=0, batch_size=1)
    with pytest.raises(TypeError, match="representation must be a callable"):
        metrics.factor_vae_score(ToyGroundTruth(), "identity", rng=0)
    with pytest.raises(ValueError, match="count matrices"):
        metrics.majority_vote_accuracy(np.zeros((2, 2)), np.zeros((3, 2)))


def test_votes_take_an_int_seed_and_a_list_of_variances():
    # rng may be an int seed (3 draws what default_rng(3) draws) and global_variance a list
    data, variance = ToyGroundTruth(), [0.25, 0.7, 1.25, 2.0, 2.9]
    active = [True] * 5
    votes = metrics.factor_vae_votes(data, identity, 3, 30, variance, active, batch_size=8)
    expected = metrics.factor_vae_votes(data, identity, np.random.default_rng(3), 30, np.array(variance), active,
                                        batch_size=8)
    assert votes.sum() == 30 and np.array_equal(votes, expected)
    # identity codes: fixing factor k makes code k constant, so every vote goes to the diagonal
    assert np.array_equal(np.diag(np.diag(votes)), votes)
