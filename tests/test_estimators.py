"""refvae.estimators: weight matrices, exactness, convergence, chunking, graphs, ground truth, bad input.

Every reference value is computed here with plain NumPy / SciPy: the weight matrices are
written out entry by entry (MSS0 by the published stride trick, MSS1 by the loop of 004
appendix A.2), the densities with ``scipy.stats.norm`` and a NumPy ExpConcrete density, and
the mixtures with ``scipy.special.logsumexp``.
"""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from references import exp_concrete_log_density

from refvae import estimators, info
from refvae.latents import Concrete, DiagonalGaussian, Grouped

tfd = tfp.distributions
METHODS = estimators.KNOWN_METHODS
MINIBATCH_METHODS = tuple(m for m in METHODS if m != "exact")


# ------------------------------------------------------------------- independent references


def numpy_weights(batch_size, dataset_size, method):
    """The B×B weight matrix W (not log) of each method, written out in NumPy."""
    b, n = batch_size, float(dataset_size)
    m = b - 1
    strat = (n - m) / (n * m)
    if method == "exact":
        return np.full((b, b), 1.0 / n)
    if method == "mws":
        return np.full((b, b), 1.0 / (n * b))
    if method == "mws_dropped":
        return np.ones((b, b))
    if method == "hfvae":
        w = np.full((b, b), (n - 1.0) / (n * (b - 1.0)))
        np.fill_diagonal(w, 1.0 / n)
        return w
    if method == "mss1":  # 004 appendix A.2, literally
        w = np.full((b, b), 1.0 / m)
        for i in range(b):
            w[i, i] = 1.0 / n
            w[i, (1 + i) % b] = strat
        return w
    if method == "mss0":  # the published code: strided writes into the flattened matrix
        w = np.full((b, b), 1.0 / m)
        flat = w.reshape(-1)  # a view
        flat[:: m + 1] = 1.0 / n
        flat[1 :: m + 1] = strat
        w[m - 1, 0] = strat
        return w
    raise AssertionError(method)


def numpy_mixture(log_q_pairwise, weights):
    """log Σ_j W_ij Π_d q(z_i,d|x_j) and log Σ_j W_ij q(z_i,d|x_j)."""
    log_w = np.log(weights)
    log_qz = scipy.special.logsumexp(log_w + log_q_pairwise.sum(-1), axis=1)
    log_qzd = scipy.special.logsumexp(log_w[:, :, None] + log_q_pairwise, axis=1)
    return log_qz, log_qzd


def gaussian_batch(rng, batch_size, dim, spread=1.0):
    """A batch of Gaussian posteriors (float64) and one sample z_i from each."""
    mu = spread * rng.standard_normal((batch_size, dim))
    sigma = rng.uniform(0.3, 0.8, (batch_size, dim))
    z = mu + sigma * rng.standard_normal((batch_size, dim))
    return mu, sigma, z


def log_w(batch_size, dataset_size, method, **kwargs):
    return estimators.log_importance_weights(batch_size, dataset_size, method, dtype=tf.float64, **kwargs).numpy()


# ------------------------------------------------------------------------- weight matrices


def test_mss1_rows_sum_to_one_with_own_and_stratified_entries():
    b, n = 5, 100
    m = b - 1
    w = np.exp(log_w(b, n, "mss1"))
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(np.diag(w), 1.0 / n, rtol=1e-14)
    np.testing.assert_allclose(w[np.arange(b), (np.arange(b) + 1) % b], (n - m) / (n * m), rtol=1e-14)
    # every remaining entry is 1/M
    rest = np.ones((b, b), bool)
    rest[np.arange(b), np.arange(b)] = False
    rest[np.arange(b), (np.arange(b) + 1) % b] = False
    np.testing.assert_allclose(w[rest], 1.0 / m, rtol=1e-14)
    np.testing.assert_allclose(w, numpy_weights(b, n, "mss1"), rtol=1e-14)


def test_mss0_reproduces_the_published_stride_placement():
    b, n = 5, 100
    m = b - 1
    w = np.exp(log_w(b, n, "mss0"))
    published = numpy_weights(b, n, "mss0")
    np.testing.assert_allclose(w, published, rtol=1e-14)
    # what the stride did: column 0 holds 1/N (except row B−2), the own-sample entries of
    # rows 2..B−1 kept 1/M, and row B−2 sums to (M + 1)/M − 2/N = 1.23 for B = 5, N = 100.
    row_sums = w.sum(axis=1)
    assert abs(row_sums[b - 2] - 1.23) < 1e-12
    assert abs(row_sums[b - 2] - ((m + 1) / m - 2 / n)) < 1e-12
    np.testing.assert_allclose(np.delete(row_sums, b - 2), 1.0, atol=1e-14)
    np.testing.assert_allclose(np.diag(w)[2:], 1.0 / m, rtol=1e-14)
    np.testing.assert_allclose(np.delete(w[:, 0], b - 2), 1.0 / n, rtol=1e-14)
    # MSS0 and MSS1 differ
    assert np.max(np.abs(w - numpy_weights(b, n, "mss1"))) > 0.2


@pytest.mark.parametrize("b", [2, 3, 17])
def test_every_weight_matrix_matches_the_numpy_one(b):
    n = 1000
    for method in MINIBATCH_METHODS:
        np.testing.assert_allclose(np.exp(log_w(b, n, method)), numpy_weights(b, n, method), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_w(b, b, "exact")), numpy_weights(b, b, "exact"), rtol=1e-12)


def test_hfvae_weights():
    b, n = 6, 50
    w = np.exp(log_w(b, n, "hfvae"))
    np.testing.assert_allclose(np.diag(w), 1 / 50, rtol=1e-14)
    np.testing.assert_allclose(w[0, 1:], 49 / (50 * 5), rtol=1e-14)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-14)


def test_weight_rows_argument_selects_rows():
    full = log_w(7, 40, "mss0")
    np.testing.assert_array_equal(log_w(7, 40, "mss0", rows=tf.constant([5, 0, 3])), full[[5, 0, 3]])


# ----------------------------------------------------------------------------- exactness


def test_exact_equals_numpy_log_mean_exp_over_all_components(rng):
    n, d = 64, 4
    mu, sigma, z = gaussian_batch(rng, n, d)
    log_qz, log_qzd = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), n, "exact")
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])  # [N, N, D]
    expected_qz = scipy.special.logsumexp(log_q.sum(-1), axis=1) - math.log(n)
    expected_qzd = scipy.special.logsumexp(log_q, axis=1) - math.log(n)
    assert log_qz.shape == (n,) and log_qzd.shape == (n, d)
    assert np.max(np.abs(log_qz.numpy() - expected_qz)) < 1e-10
    assert np.max(np.abs(log_qzd.numpy() - expected_qzd)) < 1e-10


@pytest.mark.parametrize("method", MINIBATCH_METHODS)
def test_each_minibatch_method_equals_its_numpy_mixture(rng, method):
    b, n, d = 12, 5000, 3
    mu, sigma, z = gaussian_batch(rng, b, d)
    log_qz, log_qzd = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), n, method)
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    expected_qz, expected_qzd = numpy_mixture(log_q, numpy_weights(b, n, method))
    assert np.max(np.abs(log_qz.numpy() - expected_qz)) < 1e-10
    assert np.max(np.abs(log_qzd.numpy() - expected_qzd)) < 1e-10


def test_mws_methods_accept_more_samples_than_data_points(rng):
    mu, sigma, _ = gaussian_batch(rng, 6, 2)
    z = rng.standard_normal((9, 2))
    log_qz, _ = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), 100, "mws")
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    expected = scipy.special.logsumexp(log_q.sum(-1), axis=1) - math.log(100 * 6)
    assert np.max(np.abs(log_qz.numpy() - expected)) < 1e-10


# --------------------------------------------------------------------------- convergence


def test_estimators_converge_to_exact_as_the_batch_approaches_the_data_set(rng):
    n, d = 256, 3
    mu, sigma, z = gaussian_batch(rng, n, d)
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    exact_qz = scipy.special.logsumexp(log_q.sum(-1), axis=1) - math.log(n)
    exact_qzd = scipy.special.logsumexp(log_q, axis=1) - math.log(n)

    def errors(method, b):
        log_qz, log_qzd = estimators.aggregate_log_density(
            tf.constant(z[:b]), tfd.Normal(mu[:b], sigma[:b]), n, method
        )
        return (
            np.mean(np.abs(log_qz.numpy() - exact_qz[:b])),
            np.mean(np.abs(log_qzd.numpy() - exact_qzd[:b])),
        )

    for method in ("mss1", "mss0", "hfvae"):
        e32, e128, e256 = (errors(method, b) for b in (32, 128, 256))
        for k in range(2):  # log q(z) and log q(z_d)
            assert e32[k] > e128[k] > e256[k], (method, e32, e128, e256)
        assert e256[0] < 0.01 and e256[1] < 0.01, (method, e256)
    # with B = N the HFVAE weights are exactly 1/N: the estimate is the exact mixture
    assert errors("hfvae", 256) < (1e-10, 1e-10)

    # MWS as 001 eq 3 writes it (W = 1/(N·B)) does NOT converge to log q(z): at B = N it is
    # exact − log N, for the joint and for every marginal (so its TC is off by (D − 1) log N).
    log_qz, log_qzd = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), n, "mws")
    assert np.max(np.abs(log_qz.numpy() - (exact_qz - math.log(n)))) < 1e-10
    assert np.max(np.abs(log_qzd.numpy() - (exact_qzd - math.log(n)))) < 1e-10
    log_qz, log_qzd = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), n, "mws_dropped")
    assert np.max(np.abs(log_qz.numpy() - (exact_qz + math.log(n)))) < 1e-10


def test_mss1_at_batch_equal_data_set_is_at_most_log_n_over_n_minus_1_above_exact(rng):
    # every MSS1 weight is <= 1/(N−1) = (N/(N−1))·(1/N) when B = N
    n, d = 64, 2
    mu, sigma, z = gaussian_batch(rng, n, d, spread=0.3)
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    exact_qz = scipy.special.logsumexp(log_q.sum(-1), axis=1) - math.log(n)
    log_qz, _ = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), n, "mss1")
    excess = log_qz.numpy() - exact_qz
    assert np.max(excess) <= math.log(n / (n - 1)) + 1e-12
    # below, it can lose more where the one stratified neighbour carried z_i's mass, but on
    # average the estimate is within 0.03 nats of exact (measured 0.014)
    assert np.mean(np.abs(excess)) < 0.03


# ---------------------------------------------------------------------------- chunking


@pytest.mark.parametrize("method", ["mss0", "mss1", "hfvae", "mws"])
def test_chunked_equals_unchunked(rng, method):
    b, d = 20, 5
    mu, sigma, z = gaussian_batch(rng, b, d)
    posterior = tfd.Normal(mu, sigma)
    whole = estimators.aggregate_log_density(tf.constant(z), posterior, 500, method, chunk_size=b)
    for chunk in (1, 3, 7, 19, 64):  # 3 and 7 do not divide M = 20
        parts = estimators.aggregate_log_density(tf.constant(z), posterior, 500, method, chunk_size=chunk)
        for got, want in zip(parts, whole):
            assert got.shape == want.shape
            assert np.max(np.abs(got.numpy() - want.numpy())) < 1e-12, (chunk, method)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gaussian", "concrete", "grouped"])
def test_gradients_through_recomputed_chunks_equal_the_unchunked_gradients(rng, family):
    # Chunks are recomputed in the backward pass (tf.recompute_grad); the gradients with
    # respect to the posterior's parameters and to z must be those of the whole tensor.
    latent = {"gaussian": DiagonalGaussian(4), "concrete": Concrete(5),
              "grouped": Grouped([DiagonalGaussian(3), Concrete(4)])}[family]
    params = tf.Variable(rng.normal(size=(12, latent.param_size)), dtype=tf.float64)
    groups = latent.groups if family == "grouped" else None

    @tf.function
    def gradients(chunk_size):
        with tf.GradientTape() as tape:
            posterior = latent.posterior(params)
            z = latent.sample(posterior, seed=5)          # reparameterised: depends on params too
            outputs = estimators.aggregate_log_density(z, posterior, 200, "mss1", groups=groups,
                                                       chunk_size=chunk_size)
            value = sum(tf.reduce_sum(tf.sin(out)) for out in outputs)       # every output enters
        return value, tape.gradient(value, params)

    assert estimators.flatten_distribution(latent.posterior(params)) is not None
    whole_value, whole = gradients(12)
    for chunk in (1, 5):
        value, grad = gradients(chunk)
        assert abs(float(value - whole_value)) < 1e-10
        np.testing.assert_allclose(grad.numpy(), whole.numpy(), rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(whole.numpy())) > 1e-3                                  # a gradient that can differ


def test_a_posterior_that_cannot_be_taken_apart_is_chunked_without_recomputation(rng):
    class Opaque:                                     # only log_prob: flatten_distribution gives None
        def __init__(self, inner):
            self.inner = inner

        def log_prob(self, z):
            return self.inner.log_prob(z)

    mu, sigma, z = gaussian_batch(rng, 9, 3)
    assert estimators.flatten_distribution(Opaque(tfd.Normal(mu, sigma))) is None
    got = estimators.aggregate_log_density(tf.constant(z), Opaque(tfd.Normal(mu, sigma)), 90, "mss1", chunk_size=2)
    want = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(mu, sigma), 90, "mss1", chunk_size=9)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_default_chunk_bounds_the_chunk_elements():
    # B = 4096, D = 32: about 4M pairwise entries a chunk, so 32 samples a chunk
    assert estimators._chunk_size(4096, 4096, 32, None) * 4096 * 32 <= estimators.DEFAULT_CHUNK_ELEMENTS
    assert estimators._chunk_size(10, 10, 3, None) == 10


# ------------------------------------------------------------------------------- graphs


@pytest.mark.parametrize("method", ["mss1", "mss0", "hfvae", "mws"])
@pytest.mark.parametrize("chunk_size", [None, 4])
def test_works_in_tf_function_with_unknown_batch(rng, method, chunk_size):
    b, n, d = 11, 300, 3
    mu, sigma, z = gaussian_batch(rng, b, d)
    spec = tf.TensorSpec([None, d], tf.float64)

    @tf.function(input_signature=[spec, spec, spec])
    def estimate(z, mu, sigma):
        return estimators.aggregate_log_density(z, tfd.Normal(mu, sigma), n, method, chunk_size=chunk_size)

    log_qz, log_qzd = estimate(tf.constant(z), tf.constant(mu), tf.constant(sigma))
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    expected_qz, expected_qzd = numpy_mixture(log_q, numpy_weights(b, n, method))
    assert np.max(np.abs(log_qz.numpy() - expected_qz)) < 1e-10
    assert np.max(np.abs(log_qzd.numpy() - expected_qzd)) < 1e-10
    # the same traced graph serves another batch size
    log_qz5, _ = estimate(tf.constant(z[:5]), tf.constant(mu[:5]), tf.constant(sigma[:5]))
    log_q5 = log_q[:5, :5]
    assert np.max(np.abs(log_qz5.numpy() - numpy_mixture(log_q5, numpy_weights(5, n, method))[0])) < 1e-10


def test_gradients_flow_through_the_chunked_estimate(rng):
    mu, sigma, z = gaussian_batch(rng, 8, 2)
    loc = tf.Variable(mu)
    with tf.GradientTape() as tape:
        log_qz, _ = estimators.aggregate_log_density(tf.constant(z), tfd.Normal(loc, sigma), 100, "mss1", chunk_size=3)
        total = tf.reduce_sum(log_qz)
    grad = tape.gradient(total, loc).numpy()
    # finite difference on one entry, in NumPy
    def f(m):
        log_q = scipy.stats.norm.logpdf(z[:, None, :], m[None], sigma[None])
        return numpy_mixture(log_q, numpy_weights(8, 100, "mss1"))[0].sum()

    eps = 1e-6
    bumped = mu.copy()
    bumped[3, 1] += eps
    assert abs(grad[3, 1] - (f(bumped) - f(mu)) / eps) < 1e-4


# ----------------------------------------------------------------------- from_pairwise


@pytest.mark.parametrize("method", METHODS)
def test_from_pairwise_equals_the_distribution_version(rng, method):
    b, d = 16, 3
    mu, sigma, z = gaussian_batch(rng, b, d)
    n = b if method == "exact" else 1000
    posterior = tfd.Normal(mu, sigma)
    pairwise = DiagonalGaussian(d).log_q_pairwise(tf.constant(z), posterior)
    from_dist = estimators.aggregate_log_density(tf.constant(z), posterior, n, method, chunk_size=5)
    from_pair = estimators.aggregate_log_density_from_pairwise(pairwise, n, method)
    for a, b_ in zip(from_dist, from_pair):
        assert np.max(np.abs(a.numpy() - b_.numpy())) < 1e-12


def test_from_pairwise_in_tf_function_with_unknown_sizes(rng):
    b, n, d = 9, 400, 3
    mu, sigma, z = gaussian_batch(rng, b, d)
    log_q = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])

    @tf.function(input_signature=[tf.TensorSpec([None, None, d], tf.float64)])
    def estimate(pairwise):
        return estimators.aggregate_log_density_from_pairwise(pairwise, n, "mss1")

    log_qz, log_qzd = estimate(tf.constant(log_q))
    expected_qz, expected_qzd = numpy_mixture(log_q, numpy_weights(b, n, "mss1"))
    assert np.max(np.abs(log_qz.numpy() - expected_qz)) < 1e-10
    assert np.max(np.abs(log_qzd.numpy() - expected_qzd)) < 1e-10


# ------------------------------------------------------------------------------ grouped


def test_grouped_gaussian_and_concrete_with_group_outputs(rng):
    n = 64
    latent = Grouped([DiagonalGaussian(3), Concrete(4, temperature=0.5)])
    params = rng.standard_normal((n, latent.param_size))
    posterior = latent.posterior(tf.constant(params))
    z = latent.sample(posterior, seed=7)
    log_qz, log_qzd, log_qzg = estimators.aggregate_log_density(
        z, posterior, n, "exact", groups=latent.groups, chunk_size=10
    )
    z = z.numpy()
    mu, sigma = params[:, :3], np.logaddexp(0.0, params[:, 3:6]) + 1e-5
    gauss = scipy.stats.norm.logpdf(z[:, None, :3], mu[None], sigma[None])  # [N, N, 3]
    conc = exp_concrete_log_density(np.log(z[:, None, 3:]), params[None, :, 6:], 0.5)  # [N, N]
    units = np.concatenate([gauss, conc[..., None]], axis=-1)  # [N, N, 4 units]
    lme = lambda a: scipy.special.logsumexp(a, axis=1) - math.log(n)  # noqa: E731
    assert log_qzd.shape == (n, 4) and log_qzg.shape == (n, 2)
    assert np.max(np.abs(log_qz.numpy() - lme(units.sum(-1)))) < 1e-8
    assert np.max(np.abs(log_qzd.numpy() - lme(units))) < 1e-8
    assert np.max(np.abs(log_qzg.numpy()[:, 0] - lme(gauss.sum(-1)))) < 1e-8
    assert np.max(np.abs(log_qzg.numpy()[:, 1] - lme(conc))) < 1e-8
    # the Concrete group is one unit: its group density is its unit density
    np.testing.assert_allclose(log_qzg.numpy()[:, 1], log_qzd.numpy()[:, 3], atol=1e-12)


# ---------------------------------------------------- Gaussian ground truth (004 §5.3)

GT_DATASET_SIZE = 100_000
GT_BATCH = 256
GT_SIGMA = 0.1
GT_RHO = 0.5
GT_BATCHES = 4


def _ar1_correlation(dim, rho):
    idx = np.arange(dim)
    return rho ** np.abs(idx[:, None] - idx[None, :])


def ground_truth_estimates(dim, seed=0):
    """True TC of z ~ N(0, Σ + σ²I) and each estimator's TC, averaged over a few batches.

    μ ~ N(0, Σ) with Σ_kl = ρ^|k−l| (ρ = 0.5), z | μ ~ N(μ, σ² I), σ = 0.1. A batch of B = 256
    of the N = 100,000 data points is all a minibatch estimator sees; the data points are
    i.i.d., so drawing the batch is drawing 256 μ's.
    """
    cov = _ar1_correlation(dim, GT_RHO)
    true_tc = info.gaussian_total_correlation(cov + GT_SIGMA**2 * np.eye(dim))
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(cov)
    estimates = {m: [] for m in MINIBATCH_METHODS}
    for _ in range(GT_BATCHES):
        mu = rng.standard_normal((GT_BATCH, dim)) @ chol.T
        z = mu + GT_SIGMA * rng.standard_normal((GT_BATCH, dim))
        posterior = tfd.Normal(mu, np.full_like(mu, GT_SIGMA))
        for method in MINIBATCH_METHODS:
            log_qz, log_qzd = estimators.aggregate_log_density(
                tf.constant(z), posterior, GT_DATASET_SIZE, method
            )
            estimates[method].append(float(tf.reduce_mean(log_qz - tf.reduce_sum(log_qzd, -1))))
    return true_tc, {m: float(np.mean(v)) for m, v in estimates.items()}


@pytest.fixture(scope="module")
def ground_truth():
    return {dim: ground_truth_estimates(dim) for dim in (2, 4, 10, 32)}


def test_ground_truth_true_tc_is_the_closed_form(ground_truth):
    # AR(1) correlation plus σ² on the diagonal; for D = 2: −½ log(1 − ρ'²), ρ' = ρ / (1 + σ²)
    rho_z = GT_RHO / (1 + GT_SIGMA**2)
    assert abs(ground_truth[2][0] + 0.5 * math.log(1 - rho_z**2)) < 1e-12


@pytest.mark.parametrize("dim", [10, 32])
def test_mws_eq3_and_mss1_lie_far_above_true_tc_in_high_dimension(ground_truth, dim):
    true_tc, est = ground_truth[dim]
    assert est["mws"] > true_tc + 100  # measured: +119.6 (D = 10), +419.8 (D = 32)
    assert est["mss1"] > true_tc + 8  # measured: +10.8 (D = 10), +59.7 (D = 32)
    assert est["mss0"] > est["mss1"]  # own weight 1/M instead of 1/N on most rows
    assert est["hfvae"] > true_tc + 8


@pytest.mark.parametrize("dim", [10, 32])
def test_mss1_high_dimension_bias_is_the_own_component_argument(ground_truth, dim):
    # 004 §5.3: for D >= 10 only q(z_i | x_i) survives in the joint, so
    # TC_MSS1 ≈ E[log q(z|x)] − log N − Σ_d E[log q(z_d)] = (D/2) log(1 + 1/σ²) − log N.
    true_tc, est = ground_truth[dim]
    # The rest (measured +0.53 at D = 10, +1.73 at D = 32) is the Jensen bias of the D
    # estimated marginals: within 0.1 nats a dimension.
    predicted = 0.5 * dim * math.log(1 + 1 / GT_SIGMA**2) - math.log(GT_DATASET_SIZE)
    assert abs(est["mss1"] - predicted) < 0.1 * dim


@pytest.mark.parametrize("dim", [2, 4, 10, 32])
def test_mws_underestimates_tc_when_the_constant_is_dropped(ground_truth, dim):
    true_tc, est = ground_truth[dim]
    assert est["mws_dropped"] < true_tc - 4  # measured margins: 5.3, 13.5, 34.0, 109.0 nats
    # the two MWS conventions differ by exactly (D − 1) log(N·B)
    shift = (dim - 1) * math.log(GT_DATASET_SIZE * GT_BATCH)
    assert abs((est["mws"] - est["mws_dropped"]) - shift) < 1e-6 * shift


def test_stratified_estimators_are_accurate_only_in_two_dimensions(ground_truth):
    # D = 2: MSS1 / HFVAE / MSS0 are within 0.75 nats of the true TC 0.141 (measured: MSS1 and
    # HFVAE −0.347, MSS0 +0.370). MSS1 is low because the 2-D kernel estimate of log q(z)
    # from 255 points of width σ = 0.1 is biased low (Jensen) while the 1-D marginals are
    # well covered. At D = 4 the error has already grown past 1.5 nats (MSS1 −1.27 vs 0.42,
    # MSS0 +3.54): with B = 256 and σ = 0.1 "accurate for D <= 4" (004 §5.3) holds for D = 2 only.
    true_tc, est = ground_truth[2]
    for method in ("mss1", "hfvae", "mss0"):
        assert abs(est[method] - true_tc) < 0.75, (method, est[method], true_tc)
    true_tc4, est4 = ground_truth[4]
    for method in ("mss1", "hfvae", "mss0"):
        assert abs(est4[method] - true_tc4) > 1.5, (method, est4[method], true_tc4)


# -------------------------------------------------------------------------------- bad input


def test_bad_inputs_raise(rng):
    mu, sigma, z = gaussian_batch(rng, 6, 2)
    posterior = tfd.Normal(mu, sigma)
    zt = tf.constant(z)
    with pytest.raises(ValueError, match="unknown estimator method 'mss'.*exact, mws, mws_dropped, mss0, mss1, hfvae"):
        estimators.aggregate_log_density(zt, posterior, 100, "mss")
    with pytest.raises(ValueError, match="z must have shape"):
        estimators.aggregate_log_density(zt[0], posterior, 100, "mss1")
    with pytest.raises(ValueError, match="as many samples as data points"):
        estimators.aggregate_log_density(zt[:4], posterior, 100, "mss1")
    with pytest.raises(ValueError, match="dataset_size"):
        estimators.aggregate_log_density(zt, posterior, 5, "mss1")
    with pytest.raises(ValueError, match="dataset_size"):
        estimators.aggregate_log_density(zt, posterior, 0, "mws")
    with pytest.raises(ValueError, match="exact"):
        estimators.aggregate_log_density(zt, posterior, 100, "exact")
    with pytest.raises(ValueError, match="NaN"):
        estimators.aggregate_log_density(tf.constant(np.where(z > 0, np.nan, z)), posterior, 100, "mss1")
    with pytest.raises(ValueError, match="chunk_size"):
        estimators.aggregate_log_density(zt, posterior, 100, "mss1", chunk_size=0)
    with pytest.raises(ValueError, match="groups"):
        estimators.aggregate_log_density(zt, posterior, 100, "mss1", groups=[[0]])
    with pytest.raises(ValueError, match="per-unit"):  # log_prob summed over units: [M, B]
        estimators.aggregate_log_density(zt, tfd.Independent(posterior, 1), 100, "mws")
    pairwise = DiagonalGaussian(2).log_q_pairwise(zt, posterior)
    with pytest.raises(ValueError, match=r"\[M, B, D\]"):
        estimators.aggregate_log_density_from_pairwise(pairwise[0], 100, "mss1")
    with pytest.raises(ValueError, match="NaN"):
        estimators.aggregate_log_density_from_pairwise(pairwise * np.nan, 100, "mss1")
    with pytest.raises(ValueError, match="as many samples"):
        estimators.aggregate_log_density_from_pairwise(pairwise[:3], 100, "hfvae")
    with pytest.raises(ValueError, match="known methods"):
        estimators.log_importance_weights(4, 100, "MSS1")
    with pytest.raises(ValueError, match="dataset_size"):
        estimators.log_importance_weights(4, 3, "mss1")


def test_nan_in_posterior_parameters_is_refused_before_any_work():
    import tensorflow_probability as tfp

    loc = np.zeros((8, 3))
    loc[2, 1] = np.nan
    posterior = tfp.distributions.Normal(loc, np.ones((8, 3)))
    with pytest.raises(ValueError, match="posterior loc must be finite, found NaN"):
        estimators.aggregate_log_density(np.zeros((8, 3)), posterior, 100, "mss1")

    class OnlyLogProb:
        """A posterior whose parameters cannot be read: its NaN is found in its log densities."""

        def log_prob(self, z):
            return posterior.log_prob(z)

    with pytest.raises(ValueError, match="posterior has NaN parameters"):
        estimators.aggregate_log_density(np.zeros((8, 3)), OnlyLogProb(), 100, "mss1")
