"""Tests of refvae.models: likelihoods, networks, and the VAE Keras model on every objective."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from sklearn.datasets import load_digits

from refvae import latents, objectives
from refvae.models import VAE, TemperatureSchedule, likelihoods, networks

DIGITS = (load_digits().images / 16.0).astype(np.float32)[..., None]     # [1797, 8, 8, 1] in [0, 1]
BATCH = DIGITS[:64]


def _model(objective="vae", latent=None, hidden=(32,), seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    latent = latent or latents.DiagonalGaussian(3)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=hidden)
    kwargs.setdefault("dataset_size", len(DIGITS))
    model = VAE(encoder, decoder, latent, "bernoulli", objective, seed=seed, **kwargs)
    model.compile(keras.optimizers.Adam(1e-2))
    return model


# ------------------------------------------------------------------ likelihoods


def test_bernoulli_log_prob_matches_scipy_summed_over_pixels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float32)
    x = (rng.uniform(size=(3, 4, 4, 1)) < 0.5).astype(np.float32)
    expected = scipy.stats.bernoulli.logpmf(x, 1 / (1 + np.exp(-logits))).reshape(3, -1).sum(1)
    np.testing.assert_allclose(likelihoods.get("bernoulli").log_prob(x, logits).numpy(), expected, rtol=1e-5)


def test_gaussian_log_prob_matches_scipy_summed_over_pixels():
    rng = np.random.default_rng(1)
    means = rng.normal(size=(2, 5)).astype(np.float32)
    x = rng.normal(size=(2, 5)).astype(np.float32)
    expected = scipy.stats.norm.logpdf(x, means, 0.3).sum(1)
    np.testing.assert_allclose(likelihoods.get("gaussian", scale=0.3).log_prob(x, means).numpy(), expected,
                               rtol=1e-5)


def test_likelihoods_reject_bad_arguments():
    with pytest.raises(ValueError, match="known likelihoods"):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match="scale must be"):
        likelihoods.Gaussian(scale=0.0)
    with pytest.raises(ValueError, match="same shape"):
        likelihoods.Bernoulli().log_prob(np.zeros((2, 4), np.float32), np.zeros((2, 5), np.float32))


# ------------------------------------------------------------------ networks


def test_conv_networks_have_the_papers_shapes():
    encoder = networks.build_encoder("conv", (64, 64, 1), 20)
    decoder = networks.build_decoder("conv", (64, 64, 1), 10)
    conv_shapes = [layer.output.shape[1:] for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert conv_shapes == [(32, 32, 32), (16, 16, 32), (8, 8, 64), (4, 4, 64)]
    assert [layer.units for layer in encoder.layers if isinstance(layer, keras.layers.Dense)] == [256, 20]
    assert encoder.output_shape == (None, 20)
    assert decoder.output_shape == (None, 64, 64, 1)
    assert decoder(tf.zeros((2, 10))).shape == (2, 64, 64, 1)


def test_mlp_networks_have_the_papers_shapes():
    encoder, decoder = networks.build("mlp", (28, 28, 1), latents.DiagonalGaussian(10))
    assert [layer.units for layer in encoder.layers if isinstance(layer, keras.layers.Dense)] == [512, 512, 20]
    assert [layer.units for layer in decoder.layers if isinstance(layer, keras.layers.Dense)] == [512, 512, 784]
    assert decoder.output_shape == (None, 28, 28, 1)


def test_networks_reject_bad_arguments():
    with pytest.raises(ValueError, match="known architectures"):
        networks.build_encoder("resnet", (64, 64, 1), 20)
    with pytest.raises(ValueError, match="divisible by 16"):
        networks.build_encoder("conv", (28, 28, 1), 20)
    with pytest.raises(ValueError, match="param_size"):
        networks.build_encoder("mlp", (8, 8, 1), 0)


# ------------------------------------------------------------------ the VAE on every objective

CATALOGUE_CASES = [(name, {"anchors": [0]} if name == "anchor-vae" else {}) for name in sorted(objectives.CATALOGUE)]
CATALOGUE_CASES.append(("info-vae", {"divergence": "mmd", "lam": 100.0}))


@pytest.mark.slow
@pytest.mark.parametrize("name, hyperparameters", CATALOGUE_CASES,
                         ids=[name + "".join(f"-{v}" for v in h.values() if isinstance(v, str)) for name, h in CATALOGUE_CASES])
def test_training_steps_of_every_objective_are_finite_and_lower_its_loss(name, hyperparameters):
    model = _model(objectives.get(name, **hyperparameters))
    # The same batch, the same noise and the same capacity step before and after training.
    _, before = model.compute_terms(BATCH, seed=11, step=0)
    logs = None
    for _ in range(8):
        logs = model.train_step(BATCH)
    assert set(logs) == set(model.logged_terms)
    assert all(np.isfinite(float(value)) for value in logs.values()), logs
    _, after = model.compute_terms(BATCH, seed=11, step=0)
    assert float(after) < float(before)


def _two_group_latent():
    return latents.Grouped([latents.DiagonalGaussian(3), latents.Concrete(4)])


@pytest.mark.parametrize("estimator", ["mss1", "exact"])
def test_unit_weights_give_the_negative_elbo_of_the_plain_vae(estimator):
    batch, dataset_size = (BATCH, len(DIGITS)) if estimator == "mss1" else (BATCH[:32], 32)
    for name, latent, decomposition in (("beta-tcvae", latents.DiagonalGaussian(3), "tc"),
                                        ("hfvae", _two_group_latent(), "hfvae")):
        model = _model(objectives.get(name, alpha=1.0, beta=1.0, gamma=1.0), latent=latent,
                       dataset_size=dataset_size, estimator=estimator)
        plain = VAE(model.encoder, model.decoder, latent, "bernoulli", "vae", dataset_size=dataset_size,
                    estimator=estimator, decomposition=decomposition)
        terms, loss = model.compute_terms(batch, seed=5)
        _, plain_loss = plain.compute_terms(batch, seed=5)
        assert float(loss) == pytest.approx(-float(terms["elbo"]), rel=1e-5, abs=1e-5)
        assert float(loss) == pytest.approx(float(plain_loss), rel=1e-5, abs=1e-5)
        if name == "hfvae":     # two groups (Gaussian, Concrete): the between-group TC is a real term
            assert abs(float(terms["between_group_tc"])) > 1e-4


def test_the_kl_only_step_gives_the_elbo_of_the_full_decomposition():
    model = _model("vae")
    cheap = VAE(model.encoder, model.decoder, model.latent, "bernoulli", "vae", dataset_size=len(DIGITS),
                decomposition="kl")
    terms, loss = model.compute_terms(BATCH, seed=2)
    cheap_terms, cheap_loss = cheap.compute_terms(BATCH, seed=2)
    assert set(cheap.logged_terms) == {"loss", "elbo", "reconstruction", "kl"}
    assert float(cheap_terms["elbo"]) == pytest.approx(float(terms["elbo"]), rel=1e-6)
    assert float(cheap_loss) == pytest.approx(float(loss), rel=1e-6)


def test_capacity_is_logged_and_follows_the_schedule():
    model = _model(objectives.get("capacity", capacity=10.0, gamma=5.0, anneal_steps=20))
    for _ in range(10):
        logs = model.train_step(BATCH)
    # the logged C is averaged over steps 0 … 9 of a 20-step ramp to 10: 10 · 4.5 / 20
    assert float(logs["capacity"]) == pytest.approx(2.25)
    terms, loss = model.compute_terms(BATCH, seed=0, step=20)
    assert float(loss) == pytest.approx(-float(terms["reconstruction"]) + 5.0 * abs(float(terms["kl"]) - 10.0),
                                        rel=1e-6)


@pytest.mark.slow
def test_training_lowers_the_negative_elbo_below_a_model_that_ignores_z():
    # Binarised digits. A decoder that ignores z can at best output the per-pixel mean p̄:
    # its negative ELBO (KL = 0) is the Bernoulli cross-entropy of the data under p̄,
    # computed here in NumPy (24.4 nats).
    x = (DIGITS > 0.5).astype(np.float32)
    p = np.clip(x.mean(axis=0), 1e-6, 1 - 1e-6)
    ignore_z = -np.mean(np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3)))
    model = _model("vae", latent=latents.DiagonalGaussian(4), hidden=(128,), estimator="mws")
    model.optimizer.learning_rate.assign(3e-3)
    start = -model.evaluate(x, batch_size=256, verbose=0, return_dict=True)["elbo"]
    model.fit(x, batch_size=64, epochs=10, verbose=0)      # 290 steps
    end = -model.evaluate(x, batch_size=256, verbose=0, return_dict=True)["elbo"]
    assert start > ignore_z + 10.0    # an untrained model is far worse than the mean image
    assert end < ignore_z - 3.0       # a trained one uses z: at least 3 nats better


# ------------------------------------------------------------------ encode, sample, save


def test_saved_and_loaded_model_gives_the_same_encodings(tmp_path):
    model = _model(objectives.get("hfvae", beta=3.0), latent=_two_group_latent())
    for _ in range(3):
        model.train_step(BATCH)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, VAE)
    assert loaded.objective == model.objective and loaded.estimator == model.estimator
    np.testing.assert_array_equal(loaded.encode(BATCH)[0].numpy(), model.encode(BATCH)[0].numpy())
    np.testing.assert_array_equal(loaded.encode(BATCH, seed=3)[1].numpy(), model.encode(BATCH, seed=3)[1].numpy())
    np.testing.assert_array_equal(loaded.decode(model.encode(BATCH)[0]).numpy(), model(BATCH).numpy())


def test_samples_are_reproducible_with_a_seed():
    model = _model()
    first = model.sample_latents(5, seed=3).numpy()
    np.testing.assert_array_equal(first, model.sample_latents(5, seed=3).numpy())
    assert not np.array_equal(first, model.sample_latents(5, seed=4).numpy())
    assert model.sample(5, seed=3).shape == (5, 8, 8, 1)


def test_marginal_samples_have_the_aggregate_moments_and_no_correlation():
    model = _model(latent=latents.DiagonalGaussian(3), hidden=(16,))
    reference = DIGITS[:300]
    posterior = model.posterior(reference)
    loc, variance = posterior.loc.numpy(), posterior.scale.numpy() ** 2
    z = model.sample_latents(6000, "marginals", seed=0, reference=reference).numpy()
    # q(z_j) = (1/N) Σ_n N(loc_nj, σ²_nj): mean E[loc_j], variance E[σ²_j] + Var[loc_j]
    np.testing.assert_allclose(z.mean(0), loc.mean(0), atol=0.05)
    np.testing.assert_allclose(z.var(0), variance.mean(0) + loc.var(0), rtol=0.1)
    correlation = np.corrcoef(z, rowvar=False)[np.triu_indices(3, 1)]
    assert np.max(np.abs(correlation)) < 0.06       # ≈ 4 standard errors of 1/√6000


def test_marginal_samples_of_a_concrete_unit_stay_one_hot_vectors():
    model = _model(latent=_two_group_latent())
    z = model.sample_latents(50, "marginals", seed=0, reference=DIGITS[:100]).numpy()
    np.testing.assert_allclose(z[:, 3:].sum(1), 1.0, rtol=1e-5)


# ------------------------------------------------------------------ bad arguments


def test_dataset_size_is_a_required_keyword_with_the_package_rule():
    latent = latents.DiagonalGaussian(3)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(8,))
    with pytest.raises(TypeError, match="dataset_size"):
        VAE(encoder, decoder, latent)
    assert VAE(encoder, decoder, latent, dataset_size=np.int64(60)).dataset_size == 60
    with pytest.raises(ValueError, match="dataset_size must be an integer >= 2"):
        VAE(encoder, decoder, latent, dataset_size=True)


def test_vae_rejects_bad_arguments():
    latent = latents.DiagonalGaussian(3)
    encoder, decoder = networks.build("mlp", (8, 8, 1), latent, hidden=(8,))
    with pytest.raises(ValueError, match="dataset_size"):
        VAE(encoder, decoder, latent, dataset_size=0)
    with pytest.raises(ValueError, match="known methods"):
        VAE(encoder, decoder, latent, dataset_size=100, estimator="mss2")
    with pytest.raises(ValueError, match="known objectives"):
        VAE(encoder, decoder, latent, objective="tcvae", dataset_size=100)
    with pytest.raises(ValueError, match="decomposition must be one of"):
        VAE(encoder, decoder, latent, dataset_size=100, decomposition="corex")
    with pytest.raises(ValueError, match="does not compute"):
        VAE(encoder, decoder, latent, objective="beta-tcvae", dataset_size=100, decomposition="kl")
    with pytest.raises(ValueError, match="encoder output width must be 8"):
        VAE(encoder, decoder, latents.DiagonalGaussian(4), dataset_size=100)
    with pytest.raises(ValueError, match="requires a DiagonalGaussian"):
        concrete = latents.Concrete(3)
        VAE(*networks.build("mlp", (8, 8, 1), concrete, hidden=(8,)), concrete, objective="rtc", dataset_size=100)
    with pytest.raises(ValueError, match="unit index 3 out of range"):
        VAE(encoder, decoder, latent, objective=objectives.get("anchor-vae", anchors=[3]), dataset_size=100)
    with pytest.raises(ValueError, match="groups must partition"):
        VAE(encoder, decoder, latent, objective="hfvae", dataset_size=100, groups=[[0, 1]])
    model = VAE(encoder, decoder, latent, dataset_size=100)
    with pytest.raises(ValueError, match="source must be one of"):
        model.sample(3, source="posterior")
    with pytest.raises(ValueError, match="fit_marginals"):
        model.sample(3, source="marginals")
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.sample(0)


@pytest.mark.slow
def test_temperature_schedule_anneals_the_concrete_temperature_during_fit():
    temperature = tf.Variable(1.0, trainable=False)
    latent = latents.Grouped([latents.DiagonalGaussian(2), latents.Concrete(3, temperature=temperature)])
    model = _model(latent=latent, hidden=(8,))
    schedule = TemperatureSchedule(temperature, start=1.0, minimum=0.5, rate=0.05)
    model.fit(DIGITS[:320], batch_size=64, epochs=2, verbose=0, callbacks=[schedule])
    # the last batch is step 9: τ = max(0.5, exp(−0.05 · 9)) = exp(−0.45)
    assert float(temperature.numpy()) == pytest.approx(np.exp(-0.45), rel=1e-6)
    assert schedule.value(100) == 0.5
    with pytest.raises(TypeError, match="scalar tf.Variable"):
        TemperatureSchedule(1.0)
