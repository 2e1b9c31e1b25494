r"""FactorVAE: the total correlation estimated by a discriminator (density-ratio trick).

Kim & Mnih (2018), described in 004 §5.2. The total correlation of the aggregate
posterior is a KL divergence between two distributions we can sample from,

    TC(z) = KL(q(z) ‖ Π_j q(z_j)) = E_q(z)[ log q(z) / Π_j q(z_j) ]            (004 eq 7)

A classifier D(z) = P(z came from q(z)) trained with the logistic loss on equally many
samples of both distributions converges to D* = q / (q + Π_j q_j), so the log density ratio
is its logit,

    TC(z) ≈ E_q(z)[ log D(z) / (1 − D(z)) ] = E_q(z)[ logit D(z) ]          (004 eq 8, corrected)

Samples of Π_j q(z_j) come for free: permute every latent unit independently across a batch
of samples of q(z) (a relaxed one-hot Concrete unit moves as a whole).

FactorVAE trains the VAE on

    loss = −ELBO + γ · E_q(z)[logit D(z)]                                        (Kim & Mnih eq 2)

and, in the same step, the discriminator on

    loss_D = −½ E_q(z)[log D(z)] − ½ E_Π_j q(z_j)[log(1 − D(z̃))]

with its own optimiser (Adam, lr 1e-4, β = (0.5, 0.9): the disentanglement_lib defaults).
Two separations are kept, because the common workaround for the in-place errors of the
published code leaked one loss's gradient into the other network (reported by its users):

* the discriminator sees ``stop_gradient(z)``: loss_D has no gradient for the encoder;
* the VAE's TC term calls the discriminator with its weights held constant
  (``stateless_call`` on stopped weights): the VAE loss has no gradient for D.

``density_ratio_tc`` is the same estimator alone: it trains a fresh discriminator on given
samples of q(z) and returns E[logit D(z)] on held-out samples (the comparison with the
minibatch estimators of ``refvae.estimators``, chapter 05).

Example::

    latent = refvae.latents.DiagonalGaussian(10)
    encoder, decoder = refvae.models.networks.build("conv", (64, 64, 1), latent)
    model = FactorVAE(encoder, decoder, latent, gamma=40.0, dataset_size=737_280)
    model.compile(keras.optimizers.Adam(1e-4))
    model.fit(images, batch_size=64, epochs=1)    # logs density_ratio_tc, total_correlation, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from refvae import checks, latents, objectives
from refvae.models import networks
from refvae.models.steps import call_without_weight_gradients, gather_replicas, gradient_step, observations_of
from refvae.models.vae import VAE

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tensorflow.types.experimental import TensorLike

    from refvae.data.base import GroundTruthData
    from refvae.models.likelihoods import Likelihood
    from refvae.runs.config import RunConfig
    from refvae.runs.registry import ModelSpec

# Kim & Mnih 2018, appendix: 6 hidden layers of 1000 units, leaky ReLU 0.2.
PAPER_DISCRIMINATOR_HIDDEN = (1000,) * 6


def build_discriminator(input_size: int, hidden: Sequence[int] = PAPER_DISCRIMINATOR_HIDDEN,
                        negative_slope: float = 0.2, name: str = "discriminator") -> keras.Sequential:
    """An MLP z -> logit D(z) = log D(z) / (1 − D(z)) (one number per sample).

    Args:
        input_size: width of z (``latent.event_size``).
        hidden: widths of the leaky-ReLU hidden layers (the paper: six of 1000).
        negative_slope: slope of the leaky ReLU for negative inputs (0.2 in the paper).
        name: model name.

    Returns:
        A built ``keras.Sequential`` mapping [B, input_size] to [B, 1].

    Example::

        discriminator = build_discriminator(10, hidden=(64, 64))
    """
    input_size = checks.integer(input_size, "input_size")
    hidden = tuple(hidden)
    if not hidden:
        raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}")
    hidden = tuple(checks.integer(width, "hidden widths") for width in hidden)
    if not (isinstance(negative_slope, (int, float)) and 0.0 <= negative_slope < 1.0):
        raise ValueError(f"negative_slope must be a number in [0, 1), got {negative_slope!r}")
    layers = [keras.Input(shape=(int(input_size),))]
    for width in hidden:
        layers += [keras.layers.Dense(int(width)), keras.layers.LeakyReLU(negative_slope=float(negative_slope))]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers, name=name)


def permute_dims(z: TensorLike, seed: latents.Seed = None, units: Sequence[int] | None = None) -> tf.Tensor:
    """Samples of Π_j q(z_j): every unit of z permuted independently across the batch.

    Given z_i ~ q(z) (rows), z̃[i, e] = z[π_u(i), e] with π_u an independent random
    permutation for each unit u; the coordinates e of one unit (a Concrete one-hot vector)
    share it. The rows of z̃ are then (exchangeable) samples of the product of marginals.

    Args:
        z: [B, E] samples.
        seed: int, ``keras.random.SeedGenerator`` or None.
        units: for each of the E coordinates, the index of its unit (length E); default
            every coordinate its own unit.

    Returns:
        [B, E] tensor.
    """
    z = tf.convert_to_tensor(z)
    if z.shape.rank != 2:
        raise ValueError(f"z must have shape [B, E], got {z.shape}")
    event_size = z.shape[-1]
    if units is None:
        units = list(range(event_size))
    units = [int(u) for u in units]
    if len(units) != event_size or min(units) < 0:
        raise ValueError(f"units must give a unit index >= 0 for each of the {event_size} coordinates, got {units}")
    num_units = max(units) + 1
    batch = tf.shape(z)[0]
    keys = keras.random.uniform(tf.stack([batch, num_units]), seed=seed)
    permutations = tf.argsort(keys, axis=0)                          # [B, U], a permutation per column
    rows = tf.gather(permutations, units, axis=1)                    # [B, E]
    columns = tf.broadcast_to(tf.range(event_size)[None, :], tf.shape(rows))
    return tf.gather_nd(z, tf.stack([rows, columns], axis=-1))


def discriminator_loss(logits_joint: tf.Tensor, logits_product: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Logistic loss of D and its accuracy (label 1: q(z), label 0: Π_j q(z_j)).

        loss_D = ½ E_q[softplus(−logit)] + ½ E_Πq[softplus(logit)]
               = −½ E_q[log D] − ½ E_Πq[log(1 − D)]

    Args:
        logits_joint: [B] or [B, 1] logits on samples of q(z).
        logits_product: [B'] or [B', 1] logits on permuted samples.

    Returns:
        (loss, accuracy): scalar tensors.
    """
    logits_joint = tf.reshape(logits_joint, [-1])
    logits_product = tf.reshape(logits_product, [-1])
    loss = 0.5 * (tf.reduce_mean(tf.nn.softplus(-logits_joint)) + tf.reduce_mean(tf.nn.softplus(logits_product)))
    correct = tf.concat([tf.cast(logits_joint > 0, loss.dtype), tf.cast(logits_product < 0, loss.dtype)], axis=0)
    return loss, tf.reduce_mean(correct)


def _check_fraction(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def density_ratio_tc(z_samples: ArrayLike | tf.Tensor, *, units: Sequence[int] | None = None,
                     hidden: Sequence[int] = (256, 256), steps: int = 2000, batch_size: int = 256,
                     learning_rate: float = 1e-3, beta_1: float = 0.5, beta_2: float = 0.9, eval_fraction: float = 0.5,
                     seed: int = 0) -> dict[str, Any]:
    """Total correlation of given samples by the density-ratio trick (004 eq 8, corrected).

    A fresh discriminator is trained for ``steps`` Adam steps to tell minibatches of the
    training part of ``z_samples`` from samples of the product of their marginals (each unit
    drawn from an independent random row, i.e. a dimension-wise permutation of the sample
    set); the estimate is the mean logit on the held-out part,

        TC ≈ (1/|S_eval|) Σ_{z ∈ S_eval} logit D(z),

    held out so that a discriminator that memorises its training samples does not inflate it.
    A discriminator that memorises a small training set instead scores held-out samples of
    q(z) low and the estimate turns *negative* (seen with 700 training codes): give it many
    samples, e.g. several posterior draws per data point (the samples of q(z) are unlimited),
    or fewer steps.

    Args:
        z_samples: [N, E] samples of q(z) (NumPy or tensor; N >= 4).
        units: unit index of each of the E coordinates (default: each its own unit).
        hidden: discriminator widths (leaky ReLU 0.2).
        steps: optimiser steps.
        batch_size: samples of each class per step.
        learning_rate, beta_1, beta_2: Adam settings of the discriminator.
        eval_fraction: share of the samples held out for the estimate, in (0, 1).
        seed: int; the same seed gives the same estimate.

    Returns:
        dict: "total_correlation" (nats), "discriminator_accuracy" (held-out, both classes),
        "discriminator_loss" (held-out), "discriminator" (the trained Keras model).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> z = rng.multivariate_normal([0, 0], [[1, .8], [.8, 1]], size=20000)
        >>> density_ratio_tc(z)["total_correlation"]     # exact: -½ log(1 − 0.64) = 0.51
    """
    z_samples = np.asarray(z_samples, dtype=np.float32)
    if z_samples.ndim != 2 or z_samples.shape[0] < 4:
        raise ValueError(f"z_samples must have shape [N >= 4, E], got {z_samples.shape}")
    if not np.all(np.isfinite(z_samples)):
        raise ValueError("z_samples holds NaN or infinite values")
    steps = checks.integer(steps, "steps")
    batch_size = checks.integer(batch_size, "batch_size")
    seed = checks.integer(seed, "seed", 0)
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
    eval_fraction = _check_fraction("eval_fraction", eval_fraction)
    num_samples, event_size = z_samples.shape
    units = list(range(event_size)) if units is None else [int(u) for u in units]
    if len(units) != event_size or min(units) < 0:
        raise ValueError(f"units must give a unit index >= 0 for each of the {event_size} coordinates, got {units}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_samples)
    num_eval = min(num_samples - 2, max(2, int(round(eval_fraction * num_samples))))
    train = tf.constant(z_samples[order[num_eval:]])
    evaluation = tf.constant(z_samples[order[:num_eval]])
    num_units = max(units) + 1
    units_tensor = tf.constant(units)

    def product_of_marginals(samples: tf.Tensor, count: int, generator: keras.random.SeedGenerator) -> tf.Tensor:
        # One independent random row per unit: a draw from Π_u q̂(z_u) of the sample set.
        rows = keras.random.randint((count, num_units), 0, tf.shape(samples)[0], seed=generator)
        rows = tf.gather(rows, units_tensor, axis=1)
        columns = tf.broadcast_to(tf.range(event_size)[None, :], tf.shape(rows))
        return tf.gather_nd(samples, tf.stack([rows, columns], axis=-1))

    keras.utils.set_random_seed(int(seed))
    discriminator = build_discriminator(event_size, hidden)
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)
    optimizer.build(discriminator.trainable_variables)
    generator = keras.random.SeedGenerator(int(seed))
    batch = min(int(batch_size), int(train.shape[0]))

    @tf.function
    def step() -> None:
        rows = keras.random.randint((batch,), 0, tf.shape(train)[0], seed=generator)
        joint = tf.gather(train, rows)
        product = product_of_marginals(train, batch, generator)
        with tf.GradientTape() as tape:
            loss, _ = discriminator_loss(discriminator(joint, training=True), discriminator(product, training=True))
        gradients = tape.gradient(loss, discriminator.trainable_variables)
        optimizer.apply(gradients, discriminator.trainable_variables)

    for _ in range(int(steps)):
        step()
    logits_joint = discriminator(evaluation)
    logits_product = discriminator(product_of_marginals(evaluation, num_eval, generator))
    loss, accuracy = discriminator_loss(logits_joint, logits_product)
    return {
        "total_correlation": float(tf.reduce_mean(logits_joint)),
        "discriminator_accuracy": float(accuracy),
        "discriminator_loss": float(loss),
        "discriminator": discriminator,
    }


@keras.saving.register_keras_serializable(package="refvae")
class FactorVAE(VAE):
    """FactorVAE (Kim & Mnih 2018; 004 §5.2): −ELBO + γ·TC with a discriminator's TC.

    A :class:`refvae.models.VAE` on the "factor-vae" objective of the catalogue
    (−rec + kl + γ total_correlation) whose ``total_correlation`` slot is filled, in the
    loss, by the density-ratio estimate E_q(z)[logit D(z)] of a discriminator trained in the
    same ``train_step``. Every term is logged: ``density_ratio_tc`` (the discriminator's TC,
    the one in the loss), ``total_correlation`` (the minibatch estimator's TC of
    ``refvae.decompositions``, for comparison, *not* in the loss), the rest of 001 eq 2,
    and ``discriminator_loss`` / ``discriminator_accuracy``.

    The TC term is evaluated on its own reparameterised sample of q(z|x) of the batch (an
    independent Monte Carlo estimate of the same expectation as the ELBO's sample); the
    discriminator is trained on that sample (stopped) against its dimension-wise
    permutation across the batch. Kim & Mnih permute the codes of a second, independent
    batch; with one batch the two classes share their values column by column, which does
    not change what D must learn (the joint vs the product of the batch's marginals).

    Args:
        encoder, decoder, latent, likelihood, dataset_size, estimator, seed: as
            :class:`refvae.models.VAE` (the estimator only feeds the logged
            ``total_correlation``).
        gamma: weight γ >= 0 of the density-ratio TC (disentanglement_lib sweep 10 … 100).
        eta: weight η >= 0 of the posterior-variance penalty η Σ_k E_n[σ_k²(n)] (004 eq 4;
            Gaussian latents only). η > 0 is 004's RTC-VAE as it was trained there: the TC
            by the density-ratio trick (004 §5.3) with γ in the role of 004's β.
        discriminator: a built Keras model [B, event_size] -> [B, 1] logits; default
            ``build_discriminator(latent.event_size, discriminator_hidden)``.
        discriminator_hidden: widths of the default discriminator (paper: 6 × 1000).
        discriminator_learning_rate, discriminator_beta_1, discriminator_beta_2: Adam of D.
    """

    NETWORKS = VAE.NETWORKS + ("discriminator",)
    OPTIMIZERS = VAE.OPTIMIZERS + ("discriminator_optimizer",)

    def __init__(self, encoder: keras.Model, decoder: keras.Model, latent: latents.Latent | dict[str, Any],
                 likelihood: str | Likelihood | dict[str, Any] = "bernoulli", gamma: float = 10.0, *,
                 dataset_size: int, estimator: str = "mss1", discriminator: keras.Model | None = None,
                 eta: float = 0.0, discriminator_hidden: Sequence[int] = PAPER_DISCRIMINATOR_HIDDEN,
                 discriminator_learning_rate: float = 1e-4, discriminator_beta_1: float = 0.5,
                 discriminator_beta_2: float = 0.9, seed: int = 0, **kwargs: Any) -> None:
        for key in ("objective", "decomposition", "groups"):
            kwargs.pop(key, None)       # fixed by the model; present in configs of VAE.get_config
        latent = latents.get(latent)
        objective = objectives.factor_vae(gamma)
        if eta != 0:        # the catalogue's RTC-VAE weights: −rec + kl + γ TC + η posterior_variance
            objective = objectives.rtc(beta=objective.weight("total_correlation"), eta=eta)
        if not (isinstance(discriminator_learning_rate, (int, float)) and discriminator_learning_rate > 0):
            raise ValueError(f"discriminator_learning_rate must be a number > 0, got {discriminator_learning_rate!r}")
        if discriminator is None:
            discriminator = build_discriminator(latent.event_size, discriminator_hidden)
        elif not isinstance(discriminator, keras.layers.Layer) or not discriminator.built:
            raise TypeError("discriminator must be a built Keras model [B, event_size] -> [B, 1]")
        elif discriminator.input_shape[-1] != latent.event_size or discriminator.output_shape[-1] != 1:
            raise ValueError(f"discriminator must map [B, {latent.event_size}] to [B, 1], got "
                             f"{discriminator.input_shape} -> {discriminator.output_shape}")
        super().__init__(encoder, decoder, latent, likelihood, objective, dataset_size=dataset_size,
                         estimator=estimator, decomposition="tc", seed=seed, **kwargs)
        self.gamma = objective.weight("total_correlation")
        self.eta = float(objective.weight("posterior_variance"))
        self.discriminator = discriminator
        self.discriminator_hidden = tuple(int(h) for h in discriminator_hidden)
        self.discriminator_learning_rate = float(discriminator_learning_rate)
        self.discriminator_beta_1 = float(discriminator_beta_1)
        self.discriminator_beta_2 = float(discriminator_beta_2)
        self.discriminator_optimizer = keras.optimizers.Adam(
            self.discriminator_learning_rate, beta_1=self.discriminator_beta_1, beta_2=self.discriminator_beta_2,
            name="discriminator_adam")
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.units_of_event = self.latent.unit_of_event

    def _logged_terms(self) -> list[str]:
        return super()._logged_terms() + ["density_ratio_tc", "discriminator_loss", "discriminator_accuracy"]

    def compute_terms(self, x: tf.Tensor, training: bool = False, step: int | tf.Tensor = 0,
                      seed: int | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """Terms and loss of the VAE side; the TC in the loss is the discriminator's.

        Returns:
            (terms, loss): the terms of :meth:`VAE.compute_terms` plus ``density_ratio_tc``,
            and the loss −rec + kl + γ·density_ratio_tc (+ η·posterior_variance).
        """
        terms, loss, _ = self.compute_terms_and_sample(x, training=training, step=step, seed=seed)
        return terms, loss

    def compute_terms_and_sample(self, x: tf.Tensor, training: bool = False, step: int | tf.Tensor = 0,
                                 seed: int | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        """As :meth:`compute_terms`, plus the sample z [B, event_size] the TC term was evaluated on."""
        generator = self._generator(seed)
        terms, _ = super().compute_terms(x, training=training, step=step, seed=None if seed is None else seed + 1)
        # The global batch's sample (gathered across replicas): the discriminator permutes
        # the codes of the whole batch, as on one device.
        z = gather_replicas(self.latent.sample(self.posterior(x, training=training), seed=generator))
        logits = call_without_weight_gradients(self.discriminator, z, training=training)
        terms["density_ratio_tc"] = tf.reduce_mean(logits)
        loss = self.objective.loss({**terms, "total_correlation": terms["density_ratio_tc"]}, step)
        return terms, loss, z

    def discriminator_terms(self, z: TensorLike, training: bool = False,
                            seed: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """The discriminator's loss and accuracy on samples z of q(z) and their permutation.

        ``z`` enters through ``stop_gradient``: the loss has no gradient for the encoder.

        Returns:
            (loss, accuracy): scalar tensors.
        """
        z = tf.stop_gradient(tf.convert_to_tensor(z))
        permuted = permute_dims(z, seed=self._generator(seed), units=self.units_of_event)
        return discriminator_loss(self.discriminator(z, training=training),
                                  self.discriminator(permuted, training=training))

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One step of the VAE's optimiser, then one of the discriminator's; the logged means."""
        x = observations_of(data)
        with tf.GradientTape() as tape:
            terms, loss, z = self.compute_terms_and_sample(x, training=True, step=self._step())
            total = loss + tf.add_n(self.losses) if self.losses else loss
        gradient_step(tape, total, self.vae_variables, self.optimizer)
        with tf.GradientTape() as tape:
            d_loss, d_accuracy = self.discriminator_terms(z, training=True)
        gradient_step(tape, d_loss, self.discriminator.trainable_variables, self.discriminator_optimizer)
        terms.update(discriminator_loss=d_loss, discriminator_accuracy=d_accuracy)
        return self._update_metrics(terms, loss)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """The logged terms of a batch (no update), the discriminator's included; their means."""
        x = observations_of(data)
        terms, loss, z = self.compute_terms_and_sample(x, training=False, step=self._step())
        terms["discriminator_loss"], terms["discriminator_accuracy"] = self.discriminator_terms(z)
        return self._update_metrics(terms, loss)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("objective", "decomposition", "groups"):
            config.pop(key, None)
        config.update({
            "gamma": self.gamma,
            "eta": self.eta,
            "discriminator_hidden": list(self.discriminator_hidden),
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "discriminator_beta_1": self.discriminator_beta_1,
            "discriminator_beta_2": self.discriminator_beta_2,
        })
        return config

    @property
    def estimated_tc_weight(self) -> float:
        """0: the TC in the loss is the discriminator's; the minibatch estimate is only logged."""
        return 0.0


def build(spec: ModelSpec, config: RunConfig, dataset: GroundTruthData) -> FactorVAE:
    """The FactorVAE of a run (``refvae.runs.registry``): ``gamma``, ``eta`` and the discriminator's
    options of ``config``, the networks of ``config.architecture`` for ``dataset``."""
    latent = latents.DiagonalGaussian(config.latent_dim)
    encoder, decoder = networks.for_run(config, tuple(dataset.observation_shape), latent)
    return FactorVAE(encoder, decoder, latent, "bernoulli", **config.hyperparameters,
                     dataset_size=int(dataset.num_observations), estimator=config.estimator, seed=config.seed)

