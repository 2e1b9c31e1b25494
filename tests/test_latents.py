"""refvae.latents: shapes, densities against SciPy / NumPy, seeded sampling, configs, bad input."""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
from references import exp_concrete_log_density

from refvae import latents
from refvae.latents import Concrete, DiagonalGaussian, Grouped


def _softplus(x):
    return np.logaddexp(0.0, x)


# ----------------------------------------------------------------------------------- shapes


def test_sizes_of_the_three_families():
    gaussian, concrete = DiagonalGaussian(10), Concrete(10)
    grouped = Grouped([DiagonalGaussian(10), Concrete(10)])
    assert (gaussian.param_size, gaussian.event_size, gaussian.num_units) == (20, 10, 10)
    assert (concrete.param_size, concrete.event_size, concrete.num_units) == (10, 10, 1)
    assert (grouped.param_size, grouped.event_size, grouped.num_units) == (30, 20, 11)
    assert gaussian.groups == [list(range(10))]
    assert concrete.groups == [[0]]
    assert grouped.groups == [list(range(10)), [10]]


def test_per_unit_log_prob_shapes(rng):
    grouped = Grouped([DiagonalGaussian(3), Concrete(4)])
    params = tf.constant(rng.standard_normal((5, grouped.param_size)), tf.float32)
    posterior = grouped.posterior(params)
    z = grouped.sample(posterior, seed=1)
    assert z.shape == (5, 7)
    assert posterior.log_prob(z).shape == (5, 4)
    assert grouped.prior().log_prob(z).shape == (5, 4)
    assert grouped.log_q_pairwise(z[:3], posterior).shape == (3, 5, 4)
    assert grouped.mean(posterior).shape == (5, 7)


# -------------------------------------------------------------------------------- densities


def test_gaussian_log_q_pairwise_equals_scipy(rng):
    latent = DiagonalGaussian(4)
    params = rng.standard_normal((6, 8))
    posterior = latent.posterior(tf.constant(params))
    z = rng.standard_normal((5, 4))  # M = 5 samples against B = 6 data points
    pairwise = latent.log_q_pairwise(tf.constant(z), posterior).numpy()
    mu, s = params[:, :4], _softplus(params[:, 4:]) + 1e-5
    expected = scipy.stats.norm.logpdf(z[:, None, :], mu[None, :, :], s[None, :, :])
    assert pairwise.shape == (5, 6, 4)
    assert np.max(np.abs(pairwise - expected)) < 1e-10
    # one entry spelled out: [i, j, d] = log N(z[i, d]; mu[j, d], s[j, d])
    assert abs(pairwise[2, 4, 1] - scipy.stats.norm.logpdf(z[2, 1], mu[4, 1], s[4, 1])) < 1e-12


def test_log_var_parameterisation(rng):
    latent = DiagonalGaussian(3, parameterization="log_var")
    params = rng.standard_normal((4, 6))
    posterior = latent.posterior(tf.constant(params))
    np.testing.assert_allclose(posterior.scale.numpy(), np.exp(0.5 * params[:, 3:]), rtol=1e-12)
    np.testing.assert_allclose(posterior.loc.numpy(), params[:, :3], rtol=1e-12)


def test_softplus_parameterisation_has_a_floor(rng):
    latent = DiagonalGaussian(2, min_scale=0.01)
    params = np.array([[0.0, 0.0, -50.0, 1.0]])
    scale = latent.posterior(tf.constant(params)).scale.numpy()
    np.testing.assert_allclose(scale, [[_softplus(-50.0) + 0.01, _softplus(1.0) + 0.01]], rtol=1e-12)


def test_gaussian_prior_is_standard_normal(rng):
    z = rng.standard_normal((7, 3))
    log_p = DiagonalGaussian(3).prior(tf.float64).log_prob(tf.constant(z)).numpy()
    np.testing.assert_allclose(log_p, scipy.stats.norm.logpdf(z), atol=1e-12)


def test_concrete_log_prob_equals_exp_concrete_density_at_log_z(rng):
    latent = Concrete(5, temperature=0.67)
    logits = rng.standard_normal((4, 5))
    posterior = latent.posterior(tf.constant(logits))
    z = latent.sample(posterior, seed=3).numpy()  # [4, 5], sample i from data point i
    np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-12)
    pairwise = latent.log_q_pairwise(tf.constant(z), posterior).numpy()
    expected = exp_concrete_log_density(np.log(z)[:, None, :], logits[None, :, :], 0.67)
    assert pairwise.shape == (4, 4, 1)
    assert np.max(np.abs(pairwise[..., 0] - expected)) < 1e-8
    # the prior: uniform logits at the same temperature
    prior = latent.prior(tf.float64).log_prob(tf.constant(z)).numpy()[:, 0]
    np.testing.assert_allclose(prior, exp_concrete_log_density(np.log(z), np.zeros(5), 0.67), atol=1e-8)


def test_grouped_pairwise_is_the_parts_side_by_side(rng):
    grouped = Grouped([DiagonalGaussian(2), Concrete(3, temperature=0.5)])
    params = rng.standard_normal((4, 7))
    posterior = grouped.posterior(tf.constant(params))
    z = grouped.sample(posterior, seed=0).numpy()
    pairwise = grouped.log_q_pairwise(tf.constant(z), posterior).numpy()
    mu, s = params[:, :2], _softplus(params[:, 2:4]) + 1e-5
    gauss = scipy.stats.norm.logpdf(z[:, None, :2], mu[None], s[None])
    conc = exp_concrete_log_density(np.log(z[:, None, 2:]), params[None, :, 4:], 0.5)
    assert np.max(np.abs(pairwise[..., :2] - gauss)) < 1e-10
    assert np.max(np.abs(pairwise[..., 2] - conc)) < 1e-8


def test_categorical_kl_is_log_k_minus_entropy(rng):
    latent = Concrete(6)
    logits = rng.standard_normal((3, 6)) * 2
    kl = latent.categorical_kl(latent.posterior(tf.constant(logits))).numpy()
    probs = scipy.special.softmax(logits, axis=-1)
    np.testing.assert_allclose(kl, math.log(6) - scipy.stats.entropy(probs, axis=-1), atol=1e-12)


# --------------------------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    "make", [lambda: DiagonalGaussian(3), lambda: Concrete(4), lambda: Grouped([DiagonalGaussian(3), Concrete(4)])]
)
def test_samples_are_reproducible_with_a_seed(rng, make):
    latent = make()
    posterior = latent.posterior(tf.constant(rng.standard_normal((8, latent.param_size)), tf.float32))
    first = latent.sample(posterior, seed=11).numpy()
    again = latent.sample(posterior, seed=11).numpy()
    other = latent.sample(posterior, seed=12).numpy()
    assert np.array_equal(first, again)
    assert np.max(np.abs(first - other)) > 1e-3


def test_gaussian_samples_have_the_posterior_moments():
    latent = DiagonalGaussian(2)
    params = np.tile([[1.5, -2.0, 0.3, -1.0]], (50_000, 1))
    posterior = latent.posterior(tf.constant(params))
    z = latent.sample(posterior, seed=5).numpy()
    scale = _softplus(np.array([0.3, -1.0])) + 1e-5
    # 5 standard errors
    assert np.all(np.abs(z.mean(0) - [1.5, -2.0]) < 5 * scale / math.sqrt(50_000))
    assert np.all(np.abs(z.std(0) / scale - 1) < 0.02)


def test_concrete_argmax_is_categorical():
    # Gumbel-max: argmax of the relaxed sample is distributed as Cat(softmax(logits)).
    latent = Concrete(3, temperature=0.5)
    logits = np.log([0.2, 0.5, 0.3])
    posterior = latent.posterior(tf.constant(np.tile(logits, (40_000, 1))))
    counts = np.bincount(np.argmax(latent.sample(posterior, seed=2).numpy(), -1), minlength=3) / 40_000
    assert np.all(np.abs(counts - [0.2, 0.5, 0.3]) < 5 * math.sqrt(0.25 / 40_000))


def test_straight_through_is_one_hot_forward(rng):
    latent = Concrete(4, straight_through=True)
    posterior = latent.posterior(tf.constant(rng.standard_normal((6, 4)), tf.float32))
    z = latent.sample(posterior, seed=0).numpy()
    assert set(np.unique(z)) <= {0.0, 1.0}
    np.testing.assert_array_equal(z.sum(-1), 1.0)


# ---------------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "latent",
    [
        DiagonalGaussian(4, parameterization="log_var", min_scale=0.0),
        Concrete(7, temperature=0.3, straight_through=True),
        Grouped([DiagonalGaussian(10), Concrete(10)]),
    ],
)
def test_get_round_trips_the_config(latent):
    rebuilt = latents.get(latent.get_config())
    assert type(rebuilt) is type(latent)
    assert rebuilt.get_config() == latent.get_config()
    assert (rebuilt.param_size, rebuilt.event_size, rebuilt.num_units) == (
        latent.param_size,
        latent.event_size,
        latent.num_units,
    )


def test_get_by_name():
    assert latents.get("gaussian", dim=3).num_units == 3
    assert latents.get({"name": "concrete", "num_classes": 10}).num_units == 1


def test_concrete_temperature_variable_in_config():
    latent = Concrete(3, temperature=tf.Variable(0.8, dtype=tf.float32))
    assert abs(latent.get_config()["temperature"] - 0.8) < 1e-6


# -------------------------------------------------------------------------------- bad input


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="dim"):
        DiagonalGaussian(0)
    with pytest.raises(ValueError, match="dim"):
        DiagonalGaussian(2.5)
    with pytest.raises(ValueError, match="parameterization"):
        DiagonalGaussian(2, parameterization="exp")
    with pytest.raises(ValueError, match="min_scale"):
        DiagonalGaussian(2, min_scale=-1.0)
    with pytest.raises(ValueError, match="num_classes"):
        Concrete(1)
    with pytest.raises(ValueError, match="temperature"):
        Concrete(3, temperature=0.0)
    with pytest.raises(ValueError, match="parts"):
        Grouped([])
    with pytest.raises(ValueError, match="unknown latent family.*known"):
        latents.get("gaussain", dim=2)
    with pytest.raises(ValueError, match="columns"):
        DiagonalGaussian(2).posterior(tf.zeros([3, 5]))
    with pytest.raises(ValueError, match="shape"):
        DiagonalGaussian(2).posterior(tf.zeros([4]))
    with pytest.raises(ValueError, match="z must have shape"):
        latent = DiagonalGaussian(2)
        latent.log_q_pairwise(tf.zeros([2, 3, 2]), latent.posterior(tf.zeros([3, 4])))


def test_unit_of_event_maps_every_coordinate_of_z_to_its_unit():
    latent = Grouped([DiagonalGaussian(3), Concrete(4), DiagonalGaussian(2)])
    assert latent.unit_of_event == [0, 1, 2, 3, 3, 3, 3, 4, 5]
    assert Concrete(4).unit_of_event == [0, 0, 0, 0]


def test_sample_prior_draws_from_the_prior_with_the_right_moments():
    gaussian = DiagonalGaussian(3).sample_prior(20000, seed=1).numpy()
    assert gaussian.shape == (20000, 3)
    np.testing.assert_allclose(gaussian.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(gaussian.std(0), 1.0, atol=0.03)
    one_hot = Grouped([DiagonalGaussian(2), Concrete(5)]).sample_prior(20000, seed=2).numpy()[:, 2:]
    np.testing.assert_allclose(one_hot.sum(1), 1.0, atol=1e-5)
    # a uniform categorical prior: every class wins the argmax about 1/5 of the time
    np.testing.assert_allclose(np.bincount(one_hot.argmax(1), minlength=5) / 20000, 0.2, atol=0.01)
