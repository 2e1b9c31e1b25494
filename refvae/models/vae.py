r"""The VAE as a Keras model that trains any objective of the catalogue and logs every term.

One training step (``train_step``)::

    params = encoder(x)                       [B, latent.param_size]
    q(z|x) = latent.posterior(params)         (tfp distribution, batch [B, ...])
    z ~ q(z|x)                                [B, latent.event_size]   (reparameterised; the model's SeedGenerator)
    log p(x|z) = likelihood.log_prob(x, decoder(z))                    [B]
    terms = decomposition(z, q(z|x), p(z), dataset_size, estimator)   (refvae.decompositions)
          + the extra terms the objective names (refvae.terms: posterior_variance, dip_*, mmd)
    loss  = objective.loss(terms, step)

and every scalar term, plus the loss, goes to a ``keras.metrics.Mean``, so ``fit()`` prints
it and TensorBoard plots it. Terms are in nats per data point (batch means), never scaled
by batch / dataset size: ``dataset_size`` enters only the aggregate-posterior estimator
(001 eq 3, 004 eqs 5–6, 002 §3.1).

Decompositions (``decomposition=``):

* ``"tc"``: 001 eq 2 (index_code_mi, total_correlation, dimwise_kl, marginal_kl, kl).
* ``"hfvae"``: 002 Figs 1 and 3 with the latent's groups (between/within-group TC, prior TCs).
* ``"kl"``: only reconstruction, kl and elbo (no aggregate-posterior estimate; the cheapest
  step, for the plain ELBO and for benchmarks).

The default picks ``"hfvae"`` when the objective names a group term, else ``"tc"``.

Example::

    latent = refvae.latents.DiagonalGaussian(10)
    encoder, decoder = refvae.models.networks.build("conv", (64, 64, 1), latent)
    model = VAE(encoder, decoder, latent, "bernoulli", refvae.objectives.get("beta-tcvae", beta=6.0),
                dataset_size=737_280, estimator="mss1")
    model.compile(keras.optimizers.Adam(1e-4))
    model.fit(images, batch_size=64, epochs=1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from refvae import checks, decompositions, estimators, latents, objectives
from refvae import terms as extra_terms
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
    import tensorflow_probability as tfp
    from tensorflow.types.experimental import TensorLike

    from refvae.data.base import GroundTruthData
    from refvae.runs.config import RunConfig
    from refvae.runs.registry import ModelSpec

SOURCES = ("prior", "marginals")


def _tc_terms(model: VAE, z: tf.Tensor, posterior: Any, prior: Any, log_px_given_z: tf.Tensor) -> dict[str, tf.Tensor]:
    return decompositions.tc_decomposition(z, posterior, prior, model.dataset_size, model.estimator,
                                           log_px_given_z=log_px_given_z, check_finite=False)


def _hfvae_terms(model: VAE, z: tf.Tensor, posterior: Any, prior: Any,
                 log_px_given_z: tf.Tensor) -> dict[str, tf.Tensor]:
    return decompositions.hfvae_decomposition(z, posterior, prior, model.dataset_size, model.estimator,
                                              groups=model.groups or model.latent.groups,
                                              log_px_given_z=log_px_given_z, check_finite=False)


def _kl_terms(model: VAE, z: tf.Tensor, posterior: Any, prior: Any, log_px_given_z: tf.Tensor) -> dict[str, tf.Tensor]:
    return decompositions.kl_decomposition(z, posterior, prior, log_px_given_z=log_px_given_z)


# decomposition name -> (model, z, q(z|x), p(z), log p(x|z)) -> {term name: value}
_DECOMPOSE: dict[str, Callable[..., dict[str, tf.Tensor]]] = {"tc": _tc_terms, "hfvae": _hfvae_terms, "kl": _kl_terms}
DECOMPOSITIONS = tuple(_DECOMPOSE)


def _check_network(name: str, network: keras.layers.Layer, width: int, side: str) -> None:
    if not isinstance(network, keras.layers.Layer):
        raise TypeError(f"{name} must be a Keras layer or model, got {type(network).__name__}")
    if not network.built:
        raise ValueError(f"{name} must be built (create it with a keras.Input, as refvae.models.networks does)")
    shape = network.output_shape if side == "output" else network.input_shape
    if shape[-1] is not None and shape[-1] != width:
        raise ValueError(f"{name} {side} width must be {width} for this latent family, got {shape[-1]}")


@keras.saving.register_keras_serializable(package="refvae")
class VAE(ModelMixin, keras.Model):
    """A VAE trained on a weighted objective of named ELBO terms.

    Args:
        encoder: built Keras model x -> [B, latent.param_size].
        decoder: built Keras model z [B, latent.event_size] -> logits / means shaped like x.
        latent: a ``refvae.latents`` family (or its config dict).
        likelihood: "bernoulli", "gaussian", a likelihood or its config.
        objective: a catalogue name, an ``Objective`` or its config.
        dataset_size: N, the number of training points (for the q(z) estimators).
        estimator: "exact" (the batch is the whole data set), "mws", "mss0", "mss1", "hfvae"
            (see ``refvae.estimators``).
        decomposition: "tc", "hfvae", "kl" or None (chosen from the objective).
        groups: unit groups for the "hfvae" decomposition; default ``latent.groups``.
        seed: seed of the model's ``keras.random.SeedGenerator`` (z samples).
    """

    NETWORKS: tuple[str, ...] = ("encoder", "decoder")   # the Keras sub-networks that get_config serialises
    SAMPLE_SOURCES = SOURCES

    def __init__(self, encoder: keras.Model, decoder: keras.Model, latent: latents.Latent | dict[str, Any],
                 likelihood: str | likelihoods.Likelihood | dict[str, Any] = "bernoulli",
                 objective: str | objectives.Objective | Mapping[str, Any] = "vae", *, dataset_size: int,
                 estimator: str = "mss1", decomposition: str | None = None,
                 groups: Sequence[Sequence[int]] | None = None, seed: int = 0, **kwargs: Any) -> None:
        latent = latents.get(latent)
        likelihood = likelihoods.get(likelihood)
        objective = objectives.get(objective)
        dataset_size = checks.dataset_size(dataset_size)
        estimators.check_method(estimator)
        if decomposition is None:
            hfvae_only = decompositions.TERMS["hfvae"] - decompositions.TERMS["tc"]
            decomposition = "hfvae" if objective.required_terms & hfvae_only else "tc"
        if decomposition not in DECOMPOSITIONS:
            raise ValueError(f"decomposition must be one of {list(DECOMPOSITIONS)}, got {decomposition!r}")
        available = decompositions.TERMS[decomposition] | extra_terms.EXTRA_TERMS
        missing = sorted(objective.required_terms - available)
        if missing:
            raise ValueError(f"objective {objective.name!r} needs {missing}, which the {decomposition!r} "
                             f"decomposition does not compute; use decomposition='hfvae' or 'tc'")
        if objective.required_terms & extra_terms.GAUSSIAN_TERMS and not isinstance(latent, latents.DiagonalGaussian):
            raise ValueError(f"objective {objective.name!r} needs posterior variances: it requires a "
                             f"DiagonalGaussian latent, got {latent!r}")
        for weight in objective.weights.values():
            if isinstance(weight, objectives.UnitWeights):
                weight.vector(latent.num_units)     # raises if an anchor is not a unit of this latent
        if groups is not None:
            groups = [[int(unit) for unit in group] for group in groups]
            if sorted(u for g in groups for u in g) != list(range(latent.num_units)) or not all(groups):
                raise ValueError(f"groups must partition the {latent.num_units} latent units, got {groups}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        _check_network("encoder", encoder, latent.param_size, "output")
        _check_network("decoder", decoder, latent.event_size, "input")
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent = latent
        self.likelihood = likelihood
        self.objective = objective
        self.dataset_size = dataset_size
        self.estimator = estimator
        self.decomposition = decomposition
        self.groups = groups
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._marginal_params: tf.Tensor | None = None
        self.logged_terms = self._logged_terms()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.logged_terms}
        self.built = True

    # ------------------------------------------------------------------ terms and loss

    def _logged_terms(self) -> list[str]:
        computed = decompositions.TERMS[self.decomposition] | self.objective.required_terms
        order = ["loss", "elbo", "reconstruction", "kl", "index_code_mi", "marginal_kl", "total_correlation",
                 "dimwise_kl", "between_group_tc", "prior_between_group_tc", "within_group_tc",
                 "prior_within_group_tc"]
        scalars = sorted(computed - set(order) - extra_terms.VECTOR_TERMS)
        names = [name for name in order if name in computed or name == "loss"] + scalars
        if self.objective.capacity is not None:
            names.append("capacity")
        return names

    def posterior(self, x: TensorLike, training: bool = False) -> Any:
        """q(z | x) for a batch of observations (a distribution object of the latent family, not a
        layer output)."""
        return self.latent.posterior(self.encoder(x, training=training))

    def compute_terms(self, x: tf.Tensor, training: bool = False, step: int | tf.Tensor = 0,
                      seed: int | None = None) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The named terms of one batch and the loss.

        Args:
            x: observations [B, ...].
            training: passed to the networks.
            step: optimiser step for the capacity schedule.
            seed: int for reproducible samples (the same z for the same weights and x);
                default: the model's SeedGenerator.

        Returns:
            (terms dict of tensors, loss scalar tensor).
        """
        generator = self._generator(seed)
        params = self.encoder(x, training=training)
        posterior = self.latent.posterior(params)
        z = self.latent.sample(posterior, seed=generator)
        log_px_given_z = self.likelihood.log_prob(x, self.decoder(z, training=training))
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            # Under tf.distribute each replica holds a slice of the global batch; the q(z)
            # estimators must see the whole batch, so gather the codes before estimating.
            params, z, log_px_given_z = gather_replicas(params, z, log_px_given_z)
            posterior = self.latent.posterior(params)
        prior = self.latent.prior(z.dtype)
        required = self.objective.required_terms
        terms = _DECOMPOSE[self.decomposition](self, z, posterior, prior, log_px_given_z)
        if "kl_per_dim" in required and "kl_per_dim" not in terms:
            terms["kl_per_dim"] = extra_terms.kl_per_dim(posterior.log_prob(z), prior.log_prob(z))
        if required & extra_terms.GAUSSIAN_TERMS:
            variance = tf.square(posterior.scale)
            if "posterior_variance" in required:
                terms["posterior_variance"] = extra_terms.posterior_variance(variance)
            for variant, var in (("i", None), ("ii", variance)):
                if {f"dip_{variant}_off_diagonal", f"dip_{variant}_diagonal"} & required:
                    off_diagonal, diagonal = extra_terms.covariance_penalties(
                        extra_terms.dip_covariance(posterior.loc, var))
                    terms[f"dip_{variant}_off_diagonal"] = off_diagonal
                    terms[f"dip_{variant}_diagonal"] = diagonal
        if "mmd" in required:
            prior_z = self.latent.sample_prior(tf.shape(z)[0], seed=generator, dtype=z.dtype)
            terms["mmd"] = extra_terms.mmd(z, prior_z)
        if self.objective.capacity is not None:
            terms["capacity"] = self.objective.capacity.value(step)
        loss = self.objective.loss(terms, step)
        return terms, loss

    def _generator(self, seed: int | None) -> keras.random.SeedGenerator:
        """The model's SeedGenerator, or a fresh one for an explicit int seed (reproducible calls)."""
        if seed is None:
            return self.seed_generator
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        return keras.random.SeedGenerator(seed)

    @property
    def vae_variables(self) -> list[tf.Variable]:
        """The trainable variables of the encoder and decoder (what ``self.optimizer`` updates)."""
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    @property
    def optimized_variables(self) -> list[tf.Variable]:
        """What ``self.optimizer`` updates: the encoder's and decoder's weights."""
        return self.vae_variables

    def _step(self) -> tf.Variable | int:
        return self.optimizer.iterations if self.optimizer is not None else 0

    def vae_step(self, x: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """One step of ``self.optimizer`` on the encoder and decoder; returns (terms, loss)."""
        with tf.GradientTape() as tape:
            terms, loss = self.compute_terms(x, training=True, step=self._step())
            total = loss + tf.add_n(self.losses) if self.losses else loss
        gradient_step(tape, total, self.vae_variables, self.optimizer)
        return terms, loss

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One optimiser step on a batch ``fit`` passes; the running means of the logged terms."""
        terms, loss = self.vae_step(observations_of(data))
        return self._update_metrics(terms, loss)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """The logged terms of a batch ``evaluate`` passes (no update); their running means."""
        terms, loss = self.compute_terms(observations_of(data), training=False, step=self._step())
        return self._update_metrics(terms, loss)

    # ------------------------------------------------------------------ encode, decode, sample

    def call(self, x: TensorLike, training: bool = False) -> tf.Tensor:
        """The mean reconstruction E[x | z = mean code of q(z|x)] (deterministic)."""
        return self.decode(self.latent.mean(self.posterior(x, training=training)), training=training)

    def encode(self, x: TensorLike, seed: int | None = None, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(mean code [B, event_size], one posterior sample [B, event_size]).

        Args:
            x: observations [B, ...].
            seed: int for a reproducible sample; default: the model's SeedGenerator.
        """
        posterior = self.posterior(x, training=training)
        generator = self._generator(seed)
        return self.latent.mean(posterior), self.latent.sample(posterior, seed=generator)

    def decode(self, z: TensorLike, mean: bool = True, training: bool = False) -> tf.Tensor:
        """E[x | z] (``mean=True``) or the raw decoder output (logits / means)."""
        output = self.decoder(z, training=training)
        return self.likelihood.mean(output) if mean else output

    # ------------------------------------------------------------------ the protocol of refvae.models.protocol

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """The shape of one observation the encoder takes."""
        return tuple(self.encoder.inputs[0].shape[1:])

    def _gaussian_part(self) -> tuple[int | None, int, latents.DiagonalGaussian]:
        """(index of the Gaussian part of a grouped latent or None for a Gaussian latent, its
        first event coordinate, the Gaussian family)."""
        if isinstance(self.latent, latents.DiagonalGaussian):
            return None, 0, self.latent
        offset = 0
        for index, part in enumerate(getattr(self.latent, "parts", ())):
            if isinstance(part, latents.DiagonalGaussian):
                return index, offset, part
            offset += part.event_size
        raise ValueError(f"the latent {self.latent!r} has no Gaussian part for the metrics to score")

    def code_posterior(self, x: TensorLike) -> tfp.distributions.Normal:
        """q(z | x) of the Gaussian code the metrics score: the whole latent of a Gaussian VAE, the
        Gaussian part of a grouped latent (InfoMax's, whose categorical part is a cluster label)."""
        index, _, _ = self._gaussian_part()
        posterior = self.posterior(x)
        return posterior if index is None else posterior.parts[index]

    @property
    def code_size(self) -> int:
        """D, the width of the Gaussian code the metrics score."""
        return self._gaussian_part()[2].event_size

    def decode_code(self, codes: TensorLike, like: TensorLike | None = None) -> tf.Tensor:
        """E[x | z] with the Gaussian code set to ``codes`` [n, D]; the other parts of the latent
        are the mean code of the observation ``like`` [1, ...] (needed when there are any)."""
        index, offset, gaussian = self._gaussian_part()
        codes = tf.convert_to_tensor(codes, dtype=self.decoder.compute_dtype)
        if index is None:
            return self.decode(codes)
        if like is None:
            raise ValueError("like must be an observation [1, ...] when the latent has parts besides the Gaussian code")
        mean = tf.cast(self.latent.mean(self.posterior(like)), codes.dtype)
        full = tf.repeat(mean[:1], tf.shape(codes)[0], axis=0)
        columns = tf.range(offset, offset + gaussian.event_size)[:, None]
        full = tf.transpose(tf.tensor_scatter_nd_update(tf.transpose(full), columns, tf.transpose(codes)))
        return self.decode(full)

    @property
    def estimated_tc_weight(self) -> float:
        """The weight of the minibatch TC estimate in the loss (refvae.runs' bias monitor reads it)."""
        return float(self.objective.weight("total_correlation"))

    def fit_marginals(self, x: Any, batch_size: int = 256) -> VAE:
        """Store the posterior parameters of reference data x for ``sample(source="marginals")``.

        Args:
            x: observations [N, ...] (typically the training set or a large subset).
            batch_size: encoder batch size.

        Returns:
            self.
        """
        if len(x) < 1:
            raise ValueError("x must hold at least one observation")
        params = [self.encoder(x[start:start + batch_size], training=False) for start in range(0, len(x), batch_size)]
        self._marginal_params = tf.concat(params, axis=0)
        return self

    def sample_latents(self, n: int, source: str = "prior", seed: int | None = None,
                       reference: Any = None) -> tf.Tensor:
        """n latent codes z [n, event_size] from the prior or from Π_j q(z_j).

        ``source="marginals"`` draws each unit j from the posterior of a different, uniformly
        chosen reference point: the product of the aggregate marginals Π_j q(z_j) with
        q(z_j) = (1/N) Σ_n q(z_j | x_n) (000 §5; Gao et al. sample it instead of N(0, I)).

        Args:
            n: number of codes.
            source: "prior" or "marginals".
            seed: int; default: the model's SeedGenerator.
            reference: observations whose posteriors define q(z_j); default: the data of
                the last ``fit_marginals`` call.
        """
        n = checks.integer(n, "n")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
        generator = self._generator(seed)
        if source == "prior":
            return self.latent.sample_prior(n, seed=generator)
        if reference is not None:
            self.fit_marginals(reference)
        if self._marginal_params is None:
            raise ValueError("sampling from the marginals needs reference data: call fit_marginals(x) "
                             "or pass reference=x")
        params = self._marginal_params
        owners = tf.constant(self.latent.unit_of_event)
        indices = keras.random.randint((n, self.latent.num_units), 0, tf.shape(params)[0], seed=generator)
        z = 0.0
        for unit in range(self.latent.num_units):
            z_unit = self.latent.sample(self.latent.posterior(tf.gather(params, indices[:, unit])), seed=generator)
            z = z + z_unit * tf.cast(tf.equal(owners, unit), z_unit.dtype)
        return z

    def sample(self, n: int, source: str = "prior", seed: int | None = None, reference: Any = None) -> tf.Tensor:
        """n generated observations E[x | z], z from the prior or from Π_j q(z_j) (see ``sample_latents``)."""
        return self.decode(self.sample_latents(n, source, seed, reference))

    # ------------------------------------------------------------------ saving

    def build(self, input_shape: Any = None) -> None:
        """Nothing to build: the encoder and decoder are built at construction."""
        # The encoder and decoder are built at construction; nothing else holds weights.
        self.built = True

    def get_config(self) -> dict[str, Any]:
        """The networks (serialised) and every constructor argument, for saving."""
        config = super().get_config()
        config.update(serialize_networks(self, self.NETWORKS))
        config.update({
            "latent": self.latent.get_config(),
            "likelihood": self.likelihood.get_config(),
            "objective": self.objective.get_config(),
            "dataset_size": self.dataset_size,
            "estimator": self.estimator,
            "decomposition": self.decomposition,
            "groups": None if self.groups is None else [list(group) for group in self.groups],
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        """The model of a :meth:`get_config` dict."""
        return cls(**deserialize_networks(config, cls.NETWORKS))


class TemperatureSchedule(keras.callbacks.Callback):
    """Anneal a Concrete temperature during ``fit`` (Jang et al. 2017, §4)::

        τ(step) = max(minimum, start · exp(−rate · step))

    The Concrete latent must hold its temperature as a scalar ``tf.Variable``
    (``refvae.latents.Concrete(K, temperature=tf.Variable(1.0))``); this callback assigns
    τ(step) before each training batch. A saved model keeps the temperature's last value.

    Args:
        temperature: the ``tf.Variable`` the Concrete latent reads.
        start: τ at step 0 (> 0).
        minimum: the floor τ never goes below (> 0; Jang et al. use 0.5).
        rate: decay rate per optimiser step (>= 0; Jang et al. use 1e-5 to 1e-4).

    Example::

        temperature = tf.Variable(1.0, trainable=False)
        latent = refvae.latents.Grouped([refvae.latents.DiagonalGaussian(10),
                                         refvae.latents.Concrete(10, temperature=temperature)])
        model.fit(x, callbacks=[TemperatureSchedule(temperature, start=1.0, minimum=0.5, rate=1e-4)])
    """

    def __init__(self, temperature: tf.Variable, start: float = 1.0, minimum: float = 0.5, rate: float = 1e-4) -> None:
        super().__init__()
        if not isinstance(temperature, tf.Variable) or temperature.shape.rank != 0:
            raise TypeError(f"temperature must be a scalar tf.Variable, got {temperature!r}")
        for name, value, low in (("start", start, 0.0), ("minimum", minimum, 0.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0):
            raise ValueError(f"rate must be a finite number >= 0, got {rate!r}")
        self.temperature = temperature
        self.start, self.minimum, self.rate = float(start), float(minimum), float(rate)

    def value(self, step: int) -> float:
        """τ(step) as a Python float."""
        return max(self.minimum, self.start * math.exp(-self.rate * step))

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Assign τ(step) of the optimiser's step to the temperature."""
        self.temperature.assign(self.value(int(self.model.optimizer.iterations.numpy())))


def build(spec: ModelSpec, config: RunConfig, dataset: GroundTruthData) -> VAE:
    """The VAE of a run: the catalogue objective of ``spec`` (``refvae.runs.registry``) with the
    hyperparameters of ``config``, a Gaussian latent of ``config.latent_dim`` dimensions, the
    networks of ``config.architecture`` for ``dataset``'s observations, a Bernoulli likelihood."""
    latent = latents.DiagonalGaussian(config.latent_dim)
    encoder, decoder = networks.for_run(config, tuple(dataset.observation_shape), latent)
    if spec.objective is None:
        raise ValueError(f"model {spec.name!r} names no objective of the catalogue, which this builder trains")
    objective = objectives.get(spec.objective, **config.hyperparameters)
    return VAE(encoder, decoder, latent, "bernoulli", objective, dataset_size=int(dataset.num_observations),
               estimator=config.estimator, seed=config.seed)

