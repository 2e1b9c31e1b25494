"""Tests of refvae.models.hierarchical: the stacked CorEx VAE (000 eqs 13-19)."""

import math

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
from sklearn.datasets import load_digits

from refvae import decompositions
from refvae.models.hierarchical import HierarchicalVAE, build_networks

BINARY_DIGITS = (load_digits().images / 16.0 > 0.5).astype(np.float32)[..., None]
LABELS = load_digits().target


def _model(x, z1_dim=3, num_classes=4, estimator="mss1", dataset_size=None, seed=0):
    keras.utils.set_random_seed(seed)
    nets = build_networks((8, 8, 1), z1_dim, num_classes, hidden1=(16,), hidden2=(8,))
    return HierarchicalVAE(*nets, z1_dim=z1_dim, num_classes=num_classes, dataset_size=dataset_size or len(x),
                           estimator=estimator, data_entropy=decompositions.data_marginal_entropy(x), seed=seed)


def test_per_layer_terms_sum_to_the_elbo_exactly_in_float64():
    # B_1 + B_2 − KL(q(z2) ‖ U) = Σ_i H(x_i) + ELBO  (000 eqs 14-19), with the exact
    # aggregate posterior: the batch is the whole (small) data set.
    x = BINARY_DIGITS[:24].astype(np.float64)
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        model = _model(x, estimator="exact")
        terms, loss = model.compute_terms(x, seed=3)
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)
    assert terms["elbo"].dtype == np.float64
    layers = float(terms["layer_1_bound"] + terms["layer_2_bound"] - terms["top_marginal_kl"])
    assert layers == pytest.approx(model.data_entropy + float(terms["elbo"]), abs=1e-5)
    assert float(loss) == -float(terms["elbo"])
    # kl_2 (analytic, per data point) = I(z2 : z1) + KL(q̄(z2) ‖ U)  (003 eq 4.23 for layer 2)
    assert float(terms["kl_2"]) == pytest.approx(float(terms["sum_mi_z2_z1"] + terms["top_marginal_kl"]), abs=1e-10)


def test_elbo_matches_an_independent_numpy_computation():
    x = BINARY_DIGITS[:32]
    model = _model(x)
    terms, _ = model.compute_terms(x, seed=5)
    # Re-draw the same z1 (same seed) and evaluate each density with scipy.
    posterior = model.posterior1(x)
    z1 = model.latent1.sample(posterior, seed=keras.random.SeedGenerator(5)).numpy()
    loc, scale = posterior.loc.numpy(), posterior.scale.numpy()
    logits_x = model.decoder1(z1).numpy().reshape(32, -1)
    log_px = scipy.stats.bernoulli.logpmf(x.reshape(32, -1), scipy.special.expit(logits_x)).sum(1)
    log_q1 = scipy.stats.norm.logpdf(z1, loc, scale).sum(1)
    probs = scipy.special.softmax(model.encoder2(z1).numpy(), axis=1)
    conditional = model.conditional_z1()
    log_p1 = scipy.stats.norm.logpdf(z1[:, None, :], conditional.loc.numpy(), conditional.scale.numpy()).sum(-1)
    kl_top = np.sum(probs * np.log(probs * 4), axis=1)
    elbo = np.mean(log_px + np.sum(probs * log_p1, axis=1) - log_q1 - kl_top)
    assert float(terms["elbo"]) == pytest.approx(elbo, rel=1e-4)
    # I(z2 : z1) = H(mean π) − mean H(π), the mutual information of the mixture table
    mi = scipy.stats.entropy(probs.mean(0)) - np.mean(scipy.stats.entropy(probs, axis=1))
    assert float(terms["sum_mi_z2_z1"]) == pytest.approx(mi, rel=1e-4, abs=1e-6)


@pytest.mark.slow
def test_training_raises_the_elbo_and_logs_every_term():
    x = BINARY_DIGITS[:512]
    model = _model(x, z1_dim=4, num_classes=10)
    model.compile(keras.optimizers.Adam(3e-3))
    before, _ = model.compute_terms(x, seed=0)
    for _ in range(3):
        for start in range(0, len(x), 64):
            logs = model.train_step(x[start:start + 64])
    after, _ = model.compute_terms(x, seed=0)
    assert float(after["elbo"]) > float(before["elbo"]) + 5.0
    assert set(logs) == set(model.logged_terms)
    assert all(np.isfinite(float(value)) for value in logs.values())
    ids = model.predict_clusters(x)
    assert ids.shape == (512,) and ids.max() < 10
    report = model.layer_bounds(x, batch_size=256)
    # the identity survives the batch averaging (float32, MSS estimator)
    layers = report["layer_1_bound"] + report["layer_2_bound"] - report["top_marginal_kl"]
    assert layers == pytest.approx(model.data_entropy + report["elbo"], abs=1e-3)
    assert {"layer_1_nonnegative", "layer_2_nonnegative"} <= set(report)
    assert report["elbo"] == pytest.approx(float(after["elbo"]), abs=1.0)     # other z1 samples, same model


def test_saved_and_loaded_hierarchical_vae_gives_the_same_terms(tmp_path):
    x = BINARY_DIGITS[:64]
    model = _model(x)
    model.compile(keras.optimizers.Adam(1e-3))
    model.train_step(x)
    path = str(tmp_path / "hierarchical.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, HierarchicalVAE) and loaded.data_entropy == model.data_entropy
    expected, _ = model.compute_terms(x, seed=2)
    got, _ = loaded.compute_terms(x, seed=2)
    assert float(got["elbo"]) == float(expected["elbo"])
    np.testing.assert_array_equal(loaded.predict_clusters(x), model.predict_clusters(x))
    assert loaded.sample(3, classes=[0, 1, 2], seed=1).shape == (3, 8, 8, 1)


def test_paper_networks_have_the_mnist_sizes():
    encoder1, encoder2, decoder2, decoder1 = build_networks((28, 28, 1))
    widths = [[layer.units for layer in net.layers if isinstance(layer, keras.layers.Dense)]
              for net in (encoder1, encoder2, decoder2, decoder1)]
    assert widths == [[512, 512, 128], [32, 32, 16, 16, 10], [16, 16, 32, 32, 128], [512, 512, 784]]


def test_hierarchical_vae_rejects_bad_arguments():
    nets = build_networks((8, 8, 1), 3, 4, hidden1=(8,), hidden2=(4,))
    with pytest.raises(ValueError, match="encoder1 output width must be 10"):
        HierarchicalVAE(*nets, z1_dim=5, num_classes=4, dataset_size=100)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        HierarchicalVAE(*nets, z1_dim=3, num_classes=1, dataset_size=100)
    with pytest.raises(ValueError, match="known methods"):
        HierarchicalVAE(*nets, z1_dim=3, num_classes=4, dataset_size=100, estimator="mss")
    with pytest.raises(ValueError, match="data_entropy"):
        HierarchicalVAE(*nets, z1_dim=3, num_classes=4, dataset_size=100, data_entropy=math.nan)
