"""Tests of refvae.checks: one rule each for integers, N and random generators."""

import numpy as np
import pytest

from refvae import checks, estimators
from refvae.metrics import sampling


def test_integer_accepts_numpy_integers_and_refuses_bools():
    assert checks.integer(np.int64(3), "num_bins") == 3 and type(checks.integer(np.int64(3), "num_bins")) is int
    with pytest.raises(TypeError, match="num_bins must be a positive integer, got bool True"):
        checks.integer(True, "num_bins")
    with pytest.raises(ValueError, match="num_bins must be a positive integer, got 0"):
        checks.integer(0, "num_bins")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        checks.integer(-1, "seed", 0)


def test_a_wrong_type_is_a_type_error_and_a_value_error():
    with pytest.raises(TypeError):
        checks.integer(2.0, "steps")
    with pytest.raises(ValueError):
        checks.integer(2.0, "steps")


def test_dataset_size_is_an_integer_of_at_least_two_everywhere():
    assert checks.dataset_size(np.int64(2)) == 2
    for bad in (1, True, 2.0, None):
        with pytest.raises(ValueError, match="dataset_size must be an integer >= 2"):
            checks.dataset_size(bad)
    # the estimators apply the same rule: N = 1 has no aggregate posterior to estimate
    with pytest.raises(ValueError, match="dataset_size must be an integer >= 2"):
        estimators.log_importance_weights(1, 1, "mws")
    np.testing.assert_allclose(np.exp(estimators.log_importance_weights(4, np.int64(100), "mss1")).sum(axis=1), 1.0,
                               rtol=1e-6)


def test_rng_gives_the_same_numbers_for_the_same_seed():
    assert checks.rng(7).integers(0, 1000, 5).tolist() == np.random.default_rng(7).integers(0, 1000, 5).tolist()
    generator = np.random.default_rng(0)
    assert checks.rng(generator) is generator
    with pytest.raises(ValueError, match="rng must be a non-negative int seed"):
        checks.rng(-3)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        checks.rng(0.5)


def test_posterior_moments_concatenates_the_batches_in_order():
    x = np.arange(10, dtype=np.float64)[:, None]

    def posterior(batch):
        return batch * 2.0, batch + 1.0

    loc, scale = sampling.posterior_moments(posterior, x, batch_size=3)
    np.testing.assert_array_equal(loc[:, 0], 2.0 * np.arange(10))
    np.testing.assert_array_equal(scale[:, 0], np.arange(10) + 1.0)
    loc, _ = sampling.posterior_moments(posterior, np.arange(4), batch_size=3, render=lambda f: x[f])
    np.testing.assert_array_equal(loc[:, 0], [0.0, 2.0, 4.0, 6.0])
