"""Tests of refvae.terms: the terms outside the ELBO decompositions, on hand examples."""

import math

import numpy as np
import pytest
import tensorflow as tf

from refvae import terms


def test_posterior_variance_is_the_trace_of_the_mean_covariance():
    variance = np.array([[1.0, 4.0], [3.0, 0.0]], np.float32)
    # Σ_k E_n[σ_k²] = (1 + 3)/2 + (4 + 0)/2 = 4
    assert float(terms.posterior_variance(variance)) == pytest.approx(4.0)


def test_covariance_penalties_on_a_hand_example():
    off_diagonal, diagonal = terms.covariance_penalties(tf.constant([[2.0, 0.5], [0.5, 1.0]]))
    assert float(off_diagonal) == pytest.approx(0.5)     # 2 · 0.5²
    assert float(diagonal) == pytest.approx(1.0)         # (2 − 1)² + (1 − 1)²


def test_dip_ii_covariance_is_the_covariance_of_posterior_samples():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(50, 3)).astype(np.float32) @ np.array([[1, 0.8, 0], [0, 1, 0], [0, 0, 0.5]], np.float32)
    scale = rng.uniform(0.2, 1.0, size=(50, 3)).astype(np.float32)
    samples = loc[None] + scale[None] * rng.normal(size=(4000, 50, 3))     # z ~ q(z) exactly
    empirical = np.cov(samples.reshape(-1, 3), rowvar=False, bias=True)
    covariance = terms.dip_covariance(loc, scale ** 2).numpy()
    np.testing.assert_allclose(covariance, empirical, atol=0.03)
    np.testing.assert_allclose(terms.dip_covariance(loc).numpy(), np.cov(loc, rowvar=False, bias=True),
                               rtol=1e-5, atol=1e-6)


def test_mmd_is_near_zero_for_one_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    same = [float(terms.mmd(rng.normal(size=(200, 4)).astype(np.float32),
                                 rng.normal(size=(200, 4)).astype(np.float32))) for _ in range(5)]
    shifted = float(terms.mmd(rng.normal(size=(200, 4)).astype(np.float32) + 2.0,
                                   rng.normal(size=(200, 4)).astype(np.float32)))
    assert abs(np.mean(same)) < 0.01
    assert shifted > 0.3


def test_mmd_matches_a_direct_double_sum():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5

    def k(u, v):
        return math.exp(-np.sum((u - v) ** 2) / 2.0)     # 2h² = D = 2

    kaa = sum(k(a[i], a[j]) for i in range(6) for j in range(6) if i != j) / 30
    kbb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
    kab = sum(k(a[i], b[j]) for i in range(6) for j in range(5)) / 30
    assert float(terms.mmd(a.astype(np.float32), b)) == pytest.approx(kaa + kbb - 2 * kab, rel=1e-5)


def test_extra_term_functions_reject_bad_shapes():
    with pytest.raises(ValueError, match="variance must have shape"):
        terms.posterior_variance(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="loc must have shape"):
        terms.dip_covariance(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="same D"):
        terms.mmd(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32))


def test_objectives_keeps_the_old_names_of_the_term_functions():
    from refvae import objectives

    assert objectives.posterior_variance is terms.posterior_variance and objectives.mmd is terms.mmd
    assert objectives.KNOWN_TERMS >= terms.EXTRA_TERMS | {"total_correlation", "between_group_tc"}
