"""Latent families on ``tfp.distributions``: the q(z|x) and p(z) of every model in refvae.

A latent family turns an encoder's output into a posterior, knows its prior, draws
reparameterised samples, and evaluates log-densities *per unit*. A unit is what the total
correlation treats as one variable z_d: one coordinate of a Gaussian latent, or one whole
relaxed one-hot vector of a Concrete latent (002 §5 treats the discrete variable as a
single "dimension" of the code). Every distribution object a family returns obeys one
small protocol, which the estimators and decompositions rely on:

    dist.log_prob(z) -> [..., num_units]   (z: [..., event_size], broadcast against the
                                             distribution's batch [B] / [B, D])

For a diagonal Gaussian that is simply ``tfd.Normal`` with batch shape [B, D]; the
Concrete and grouped families wrap their TFP distributions to follow it.

The pairwise density tensor of the β-TCVAE estimators (001 §4.1) is then one broadcasted
call::

    log_q_pairwise[i, j, d] = log q(z_i,d | x_j) = dist.log_prob(z[:, None, :])[i, j, d]

Concrete densities are evaluated in log space (``ExpRelaxedOneHotCategorical``, Maddison
et al. 2017) at y = log z. The change of variables z = exp(y) has a Jacobian that depends
on z alone, so it cancels in every difference of log-densities at the same point (KL,
mutual information, total correlation); refvae's Concrete log-densities are log-space
densities and all its ELBO terms are exact for the relaxed variable.

Example:
    >>> latent = Grouped([DiagonalGaussian(10), Concrete(10)])
    >>> latent.param_size, latent.event_size, latent.num_units, latent.groups[1]
    (30, 20, 11, [10])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from refvae import checks

if TYPE_CHECKING:
    from tensorflow.types.experimental import TensorLike

tfd = tfp.distributions

# What a family's ``sample`` takes as ``seed``: a keras.random.SeedGenerator (fresh noise on
# every call), an int (the same noise for the same int) or None.
Seed: TypeAlias = keras.random.SeedGenerator | int | None
# (tensors, rebuild): the tensors a distribution is made of, and a function that makes the
# same distribution from (recomputable copies of) them (see ``flatten_distribution``).
Flattened: TypeAlias = tuple[list[tf.Tensor], Callable[[Sequence[tf.Tensor]], Any]]


class UnitDistribution(Protocol):
    """The protocol of every distribution a family returns (see the module docstring)."""

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        """Per-unit log densities [..., num_units] of z [..., event_size]."""
        ...

    def mean(self) -> tf.Tensor:
        """The mean [..., event_size]."""
        ...


def _check_params(params: TensorLike, width: int, name: str = "params") -> tf.Tensor:
    params = tf.convert_to_tensor(params)
    if params.shape.rank != 2:
        raise ValueError(f"{name} must have shape [batch, {width}], got {params.shape}")
    if params.shape[-1] is not None and params.shape[-1] != width:
        raise ValueError(f"{name} must have {width} columns, got {params.shape[-1]}")
    return params


def flatten_distribution(dist: Any) -> Flattened | None:
    """(tensors, rebuild) with ``rebuild(tensors)`` the same distribution made of ``tensors``,
    or None when the distribution cannot be taken apart (then no recomputation is done).

    tfp distributions are composite tensors (``tf.nest`` flattens them); refvae's wrappers
    (``ConcreteUnit``, ``GroupedDistribution``) provide ``flatten_tensors``.
    """
    if hasattr(dist, "flatten_tensors"):
        return dist.flatten_tensors()
    flat = tf.nest.flatten(dist, expand_composites=True)
    if len(flat) == 1 and flat[0] is dist:
        return None
    return flat, lambda tensors: tf.nest.pack_sequence_as(dist, list(tensors), expand_composites=True)


# ------------------------------------------------------------ checks of the protocol's inputs

# Parameters that must be > 0 wherever a tfp distribution or a refvae wrapper has them.
_POSITIVE_PARAMETERS = frozenset(
    {"scale", "scale_diag", "temperature", "concentration", "concentration0", "concentration1", "rate", "df"}
)


def named_parameters(dist: Any, name: str = "distribution") -> list[tuple[str, tf.Tensor]]:
    """[(label, tensor)] of the floating-point parameters of ``dist``, labelled "<name> <parameter>".

    tfp distributions are read through their ``parameters`` (a wrapped distribution, as in
    ``tfd.Independent``, in turn); refvae's wrappers through their parts. A distribution of
    another kind gives [] (nothing is known of its parameters).

    Example:
        >>> [label for label, _ in named_parameters(tfd.Normal([0.0], [1.0]), "posterior")]
        ['posterior loc', 'posterior scale']
    """
    if isinstance(dist, GroupedDistribution):
        return [pair for i, part in enumerate(dist.parts) for pair in named_parameters(part, f"{name} part {i}")]
    if isinstance(dist, ConcreteUnit):
        items = [("logits", dist.logits), ("temperature", dist.temperature)]
    elif isinstance(dist, tfd.Distribution):
        # the attribute (a tensor in the distribution's dtype) where there is one
        items = [(key, getattr(dist, key, value) if tf.is_tensor(getattr(dist, key, None)) else value)
                 for key, value in dist.parameters.items()]
    else:
        return []
    pairs = []
    for key, value in items:
        if isinstance(value, (tfd.Distribution, ConcreteUnit, GroupedDistribution)):
            pairs.extend(named_parameters(value, f"{name} {key}"))
        elif tf.is_tensor(value) or isinstance(value, (float, np.ndarray, np.floating)):
            tensor = tf.convert_to_tensor(value)
            if tensor.dtype.is_floating:
                pairs.append((f"{name} {key}", tensor))
    return pairs


def distribution_dtype(dist: Any) -> tf.DType | None:
    """The float dtype ``dist`` computes in (None when it cannot be told)."""
    dtype = getattr(dist, "dtype", None) if isinstance(dist, tfd.Distribution) else None
    if dtype is not None and tf.as_dtype(dtype).is_floating:
        return tf.as_dtype(dtype)
    pairs = named_parameters(dist)
    return pairs[0][1].dtype if pairs else None


def real_tensor(value: Any, name: str) -> tf.Tensor:
    """``value`` as a real floating-point tensor; a TypeError naming ``name`` otherwise."""
    tensor = tf.convert_to_tensor(value)
    if not tensor.dtype.is_floating:
        raise TypeError(f"{name} must be a real floating-point tensor, got dtype {tensor.dtype.name}")
    return tensor


def check_dtype(name: str, dtype: Any, dist: Any, dist_name: str) -> None:
    """Refuse a tensor (or distribution) ``name`` of ``dtype`` beside ``dist`` of another float
    dtype, naming both (TensorFlow's own message names neither). Costs nothing in a graph: the
    dtypes are static."""
    expected = distribution_dtype(dist)
    if dtype is not None and expected is not None and tf.as_dtype(dtype) != expected:
        dtype = tf.as_dtype(dtype)
        if hasattr(dist, "log_prob") and name in ("prior", "posterior"):
            remedy = f"build both in one dtype (e.g. latent.prior(tf.{expected.name}))"
        else:
            remedy = f"cast one (e.g. tf.cast({name}, tf.{expected.name})) or build {dist_name} in {dtype.name}"
        raise TypeError(f"{name} has dtype {dtype.name} but {dist_name} has dtype {expected.name}: they must match; "
                        f"{remedy}")


def check_parameters(dist: Any, name: str = "distribution") -> None:
    """Refuse, when eager, a distribution with a non-finite parameter, or a scale (temperature,
    rate, concentration) <= 0, naming the parameter: such a distribution's log densities are
    NaN or infinite, and saying so names the symptom, not the cause. Inside ``tf.function``
    it does nothing (no per-step cost); the callers' graph checks stay as they are."""
    if not tf.executing_eagerly():
        return
    for label, tensor in named_parameters(dist, name):
        values = tensor.numpy()
        if not np.all(np.isfinite(values)):
            found = [word for word, hit in (("NaN", np.isnan(values).any()), ("+inf", np.isposinf(values).any()),
                                            ("-inf", np.isneginf(values).any())) if hit]
            raise ValueError(f"{label} must be finite, found {' and '.join(found)}")
        if label.rsplit(" ", 1)[-1] in _POSITIVE_PARAMETERS and values.size and values.min() <= 0:
            raise ValueError(f"{label} must be > 0, got min {values.min():g}")



# ----------------------------------------------------------------- distribution wrappers


class ConcreteUnit:
    """A relaxed one-hot variable seen as one unit: ``log_prob`` returns [..., 1].

    Wraps ``tfd.ExpRelaxedOneHotCategorical`` (batch [B], event [K]) and evaluates it at
    y = log z, so a caller passes the relaxed one-hot vector z itself.
    """

    def __init__(self, logits: tf.Tensor, temperature: tf.Tensor) -> None:
        self.logits = logits
        self.temperature = temperature
        self.distribution = tfd.ExpRelaxedOneHotCategorical(temperature, logits=logits)

    @property
    def probs(self) -> tf.Tensor:
        """Class probabilities of the underlying categorical, softmax(logits)."""
        return tf.nn.softmax(self.logits, axis=-1)

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        # The smallest entries of a confident relaxed one-hot sample can underflow to 0;
        # floor them at the dtype's smallest normal number so log z stays finite.
        log_z = tf.math.log(tf.maximum(z, np.finfo(z.dtype.as_numpy_dtype).tiny))
        return self.distribution.log_prob(log_z)[..., None]

    def mean(self) -> tf.Tensor:
        return self.probs

    def flatten_tensors(self) -> Flattened:
        """(tensors, rebuild): the tensors this distribution is made of, and a function that
        makes the same distribution from (recomputable copies of) them."""
        return [self.logits, self.temperature], lambda tensors: ConcreteUnit(*tensors)


class GroupedDistribution:
    """Several unit-protocol distributions side by side over consecutive slices of z."""

    def __init__(self, parts: Iterable[UnitDistribution], event_sizes: Iterable[int]) -> None:
        self.parts = list(parts)
        self.event_sizes = list(event_sizes)

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        pieces = tf.split(z, self.event_sizes, axis=-1)
        return tf.concat([part.log_prob(piece) for part, piece in zip(self.parts, pieces)], axis=-1)

    def mean(self) -> tf.Tensor:
        return tf.concat([part.mean() for part in self.parts], axis=-1)

    def flatten_tensors(self) -> Flattened | None:
        """(tensors, rebuild) of every part, concatenated (see ``ConcreteUnit.flatten_tensors``)."""
        flats = [flat for flat in (flatten_distribution(part) for part in self.parts) if flat is not None]
        if len(flats) < len(self.parts):
            return None
        sizes = [len(tensors) for tensors, _ in flats]

        def rebuild(tensors: Sequence[tf.Tensor]) -> GroupedDistribution:
            parts, start = [], 0
            for (_, rebuild_part), size in zip(flats, sizes):
                parts.append(rebuild_part(list(tensors[start:start + size])))
                start += size
            return GroupedDistribution(parts, self.event_sizes)

        return [t for tensors, _ in flats for t in tensors], rebuild


# ------------------------------------------------------------------------ the families


class Latent:
    """Base class: the interface every latent family provides (see the module docstring)."""

    name: str
    param_size: int
    event_size: int
    num_units: int

    @property
    def groups(self) -> list[list[int]]:
        """Lists of unit indices, one list a group (HFVAE's z_d of 002 Fig 3)."""
        return [list(range(self.num_units))]

    @property
    def unit_of_event(self) -> list[int]:
        """For each coordinate of z (event_size of them), the index of its unit."""
        if self.num_units == self.event_size:
            return list(range(self.event_size))
        return [0] * self.event_size

    def posterior(self, params: TensorLike) -> Any:
        """q(z|x) from an encoder's output ``params`` [batch, param_size]: a distribution of this
        family (``tfd.Normal``, ``ConcreteUnit``, ``GroupedDistribution``), a ``UnitDistribution``."""
        raise NotImplementedError

    def prior(self, dtype: tf.DType = tf.float32) -> Any:
        """The prior p(z), event [event_size] (a distribution like those of ``posterior``)."""
        raise NotImplementedError

    def prior_batch(self, n: int | tf.Tensor, dtype: tf.DType = tf.float32) -> Any:
        """The prior with a leading batch of n data points, shaped like a posterior."""
        raise NotImplementedError

    def sample_prior(self, n: int | tf.Tensor, seed: Seed = None, dtype: tf.DType = tf.float32) -> tf.Tensor:
        """n reparameterised samples z [n, event_size] from the prior p(z)."""
        return self.sample(self.prior_batch(n, dtype), seed=seed)

    def sample(self, posterior: Any, seed: Seed = None) -> tf.Tensor:
        """Reparameterised samples z [batch, event_size] of a distribution of this family."""
        raise NotImplementedError

    def mean(self, posterior: Any) -> tf.Tensor:
        """A deterministic code: the posterior mean (softmax probabilities for Concrete)."""
        return posterior.mean()

    def log_prob_units(self, dist: UnitDistribution, z: tf.Tensor) -> tf.Tensor:
        """Per-unit log densities [..., num_units] of z under ``dist`` (posterior or prior)."""
        return dist.log_prob(z)

    def log_q_pairwise(self, z: TensorLike, posterior: UnitDistribution) -> tf.Tensor:
        """log q(z_i,d | x_j) as a tensor [M, B, num_units] (z: [M, event_size]).

        Materialises the whole tensor: for teaching and small batches. The estimators
        compute the same entries chunk by chunk.
        """
        z = tf.convert_to_tensor(z)
        if z.shape.rank != 2:
            raise ValueError(f"z must have shape [M, {self.event_size}], got {z.shape}")
        return posterior.log_prob(z[:, None, :])

    def get_config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this family with :func:`get`, and its name."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class DiagonalGaussian(Latent):
    """q(z|x) = Π_d N(z_d; μ_d(x), σ_d(x)²), prior p(z) = N(0, I).

    The encoder emits 2·dim numbers per data point: the means, then either a raw scale
    mapped through softplus (σ = softplus(s) + min_scale) or a log-variance
    (σ = exp(½ log σ²)). Samples are reparameterised, z = μ + σ ε with ε ~ N(0, I)
    (Kingma & Welling 2014; 003 §3.2).

    Args:
        dim: number of latent dimensions D.
        parameterization: "softplus" (default) or "log_var".
        min_scale: lower bound added to a softplus scale, keeping log q finite.
    """

    name = "gaussian"

    def __init__(self, dim: int, parameterization: str = "softplus", min_scale: float = 1e-5) -> None:
        self.dim = checks.integer(dim, "dim")
        if parameterization not in ("softplus", "log_var"):
            raise ValueError(f"parameterization must be 'softplus' or 'log_var', got {parameterization!r}")
        if not min_scale >= 0:
            raise ValueError(f"min_scale must be >= 0, got {min_scale!r}")
        self.parameterization = parameterization
        self.min_scale = float(min_scale)
        self.param_size = 2 * self.dim
        self.event_size = self.dim
        self.num_units = self.dim

    def posterior(self, params: TensorLike) -> tfp.distributions.Normal:
        params = _check_params(params, self.param_size)
        loc, raw = tf.split(params, 2, axis=-1)
        if self.parameterization == "softplus":
            scale = tf.nn.softplus(raw) + self.min_scale
        else:
            scale = tf.exp(0.5 * raw)
        return tfd.Normal(loc=loc, scale=scale)

    def prior(self, dtype: tf.DType = tf.float32) -> tfp.distributions.Normal:
        return tfd.Normal(loc=tf.zeros([self.dim], dtype), scale=tf.ones([self.dim], dtype))

    def prior_batch(self, n: int | tf.Tensor, dtype: tf.DType = tf.float32) -> tfp.distributions.Normal:
        return tfd.Normal(loc=tf.zeros(tf.stack([n, self.dim]), dtype), scale=tf.ones(tf.stack([n, self.dim]), dtype))

    def sample(self, posterior: tfp.distributions.Normal, seed: Seed = None) -> tf.Tensor:
        """z = μ + σ ε. ``seed``: a ``keras.random.SeedGenerator`` (fresh noise on every
        call, what a training step needs) or an int (the same noise for the same int)."""
        loc = posterior.loc
        noise = keras.random.normal(tf.shape(loc), dtype=loc.dtype, seed=seed)
        return loc + posterior.scale * noise

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "parameterization": self.parameterization,
            "min_scale": self.min_scale,
        }


class Concrete(Latent):
    """A relaxed one-hot (Concrete / Gumbel-softmax) variable with K classes, one unit.

    q(z|x) = Concrete(softmax logits α(x), temperature τ): z = softmax((α + g) / τ) with
    g_k i.i.d. Gumbel(0, 1) (Maddison et al. 2017; Jang et al. 2017; 003 eq 4.20). The
    prior is the Concrete relaxation of the uniform categorical at the same temperature,
    as in HFVAE's discrete variables (002 §5). ``categorical_kl`` gives the analytic
    KL(Cat(softmax α) ‖ Uniform(K)) = log K − H(q) that 003 §4.3 reports.

    Args:
        num_classes: K.
        temperature: τ > 0 (float, or a scalar ``tf.Variable`` for annealing).
        straight_through: if True, ``sample`` returns the hard one-hot vector in the
            forward pass with the relaxed gradient (Bengio et al. 2013); the densities are
            still those of the relaxed variable.
    """

    name = "concrete"

    def __init__(self, num_classes: int, temperature: float | tf.Variable = 0.67,
                 straight_through: bool = False) -> None:
        self.num_classes = checks.integer(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if isinstance(temperature, (int, float)) and not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = temperature
        self.straight_through = bool(straight_through)
        self.param_size = self.num_classes
        self.event_size = self.num_classes
        self.num_units = 1

    def _temperature(self, dtype: tf.DType) -> tf.Tensor:
        # A Python number goes straight to ``dtype``: tf.cast(0.67, tf.float64) would first
        # round it to float32 (0.67000001669), shifting float64 densities by ~1e-7.
        if isinstance(self.temperature, (int, float, np.floating, np.integer)):
            return tf.constant(self.temperature, dtype)
        return tf.cast(self.temperature, dtype)

    def posterior(self, params: TensorLike) -> ConcreteUnit:
        logits = _check_params(params, self.param_size)
        return ConcreteUnit(logits, self._temperature(logits.dtype))

    def prior(self, dtype: tf.DType = tf.float32) -> ConcreteUnit:
        return ConcreteUnit(tf.zeros([self.num_classes], dtype), self._temperature(dtype))

    def prior_batch(self, n: int | tf.Tensor, dtype: tf.DType = tf.float32) -> ConcreteUnit:
        return ConcreteUnit(tf.zeros(tf.stack([n, self.num_classes]), dtype), self._temperature(dtype))

    def sample(self, posterior: ConcreteUnit, seed: Seed = None) -> tf.Tensor:
        logits = posterior.logits
        uniform = keras.random.uniform(
            tf.shape(logits), minval=np.finfo(np.float32).tiny, maxval=1.0, dtype=logits.dtype, seed=seed
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        relaxed = tf.nn.softmax((logits + gumbel) / posterior.temperature, axis=-1)
        if not self.straight_through:
            return relaxed
        hard = tf.one_hot(tf.argmax(relaxed, axis=-1), self.num_classes, dtype=relaxed.dtype)
        return relaxed + tf.stop_gradient(hard - relaxed)

    def categorical_kl(self, posterior: ConcreteUnit) -> tf.Tensor:
        """KL(Cat(softmax α) ‖ Uniform(K)) = log K − H(q), per data point [B]."""
        log_probs = tf.nn.log_softmax(posterior.logits, axis=-1)
        return tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1) + math.log(self.num_classes)

    def get_config(self) -> dict[str, Any]:
        temperature = self.temperature
        if not isinstance(temperature, (int, float)):
            temperature = float(tf.convert_to_tensor(temperature).numpy())
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "temperature": temperature,
            "straight_through": self.straight_through,
        }


class Grouped(Latent):
    """Several latent families side by side; each family is one group of units.

    z = [z_1, …, z_G] concatenated; the encoder output is split in the same order. The
    groups are what HFVAE's two-level decomposition (002 Fig 3) sums over: the total
    correlation *between* groups (Ⓐ) and *within* each group (ⓘ).

    Example: ``Grouped([DiagonalGaussian(10), Concrete(10)])``, the 10 + 10 latent of 002.
    """

    name = "grouped"

    def __init__(self, parts: Iterable[Latent | dict[str, Any]]) -> None:
        families = [get(part) if not isinstance(part, Latent) else part for part in parts]
        if not families:
            raise ValueError("parts must hold at least one latent family")
        self.parts = families
        self.param_size = sum(part.param_size for part in families)
        self.event_size = sum(part.event_size for part in families)
        self.num_units = sum(part.num_units for part in families)

    @property
    def groups(self) -> list[list[int]]:
        groups, start = [], 0
        for part in self.parts:
            groups.append(list(range(start, start + part.num_units)))
            start += part.num_units
        return groups

    @property
    def unit_of_event(self) -> list[int]:
        owners: list[int] = []
        offset = 0
        for part in self.parts:
            owners += [offset + unit for unit in part.unit_of_event]
            offset += part.num_units
        return owners

    def prior_batch(self, n: int | tf.Tensor, dtype: tf.DType = tf.float32) -> GroupedDistribution:
        return GroupedDistribution(
            [part.prior_batch(n, dtype) for part in self.parts], [part.event_size for part in self.parts]
        )

    def posterior(self, params: TensorLike) -> GroupedDistribution:
        params = _check_params(params, self.param_size)
        pieces = tf.split(params, [part.param_size for part in self.parts], axis=-1)
        return GroupedDistribution(
            [part.posterior(piece) for part, piece in zip(self.parts, pieces)],
            [part.event_size for part in self.parts],
        )

    def prior(self, dtype: tf.DType = tf.float32) -> GroupedDistribution:
        return GroupedDistribution(
            [part.prior(dtype) for part in self.parts], [part.event_size for part in self.parts]
        )

    def sample(self, posterior: GroupedDistribution, seed: Seed = None) -> tf.Tensor:
        if seed is None or isinstance(seed, keras.random.SeedGenerator):
            seeds = [seed] * len(self.parts)
        else:
            seeds = [int(seed) + offset for offset in range(len(self.parts))]
        return tf.concat(
            [part.sample(dist, s) for part, dist, s in zip(self.parts, posterior.parts, seeds)], axis=-1
        )

    def mean(self, posterior: GroupedDistribution) -> tf.Tensor:
        return tf.concat([part.mean(dist) for part, dist in zip(self.parts, posterior.parts)], axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "parts": [part.get_config() for part in self.parts]}


_FAMILIES = {cls.name: cls for cls in (DiagonalGaussian, Concrete, Grouped)}


def get(identifier: Latent | str | dict[str, Any], **kwargs: Any) -> Latent:
    """Build a latent family from a name and keyword arguments, or from a config dict.

    >>> get("gaussian", dim=10)
    DiagonalGaussian(dim=10, parameterization='softplus', min_scale=1e-05)
    >>> get({"name": "concrete", "num_classes": 10}).num_units
    1
    """
    if isinstance(identifier, Latent):
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        name = config.pop("name", None)
        return get(name, **config, **kwargs)
    if identifier not in _FAMILIES:
        raise ValueError(f"unknown latent family {identifier!r}; known: {sorted(_FAMILIES)}")
    return _FAMILIES[identifier](**kwargs)
