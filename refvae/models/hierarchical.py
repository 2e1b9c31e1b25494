r"""The stacked CorEx / hierarchical VAE of 000 §5-6: x <- z1 (continuous) <- z2 (one-hot).

Stacking CorEx (000 eqs 13-16): a second layer z2 explains the dependence left in z1, and
the objectives of the layers add,

    L = Σ_l L_l,    L_l = TC(z_{l−1}; z_l) − TC(z_l)
                        = Σ_i I(z_{l−1,i} : z_l) − Σ_j I(z_{l,j} : z_{l−1})          (000 eqs 7, 13-15)

with z_0 = x. Bounding each I(z_{l−1,i} : z_l) ≥ H(z_{l−1,i}) + E log p(z_{l−1,i} | z_l)
(000 eq 8, the layer's decoder) gives a per-layer lower bound

    B_l = Σ_i H(z_{l−1,i}) + E[log p(z_{l−1} | z_l)] − Σ_j I(z_{l,j} : z_{l−1})  ≤  L_l,

and B_l ≥ 0 is a certificate that L_l ≥ 0: the layer is more disentangled than the one
below, TC(z_{l−1}) ≥ TC(z_{l−1} | z_l) + TC(z_l) (000 §5, "we can add layers as long as the
corresponding term in the objective is positive"). Writing the encoder log-density as
E log q(z_l|z_{l−1}) = Σ_j I(z_{l,j} : z_{l−1}) − Σ_j H(z_{l,j}), the marginal entropies of
the middle layers telescope and

    Σ_i H(x_i) + ELBO = B_1 + B_2 − KL(q(z2) ‖ r(z2))                          (000 eqs 17-19)

    ELBO = E[log p(x|z1)] + E[log p(z1|z2)] − E[log q(z1|x)] − E_z1 KL(q(z2|z1) ‖ r(z2)),

the ELBO of a two-layer hierarchical VAE (Rezende et al. 2014; 000 eq 19). The identity holds
exactly for the estimated terms, since all are differences of the same log-densities at the
same samples; the estimator (``refvae.estimators``) decides how close Σ_j H(z1_j) and
Σ_j I(z1_j : x) are to their true values (exact when the batch is the data set).

As in 000 §6.1, z2 is a one-hot vector of K classes with a uniform prior r(z2), and "we
decode based on each one-hot representation and weight the results according to their
softmax probabilities": the expectation over q(z2|z1) = Cat(π(z1)) is a sum over the K
classes, E log p(z1|z2) = Σ_k π_k(z1) log p(z1 | e_k), and the top KL is the analytic
categorical KL, KL(Cat(π) ‖ U) = log K − H(π). No relaxation is needed. The aggregate
q(z2) = E π(z1) is estimated by the batch mean of π (its plug-in entropy and MI).

Networks (000 §6.1, MNIST): x -> z1: 784-512-512-64 (Gaussian, 64 dims), z1 -> z2:
64-32-32-16-16-10 (softmax), and mirrored decoders z2 -> z1 (Gaussian p(z1|z2)) and
z1 -> x (Bernoulli). ``build_networks`` builds them for any image size.

Example::

    encoder1, encoder2, decoder2, decoder1 = build_networks((28, 28, 1))
    model = HierarchicalVAE(encoder1, encoder2, decoder2, decoder1, z1_dim=64, num_classes=10,
                            dataset_size=60_000, data_entropy=refvae.decompositions.data_marginal_entropy(x))
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=100, epochs=50)      # logs elbo, layer_1_bound, layer_2_bound, ...
    refvae.metrics.unsupervised_accuracy(model.predict_clusters(x), labels)     # 000: 85%
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from refvae import checks, decompositions, estimators, latents
from refvae.models import likelihoods, networks
from refvae.models.protocol import ModelMixin
from refvae.models.steps import (
    deserialize_networks,
    gather_replicas,
    gradient_step,
    observations_of,
    serialize_networks,
)

if TYPE_CHECKING:
    from tensorflow.types.experimental import TensorLike

    from refvae.data.base import GroundTruthData
    from refvae.runs.config import RunConfig
    from refvae.runs.registry import ModelSpec

# Batch means logged by the model, in this order.
TERMS = ("loss", "elbo", "reconstruction", "reconstruction_2", "entropy_z1_given_x", "kl_2",
         "sum_mi_z1_x", "sum_mi_z2_z1", "sum_entropy_z1", "total_correlation_1", "top_marginal_kl",
         "layer_2_bound")


def build_networks(input_shape: Sequence[int], z1_dim: int = 64, num_classes: int = 10,
                   hidden1: Sequence[int] = (512, 512), hidden2: Sequence[int] = (32, 32, 16, 16),
                   ) -> tuple[keras.Sequential, keras.Sequential, keras.Sequential, keras.Sequential]:
    """The four MLPs of the two-layer model (000 §6.1 sizes by default).

    Args:
        input_shape: shape of one observation, e.g. (28, 28, 1).
        z1_dim: width of the continuous layer z1 (64 in 000).
        num_classes: K of the one-hot layer z2 (10).
        hidden1: widths between x and z1 (512, 512).
        hidden2: widths between z1 and z2 (32, 32, 16, 16).

    Returns:
        (encoder1 x -> 2·z1_dim, encoder2 z1 -> K logits, decoder2 one-hot z2 -> 2·z1_dim,
        decoder1 z1 -> logits shaped like x); Gaussian parameters are (loc, raw scale).
    """
    encoder1 = networks.build_encoder("mlp", input_shape, 2 * z1_dim, hidden=hidden1, name="encoder1")
    decoder1 = networks.build_decoder("mlp", input_shape, z1_dim, hidden=hidden1, name="decoder1")
    encoder2 = networks.build_encoder("mlp", (z1_dim,), num_classes, hidden=hidden2, name="encoder2")
    decoder2 = networks.build_encoder("mlp", (num_classes,), 2 * z1_dim, hidden=tuple(reversed(hidden2)),
                                      name="decoder2")
    return encoder1, encoder2, decoder2, decoder1


def _check_width(name: str, network: keras.Model, side: str, width: int) -> None:
    if not isinstance(network, keras.layers.Layer) or not network.built:
        raise TypeError(f"{name} must be a built Keras model")
    shape = network.output_shape if side == "output" else network.input_shape
    if shape[-1] != width:
        raise ValueError(f"{name} {side} width must be {width}, got {shape[-1]}")


@keras.saving.register_keras_serializable(package="refvae")
class HierarchicalVAE(ModelMixin, keras.Model):
    """Two stochastic layers trained jointly on the ELBO of 000 eq 19; per-layer terms logged.

    Logged terms (nats per data point): ``elbo``; ``reconstruction`` E log p(x|z1);
    ``reconstruction_2`` E log p(z1|z2); ``entropy_z1_given_x`` H(q(z1|x)); ``kl_2``
    E KL(q(z2|z1) ‖ U); ``sum_mi_z1_x`` Σ_j I(z1_j : x); ``sum_mi_z2_z1`` I(z2 : z1);
    ``sum_entropy_z1`` Σ_j H(z1_j); ``total_correlation_1`` TC(z1); ``top_marginal_kl``
    KL(q(z2) ‖ U); ``layer_2_bound`` B_2; with ``data_entropy`` also ``layer_1_bound`` B_1.

    Args:
        encoder1: built model x -> [B, 2·z1_dim] (loc, raw scale of q(z1|x)).
        encoder2: built model z1 -> [B, K] logits of q(z2|z1).
        decoder2: built model one-hot [K, K] -> [K, 2·z1_dim] (loc, raw scale of p(z1|z2)).
        decoder1: built model z1 -> logits / means shaped like x.
        z1_dim: width of z1.
        num_classes: K.
        likelihood: p(x|z1), "bernoulli" or "gaussian" (or a likelihood / config).
        dataset_size: N, for the estimator of the aggregate q(z1_j).
        estimator: a ``refvae.estimators`` method ("exact" needs batch = data set).
        data_entropy: Σ_i H(x_i) (``decompositions.data_marginal_entropy`` of binary data);
            enables ``layer_1_bound``.
        lam: anchor the top layer as AnchorVAE anchors units (000 eq 21): the loss weighs
            ``kl_2`` by (1 − λ), rewarding I(z2 : z1); λ = 0 (default) is the ELBO of eq 19.
        seed: seed of the SeedGenerator of the z1 samples.
    """

    NETWORKS = ("encoder1", "encoder2", "decoder2", "decoder1")   # serialised by get_config

    def __init__(self, encoder1: keras.Model, encoder2: keras.Model, decoder2: keras.Model, decoder1: keras.Model,
                 z1_dim: int, num_classes: int = 10,
                 likelihood: str | likelihoods.Likelihood | dict[str, Any] = "bernoulli", *, dataset_size: int,
                 estimator: str = "mss1", data_entropy: float | None = None, lam: float = 0.0, seed: int = 0,
                 **kwargs: Any) -> None:
        z1_dim = checks.integer(z1_dim, "z1_dim", 1)
        num_classes = checks.integer(num_classes, "num_classes", 2)
        dataset_size = checks.dataset_size(dataset_size)
        estimators.check_method(estimator)
        if data_entropy is not None and not (isinstance(data_entropy, (int, float)) and math.isfinite(data_entropy)):
            raise ValueError(f"data_entropy must be a finite number or None, got {data_entropy!r}")
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        _check_width("encoder1", encoder1, "output", 2 * z1_dim)
        _check_width("encoder2", encoder2, "input", z1_dim)
        _check_width("encoder2", encoder2, "output", num_classes)
        _check_width("decoder2", decoder2, "input", num_classes)
        _check_width("decoder2", decoder2, "output", 2 * z1_dim)
        _check_width("decoder1", decoder1, "input", z1_dim)
        super().__init__(**kwargs)
        self.encoder1, self.encoder2, self.decoder2, self.decoder1 = encoder1, encoder2, decoder2, decoder1
        self.z1_dim, self.num_classes = int(z1_dim), int(num_classes)
        self.latent1 = latents.DiagonalGaussian(self.z1_dim)
        self.latent2 = latents.Concrete(self.num_classes)
        self.likelihood = likelihoods.get(likelihood)
        self.dataset_size = dataset_size
        self.estimator = estimator
        self.data_entropy = None if data_entropy is None else float(data_entropy)
        self.lam = float(lam)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.logged_terms = list(TERMS) + (["layer_1_bound"] if self.data_entropy is not None else [])
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.logged_terms}
        self.built = True

    def build(self, input_shape: Any = None) -> None:
        """Nothing to build: the four networks are built at construction."""
        self.built = True

    @property
    def optimized_variables(self) -> list[tf.Variable]:
        """What ``self.optimizer`` updates: every trainable weight of the four networks."""
        return self.trainable_variables

    def posterior1(self, x: TensorLike, training: bool = False) -> tfp.distributions.Normal:
        """q(z1 | x): a ``tfd.Normal`` with batch [B, z1_dim]."""
        return self.latent1.posterior(self.encoder1(x, training=training))

    def class_probabilities(self, z1: TensorLike, training: bool = False) -> tf.Tensor:
        """π(z1) = softmax of encoder2's logits: q(z2 = k | z1), [B, K]."""
        return tf.nn.softmax(self.encoder2(z1, training=training), axis=-1)

    def conditional_z1(self, training: bool = False) -> tfp.distributions.Normal:
        """p(z1 | z2 = e_k) for the K one-hot codes: a ``tfd.Normal`` with batch [K, z1_dim]."""
        one_hot = tf.eye(self.num_classes, dtype=self.decoder2.compute_dtype)
        return self.latent1.posterior(self.decoder2(one_hot, training=training))

    def compute_terms(self, x: tf.Tensor, training: bool = False,
                      seed: int | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The named terms of one batch (see the class docstring) and the loss −ELBO − λ·kl_2.

        Args:
            x: observations [B, ...] (B = dataset_size for the "exact" estimator).
            training: passed to the networks.
            seed: int for a reproducible z1 sample; default the model's SeedGenerator.
        """
        generator = self.seed_generator if seed is None else keras.random.SeedGenerator(seed)
        params1 = self.encoder1(x, training=training)
        z1 = self.latent1.sample(self.latent1.posterior(params1), seed=generator)
        log_px_given_z1 = self.likelihood.log_prob(x, self.decoder1(z1, training=training))
        # The estimator of q(z1_j) and the batch mean of π(z1) look across the batch: the
        # codes of the global batch (gathered across replicas), as on one device.
        params1, z1, log_px_given_z1 = gather_replicas(params1, z1, log_px_given_z1)
        posterior1 = self.latent1.posterior(params1)
        layer1 = decompositions.corex_terms(z1, posterior1, self.latent1.prior(z1.dtype), self.dataset_size,
                                            self.estimator, log_px_given_z=log_px_given_z1,
                                            check_finite=False)
        log_q_z1 = tf.reduce_mean(tf.reduce_sum(posterior1.log_prob(z1), axis=-1))

        logits2 = tf.cast(self.encoder2(z1, training=training), z1.dtype)
        log_probs2 = tf.nn.log_softmax(logits2, axis=-1)
        probs2 = tf.exp(log_probs2)
        log_p_z1_given_class = tf.reduce_sum(self.conditional_z1(training).log_prob(z1[:, None, :]), axis=-1)
        mean_probs2 = tf.reduce_mean(probs2, axis=0)
        log_mean_probs2 = tf.math.log(tf.maximum(mean_probs2, np.finfo(np.float64).tiny))
        log_k = tf.constant(math.log(self.num_classes), z1.dtype)

        terms = {
            "reconstruction": layer1["reconstruction"],
            "reconstruction_2": tf.reduce_mean(tf.reduce_sum(probs2 * log_p_z1_given_class, axis=-1)),
            "entropy_z1_given_x": -log_q_z1,
            "kl_2": tf.reduce_mean(self.latent2.categorical_kl(self.latent2.posterior(logits2))),
            "sum_mi_z1_x": layer1["sum_mi_zj_x"],
            "sum_mi_z2_z1": tf.reduce_mean(tf.reduce_sum(probs2 * (log_probs2 - log_mean_probs2), axis=-1)),
            # Σ_j H(z1_j) = Σ_j I(z1_j : x) − E log q(z1|x), from the same estimated log q(z1_j)
            "sum_entropy_z1": layer1["sum_mi_zj_x"] - log_q_z1,
            "total_correlation_1": layer1["total_correlation"],
            "top_marginal_kl": tf.reduce_sum(mean_probs2 * log_mean_probs2) + log_k,
        }
        terms["elbo"] = (terms["reconstruction"] + terms["reconstruction_2"] + terms["entropy_z1_given_x"]
                         - terms["kl_2"])
        terms["layer_2_bound"] = terms["sum_entropy_z1"] + terms["reconstruction_2"] - terms["sum_mi_z2_z1"]
        if self.data_entropy is not None:
            terms["layer_1_bound"] = (tf.constant(self.data_entropy, z1.dtype) + terms["reconstruction"]
                                      - terms["sum_mi_z1_x"])
        return terms, -(terms["elbo"] + tf.constant(self.lam, z1.dtype) * terms["kl_2"])

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One optimiser step on a batch ``fit`` passes; the running means of the logged terms."""
        x = observations_of(data)
        with tf.GradientTape() as tape:
            terms, loss = self.compute_terms(x, training=True)
        gradient_step(tape, loss, self.trainable_variables, self.optimizer)
        return self._update_metrics(terms, loss)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """The logged terms of a batch (no update); their running means."""
        terms, loss = self.compute_terms(observations_of(data), training=False)
        return self._update_metrics(terms, loss)

    def call(self, x: TensorLike, training: bool = False) -> tf.Tensor:
        """The mean reconstruction E[x | z1 = mean of q(z1|x)]."""
        return self.likelihood.mean(self.decoder1(self.posterior1(x, training=training).loc, training=training))

    def layer_bounds(self, x: np.ndarray, batch_size: int = 256, seed: int = 0) -> dict[str, float | bool]:
        """The per-layer CorEx bounds over data x, and whether each certifies L_l >= 0.

        Terms are averaged over batches of ``batch_size`` (the model's estimator; use a
        single batch of the whole data with estimator "exact" for exact aggregates).

        Returns:
            dict of floats: every logged term, and booleans "layer_1_nonnegative" (when
            ``data_entropy`` is set) and "layer_2_nonnegative": B_l >= 0, which implies
            L_l = TC(z_{l−1}; z_l) − TC(z_l) >= 0 (000 §5: the layer is more disentangled).
        """
        if len(x) < 2:
            raise ValueError("x must hold at least 2 observations")
        sums: dict[str, float] = {}
        count = 0
        for index, start in enumerate(range(0, len(x), batch_size)):
            batch = x[start:start + batch_size]
            if len(batch) < 2:
                continue
            terms, _ = self.compute_terms(batch, seed=seed + index)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
            count += len(batch)
        report: dict[str, float | bool] = {name: total / count for name, total in sums.items()}
        report["layer_2_nonnegative"] = report["layer_2_bound"] >= 0.0
        if "layer_1_bound" in report:
            report["layer_1_nonnegative"] = report["layer_1_bound"] >= 0.0
        return report

    def predict_clusters(self, x: np.ndarray | tf.Tensor, batch_size: int = 256) -> np.ndarray:
        """argmax_k q(z2 = k | z1 = mean of q(z1|x)) for each x: cluster ids [N] (NumPy).

        With ``refvae.metrics.unsupervised_accuracy(ids, labels)`` this is 000 §6.1's
        unsupervised classification accuracy (85% on MNIST).
        """
        ids = [tf.argmax(self.encoder2(self.posterior1(x[start:start + batch_size]).loc), axis=-1)
               for start in range(0, len(x), batch_size)]
        return tf.concat(ids, axis=0).numpy()

    def sample(self, n: int, source: str = "prior", seed: int | None = None, reference: Any = None,
               classes: TensorLike | None = None) -> tf.Tensor:
        """n images E[x | z1], z1 ~ p(z1 | z2), z2 uniform over the classes or the given ``classes`` [n].

        ``source`` is "prior" (the model's generative path, 000 eq 19; ``reference`` unused).
        """
        n = checks.integer(n, "n")
        if source not in self.SAMPLE_SOURCES:
            raise ValueError(f"source must be one of {list(self.SAMPLE_SOURCES)}, got {source!r}")
        generator = self.seed_generator if seed is None else keras.random.SeedGenerator(seed)
        if classes is None:
            classes = keras.random.randint((n,), 0, self.num_classes, seed=generator)
        classes = tf.convert_to_tensor(classes)
        if classes.shape != (n,):
            raise ValueError(f"classes must have shape ({n},), got {classes.shape}")
        conditional = self.conditional_z1()
        chosen = tfp.distributions.Normal(tf.gather(conditional.loc, classes), tf.gather(conditional.scale, classes))
        z1 = self.latent1.sample(chosen, seed=generator)
        return self.likelihood.mean(self.decoder1(z1))

    # ------------------------------------------------------------------ the protocol of refvae.models.protocol

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """The shape of one observation encoder1 takes."""
        return tuple(self.encoder1.inputs[0].shape[1:])

    def code_posterior(self, x: TensorLike) -> tfp.distributions.Normal:
        """q(z1 | x): the metrics score the Gaussian layer z1 (000 §6.1)."""
        return self.posterior1(x)

    @property
    def code_size(self) -> int:
        """D = z1_dim, the width of the code the metrics score."""
        return self.z1_dim

    def decode_code(self, codes: TensorLike, like: TensorLike | None = None) -> tf.Tensor:
        """E[x | z1 = codes] (z1 is the whole code of the bottom layer; ``like`` is not needed)."""
        return self.likelihood.mean(self.decoder1(tf.convert_to_tensor(codes, dtype=self.decoder1.compute_dtype)))

    def get_config(self) -> dict[str, Any]:
        """The networks (serialised) and every constructor argument, for saving."""
        config = super().get_config()
        config.update(serialize_networks(self, self.NETWORKS))
        config.update({
            "z1_dim": self.z1_dim,
            "num_classes": self.num_classes,
            "likelihood": self.likelihood.get_config(),
            "dataset_size": self.dataset_size,
            "estimator": self.estimator,
            "data_entropy": self.data_entropy,
            "lam": self.lam,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HierarchicalVAE:
        """The model of a :meth:`get_config` dict."""
        return cls(**deserialize_networks(config, cls.NETWORKS))


def build(spec: ModelSpec, config: RunConfig, dataset: GroundTruthData) -> HierarchicalVAE:
    """000 §6.1's two-layer model for a run: x -> z1 (Gaussian, ``config.latent_dim``) -> z2 (one-hot,
    ``num_classes``), ``hidden`` between x and z1 and ``top_hidden`` between z1 and z2 (MLPs)."""
    options = dict(config.hyperparameters)
    num_classes = options.pop("num_classes", spec.option("num_classes").default)
    layers = {"hidden1": config.hidden, "hidden2": options.pop("top_hidden", None)}
    encoders = build_networks(tuple(dataset.observation_shape), config.latent_dim, num_classes,
                              **{name: value for name, value in layers.items() if value is not None})
    return HierarchicalVAE(*encoders, z1_dim=config.latent_dim, num_classes=num_classes, **options,
                           dataset_size=int(dataset.num_observations), estimator=config.estimator, seed=config.seed)

