"""Per-dimension I(x; z_j), aggregate-marginal variances and active dimensions."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from test_metrics_utils import ToyGroundTruth

from refvae import metrics


def test_two_separated_halves_carry_log_two_nats():
    loc = np.repeat([[-5.0, 0.0], [5.0, 0.0]], 50, axis=0)
    result = metrics.dimwise_mutual_information(loc, np.full_like(loc, 0.1))
    assert result["mutual_info"][0] == pytest.approx(math.log(2), abs=1e-6)


def test_dimension_with_the_same_posterior_everywhere_carries_nothing():
    loc = np.column_stack([np.linspace(-3, 3, 40), np.full(40, 0.7)])
    scale = np.column_stack([np.full(40, 0.5), np.full(40, 1.3)])
    result = metrics.dimwise_mutual_information(loc, scale)
    assert result["mutual_info"][1] == pytest.approx(0.0, abs=1e-6)  # mixture == component
    assert result["active"].tolist() == [True, False] and result["num_active_dims"] == 1


def test_mutual_info_matches_quadrature_for_two_points():
    loc = np.array([[-1.0], [1.0]])
    scale = np.ones((2, 1))

    def minus_p_log_p(z):
        density = 0.5 * (stats.norm.pdf(z, -1, 1) + stats.norm.pdf(z, 1, 1))
        return -density * np.log(density)

    exact = integrate.quad(minus_p_log_p, -12, 12)[0] - 0.5 * math.log(2 * math.pi * math.e)
    result = metrics.dimwise_mutual_information(loc, scale, num_samples=40000, seed=0)
    assert result["mutual_info"][0] == pytest.approx(exact, abs=0.012)


def test_marginal_variance_is_law_of_total_variance():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(300, 2)) * [1.0, 3.0]
    scale = rng.uniform(0.1, 2.0, size=(300, 2))
    index = rng.integers(300, size=400000)
    draws = loc[index] + scale[index] * rng.normal(size=(400000, 2))
    variance = metrics.aggregate_marginal_variance(loc, scale)
    assert np.allclose(variance, np.mean(scale**2, axis=0) + np.var(loc, axis=0))
    assert np.allclose(variance, draws.var(axis=0), rtol=0.02)


def test_compute_dimwise_mutual_information_over_a_data_set():
    def posterior(observations):
        loc = np.column_stack([observations[:, 0] * 4.0, np.zeros(len(observations))])
        return loc, np.full_like(loc, 0.05)

    result = metrics.compute_dimwise_mutual_information(ToyGroundTruth((2, 3)), posterior, rng=0, num_points=400)
    # dim 0 reveals a fair binary factor (about log 2 nats), dim 1 nothing
    assert result["mutual_info"][0] == pytest.approx(math.log(2), abs=0.01)
    assert result["num_active_dims"] == 1


def test_dimwise_mutual_information_rejects_bad_inputs():
    with pytest.raises(ValueError, match="scale must have the shape of loc"):
        metrics.dimwise_mutual_information(np.zeros((5, 2)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="scale must be > 0"):
        metrics.dimwise_mutual_information(np.zeros((5, 2)), np.zeros((5, 2)))
