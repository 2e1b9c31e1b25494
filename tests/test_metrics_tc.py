"""TC of the mean codes vs TC of the sampled codes (004)."""

import math

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth

from refvae import metrics


def test_tc_of_means_matches_the_bivariate_gaussian_closed_form():
    rng = np.random.default_rng(0)
    rho = 0.8
    codes = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=200000)
    # TC of a bivariate Gaussian = I(z1; z2) = -1/2 log(1 - rho^2)
    assert metrics.tc_of_means(codes) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.01)


def test_tc_of_samples_is_zero_when_the_posterior_means_form_a_product_grid():
    # q(z) = (1/AB) sum_a sum_b N(z1; a) N(z2; b) = q(z1) q(z2) exactly
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 6), np.linspace(-1, 3, 5), indexing="ij"), -1).reshape(-1, 2)
    assert metrics.tc_of_samples(grid, np.full_like(grid, 0.7), seed=0) == pytest.approx(0.0, abs=1e-5)


def test_tc_of_samples_of_separated_copies_is_log_n():
    # z2 copies z1 and the N posteriors do not overlap: each sample identifies its point in
    # both marginals, so log q(z) - log q(z1) - log q(z2) = log N for every sample.
    loc = np.repeat(np.arange(20.0)[:, None] * 10, 2, axis=1)
    assert metrics.tc_of_samples(loc, np.full_like(loc, 0.1)) == pytest.approx(math.log(20), abs=1e-4)


def test_correlated_means_with_wide_posteriors_hide_their_tc_from_samples():
    # 004 Fig 2: means almost collinear (large TC_mean), unit posteriors (small TC_sample).
    rng = np.random.default_rng(0)
    u = rng.normal(size=(400, 1))
    loc = np.hstack([u, 0.01 * u + 1e-3 * rng.normal(size=(400, 1))])
    result = metrics.tc_means_vs_samples(loc, np.ones_like(loc))
    assert result["tc_mean"] > 2.0
    assert result["tc_sample"] < 0.1


def test_minibatch_estimator_runs_per_batch():
    grid = np.stack(np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij"), -1).reshape(-1, 2) * 5
    exact = metrics.tc_of_samples(grid, np.full_like(grid, 0.2), seed=1)
    mss = metrics.tc_of_samples(grid, np.full_like(grid, 0.2), method="mss1", batch_size=16, seed=1)
    assert exact == pytest.approx(0.0, abs=1e-4)
    assert math.isfinite(mss) and mss != exact  # a minibatch estimate of the same quantity


def test_minibatch_terms_of_separated_posteriors_give_index_code_mi_log_n_and_the_mss_batch_bias():
    # 40 well-separated narrow posteriors: every sample is scored only by its own component.
    # With the exact mixture, index_code_mi = log N (closed form); MSS1 on batches of B from
    # a data set of size N sees log q(z) = log q(z|x) - log N too (its own-sample weight is 1/N),
    # so index_code_mi = log N at every batch size.
    loc = np.stack([np.arange(40.0) * 10, (np.arange(40.0) * 7) % 40 * 10], axis=1)
    scale = np.full_like(loc, 0.05)
    exact = metrics.minibatch_tc_terms(loc, scale, "exact")
    assert exact["index_code_mi"] == pytest.approx(math.log(40), abs=1e-6)
    assert exact["num_batches"] == 1 and exact["batch_size"] == 40
    batch = metrics.minibatch_tc_terms(loc, scale, "mss1", batch_size=8, dataset_size=737_280)
    assert batch["index_code_mi"] == pytest.approx(math.log(737_280), abs=1e-4)
    assert batch["num_batches"] == 5
    # Each marginal log q(z_d) likewise sees only its own component (the columns are distinct
    # values): TC = log q(z) - sum_d log q(z_d) = -log N + 2 log N = log N, at N = 737,280.
    assert batch["total_correlation"] == pytest.approx(math.log(737_280), abs=1e-4)
    assert metrics.tc_of_samples(loc, scale, "mss1", batch_size=8, dataset_size=737_280) == batch["total_correlation"]


def test_minibatch_terms_refuse_a_dataset_smaller_than_the_batch():
    loc = np.zeros((16, 2))
    with pytest.raises(ValueError, match="dataset_size must be an integer >= 8"):
        metrics.minibatch_tc_terms(loc, np.ones_like(loc), "mss1", batch_size=8, dataset_size=4)


def test_compute_tc_means_vs_samples_over_a_data_set():
    def posterior(observations):
        loc = observations[:, :2] @ np.array([[1.0, 1.0], [0.0, 1.0]])
        return loc, np.full_like(loc, 0.5)

    result = metrics.compute_tc_means_vs_samples(ToyGroundTruth((4, 4)), posterior, rng=0, num_points=300)
    # loc = (a, a + b) with a, b independent uniform on 0..3: TC_mean = -1/2 log(1 - 1/2)
    assert result["tc_mean"] == pytest.approx(0.5 * math.log(2), abs=0.1)
    assert result["tc_sample"] > 0.05


def test_tc_rejects_bad_inputs():
    with pytest.raises(ValueError, match="constant"):
        metrics.tc_of_means(np.column_stack([np.arange(5.0), np.ones(5)]))
    with pytest.raises(ValueError, match="method"):
        metrics.tc_of_samples(np.zeros((4, 2)), np.ones((4, 2)), method="magic")
    with pytest.raises(ValueError, match="exact"):
        metrics.tc_of_samples(np.zeros((4, 2)), np.ones((4, 2)), batch_size=2)


# ------------------------------------------------- the finite mixture's TC, independently


def _normal_entropy(scale):
    return 0.5 * math.log(2 * math.pi * math.e * scale**2)


def test_mixture_tc_of_separated_points_on_a_line_is_d_minus_1_log_n():
    # 40 points 2 apart on the diagonal of 3-D space, posteriors 0.1 wide (20 sd apart): the components
    # overlap neither jointly nor in any marginal, so H(z) = log N + 3 h(0.1), H(z_d) = log N + h(0.1),
    # and TC = (D - 1) log N = 2 log 40 = 7.378 nats.
    from refvae.metrics.tc import mixture_total_correlation

    loc = np.repeat(2.0 * np.arange(40.0)[:, None], 3, axis=1)
    result = mixture_total_correlation(loc, 0.1, num_samples=4000, seed=0)
    np.testing.assert_allclose(result["marginal_entropies"], math.log(40) + _normal_entropy(0.1), atol=1e-9)
    np.testing.assert_allclose(result["marginal_mass"], 1.0, atol=1e-12)
    assert abs(result["total_correlation"] - 2 * math.log(40)) < 4 * result["stderr"]
    assert 0.005 < result["stderr"] < 0.05                            # √(D/2) / √M = 0.019
    assert abs(result["index_code_mi"] - math.log(40)) < 4 * result["stderr"]   # I(z; n) = H(n) = log N


def test_mixture_tc_of_a_product_grid_is_zero():
    # Means on the full 4 x 5 product grid with one common scale per dimension, overlapping
    # (spacing 0.15, sd 0.1): q(z) = q(z_1) q(z_2) exactly, so TC = 0.
    from refvae.metrics.tc import mixture_total_correlation

    grid = np.stack(np.meshgrid(0.15 * np.arange(4), 0.15 * np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    result = mixture_total_correlation(grid, [0.1, 0.12], num_samples=20_000, seed=1)
    assert abs(result["total_correlation"]) < 4 * result["stderr"]
    assert result["stderr"] < 0.01


def test_mixture_tc_in_2d_equals_quadrature_of_the_joint_and_marginals():
    # Seven components of different widths in 2-D: H(z) by a plain Riemann sum over the plane and
    # each H(z_d) by scipy's adaptive quadrature, neither of them refvae's code.
    import scipy.integrate
    import scipy.stats

    from refvae.metrics.tc import mixture_total_correlation

    rng = np.random.default_rng(3)
    loc = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], size=7)
    scale = rng.uniform(0.2, 0.6, size=(7, 2))
    axis, step = np.linspace(-6, 6, 1201, retstep=True)
    z1, z2 = np.meshgrid(axis, axis, indexing="ij")
    density = np.mean([scipy.stats.norm.pdf(z1, m[0], s[0]) * scipy.stats.norm.pdf(z2, m[1], s[1])
                       for m, s in zip(loc, scale)], axis=0)
    joint_entropy = -np.sum(density * np.log(np.maximum(density, 1e-300))) * step**2

    def marginal_entropy(d):
        def integrand(x):
            q = np.mean(scipy.stats.norm.pdf(x, loc[:, d], scale[:, d]))
            return -q * math.log(q) if q > 0 else 0.0
        return scipy.integrate.quad(integrand, -8, 8, limit=400, epsabs=1e-12, epsrel=1e-12)[0]

    marginals = np.array([marginal_entropy(d) for d in range(2)])
    truth = marginals.sum() - joint_entropy
    result = mixture_total_correlation(loc, scale, num_samples=40_000, seed=2)
    np.testing.assert_allclose(result["marginal_entropies"], marginals, rtol=0, atol=5e-8)
    assert abs(result["joint_entropy"] - joint_entropy) < 4 * result["joint_entropy_stderr"]
    assert abs(result["total_correlation"] - truth) < 4 * result["stderr"]
    assert truth > 0.1                                               # the case has a TC to find


def test_mixture_tc_tends_to_the_gaussian_tc_when_many_components_overlap():
    # 10,000 means ~ N(0, [[1, .8], [.8, 1]]) with sd 0.5: I(z; n) of the limit Gaussian is 1.35 nats,
    # far below log N = 9.2, so the mixture is close to N(0, Σ + 0.25 I), TC = −½ log(1 − 0.64²) = 0.2635
    # (004 eq 9); what is left is the sampling of the 10,000 means.
    from refvae import info
    from refvae.metrics.tc import mixture_total_correlation

    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    loc = np.random.default_rng(4).multivariate_normal([0, 0], cov, size=10_000)
    result = mixture_total_correlation(loc, 0.5, num_samples=4000, seed=5)
    gaussian = info.gaussian_total_correlation(cov + 0.25 * np.eye(2))
    assert abs(gaussian - 0.2635) < 1e-4
    assert abs(result["total_correlation"] - gaussian) < 0.02 + 4 * result["stderr"]


@pytest.mark.parametrize("scale, message", [(0.0, "> 0"), (np.ones((3, 2)), "broadcast"), (-1.0, "> 0")])
def test_mixture_tc_refuses_bad_scales(scale, message):
    from refvae.metrics.tc import mixture_total_correlation

    with pytest.raises(ValueError, match=message):
        mixture_total_correlation(np.zeros((5, 2)), scale)
