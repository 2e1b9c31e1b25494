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
