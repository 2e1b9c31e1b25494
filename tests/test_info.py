"""refvae.info: every closed form against an independent computation (SciPy, Monte Carlo, sklearn)."""

import math

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from sklearn.metrics import mutual_info_score

from refvae import info


def _random_spd(rng, dim):
    a = rng.standard_normal((dim, dim))
    return a @ a.T + 0.5 * np.eye(dim)


# ------------------------------------------------------------------------------ Gaussians


@pytest.mark.parametrize("dim", [1, 3, 7])
def test_gaussian_entropy_equals_scipy(rng, dim):
    cov = _random_spd(rng, dim)
    expected = scipy.stats.multivariate_normal(np.zeros(dim), cov).entropy()
    assert abs(info.gaussian_entropy(cov) - expected) < 1e-10


def test_gaussian_kl_equals_monte_carlo(rng):
    dim = 3
    mu0, mu1 = rng.standard_normal(dim), rng.standard_normal(dim)
    cov0, cov1 = _random_spd(rng, dim), _random_spd(rng, dim)
    p, q = scipy.stats.multivariate_normal(mu0, cov0), scipy.stats.multivariate_normal(mu1, cov1)
    x = p.rvs(size=400_000, random_state=np.random.default_rng(1))
    log_ratio = p.logpdf(x) - q.logpdf(x)
    mc, stderr = log_ratio.mean(), log_ratio.std() / math.sqrt(len(x))
    kl = info.gaussian_kl(mu0, cov0, mu1, cov1)
    assert kl > 0
    assert abs(kl - mc) < 5 * stderr


def test_gaussian_kl_of_identical_gaussians_is_zero(rng):
    cov = _random_spd(rng, 4)
    mu = rng.standard_normal(4)
    assert abs(info.gaussian_kl(mu, cov, mu, cov)) < 1e-10


def test_diag_gaussian_kl_equals_full_covariance_kl(rng):
    loc, scale = rng.standard_normal(5), rng.uniform(0.2, 2.0, 5)
    prior_loc, prior_scale = rng.standard_normal(5), rng.uniform(0.5, 1.5, 5)
    per_dim = info.diag_gaussian_kl(loc, scale, prior_loc, prior_scale)
    # each coordinate as a 1-D Gaussian KL with full-covariance algebra
    expected = [
        info.gaussian_kl([m0], [[s0**2]], [m1], [[s1**2]])
        for m0, s0, m1, s1 in zip(loc, scale, prior_loc, prior_scale)
    ]
    np.testing.assert_allclose(per_dim, expected, atol=1e-12)
    # and the textbook N(0, 1) form ½(σ² + μ² − 1 − log σ²)
    np.testing.assert_allclose(
        info.diag_gaussian_kl(loc, scale), 0.5 * (scale**2 + loc**2 - 1 - np.log(scale**2)), atol=1e-12
    )


def test_total_correlation_is_zero_for_diagonal_covariance():
    assert abs(info.gaussian_total_correlation(np.diag([0.3, 2.0, 5.0]))) < 1e-12


@pytest.mark.parametrize("rho", [0.1, 0.5, -0.8, 0.99])
def test_total_correlation_in_2d_is_minus_half_log_one_minus_rho_squared(rho):
    s1, s2 = 0.7, 3.0  # TC depends on the correlation only, not the scales
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    assert abs(info.gaussian_total_correlation(cov) + 0.5 * math.log(1 - rho * rho)) < 1e-12


def test_total_correlation_is_kl_to_product_of_marginals(rng):
    # TC(z) = KL(N(0, Σ) ‖ N(0, diag Σ)), written with scipy densities by Monte Carlo
    cov = _random_spd(rng, 4)
    p = scipy.stats.multivariate_normal(np.zeros(4), cov)
    x = p.rvs(size=200_000, random_state=np.random.default_rng(2))
    marginals = scipy.stats.norm.logpdf(x, 0.0, np.sqrt(np.diag(cov))).sum(axis=1)
    log_ratio = p.logpdf(x) - marginals
    stderr = log_ratio.std() / math.sqrt(len(x))
    assert abs(info.gaussian_total_correlation(cov) - log_ratio.mean()) < 5 * stderr


def test_mutual_information_of_two_correlated_gaussians(rng):
    rho = 0.6
    cov = np.array([[1.0, rho], [rho, 1.0]])
    assert abs(info.gaussian_mutual_information(cov, [0], [1]) + 0.5 * math.log(1 - rho * rho)) < 1e-12


def test_mutual_information_between_blocks_equals_entropy_identity(rng):
    # I(A; B) = H(A) + H(B) − H(A, B), entropies from scipy
    cov = _random_spd(rng, 5)
    a, b = [0, 3], [1, 4]
    both = a + b

    def h(idx):
        return scipy.stats.multivariate_normal(np.zeros(len(idx)), cov[np.ix_(idx, idx)]).entropy()

    assert abs(info.gaussian_mutual_information(cov, a, b) - (h(a) + h(b) - h(both))) < 1e-10


# --------------------------------------------------------------------------- categoricals


def test_categorical_entropy_equals_scipy(rng):
    probs = rng.dirichlet(np.ones(6), size=4)
    np.testing.assert_allclose(info.categorical_entropy(probs), scipy.stats.entropy(probs, axis=-1), atol=1e-12)
    assert abs(info.categorical_entropy(np.full(8, 1 / 8)) - math.log(8)) < 1e-12


def test_categorical_entropy_treats_zero_log_zero_as_zero():
    assert abs(info.categorical_entropy([0.5, 0.5, 0.0]) - math.log(2)) < 1e-12
    assert info.categorical_entropy([1.0, 0.0]) == 0.0


def test_categorical_kl_equals_scipy(rng):
    p, q = rng.dirichlet(np.ones(5), size=3), rng.dirichlet(np.ones(5), size=3)
    np.testing.assert_allclose(info.categorical_kl(p, q), scipy.stats.entropy(p, q, axis=-1), atol=1e-12)
    # with a zero in p: 0 log 0 = 0
    assert abs(info.categorical_kl([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) - math.log(2)) < 1e-12


def test_kl_to_uniform_is_log_k_minus_entropy(rng):
    p = rng.dirichlet(np.ones(10))
    assert abs(info.categorical_kl(p, np.full(10, 0.1)) - (math.log(10) - scipy.stats.entropy(p))) < 1e-12


# ------------------------------------------------------------------------- plug-in (discrete)


def test_discrete_mutual_information_equals_sklearn(rng):
    a = rng.integers(0, 5, size=3000)
    b = (a + rng.integers(0, 3, size=3000)) % 7  # dependent on a
    c = np.array(list("xyz"))[rng.integers(0, 3, size=3000)]  # string labels, independent
    assert abs(info.discrete_mutual_information(a, b) - mutual_info_score(a, b)) < 1e-12
    assert abs(info.discrete_mutual_information(a, c) - mutual_info_score(a, c)) < 1e-12
    assert info.discrete_mutual_information(a, b) > 0.3


def test_discrete_mutual_information_with_itself_is_entropy(rng):
    a = rng.integers(0, 4, size=1000)
    counts = np.bincount(a) / a.size
    assert abs(info.discrete_mutual_information(a, a) - scipy.stats.entropy(counts)) < 1e-12
    assert abs(info.discrete_entropy(a) - scipy.stats.entropy(counts)) < 1e-12


# ------------------------------------------------------------------------ tensors vs NumPy


def test_tensor_inputs_give_the_numpy_values(rng):
    loc, scale = rng.standard_normal((3, 4)), rng.uniform(0.3, 2.0, (3, 4))
    kl_t = info.diag_gaussian_kl(tf.constant(loc), tf.constant(scale))
    assert isinstance(kl_t, tf.Tensor)
    np.testing.assert_allclose(kl_t.numpy(), info.diag_gaussian_kl(loc, scale), atol=1e-12)

    p, q = rng.dirichlet(np.ones(5), size=3), rng.dirichlet(np.ones(5), size=3)
    p[0, 2] = 0.0
    p[0] /= p[0].sum()
    ent_t = info.categorical_entropy(tf.constant(p))
    kl_t = info.categorical_kl(tf.constant(p), tf.constant(q))
    assert isinstance(ent_t, tf.Tensor) and isinstance(kl_t, tf.Tensor)
    np.testing.assert_allclose(ent_t.numpy(), scipy.stats.entropy(p, axis=-1), atol=1e-12)
    np.testing.assert_allclose(kl_t.numpy(), scipy.stats.entropy(p, q, axis=-1), atol=1e-12)

    cov = _random_spd(rng, 4)
    tc_t = info.gaussian_total_correlation(tf.constant(cov))
    assert isinstance(tc_t, tf.Tensor)
    assert abs(float(tc_t) - info.gaussian_total_correlation(cov)) < 1e-10


def test_float32_tensors_keep_float32(rng):
    kl = info.diag_gaussian_kl(tf.constant([0.5, -1.0], tf.float32), tf.constant([0.9, 1.3], tf.float32))
    assert kl.dtype == tf.float32
    np.testing.assert_allclose(kl.numpy(), info.diag_gaussian_kl([0.5, -1.0], [0.9, 1.3]), rtol=1e-5)


def test_float32_kl_of_nearly_equal_scales_keeps_its_value():
    # KL(N(0, s²) ‖ N(0, 1)) = ½ (s² − 1) − log s ≈ (s − 1)² ≈ 1e-8 at s = 1 + 1e-4: the textbook
    # form loses it to cancellation in float32 (it returns 0); log1p/expm1 keep it.
    scale32 = np.float32(1.0 + 1e-4)
    expected = 0.5 * (float(scale32) ** 2 - 1.0) - np.log(float(scale32))   # float64, at the same scale
    kl = info.diag_gaussian_kl(tf.constant([0.0], tf.float32), tf.constant([scale32]))
    assert kl.dtype == tf.float32
    assert expected == pytest.approx(1.0003e-8, rel=1e-4)
    assert float(kl[0]) == pytest.approx(expected, rel=1e-3)
    assert float(info.diag_gaussian_kl(0.0, float(scale32))) == pytest.approx(expected, rel=1e-9)


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "cov, match",
    [
        (np.ones(3), "square"),
        (np.ones((2, 3)), "square"),
        ([[1.0, 0.5], [0.2, 1.0]], "symmetric"),
        ([[1.0, 2.0], [2.0, 1.0]], "positive definite"),
        ([[np.nan, 0.0], [0.0, 1.0]], "finite"),
    ],
)
def test_bad_covariance_raises(cov, match):
    with pytest.raises(ValueError, match=match):
        info.gaussian_total_correlation(cov)
    with pytest.raises(ValueError, match=match):
        info.gaussian_entropy(cov)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="shapes"):
        info.gaussian_kl([0.0, 0.0], np.eye(2), [0.0], np.eye(1))
    with pytest.raises(ValueError, match="scale"):
        info.diag_gaussian_kl([0.0], [0.0])
    with pytest.raises(ValueError, match="non-negative"):
        info.categorical_entropy([0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match="categories"):
        info.categorical_kl([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="disjoint"):
        info.gaussian_mutual_information(np.eye(3), [0, 1], [1, 2])
    with pytest.raises(ValueError, match="indices"):
        info.gaussian_mutual_information(np.eye(3), [0], [3])
    with pytest.raises(ValueError, match="same length"):
        info.discrete_mutual_information([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        info.discrete_entropy(np.zeros((2, 2)))
