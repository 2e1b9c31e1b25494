"""Tests of refvae.models.factor_vae: the density-ratio TC and the FactorVAE model."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from refvae import info, latents
from refvae.models import networks
from refvae.models.factor_vae import (
    FactorVAE,
    build_discriminator,
    density_ratio_tc,
    discriminator_loss,
    permute_dims,
)

DIGITS = (load_digits().images / 16.0).astype(np.float32)[..., None]
BATCH = DIGITS[:64]


def _model(latent=None, gamma=10.0, seed=0):
    keras.utils.set_random_seed(seed)
    latent = latent or latents.DiagonalGaussian(4)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(32,))
    model = FactorVAE(encoder, decoder, latent, gamma=gamma, dataset_size=len(DIGITS),
                      discriminator_hidden=(32, 32), seed=seed)
    model.compile(keras.optimizers.Adam(1e-3))
    return model


# ------------------------------------------------------------------ the estimator alone


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_density_ratio_tc_matches_the_gaussian_closed_form(rho):
    # TC of a bivariate Gaussian with correlation ρ is −½ log(1 − ρ²): 0 and 0.511 nats.
    cov = [[1.0, rho], [rho, 1.0]]
    z = np.random.default_rng(0).multivariate_normal([0.0, 0.0], cov, size=10000)
    result = density_ratio_tc(z, hidden=(64, 64), steps=2000, seed=0)
    assert result["total_correlation"] == pytest.approx(info.gaussian_total_correlation(cov), abs=0.06)
    # D separates the classes only when there is dependence to detect.
    assert (result["discriminator_accuracy"] > 0.6) == (rho > 0)


def test_density_ratio_tc_is_reproducible_with_a_seed():
    z = np.random.default_rng(1).normal(size=(400, 3))
    first = density_ratio_tc(z, hidden=(8,), steps=20, seed=3)["total_correlation"]
    assert density_ratio_tc(z, hidden=(8,), steps=20, seed=3)["total_correlation"] == first


def test_density_ratio_tc_rejects_bad_arguments():
    with pytest.raises(ValueError, match="z_samples must have shape"):
        density_ratio_tc(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        density_ratio_tc(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="eval_fraction"):
        density_ratio_tc(np.zeros((10, 2)), eval_fraction=1.0)
    with pytest.raises(ValueError, match="units must give"):
        density_ratio_tc(np.zeros((10, 2)), units=[0])


# ------------------------------------------------------------------ pieces


def test_permute_dims_permutes_each_unit_and_keeps_concrete_blocks_together():
    z = tf.reshape(tf.range(40, dtype=tf.float32), (10, 4))     # row i holds 4i .. 4i+3
    permuted = permute_dims(z, seed=0, units=[0, 1, 1, 2]).numpy()
    for column in range(4):     # each column is a permutation of the original column
        np.testing.assert_array_equal(np.sort(permuted[:, column]), z.numpy()[:, column])
    # coordinates 1 and 2 form one unit: they stay in the same source row
    np.testing.assert_array_equal(permuted[:, 2] - permuted[:, 1], np.ones(10))
    # distinct units get distinct permutations (rows are mixed)
    assert not np.array_equal(permuted[:, 0] // 4, permuted[:, 3] // 4)


def test_discriminator_loss_is_log_2_and_accuracy_half_at_zero_logits():
    loss, accuracy = discriminator_loss(tf.zeros(8), tf.zeros(8))
    assert float(loss) == pytest.approx(np.log(2.0), rel=1e-6)
    assert float(accuracy) == 0.0        # a logit of exactly 0 is counted wrong for both classes
    loss, accuracy = discriminator_loss(tf.fill([8], 20.0), tf.fill([8], -20.0))
    assert float(loss) < 1e-8 and float(accuracy) == 1.0


def test_paper_discriminator_has_six_hidden_layers_of_1000():
    discriminator = build_discriminator(10)
    widths = [layer.units for layer in discriminator.layers if isinstance(layer, keras.layers.Dense)]
    assert widths == [1000] * 6 + [1]


# ------------------------------------------------------------------ the model


def test_discriminator_loss_has_no_gradient_for_the_encoder_and_vae_loss_none_for_the_discriminator():
    model = _model()
    with tf.GradientTape(persistent=True) as tape:
        terms, vae_loss, z = model.compute_terms_and_sample(BATCH, training=True, seed=1)
        d_loss, _ = model.discriminator_terms(z, training=True, seed=2)
        tc_term = terms["density_ratio_tc"]
    for gradient in tape.gradient(d_loss, model.vae_variables):
        assert gradient is None or float(tf.reduce_max(tf.abs(gradient))) == 0.0
    for loss in (vae_loss, tc_term):
        for gradient in tape.gradient(loss, model.discriminator.trainable_variables):
            assert gradient is None or float(tf.reduce_max(tf.abs(gradient))) == 0.0
    # Each loss does reach its own network (so the checks above could fail).
    encoder_gradient = tape.gradient(tc_term, model.encoder.trainable_variables)[0]
    assert float(tf.reduce_max(tf.abs(encoder_gradient))) > 0.0
    d_gradient = tape.gradient(d_loss, model.discriminator.trainable_variables)[0]
    assert float(tf.reduce_max(tf.abs(d_gradient))) > 0.0


def test_train_step_updates_each_network_with_its_own_optimiser():
    model = _model()
    encoder_before = [v.numpy().copy() for v in model.encoder.trainable_variables]
    discriminator_before = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    logs = model.train_step(BATCH)
    assert int(model.optimizer.iterations) == 1 and int(model.discriminator_optimizer.iterations) == 1
    # the VAE optimiser holds slots for the encoder and decoder only (2 Adam slots each)
    assert len(model.optimizer.variables) == 2 + 2 * len(model.vae_variables)
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(encoder_before, model.encoder.trainable_variables))
    assert any(not np.array_equal(a, b.numpy())
               for a, b in zip(discriminator_before, model.discriminator.trainable_variables))
    expected = {"loss", "elbo", "reconstruction", "kl", "index_code_mi", "marginal_kl", "total_correlation",
                "dimwise_kl", "density_ratio_tc", "discriminator_loss", "discriminator_accuracy"}
    assert set(logs) == expected
    assert all(np.isfinite(float(value)) for value in logs.values())


def test_loss_is_negative_elbo_plus_gamma_times_the_discriminator_tc():
    model = _model(gamma=7.0)
    terms, loss = model.compute_terms(BATCH, seed=4)
    expected = -float(terms["elbo"]) + 7.0 * float(terms["density_ratio_tc"])
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_concrete_latent_trains_with_unit_permutations():
    model = _model(latent=latents.Grouped([latents.DiagonalGaussian(2), latents.Concrete(3)]))
    assert model.units_of_event == [0, 1, 2, 2, 2]
    logs = model.train_step(BATCH)
    assert np.isfinite(float(logs["density_ratio_tc"]))


@pytest.mark.slow
def test_saved_and_loaded_factor_vae_gives_the_same_outputs(tmp_path):
    model = _model(gamma=5.0)
    model.fit(DIGITS[:128], batch_size=64, epochs=1, verbose=0)     # fit (graph mode) as users do
    path = str(tmp_path / "factor_vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, FactorVAE) and loaded.gamma == 5.0
    z = model.encode(BATCH)[0]
    np.testing.assert_array_equal(loaded.encode(BATCH)[0].numpy(), z.numpy())
    np.testing.assert_array_equal(loaded.discriminator(z).numpy(), model.discriminator(z).numpy())
    assert int(loaded.discriminator_optimizer.iterations) == 2
    loaded.train_step(BATCH)      # the loaded model trains on


def test_eta_adds_exactly_eta_times_the_posterior_variance_to_the_loss(tmp_path):
    plain = _model(gamma=5.0)
    rtc = FactorVAE(plain.encoder, plain.decoder, plain.latent, gamma=5.0, eta=10.0, dataset_size=len(DIGITS),
                    discriminator=plain.discriminator, seed=0)
    terms_plain, loss_plain = plain.compute_terms(BATCH, seed=3)
    terms_rtc, loss_rtc = rtc.compute_terms(BATCH, seed=3)
    sigma = plain.posterior(BATCH).scale.numpy().astype(np.float64)
    trace = np.sum(np.mean(sigma**2, axis=0))                          # Σ_k E_n[σ_k²(n)], 004 eq 4
    assert float(terms_rtc["posterior_variance"]) == pytest.approx(trace, rel=1e-5)
    assert float(loss_rtc - loss_plain) == pytest.approx(10.0 * trace, rel=1e-4)
    path = str(tmp_path / "rtc_discriminator.keras")
    rtc.compile(keras.optimizers.Adam(1e-3))
    rtc.save(path)
    assert keras.models.load_model(path, safe_mode=True).eta == 10.0
    with pytest.raises(ValueError, match="eta"):
        FactorVAE(plain.encoder, plain.decoder, plain.latent, eta=-1.0, dataset_size=100,
                  discriminator=plain.discriminator)


def test_factor_vae_rejects_bad_arguments():
    latent = latents.DiagonalGaussian(4)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(8,))
    with pytest.raises(ValueError, match="gamma must be"):
        FactorVAE(encoder, decoder, latent, gamma=-1.0, dataset_size=100)
    with pytest.raises(ValueError, match="must map"):
        FactorVAE(encoder, decoder, latent, dataset_size=100, discriminator=build_discriminator(3, (4,)))
    with pytest.raises(ValueError, match="discriminator_learning_rate"):
        FactorVAE(encoder, decoder, latent, dataset_size=100, discriminator_learning_rate=0.0)
