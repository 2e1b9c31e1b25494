"""refvae.decompositions: every named term against NumPy with the exact estimator, and the identities.

A small data set (N = 64) whose batch is the whole data set, so ``exact`` gives the true
aggregate posterior; every reference number is a plain NumPy log-mean-exp over all N
components (SciPy densities, a NumPy ExpConcrete density for the Concrete unit).
"""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from references import exp_concrete_log_density

from refvae import decompositions
from refvae.latents import Concrete, DiagonalGaussian, Grouped

tfd = tfp.distributions
N = 64
IDENTITY_TOL = 1e-5


def log_mean_exp(a):
    """log (1/N) Σ_j exp a[:, j] over the component axis 1."""
    return scipy.special.logsumexp(a, axis=1) - math.log(a.shape[1])


class Case:
    """A batch = the data set, its samples, and every per-sample density computed in NumPy."""

    def __init__(self, latent, params, z, units_pairwise, log_p_units):
        self.latent = latent
        self.posterior = latent.posterior(tf.constant(params))
        self.prior = latent.prior(tf.float64)
        self.z = tf.constant(z)
        self.pairwise = units_pairwise  # [N, N, U] log q(z_i,u | x_j), NumPy
        self.log_qzx_units = units_pairwise[np.arange(N), np.arange(N)]  # [N, U]
        self.log_p_units = log_p_units  # [N, U]
        self.log_qz = log_mean_exp(units_pairwise.sum(-1))  # [N]
        self.log_qzd = log_mean_exp(units_pairwise)  # [N, U]

    def log_qzg(self, groups):
        return np.stack([log_mean_exp(self.pairwise[..., g].sum(-1)) for g in groups], axis=-1)


@pytest.fixture(scope="module")
def gaussian_case():
    rng = np.random.default_rng(4)
    d = 4
    latent = DiagonalGaussian(d)
    params = np.concatenate([rng.standard_normal((N, d)), rng.normal(-0.5, 0.5, (N, d))], axis=1)
    mu, sigma = params[:, :d], np.logaddexp(0.0, params[:, d:]) + 1e-5
    z = mu + sigma * rng.standard_normal((N, d))
    pairwise = scipy.stats.norm.logpdf(z[:, None, :], mu[None], sigma[None])
    return Case(latent, params, z, pairwise, scipy.stats.norm.logpdf(z))


@pytest.fixture(scope="module")
def grouped_case():
    rng = np.random.default_rng(5)
    latent = Grouped([DiagonalGaussian(3), Concrete(4, temperature=0.5)])
    params = rng.standard_normal((N, latent.param_size))
    z = latent.sample(latent.posterior(tf.constant(params)), seed=9).numpy()
    mu, sigma = params[:, :3], np.logaddexp(0.0, params[:, 3:6]) + 1e-5
    gauss = scipy.stats.norm.logpdf(z[:, None, :3], mu[None], sigma[None])
    conc = exp_concrete_log_density(np.log(z[:, None, 3:]), params[None, :, 6:], 0.5)
    pairwise = np.concatenate([gauss, conc[..., None]], axis=-1)
    log_p = np.concatenate(
        [scipy.stats.norm.logpdf(z[:, :3]), exp_concrete_log_density(np.log(z[:, 3:]), np.zeros(4), 0.5)[:, None]],
        axis=-1,
    )
    return Case(latent, params, z, pairwise, log_p)


CASES = ["gaussian_case", "grouped_case"]


def _f(x):
    return float(np.asarray(x))


# ------------------------------------------------------------------ β-TCVAE (001 eq 2)


@pytest.mark.parametrize("case_name", CASES)
def test_tc_decomposition_terms_equal_numpy_and_sum_to_kl(request, case_name):
    c = request.getfixturevalue(case_name)
    log_px = np.random.default_rng(0).normal(-50, 5, N)
    terms = decompositions.tc_decomposition(
        c.z, c.posterior, c.prior, N, "exact", log_px_given_z=tf.constant(log_px), chunk_size=7
    )
    log_qzx, log_p = c.log_qzx_units.sum(-1), c.log_p_units.sum(-1)
    expected = {
        "index_code_mi": np.mean(log_qzx - c.log_qz),
        "total_correlation": np.mean(c.log_qz - c.log_qzd.sum(-1)),
        "dimwise_kl": np.mean(c.log_qzd.sum(-1) - log_p),
        "marginal_kl": np.mean(c.log_qz - log_p),
        "kl": np.mean(log_qzx - log_p),
        "reconstruction": np.mean(log_px),
        "elbo": np.mean(log_px) - np.mean(log_qzx - log_p),
    }
    for name, value in expected.items():
        assert abs(_f(terms[name]) - value) < 1e-8, name
    np.testing.assert_allclose(terms["kl_per_dim"].numpy(), np.mean(c.log_qzx_units - c.log_p_units, 0), atol=1e-8)
    total = _f(terms["index_code_mi"]) + _f(terms["total_correlation"]) + _f(terms["dimwise_kl"])
    assert abs(total - _f(terms["kl"])) < IDENTITY_TOL
    assert abs(_f(tf.reduce_sum(terms["kl_per_dim"])) - _f(terms["kl"])) < IDENTITY_TOL
    # the exact index-code MI and TC are non-negative (they are KLs); with N = 64 points the
    # MI is at most log N
    assert 0 < _f(terms["index_code_mi"]) <= math.log(N)
    assert _f(terms["total_correlation"]) > 0


@pytest.mark.parametrize("case_name", CASES)
def test_hoffman_johnson_terms_equal_numpy_and_sum_to_kl(request, case_name):
    c = request.getfixturevalue(case_name)
    terms = decompositions.hoffman_johnson(c.z, c.posterior, c.prior, N, "exact")
    log_qzx, log_p = c.log_qzx_units.sum(-1), c.log_p_units.sum(-1)
    assert abs(_f(terms["index_code_mi"]) - np.mean(log_qzx - c.log_qz)) < 1e-8
    assert abs(_f(terms["marginal_kl"]) - np.mean(c.log_qz - log_p)) < 1e-8
    assert abs(_f(terms["index_code_mi"]) + _f(terms["marginal_kl"]) - _f(terms["kl"])) < IDENTITY_TOL
    assert "reconstruction" not in terms


# ------------------------------------------------------------------ HFVAE (002 Fig 1, Fig 3)


def _check_hfvae(terms, c, groups, log_pz, log_pzg):
    log_qzx = c.log_qzx_units.sum(-1)
    log_qzg = c.log_qzg(groups)
    sum_log_pd = c.log_p_units.sum(-1)
    expected = {
        "index_code_mi": np.mean(log_qzx - c.log_qz),
        "marginal_kl": np.mean(c.log_qz - log_pz),
        "between_group_tc": np.mean(c.log_qz - log_qzg.sum(-1)),
        "prior_between_group_tc": np.mean(log_pz - log_pzg.sum(-1)),
        "within_group_tc": np.mean(log_qzg.sum(-1) - c.log_qzd.sum(-1)),
        "prior_within_group_tc": np.mean(log_pzg.sum(-1) - sum_log_pd),
        "dimwise_kl": np.mean(c.log_qzd.sum(-1) - sum_log_pd),
        "kl": np.mean(log_qzx - log_pz),
    }
    for name, value in expected.items():
        assert abs(_f(terms[name]) - value) < 1e-8, name
    # ④ = −Ⓐ + Σ_d ⓑ, ⓑ_d = −ⓘ_d + Σ_e ⓘⓘ_{d,e}, in refvae's positive names:
    rebuilt = (
        _f(terms["between_group_tc"])
        - _f(terms["prior_between_group_tc"])
        + _f(terms["within_group_tc"])
        - _f(terms["prior_within_group_tc"])
        + _f(terms["dimwise_kl"])
    )
    assert abs(rebuilt - _f(terms["marginal_kl"])) < IDENTITY_TOL
    assert abs(_f(terms["index_code_mi"]) + _f(terms["marginal_kl"]) - _f(terms["kl"])) < IDENTITY_TOL


def test_hfvae_two_groups_of_gaussian_units(gaussian_case):
    c = gaussian_case
    groups = [[0, 1], [2, 3]]
    terms = decompositions.hfvae_decomposition(c.z, c.posterior, c.prior, N, "exact", groups=groups)
    log_pz = c.log_p_units.sum(-1)
    log_pzg = np.stack([c.log_p_units[:, g].sum(-1) for g in groups], -1)
    _check_hfvae(terms, c, groups, log_pz, log_pzg)
    # a factorised prior has no TC of its own
    assert _f(terms["prior_between_group_tc"]) == 0.0 and abs(_f(terms["prior_within_group_tc"])) < 1e-12


def test_hfvae_default_groups_are_single_units(gaussian_case):
    c = gaussian_case
    terms = decompositions.hfvae_decomposition(c.z, c.posterior, c.prior, N, "exact")
    tc = decompositions.tc_decomposition(c.z, c.posterior, c.prior, N, "exact")
    assert abs(_f(terms["within_group_tc"])) < 1e-12
    assert abs(_f(terms["between_group_tc"]) - _f(tc["total_correlation"])) < 1e-12


def test_hfvae_grouped_gaussian_and_concrete(grouped_case):
    c = grouped_case
    groups = c.latent.groups  # [[0, 1, 2], [3]]
    terms = decompositions.hfvae_decomposition(c.z, c.posterior, c.prior, N, "exact", groups=groups)
    log_pzg = np.stack([c.log_p_units[:, g].sum(-1) for g in groups], -1)
    _check_hfvae(terms, c, groups, c.log_p_units.sum(-1), log_pzg)


def test_hfvae_with_a_correlated_prior(gaussian_case):
    # p(z) = N(0, C) over 4 units with unit variances: correlation 0.6 inside group {0, 1},
    # 0.3 between units 1 and 2 (across the groups), 0.2 inside group {2, 3}. Its unit
    # marginals are N(0, 1), so ``prior`` (standard normal) still gives log p(z_{d,e}).
    c = gaussian_case
    groups = [[0, 1], [2, 3]]
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.6
    cov[1, 2] = cov[2, 1] = 0.3
    cov[2, 3] = cov[3, 2] = 0.2
    chol = np.linalg.cholesky(cov)
    full = tfd.MultivariateNormalTriL(tf.zeros(4, tf.float64), tf.constant(chol))
    parts = [
        tfd.MultivariateNormalTriL(tf.zeros(2, tf.float64), tf.constant(np.linalg.cholesky(cov[np.ix_(g, g)])))
        for g in groups
    ]

    def prior_log_prob(z):
        return full.log_prob(z)

    def prior_group_log_prob(z, index):
        return parts[index].log_prob(tf.gather(z, groups[index], axis=-1))

    terms = decompositions.hfvae_decomposition(
        c.z,
        c.posterior,
        c.prior,
        N,
        "exact",
        groups=groups,
        prior_log_prob=prior_log_prob,
        prior_group_log_prob=prior_group_log_prob,
    )
    z = c.z.numpy()
    log_pz = scipy.stats.multivariate_normal(np.zeros(4), cov).logpdf(z)
    log_pzg = np.stack(
        [scipy.stats.multivariate_normal(np.zeros(2), cov[np.ix_(g, g)]).logpdf(z[:, g]) for g in groups], -1
    )
    _check_hfvae(terms, c, groups, log_pz, log_pzg)
    assert abs(_f(terms["prior_between_group_tc"])) > 1e-3
    assert abs(_f(terms["prior_within_group_tc"])) > 1e-3


def test_hfvae_with_a_correlated_prior_inside_one_group_only(gaussian_case):
    # only prior_log_prob given, the prior's TC sits inside group {0, 1}; with the default
    # group densities (sums of unit marginals) the prior's TC appears as between-group TC
    c = gaussian_case
    cov2 = np.array([[1.0, 0.6], [0.6, 1.0]])
    mvn = tfd.MultivariateNormalTriL(tf.zeros(2, tf.float64), tf.constant(np.linalg.cholesky(cov2)))

    def prior_log_prob(z):
        return mvn.log_prob(z[:, :2]) + tf.reduce_sum(tfd.Normal(tf.constant(0.0, tf.float64), 1.0).log_prob(z[:, 2:]), -1)

    groups = [[0, 1], [2, 3]]
    terms = decompositions.hfvae_decomposition(
        c.z, c.posterior, c.prior, N, "exact", groups=groups, prior_log_prob=prior_log_prob
    )
    z = c.z.numpy()
    log_pz = scipy.stats.multivariate_normal(np.zeros(2), cov2).logpdf(z[:, :2]) + scipy.stats.norm.logpdf(z[:, 2:]).sum(-1)
    log_pzg = np.stack([c.log_p_units[:, g].sum(-1) for g in groups], -1)
    _check_hfvae(terms, c, groups, log_pz, log_pzg)


# ------------------------------------------------------------------------ CorEx (000 eq 12)


def test_data_marginal_entropy_by_hand():
    x = np.array([[0, 1, 1], [0, 0, 1], [1, 0, 1], [0, 1, 1]])  # pixel means 1/4, 1/2, 1
    h_quarter = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert abs(decompositions.data_marginal_entropy(x) - (h_quarter + math.log(2) + 0.0)) < 1e-12
    images = np.array([[[0, 1], [1, 1]], [[1, 1], [0, 1]]])  # [N, 2, 2] is flattened per point
    assert abs(decompositions.data_marginal_entropy(images) - 2 * math.log(2)) < 1e-12


@pytest.mark.parametrize("case_name", CASES)
def test_corex_terms(request, case_name):
    c = request.getfixturevalue(case_name)
    log_px = np.random.default_rng(1).normal(-80, 3, N)
    x = np.random.default_rng(2).integers(0, 2, (N, 10))
    data_entropy = decompositions.data_marginal_entropy(x)
    terms = decompositions.corex_terms(
        c.z, c.posterior, c.prior, N, "exact", log_px_given_z=tf.constant(log_px), data_entropy=data_entropy
    )
    kl = np.mean(c.log_qzx_units.sum(-1) - c.log_p_units.sum(-1))
    elbo = np.mean(log_px) - kl
    assert abs(_f(terms["sum_mi_zj_x"]) - np.mean((c.log_qzx_units - c.log_qzd).sum(-1))) < 1e-8
    assert abs(_f(terms["total_correlation"]) - np.mean(c.log_qz - c.log_qzd.sum(-1))) < 1e-8
    assert abs(_f(terms["sum_mi_zj_x_upper"]) - kl) < 1e-8
    assert abs(_f(terms["elbo"]) - elbo) < 1e-8
    assert abs(_f(terms["corex_lower_bound"]) - (data_entropy + elbo)) < 1e-8
    assert abs(_f(terms["sum_mi_xi_z_lower"]) - (data_entropy + np.mean(log_px))) < 1e-8
    # eq 9: I(z_j : x) <= E KL(q(z_j|x) ‖ p(z_j)), summed over j
    assert _f(terms["sum_mi_zj_x"]) <= _f(terms["sum_mi_zj_x_upper"])


# --------------------------------------------------------------- posterior equal to the prior


def test_posterior_equal_to_prior_has_zero_kl_and_zero_index_code_mi():
    d = 3
    latent = DiagonalGaussian(d, parameterization="log_var")
    params = np.zeros((N, 2 * d))  # loc 0, log variance 0: q(z|x) = N(0, I) = p(z) for every x
    posterior = latent.posterior(tf.constant(params))
    z = latent.sample(posterior, seed=3)
    terms = decompositions.tc_decomposition(z, posterior, latent.prior(tf.float64), N, "exact")
    assert _f(terms["kl"]) == 0.0
    assert abs(_f(terms["index_code_mi"])) < 1e-12
    assert abs(_f(terms["total_correlation"])) < 1e-12
    assert abs(_f(terms["dimwise_kl"])) < 1e-12


# ---------------------------------------------------------- minibatch estimates, float32


@pytest.mark.parametrize("method", ["mss1", "mss0", "hfvae", "mws", "mws_dropped"])
def test_identities_hold_for_every_estimator_in_float32(gaussian_case, method):
    # the identities are exact algebra, whatever the estimate of log q(z)
    latent = gaussian_case.latent
    rng = np.random.default_rng(6)
    params = rng.standard_normal((32, latent.param_size)).astype(np.float32)
    posterior = latent.posterior(tf.constant(params))
    z = latent.sample(posterior, seed=1)
    terms = decompositions.tc_decomposition(z, posterior, latent.prior(), 10_000, method)
    assert terms["kl"].dtype == tf.float32
    total = _f(terms["index_code_mi"]) + _f(terms["total_correlation"]) + _f(terms["dimwise_kl"])
    assert abs(total - _f(terms["kl"])) < 1e-4 * max(1.0, abs(_f(terms["total_correlation"])))
    hf = decompositions.hfvae_decomposition(z, posterior, latent.prior(), 10_000, method, groups=[[0, 1], [2, 3]])
    rebuilt = (
        _f(hf["between_group_tc"]) + _f(hf["within_group_tc"]) + _f(hf["dimwise_kl"])
        - _f(hf["prior_between_group_tc"]) - _f(hf["prior_within_group_tc"])
    )
    assert abs(rebuilt - _f(hf["marginal_kl"])) < 1e-4 * max(1.0, abs(_f(hf["between_group_tc"])))


# -------------------------------------------------------------------------------- bad input


def test_bad_inputs_raise(gaussian_case):
    c = gaussian_case
    with pytest.raises(ValueError, match="z must have shape"):
        decompositions.tc_decomposition(c.z[0], c.posterior, c.prior, N, "exact")
    with pytest.raises(ValueError, match="prior.log_prob"):  # a prior summed over units
        decompositions.tc_decomposition(c.z, c.posterior, tfd.Independent(c.prior, 1), N, "exact")
    with pytest.raises(ValueError, match="log_px_given_z"):
        decompositions.tc_decomposition(c.z, c.posterior, c.prior, N, "exact", log_px_given_z=tf.zeros([N, 2], tf.float64))
    with pytest.raises(ValueError, match="data_entropy needs log_px_given_z"):
        decompositions.corex_terms(c.z, c.posterior, c.prior, N, "exact", data_entropy=3.0)
    with pytest.raises(ValueError, match="binary"):
        decompositions.data_marginal_entropy(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="unknown estimator method"):
        decompositions.hoffman_johnson(c.z, c.posterior, c.prior, N, "kde")
    with pytest.raises(ValueError, match="dataset_size"):
        decompositions.tc_decomposition(c.z, c.posterior, c.prior, N - 1, "mss1")


def test_prior_of_the_wrong_size_is_refused_with_a_value_error():
    import tensorflow_probability as tfp

    posterior = tfp.distributions.Normal(np.zeros((8, 3)), np.ones((8, 3)))
    prior = tfp.distributions.Normal(np.zeros(5), np.ones(5))
    with pytest.raises(ValueError, match=r"prior must be a distribution over the units of z \[B, 3\]"):
        decompositions.tc_decomposition(np.zeros((8, 3)), posterior, prior, 100, "mss1")
