"""Tests of refvae.models.infomax: the MI lower bound, Algorithm 1's Q step, saving."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from refvae import latents
from refvae.models import networks
from refvae.models.infomax import InfoMaxVAE, resolve_info_units

DIGITS = (load_digits().images / 16.0).astype(np.float32)[..., None]
BATCH = DIGITS[:64]


def _gaussian_concrete():
    return latents.Grouped([latents.DiagonalGaussian(4), latents.Concrete(10)])


def _model(latent=None, info_units=(0, 1), lam=1.0, seed=0):
    keras.utils.set_random_seed(seed)
    latent = latent or latents.DiagonalGaussian(6)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(32,))
    model = InfoMaxVAE(encoder, decoder, latent, lam=lam, info_units=info_units, dataset_size=len(DIGITS),
                       q_hidden=(32,), q_learning_rate=1e-2, seed=seed)
    model.compile(keras.optimizers.Adam(1e-3))
    return model


@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_q_step_increases_its_bound_on_a_fixed_batch_and_leaves_the_vae_alone(kind):
    model = _model(_gaussian_concrete(), [4]) if kind == "categorical" else _model()
    vae_before = [v.numpy().copy() for v in model.vae_variables]
    before = model.info_terms(BATCH, seed=7)
    for _ in range(30):
        model.q_step(BATCH)
    after = model.info_terms(BATCH, seed=7)
    # Same z, same x̂, same H(ẑ): only Q moved, and E log Q(ẑ|x̂) went up.
    assert float(after["info_entropy"]) == pytest.approx(float(before["info_entropy"]), rel=1e-6)
    # (an untrained decoder carries little of c, so the categorical gain is small but sure)
    assert float(after["mi_lower_bound"]) > float(before["mi_lower_bound"]) + 0.02
    for old, new in zip(vae_before, model.vae_variables):
        np.testing.assert_array_equal(old, new.numpy())


def test_categorical_bound_stays_below_log_k_after_q_training():
    # I(c; x̂) <= H(c) <= log K, and the bound E log Q + H(c) is below I when Q is a proper
    # distribution: with a near-uniform encoder, H(c) ≈ log 10 and E log Q <= 0.
    model = _model(_gaussian_concrete(), [4])
    for _ in range(30):
        model.q_step(BATCH)
    terms = model.info_terms(BATCH, seed=3)
    assert float(terms["info_entropy"]) <= math.log(10) + 1e-6
    assert float(terms["log_q_info"]) <= 0.0
    assert float(terms["mi_lower_bound"]) <= math.log(10) + 1e-6


def test_vae_loss_is_objective_minus_lam_times_bound_and_has_no_gradient_for_q():
    model = _model(lam=3.0)
    with tf.GradientTape(persistent=True) as tape:
        terms, loss = model.compute_terms(BATCH, seed=5)
    assert float(loss) == pytest.approx(-float(terms["elbo"]) - 3.0 * float(terms["mi_lower_bound"]), rel=1e-5)
    for gradient in tape.gradient(loss, model.q_network.trainable_variables):
        assert gradient is None or float(tf.reduce_max(tf.abs(gradient))) == 0.0
    assert float(tf.reduce_max(tf.abs(tape.gradient(terms["mi_lower_bound"], model.encoder.trainable_variables)[0]))) > 0


def test_train_step_logs_categorical_kl_below_its_log_k_bound():
    model = _model(_gaussian_concrete(), [4], lam=5.0)
    for start in range(0, 256, 64):
        logs = model.train_step(DIGITS[start:start + 64])
    assert {"mi_lower_bound", "log_q_info", "info_entropy", "q_loss", "categorical_kl"} <= set(logs)
    assert model.categorical_kl_bound == pytest.approx(math.log(10))
    assert 0.0 <= float(logs["categorical_kl"]) <= math.log(10)
    assert int(model.q_optimizer.iterations) == int(model.optimizer.iterations) == 4
    assert model.predict_categories(DIGITS[:10]).shape == (10,)


def test_saved_and_loaded_infomax_vae_gives_the_same_bound(tmp_path):
    model = _model(_gaussian_concrete(), [4], lam=2.0)
    model.train_step(BATCH)
    path = str(tmp_path / "infomax.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, InfoMaxVAE) and loaded.lam == 2.0 and loaded.info_units == [4]
    expected = model.info_terms(BATCH, seed=1)["mi_lower_bound"].numpy()
    assert loaded.info_terms(BATCH, seed=1)["mi_lower_bound"].numpy() == expected
    np.testing.assert_array_equal(loaded.predict_categories(BATCH), model.predict_categories(BATCH))


def test_info_units_are_resolved_and_checked():
    latent = latents.Grouped([latents.DiagonalGaussian(3), latents.Concrete(5)])
    assert resolve_info_units(latent, [3])["coordinates"] == [3, 4, 5, 6, 7]
    assert resolve_info_units(latent, [1, 2])["param_size"] == 4
    with pytest.raises(ValueError, match="one part"):
        resolve_info_units(latent, [2, 3])
    with pytest.raises(ValueError, match="distinct unit indices"):
        resolve_info_units(latent, [4])
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(8,))
    with pytest.raises(ValueError, match="lam must be"):
        InfoMaxVAE(encoder, decoder, latent, lam=-1.0, info_units=[3], dataset_size=100)
    with pytest.raises(ValueError, match="q_network must output 5"):
        InfoMaxVAE(encoder, decoder, latent, info_units=[3], dataset_size=100,
                   q_network=networks.build_encoder("mlp", (8, 8, 1), 4, hidden=(4,)))
