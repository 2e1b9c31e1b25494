r"""InfoMax VAE: the ELBO plus a variational lower bound on I(x; ẑ) (003 ch. 4).

For any auxiliary distribution Q, the non-negativity of a KL divergence gives (003 eqs
4.3-4.4, Barber & Agakov 2003)

    I(ẑ; x) = E_x KL(p(ẑ|x) ‖ Q(ẑ|x)) + E[log Q(ẑ|x)] + H(ẑ) ≥ E[log Q(ẑ|x)] + H(ẑ),

tight when Q is the true posterior. In a VAE the pair (ẑ, x) is drawn by encoding a data
point and decoding a sample (003 eqs 4.5-4.8),

    MI(θ, φ, Q) = E_{z ~ q_φ(z|x), x̂ ~ p_θ(x|z)}[log Q(ẑ | x̂)] + H(ẑ)              (003 eq 4.9)

with ẑ a chosen part of z (two Gaussian coordinates, 003 eq 4.13, or the categorical code c,
003 eq 4.21) and Q a network on the decoder's output. The model maximises (003 eq 4.11)

    L(θ, φ, Q) = ELBO(θ, φ) + λ · MI(θ, φ, Q)

by Algorithm 1 of 003: for each batch, first a step of Q on its term E[log Q(ẑ|x̂)] (the
entropy does not depend on Q), then a step of the encoder and decoder on the whole
objective. refvae keeps the VAE side free of gradients into Q (Q's weights are held
constant there), so each network is updated only by its own step.

Choices where 003 leaves details open (stated, so a reader can change them):

* x̂ is the decoder's mean E[x | z] (sigmoid of the logits for a Bernoulli decoder), not a
  binary sample: a sample has no reparameterisation gradient.
* Gaussian ẑ: Q(ẑ|x̂) = N(μ_Q(x̂), σ_Q(x̂)²) (diagonal) and H(ẑ) is the entropy of the
  aggregate posterior of ẑ, −E[log q̂(ẑ)], estimated with ``refvae.estimators`` (the
  model's estimator); a constant H (as with a fixed prior) would let the encoder shrink ẑ to
  make it easy to predict.
* Categorical c (a Concrete unit): log Q(c|x̂) = Σ_k c_k log softmax(ℓ_Q(x̂))_k, the
  cross-entropy of a classifier on the relaxed one-hot c (exact for a hard one-hot), and
  H(c) = H(q̄) with q̄ = the batch mean of the class probabilities softmax(α(x)), so the
  bound is in the discrete units of I(x; c) ≤ log K.

The categorical KL E_x KL(Cat(softmax α(x)) ‖ Uniform(K)) = I(x; c) + KL(q̄ ‖ U) ≥ I(x; c)
(003 eq 4.23) is logged as ``categorical_kl``; its largest value is log K (003 §4.4 reports
2.27 for K = 10, log 10 = 2.30).

Example::

    latent = refvae.latents.Grouped([refvae.latents.DiagonalGaussian(16), refvae.latents.Concrete(10)])
    encoder, decoder = refvae.models.networks.build("mlp", (28, 28, 1), latent)
    model = InfoMaxVAE(encoder, decoder, latent, lam=10.0, info_units=[16], dataset_size=60_000)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x_train, batch_size=100, epochs=20)     # logs mi_lower_bound, categorical_kl, ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from refvae import estimators, latents
from refvae.models import networks
from refvae.models.steps import call_without_weight_gradients, gather_replicas, gradient_step, observations_of
from refvae.models.vae import VAE

if TYPE_CHECKING:
    from refvae.data.base import GroundTruthData
    from refvae.models.likelihoods import Likelihood
    from refvae.objectives import Objective
    from refvae.runs.config import RunConfig
    from refvae.runs.registry import ModelSpec

# Lower bound of Q's Gaussian scale, keeping log Q finite.
_MIN_SCALE = 1e-4


def _leaves(latent: latents.Latent) -> list[tuple[latents.Latent, int, int, tuple[int, ...]]]:
    """(family, first unit, first event coordinate, posterior path) of every non-grouped part."""
    if not isinstance(latent, latents.Grouped):
        return [(latent, 0, 0, ())]
    leaves: list[tuple[latents.Latent, int, int, tuple[int, ...]]] = []
    unit, coordinate = 0, 0
    for index, part in enumerate(latent.parts):
        if isinstance(part, latents.Grouped):
            raise TypeError("InfoMaxVAE supports one level of Grouped latents")
        leaves.append((part, unit, coordinate, (index,)))
        unit += part.num_units
        coordinate += part.event_size
    return leaves


def _posterior_part(posterior: Any, path: Sequence[int]) -> Any:
    for index in path:
        posterior = posterior.parts[index]
    return posterior


def resolve_info_units(latent: latents.Latent, info_units: int | Sequence[int]) -> dict[str, Any]:
    """Where the units whose information is maximised live in z and in the posterior.

    Args:
        latent: a ``refvae.latents`` family.
        info_units: unit indices; either coordinates of one ``DiagonalGaussian`` part, or a
            single ``Concrete`` unit.

    Returns:
        dict: "kind" ("gaussian" or "categorical"), "units", "coordinates" (indices of z),
        "part_coordinates" (indices within the part's parameters), "path" (to the part's
        posterior in a grouped posterior), "num_classes" (categorical), "param_size" of Q.
    """
    units = [int(u) for u in (info_units if not isinstance(info_units, int) else [info_units])]
    if not units or len(set(units)) != len(units) or min(units) < 0 or max(units) >= latent.num_units:
        raise ValueError(f"info_units must be distinct unit indices in [0, {latent.num_units}), got {info_units!r}")
    owners = []
    for unit in units:
        for family, first_unit, first_coordinate, path in _leaves(latent):
            if first_unit <= unit < first_unit + family.num_units:
                owners.append((family, first_unit, first_coordinate, path))
                break
    if len({owner[3] for owner in owners}) != 1:
        raise ValueError(f"info_units must all belong to one part of the latent, got {units}")
    family, first_unit, first_coordinate, path = owners[0]
    if isinstance(family, latents.DiagonalGaussian):
        part_coordinates = [unit - first_unit for unit in units]
        return {"kind": "gaussian", "units": units, "path": path, "part_coordinates": part_coordinates,
                "coordinates": [first_coordinate + c for c in part_coordinates], "param_size": 2 * len(units)}
    if isinstance(family, latents.Concrete):
        if len(units) != 1:
            raise ValueError(f"info_units may name only one Concrete unit, got {units}")
        return {"kind": "categorical", "units": units, "path": path, "num_classes": family.num_classes,
                "coordinates": list(range(first_coordinate, first_coordinate + family.event_size)),
                "param_size": family.num_classes}
    raise TypeError(f"info_units must name Gaussian or Concrete units, got a {type(family).__name__} unit")


@keras.saving.register_keras_serializable(package="refvae")
class InfoMaxVAE(VAE):
    """A VAE with the variational mutual-information regulariser of 003 ch. 4.

    loss = objective.loss(terms) − λ · mi_lower_bound, with mi_lower_bound = E[log Q(ẑ|x̂)]
    + H(ẑ) (003 eq 4.9) evaluated on its own sample z ~ q(z|x) of the batch; Q is stepped
    first on each batch with its own optimiser (003 Algorithm 1).

    Logged besides the objective's terms: ``mi_lower_bound``, ``log_q_info`` (E log Q),
    ``info_entropy`` (H(ẑ)), ``q_loss`` (−E log Q at Q's step), and for latents with a
    Concrete part ``categorical_kl`` (analytic, 003 eq 4.23).

    Args:
        encoder, decoder, latent, likelihood, objective, dataset_size, estimator,
            decomposition, groups, seed: as :class:`refvae.models.VAE` (the objective is the
            ELBO, "vae", by default).
        lam: λ >= 0, the weight of the MI bound (λ = 0: the plain objective, Q still trained
            as an MI meter, 003 eq 4.8).
        info_units: units ẑ whose information is maximised (see ``resolve_info_units``);
            003 uses two Gaussian coordinates, or the Concrete unit.
        q_network: a built Keras model x̂ -> [B, Q params]; default an MLP with ``q_hidden``.
        q_hidden: hidden widths of the default Q network.
        q_learning_rate: Adam learning rate of Q.
    """

    NETWORKS = VAE.NETWORKS + ("q_network",)
    OPTIMIZERS = VAE.OPTIMIZERS + ("q_optimizer",)

    def __init__(self, encoder: keras.Model, decoder: keras.Model, latent: latents.Latent | dict[str, Any],
                 likelihood: str | Likelihood | dict[str, Any] = "bernoulli",
                 objective: str | Objective | Mapping[str, Any] = "vae", lam: float = 1.0,
                 info_units: int | Sequence[int] = (0, 1), q_network: keras.Model | None = None,
                 q_hidden: Sequence[int] = (256,), q_learning_rate: float = 1e-3, *, dataset_size: int,
                 estimator: str = "mss1", decomposition: str | None = None,
                 groups: Sequence[Sequence[int]] | None = None, seed: int = 0, **kwargs: Any) -> None:
        latent = latents.get(latent)
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not (math.isfinite(lam) and lam >= 0):
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
        if not (isinstance(q_learning_rate, (int, float)) and q_learning_rate > 0):
            raise ValueError(f"q_learning_rate must be a number > 0, got {q_learning_rate!r}")
        info = resolve_info_units(latent, info_units)
        if q_network is None:
            q_network = networks.build_encoder("mlp", tuple(encoder.input_shape[1:]), info["param_size"],
                                               hidden=tuple(q_hidden), name="q_network")
        elif not isinstance(q_network, keras.layers.Layer) or not q_network.built:
            raise TypeError("q_network must be a built Keras model (observations -> Q parameters)")
        elif q_network.output_shape[-1] != info["param_size"]:
            raise ValueError(f"q_network must output {info['param_size']} numbers for info_units "
                             f"{info['units']}, got {q_network.output_shape[-1]}")
        super().__init__(encoder, decoder, latent, likelihood, objective, dataset_size=dataset_size,
                         estimator=estimator, decomposition=decomposition, groups=groups, seed=seed, **kwargs)
        self.lam = float(lam)
        self.info = info
        self.info_units = info["units"]
        self.q_network = q_network
        self.q_hidden = tuple(int(h) for h in q_hidden)
        self.q_learning_rate = float(q_learning_rate)
        self.q_optimizer = keras.optimizers.Adam(self.q_learning_rate, name="q_adam")
        self.q_optimizer.build(self.q_network.trainable_variables)
        self.concrete_parts = [(family, path) for family, _, _, path in _leaves(self.latent)
                               if isinstance(family, latents.Concrete)]

    def _logged_terms(self) -> list[str]:
        names = super()._logged_terms() + ["mi_lower_bound", "log_q_info", "info_entropy", "q_loss"]
        if any(isinstance(family, latents.Concrete) for family, _, _, _ in _leaves(self.latent)):
            names.append("categorical_kl")
        return names

    @property
    def categorical_kl_bound(self) -> float:
        """log K summed over the Concrete parts: the largest possible ``categorical_kl``."""
        return sum(math.log(family.num_classes) for family, _ in self.concrete_parts)

    # ------------------------------------------------------------------ the MI bound

    def info_terms(self, x: tf.Tensor, training: bool = False, seed: int | None = None,
                   q_step: bool = False) -> dict[str, tf.Tensor]:
        """E[log Q(ẑ|x̂)], H(ẑ) and their sum, the MI lower bound (003 eq 4.9), on one sample.

        Args:
            x: observations [B, ...].
            training: passed to the networks.
            seed: int for a reproducible z; default the model's SeedGenerator.
            q_step: True for Q's step: ẑ and x̂ are stopped (no gradient to the VAE) and Q is
                called normally; False for the VAE's step: Q's weights are held constant.

        Returns:
            dict of scalars "log_q_info", "info_entropy", "mi_lower_bound".
        """
        posterior = self.posterior(x, training=training)
        z = self.latent.sample(posterior, seed=self._generator(seed))
        x_hat = self.likelihood.mean(self.decoder(z, training=training))
        z_info = tf.gather(z, self.info["coordinates"], axis=1)
        part = _posterior_part(posterior, self.info["path"])
        if q_step:
            z_info, x_hat = tf.stop_gradient(z_info), tf.stop_gradient(x_hat)
            q_params = self.q_network(x_hat, training=training)
        else:
            q_params = call_without_weight_gradients(self.q_network, x_hat, training=training)
        # H(ẑ) and the batch mean of log Q look across the batch: on the global batch
        # (gathered across replicas), as on one device.
        if self.info["kind"] == "gaussian":
            loc, raw = tf.split(q_params, 2, axis=-1)
            q = tfp.distributions.Normal(loc, tf.nn.softplus(raw) + _MIN_SCALE)
            coordinates = self.info["part_coordinates"]
            log_q, z_info, sub_loc, sub_scale = gather_replicas(
                tf.reduce_sum(q.log_prob(z_info), axis=-1), z_info,
                tf.gather(part.loc, coordinates, axis=1), tf.gather(part.scale, coordinates, axis=1))
            sub_posterior = tfp.distributions.Normal(sub_loc, sub_scale)
            log_qz, _ = estimators.aggregate_log_density(z_info, sub_posterior, self.dataset_size, self.estimator)
            entropy = -tf.reduce_mean(log_qz)
        else:
            log_q, probs = gather_replicas(tf.reduce_sum(z_info * tf.nn.log_softmax(q_params, axis=-1), axis=-1),
                                           part.probs)
            mean_probs = tf.reduce_mean(probs, axis=0)
            entropy = -tf.reduce_sum(mean_probs * tf.math.log(tf.maximum(mean_probs, 1e-30)))
        log_q_info = tf.reduce_mean(log_q)
        return {"log_q_info": log_q_info, "info_entropy": entropy, "mi_lower_bound": log_q_info + entropy}

    def categorical_kl(self, posterior: Any) -> tf.Tensor:
        """Σ over Concrete parts of E_x KL(Cat(softmax α(x)) ‖ Uniform(K)) (analytic, nats)."""
        return tf.add_n([tf.reduce_mean(gather_replicas(family.categorical_kl(_posterior_part(posterior, path))))
                         for family, path in self.concrete_parts])

    def compute_terms(self, x: tf.Tensor, training: bool = False, step: int | tf.Tensor = 0,
                      seed: int | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The objective's terms plus the MI terms, and loss = objective − λ·mi_lower_bound."""
        terms, loss = super().compute_terms(x, training=training, step=step, seed=seed)
        terms.update(self.info_terms(x, training=training, seed=None if seed is None else seed + 1))
        if self.concrete_parts:
            terms["categorical_kl"] = self.categorical_kl(self.posterior(x, training=training))
        return terms, loss - self.lam * tf.cast(terms["mi_lower_bound"], loss.dtype)

    def q_step(self, x: tf.Tensor, training: bool = True) -> tf.Tensor:
        """One Adam step of Q on −E[log Q(ẑ|x̂)] (003 Algorithm 1, line 4). Returns that loss."""
        with tf.GradientTape() as tape:
            q_loss = -self.info_terms(x, training=training, q_step=True)["log_q_info"]
        gradient_step(tape, q_loss, self.q_network.trainable_variables, self.q_optimizer)
        return q_loss

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One step of Q, then one of the VAE; the running means of the logged terms."""
        x = observations_of(data)
        q_loss = self.q_step(x)
        terms, loss = self.vae_step(x)
        terms["q_loss"] = q_loss
        return self._update_metrics(terms, loss)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """The logged terms of a batch (no update); their running means."""
        x = observations_of(data)
        terms, loss = self.compute_terms(x, training=False, step=self._step())
        terms["q_loss"] = -terms["log_q_info"]
        return self._update_metrics(terms, loss)

    def predict_categories(self, x: np.ndarray | tf.Tensor, batch_size: int = 256) -> np.ndarray:
        """argmax of the class probabilities of the first Concrete part, for each x (NumPy [N]).

        Use with ``refvae.metrics.unsupervised_accuracy(model.predict_categories(x), labels)``
        (003 §4.4: 82% with the MI term vs 21% without on MNIST).
        """
        if not self.concrete_parts:
            raise ValueError("predict_categories needs a latent with a Concrete part")
        _, path = self.concrete_parts[0]
        ids = [tf.argmax(_posterior_part(self.posterior(x[start:start + batch_size]), path).probs, axis=-1)
               for start in range(0, len(x), batch_size)]
        return tf.concat(ids, axis=0).numpy()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "lam": self.lam,
            "info_units": list(self.info_units),
            "q_hidden": list(self.q_hidden),
            "q_learning_rate": self.q_learning_rate,
        })
        return config


def build(spec: ModelSpec, config: RunConfig, dataset: GroundTruthData) -> InfoMaxVAE:
    """The InfoMax VAE of a run (003 §4.4): a Concrete unit c of ``num_classes`` categories beside
    ``config.latent_dim`` Gaussian units, I(x; c) maximised with weight ``lam`` (003 eq 4.8); the
    networks of ``config.architecture`` for ``dataset``."""
    options = dict(config.hyperparameters)
    num_classes = options.pop("num_classes", spec.option("num_classes").default)
    latent = latents.Grouped([latents.DiagonalGaussian(config.latent_dim), latents.Concrete(num_classes)])
    encoder, decoder = networks.for_run(config, tuple(dataset.observation_shape), latent)
    return InfoMaxVAE(encoder, decoder, latent, "bernoulli", info_units=[config.latent_dim], **options,
                      dataset_size=int(dataset.num_observations), estimator=config.estimator, seed=config.seed)

