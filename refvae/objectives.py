"""Objectives: weights on the named terms of the ELBO decompositions.

The papers' objectives differ only in how they weigh the terms of one decomposition
(002 Table 1). An :class:`Objective` makes that literal: it is an immutable value holding
one weight per term name, an optional capacity constraint, and the citation it comes from.
Its :meth:`Objective.loss` turns a dict of terms into the scalar a model minimises.

Sign convention (every term is a positive-quantity name, in nats per data point, batch mean;
see ``refvae.decompositions``)::

    loss = - Σ_{t ∈ GAINS} w_t · t  +  Σ_{t ∉ GAINS} w_t · t  [+ γ |term − C(step)|]

``GAINS`` are the terms that enter the ELBO with a plus sign: ``reconstruction``
(E[log p(x|z)]), ``elbo`` itself, and the prior total correlations of 002 Fig. 3
(``prior_between_group_tc``, ``prior_within_group_tc``). Every other term is a penalty
(``kl``, ``index_code_mi``, ``total_correlation``, ``dimwise_kl``, ``marginal_kl``,
``between_group_tc``, ``within_group_tc``, ``posterior_variance``, ``dip_*``, ``mmd``,
``kl_per_dim``). So all weights of the catalogue are non-negative and the loss is the
negative of the weighted objective: with the plain VAE weights it is the negative ELBO.

The catalogue (:func:`get`)::

    name            loss                                                          source
    vae             -rec + kl                                                     Kingma & Welling; 001 eq 1
    beta-vae        -rec + β kl                                                   Higgins et al.; 003 eq 3.17
    capacity        -rec + γ |kl − C(step)|                                       Burgess et al.; 003 eq 3.19
    beta-tcvae      -rec + α index_code_mi + β total_correlation + γ dimwise_kl   001 eq 4
    factor-vae      -rec + kl + γ total_correlation                               Kim & Mnih; 002 Table 1
    dip-vae-i       -rec + kl + λ_od Σ_{i≠j} Cov[μ]_ij² + λ_d Σ_i (Cov[μ]_ii − 1)²   Kumar et al.
    dip-vae-ii      the same on Cov_q(z) = Cov[μ] + E[diag σ²]                    Kumar et al.
    info-vae        -rec + λ marginal_kl   (or λ mmd)                             Zhao et al.; 002 Table 1
    achille-soatto  -rec + β index_code_mi + γ total_correlation                  Achille & Soatto; 002 Table 1
    hfvae           -rec + α index_code_mi + β (between_group_tc − prior_between_group_tc)
                         + γ (within_group_tc − prior_within_group_tc) + dimwise_kl   002 eq 4 (corrected)
    anchor-vae      -rec + Σ_{d∉a} kl_d + (1 − λ) Σ_{d∈a} kl_d                    000 eq 21
    rtc             -rec + kl + β total_correlation + η Σ_k E_n[σ_k²(n)]          004 eq 4

The term names come from the modules that compute the terms: ``refvae.decompositions.TERMS``
(the ELBO decompositions) and ``refvae.terms`` (posterior variance, the DIP covariance
penalties, MMD, the per-unit KL); a model computes only those its objective names.

Example::

    objective = refvae.objectives.get("beta-tcvae", beta=6.0)
    loss = objective.loss(terms, step)        # terms: dict of scalar tensors
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from refvae import decompositions

# The term functions lived here before refvae.terms; their old names keep working.
from refvae.terms import (  # noqa: F401
    EXTRA_TERMS,
    VECTOR_TERMS,
    covariance_penalties,
    dip_covariance,
    kl_per_dim,
    mmd,
    posterior_variance,
)

# Terms that enter the ELBO with a plus sign: they are subtracted in the loss.
GAINS = frozenset({"reconstruction", "elbo", "prior_between_group_tc", "prior_within_group_tc"})

# Every term an objective may weigh: those of the decompositions and of refvae.terms.
KNOWN_TERMS = frozenset().union(*decompositions.TERMS.values(), EXTRA_TERMS)


def _check_weight(name: str, value: object, *, low: float = 0.0, high: float = math.inf) -> float:
    """A finite float in [low, high], else ValueError naming the hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        bound = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class UnitWeights:
    """Weights on a per-unit vector term: ``default`` everywhere, ``overrides`` at some units.

    Used by AnchorVAE (000 eq 21), whose KL weight is 1 on ordinary units and 1 − λ on the
    anchored ones; the number of units is only known when the term is evaluated.

    Args:
        default: weight of every unit not in ``overrides``.
        overrides: pairs ``(unit index, weight)``.

    Example::

        UnitWeights(1.0, ((0, 0.5), (3, 0.5))).vector(5)   # [0.5, 1, 1, 0.5, 1]
    """

    default: float = 1.0
    overrides: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "default", _check_weight("default", self.default))
        pairs = []
        for pair in self.overrides:
            if len(pair) != 2 or isinstance(pair[0], bool) or not isinstance(pair[0], int) or pair[0] < 0:
                raise ValueError(f"overrides must hold (unit index >= 0, weight) pairs, got {pair!r}")
            pairs.append((int(pair[0]), _check_weight(f"weight of unit {pair[0]}", pair[1])))
        indices = [index for index, _ in pairs]
        if len(set(indices)) != len(indices):
            raise ValueError(f"overrides name a unit more than once: {indices}")
        object.__setattr__(self, "overrides", tuple(sorted(pairs)))

    def vector(self, num_units: int) -> list[float]:
        """The weights as a list of ``num_units`` floats; ValueError if an index is out of range."""
        weights = [self.default] * num_units
        for index, weight in self.overrides:
            if index >= num_units:
                raise ValueError(f"unit index {index} out of range for a term with {num_units} units")
            weights[index] = weight
        return weights

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``overrides`` as lists)."""
        return {"default": self.default, "overrides": [list(pair) for pair in self.overrides]}


@dataclasses.dataclass(frozen=True)
class Capacity:
    """The capacity constraint γ |term − C(step)| (003 eq 3.19; Burgess et al. 2018).

    C grows linearly from 0 to ``c_max`` over ``anneal_steps`` optimiser steps, then stays::

        C(step) = c_max · min(1, step / anneal_steps)      (C = c_max if anneal_steps == 0)

    Args:
        c_max: final capacity C in nats (>= 0).
        anneal_steps: number of steps of the linear ramp (>= 0).
        gamma: weight γ of the absolute deviation (> 0).
        term: the term held near C; the KL of the ELBO by default.
    """

    c_max: float
    anneal_steps: int = 0
    gamma: float = 1000.0
    term: str = "kl"

    def __post_init__(self) -> None:
        object.__setattr__(self, "c_max", _check_weight("capacity", self.c_max))
        if isinstance(self.anneal_steps, bool) or not isinstance(self.anneal_steps, int) or self.anneal_steps < 0:
            raise ValueError(f"anneal_steps must be an int >= 0, got {self.anneal_steps!r}")
        gamma = _check_weight("gamma", self.gamma)
        if gamma == 0.0:
            raise ValueError("gamma must be > 0 for a capacity objective, got 0.0")
        object.__setattr__(self, "gamma", gamma)
        if self.term not in KNOWN_TERMS - VECTOR_TERMS - GAINS:
            raise ValueError(f"term must be a scalar penalty term, one of "
                             f"{sorted(KNOWN_TERMS - VECTOR_TERMS - GAINS)}, got {self.term!r}")

    def value(self, step: int | tf.Tensor) -> tf.Tensor:
        """C(step) as a float32 tensor (step: int or integer tensor)."""
        if self.anneal_steps == 0:
            return tf.constant(self.c_max, tf.float32)
        fraction = tf.cast(step, tf.float32) / float(self.anneal_steps)
        return self.c_max * tf.minimum(1.0, fraction)

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``Capacity(**config)`` rebuilds it."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Objective:
    """An objective of the papers as weights on named terms.

    ::

        loss(terms, step) = - Σ_{t ∈ GAINS} w_t t + Σ_{t ∉ GAINS} w_t t  [+ γ |c − C(step)|]

    Args:
        name: the catalogue name (or any label).
        weights: term name -> non-negative float; for a per-unit term (``kl_per_dim``) a
            :class:`UnitWeights`.
        capacity: optional :class:`Capacity`.
        citation: paper and equation.

    Example::

        objective = Objective("beta-vae", {"reconstruction": 1.0, "kl": 4.0})
        objective.loss({"reconstruction": tf.constant(-80.0), "kl": tf.constant(10.0)}, 0)  # 120.0
    """

    name: str
    weights: Mapping[str, float | UnitWeights]
    capacity: Capacity | None = None
    citation: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise ValueError(f"weights must be a non-empty dict of term name -> weight, got {self.weights!r}")
        checked: dict[str, float | UnitWeights] = {}
        for term, weight in self.weights.items():
            if term not in KNOWN_TERMS:
                raise ValueError(f"unknown term {term!r} in weights; known terms: {sorted(KNOWN_TERMS)}")
            if term in VECTOR_TERMS:
                if not isinstance(weight, UnitWeights):
                    weight = UnitWeights(_check_weight(f"weight of {term}", weight))
            else:
                weight = _check_weight(f"weight of {term}", weight)
            checked[term] = weight
        object.__setattr__(self, "weights", _FrozenDict(checked))
        if self.capacity is not None and not isinstance(self.capacity, Capacity):
            raise TypeError(f"capacity must be a Capacity or None, got {type(self.capacity).__name__}")

    @property
    def required_terms(self) -> frozenset[str]:
        """The set of term names :meth:`loss` reads."""
        terms = set(self.weights)
        if self.capacity is not None:
            terms.add(self.capacity.term)
        return frozenset(terms)

    def loss(self, terms: Mapping[str, tf.Tensor], step: int | tf.Tensor = 0) -> tf.Tensor:
        """The scalar loss (negative weighted objective) from a dict of terms.

        Args:
            terms: term name -> scalar tensor (``kl_per_dim``: a [num_units] tensor), nats,
                batch means. Extra keys are ignored.
            step: optimiser step (int or integer tensor), used by the capacity schedule.

        Returns:
            A float32 scalar tensor.
        """
        missing = sorted(self.required_terms - set(terms))
        if missing:
            raise ValueError(f"objective {self.name!r} needs the terms {missing}, which are missing "
                             f"from terms (got {sorted(terms)})")
        loss = tf.constant(0.0, tf.float32)
        for term, weight in self.weights.items():
            value = tf.cast(terms[term], tf.float32)
            if isinstance(weight, UnitWeights):   # the weight of a vector term (see __post_init__)
                if value.shape.rank != 1 or value.shape[0] is None:
                    raise ValueError(f"term {term!r} must be a vector with a known length, got shape {value.shape}")
                value = tf.reduce_sum(tf.constant(weight.vector(value.shape[0]), tf.float32) * value)
            elif value.shape.rank != 0:
                raise ValueError(f"term {term!r} must be a scalar, got shape {value.shape}")
            else:
                value = weight * value
            loss = loss - value if term in GAINS else loss + value
        if self.capacity is not None:
            deviation = tf.cast(terms[self.capacity.term], tf.float32) - self.capacity.value(step)
            loss = loss + self.capacity.gamma * tf.abs(deviation)
        return loss

    def weight(self, term: str, default: float = 0.0) -> float:
        """The weight of the scalar term ``term``, ``default`` when the objective does not weigh it.

        Raises:
            TypeError: ``term`` is a vector term (its weights are ``weights[term]``, a UnitWeights).
        """
        value = self.weights.get(term, default)
        if isinstance(value, UnitWeights):
            raise TypeError(f"{term!r} is a vector term: its weights are Objective.weights[{term!r}]")
        return value

    @property
    def formula(self) -> str:
        """The loss as readable text, e.g. ``-reconstruction + 4*kl``."""
        parts = []
        for term, weight in self.weights.items():
            sign = "-" if term in GAINS else "+"
            if isinstance(weight, UnitWeights):
                text = f"Σ_d w_d·{term}[d] (w = {weight.default:g}"
                text += "".join(f", w[{i}] = {w:g}" for i, w in weight.overrides) + ")"
            else:
                text = term if weight == 1.0 else f"{weight:g}*{term}"
            parts.append(f"{sign} {text}")
        if self.capacity is not None:
            c = self.capacity
            schedule = f"{c.c_max:g}" if c.anneal_steps == 0 else f"C(step; {c.c_max:g}, {c.anneal_steps})"
            parts.append(f"+ {c.gamma:g}*|{c.term} - {schedule}|")
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_config` rebuilds the same objective."""
        weights = {term: (weight.get_config() if isinstance(weight, UnitWeights) else weight)
                   for term, weight in self.weights.items()}
        return {"name": self.name, "weights": weights,
                "capacity": None if self.capacity is None else self.capacity.get_config(),
                "citation": self.citation}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Objective:
        """The objective of a :meth:`get_config` dict."""
        weights = {}
        for term, weight in config["weights"].items():
            if isinstance(weight, Mapping):
                weight = UnitWeights(weight["default"], tuple(tuple(pair) for pair in weight["overrides"]))
            weights[term] = weight
        capacity = None if config.get("capacity") is None else Capacity(**config["capacity"])
        return cls(config["name"], weights, capacity, config.get("citation", ""))


class _FrozenDict(dict):
    """A dict that refuses mutation, so an Objective stays immutable and hashable."""

    def _immutable(self, *args: object, **kwargs: object) -> None:
        raise TypeError("Objective.weights is immutable; build a new Objective instead")

    # One refusing method for every mutator (their signatures differ, hence the ignore).
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _immutable  # type: ignore[assignment]

    # dict declares __hash__ = None (a mutable dict is unhashable); this one refuses mutation.
    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


# ---------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------


def vae() -> Objective:
    """The ELBO (Kingma & Welling 2014; 001 eq 1 with β = 1): loss = −rec + kl."""
    return Objective("vae", {"reconstruction": 1.0, "kl": 1.0},
                     citation="Kingma & Welling 2014; 001 eq 1 (beta = 1); 002 Table 1 row 1")


def beta_vae(beta: float = 4.0) -> Objective:
    """β-VAE (Higgins et al. 2017; 003 eq 3.17; 002 Table 1): loss = −rec + β kl.

    Args:
        beta: KL weight β >= 0 (β > 1 for disentanglement; the disentanglement_lib sweep is
            1, 2, 4, 6, 8, 16).
    """
    return Objective("beta-vae", {"reconstruction": 1.0, "kl": _check_weight("beta", beta)},
                     citation="Higgins et al. 2017; 003 eq 3.17; 002 Table 1 row 2")


def capacity(capacity: float = 25.0, gamma: float = 1000.0, anneal_steps: int = 100_000) -> Objective:
    """Capacity-annealed β-VAE (Burgess et al. 2018; 003 eq 3.19; 002 Table 1)::

        loss = −rec + γ |kl − C(step)|,   C(step) = C_max · min(1, step / anneal_steps)

    Args:
        capacity: C_max in nats (disentanglement_lib sweep 5 … 100).
        gamma: γ > 0 (1000 in disentanglement_lib).
        anneal_steps: steps of the linear ramp of C from 0 (100,000 in disentanglement_lib).
    """
    return Objective("capacity", {"reconstruction": 1.0},
                     capacity=Capacity(capacity, anneal_steps, gamma, "kl"),
                     citation="Burgess et al. 2018; Alemi et al. 2018; 003 eq 3.19; 002 Table 1 row 5")


def beta_tcvae(alpha: float = 1.0, beta: float = 6.0, gamma: float = 1.0) -> Objective:
    """β-TCVAE (001 eq 4)::

        loss = −rec + α index_code_mi + β total_correlation + γ dimwise_kl

    α = β = γ = 1 gives the negative ELBO for a factorised prior; the paper keeps α = γ = 1
    and tunes β.

    Args:
        alpha, beta, gamma: weights >= 0 of the three terms of 001 eq 2.
    """
    return Objective("beta-tcvae", {"reconstruction": 1.0,
                                    "index_code_mi": _check_weight("alpha", alpha),
                                    "total_correlation": _check_weight("beta", beta),
                                    "dimwise_kl": _check_weight("gamma", gamma)},
                     citation="Chen et al. 2018, 001 eq 4")


def factor_vae(gamma: float = 10.0) -> Objective:
    """FactorVAE (Kim & Mnih 2018; 002 Table 1 "①+②+③+④+β④*")::

        loss = −rec + kl + γ total_correlation

    Kim & Mnih estimate the TC with a discriminator (density-ratio trick, 004 eq 8); this
    entry only names the term, so any estimator of ``total_correlation`` can feed it.

    Args:
        gamma: extra TC weight γ >= 0 (disentanglement_lib sweep 10 … 100).
    """
    return Objective("factor-vae", {"reconstruction": 1.0, "kl": 1.0,
                                    "total_correlation": _check_weight("gamma", gamma)},
                     citation="Kim & Mnih 2018; 002 Table 1 row 8")


def _dip(variant: str, lambda_od: float, lambda_d: float | None) -> Objective:
    lambda_od = _check_weight("lambda_od", lambda_od)
    if lambda_d is None:
        lambda_d = 10.0 * lambda_od if variant == "i" else lambda_od
    lambda_d = _check_weight("lambda_d", lambda_d)
    return Objective(f"dip-vae-{variant}", {"reconstruction": 1.0, "kl": 1.0,
                                            f"dip_{variant}_off_diagonal": lambda_od,
                                            f"dip_{variant}_diagonal": lambda_d},
                     citation=f"Kumar et al. 2018 (DIP-VAE-{variant.upper()}); 002 Table 1 row 3")


def dip_vae_i(lambda_od: float = 10.0, lambda_d: float | None = None) -> Objective:
    """DIP-VAE-I (Kumar et al. 2018): match the covariance of the mean codes to I::

        loss = −rec + kl + λ_od Σ_{i≠j} Cov[μ]_ij² + λ_d Σ_i (Cov[μ]_ii − 1)²

    Kumar et al. approximate ④ = KL(q(z) ‖ p(z)) by moment matching (002 Table 1 row 3).

    Args:
        lambda_od: off-diagonal weight λ_od >= 0.
        lambda_d: diagonal weight λ_d >= 0; default 10 λ_od (disentanglement_lib).
    """
    return _dip("i", lambda_od, lambda_d)


def dip_vae_ii(lambda_od: float = 10.0, lambda_d: float | None = None) -> Objective:
    """DIP-VAE-II (Kumar et al. 2018): the same penalties on the covariance of q(z)::

        Cov_q(z)[z] = Cov[μ] + E[diag σ²]

    Args:
        lambda_od: off-diagonal weight λ_od >= 0.
        lambda_d: diagonal weight λ_d >= 0; default λ_od (disentanglement_lib).
    """
    return _dip("ii", lambda_od, lambda_d)


def info_vae(lam: float = 1.0, divergence: str = "kl") -> Objective:
    """InfoVAE as in 002 Table 1 (Zhao et al. 2017): drop ②, weight ④ by λ::

        loss = −rec + λ marginal_kl          (divergence="kl":  ④ = KL(q(z) ‖ p(z)))
        loss = −rec + λ mmd                  (divergence="mmd": ④ replaced by MMD(q(z), p(z)))

    Args:
        lam: weight λ >= 0 of the marginal divergence.
        divergence: "kl" (the estimated ④) or "mmd" (Zhao et al.'s MMD-VAE form).
    """
    if divergence not in ("kl", "mmd"):
        raise ValueError(f"divergence must be 'kl' or 'mmd', got {divergence!r}")
    term = "marginal_kl" if divergence == "kl" else "mmd"
    return Objective("info-vae", {"reconstruction": 1.0, term: _check_weight("lam", lam)},
                     citation="Zhao et al. 2017 (InfoVAE); 002 Table 1 row 4")


def achille_soatto(beta: float = 1.0, gamma: float = 1.0) -> Objective:
    """Achille & Soatto 2018, as in 002 Table 1 "① + ③ + β② + γ④*"::

        loss = −rec + β index_code_mi + γ total_correlation

    ④* is ④ with a factorised prior; taking the prior to be the product of the aggregate
    marginals Π_j q(z_j) leaves only the total correlation of q(z).

    Args:
        beta: weight β >= 0 of I(x; z) (the information bottleneck).
        gamma: weight γ >= 0 of the total correlation.
    """
    return Objective("achille-soatto", {"reconstruction": 1.0,
                                        "index_code_mi": _check_weight("beta", beta),
                                        "total_correlation": _check_weight("gamma", gamma)},
                     citation="Achille & Soatto 2018; 002 Table 1 row 7")


def hfvae(alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0) -> Objective:
    """HFVAE (002 eq 4, corrected as in docs/errata.md), with the Ⓐ and ⓘ terms of 002 Fig. 3::

        L = ① − ③ − α ② + β Ⓐ + γ ⓘ − ⓘⓘ      (② = I(x; z), ③, ④, ⓘⓘ KLs >= 0; Ⓐ, ⓘ = prior TC − TC)
        loss = −rec + α index_code_mi
               + β (between_group_tc − prior_between_group_tc)
               + γ (within_group_tc − prior_within_group_tc) + dimwise_kl

    The prior terms vanish for a factorised prior; for a correlated prior they make the
    objective match the TC of q(z) to that of p(z). α = β = γ = 1 gives the negative ELBO.
    With a single group (a plain Gaussian latent) Ⓐ = 0 and γ alone weighs the TC; the
    groups of 002 are e.g. ``Grouped([DiagonalGaussian(10), Concrete(10)])``.

    Args:
        alpha: weight of I(x; z) (②), >= 0.
        beta: weight of the total correlation between groups (Ⓐ), >= 0.
        gamma: weight of the total correlation within groups (ⓘ), >= 0.
    """
    beta = _check_weight("beta", beta)
    gamma = _check_weight("gamma", gamma)
    return Objective("hfvae", {"reconstruction": 1.0,
                               "index_code_mi": _check_weight("alpha", alpha),
                               "between_group_tc": beta, "prior_between_group_tc": beta,
                               "within_group_tc": gamma, "prior_within_group_tc": gamma,
                               "dimwise_kl": 1.0},
                     citation="Esmaeili et al. 2019, 002 eq 4 (corrected) and Fig. 3")


def anchor_vae(lam: float = 0.5, anchors: tuple[int, ...] = (0,)) -> Objective:
    """AnchorVAE (000 eq 21): KL weight (1 − λ) on the anchored units::

        loss = −rec + Σ_{d ∉ anchors} kl_d + (1 − λ) Σ_{d ∈ anchors} kl_d

    with kl_d = E[log q(z_d|x) − log p(z_d)] the per-unit KL (``kl_per_dim``). Lowering the
    KL weight of the anchors raises their share of I(x; z). 002 Table 1 row 6 summarises it
    as "− λ②ᵃ" (less MI penalty on the anchors); eq 21 of 000, followed here, lowers the whole
    per-unit KL of the anchors, which is ②ᵃ plus the anchors' share of ④.

    Args:
        lam: λ in [0, 1] (λ > 1 would reward KL on the anchors).
        anchors: indices of the anchored latent units (non-empty, distinct, >= 0).
    """
    lam = _check_weight("lam", lam, high=1.0)
    anchors = tuple(anchors) if not isinstance(anchors, int) else (anchors,)
    if not anchors:
        raise ValueError("anchors must name at least one latent unit index")
    return Objective("anchor-vae", {"reconstruction": 1.0,
                                    "kl_per_dim": UnitWeights(1.0, tuple((a, 1.0 - lam) for a in anchors))},
                     citation="Gao et al. 2019, 000 eq 21; 002 Table 1 row 6")


def rtc(beta: float = 6.0, eta: float = 10.0) -> Objective:
    """RTC-VAE (004 eqs 3-4): L_RTC = ELBO − β TC(z) − η Σ_k E_n[σ_k²(n)]::

        loss = −rec + kl + β total_correlation + η posterior_variance

    Args:
        beta: extra TC weight β >= 0 (004 uses 2 … 10).
        eta: weight η >= 0 of the trace of the mean posterior covariance (004 uses 10).
    """
    return Objective("rtc", {"reconstruction": 1.0, "kl": 1.0,
                             "total_correlation": _check_weight("beta", beta),
                             "posterior_variance": _check_weight("eta", eta)},
                     citation="004 eq 4 (RTC-VAE)")


CATALOGUE = {
    "vae": vae,
    "beta-vae": beta_vae,
    "capacity": capacity,
    "beta-tcvae": beta_tcvae,
    "factor-vae": factor_vae,
    "dip-vae-i": dip_vae_i,
    "dip-vae-ii": dip_vae_ii,
    "info-vae": info_vae,
    "achille-soatto": achille_soatto,
    "hfvae": hfvae,
    "anchor-vae": anchor_vae,
    "rtc": rtc,
}


def get(name: str | Objective | Mapping[str, Any], **hyperparameters: Any) -> Objective:
    """An objective of the catalogue by name, or an Objective / its config passed through.

    Args:
        name: one of ``sorted(CATALOGUE)``, an :class:`Objective`, or a dict from
            :meth:`Objective.get_config`.
        **hyperparameters: the paper's names (``beta``, ``gamma``, ``alpha``, ``lam``, ``eta``,
            ``capacity``, ``anneal_steps``, ``lambda_od``, ``lambda_d``, ``anchors``,
            ``divergence``).

    Returns:
        An :class:`Objective`.

    Example::

        refvae.objectives.get("beta-tcvae", beta=6.0).formula
        # '-reconstruction + index_code_mi + 6*total_correlation + dimwise_kl'
    """
    if isinstance(name, Objective):
        if hyperparameters:
            raise TypeError("hyperparameters cannot be given with an Objective instance")
        return name
    if isinstance(name, Mapping):
        return Objective.from_config(name)
    if name not in CATALOGUE:
        raise ValueError(f"unknown objective {name!r}; known objectives: {sorted(CATALOGUE)}")
    builder = CATALOGUE[name]
    accepted = builder.__code__.co_varnames[:builder.__code__.co_argcount]
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise TypeError(f"objective {name!r} got unknown hyperparameters {unknown}; it accepts {list(accepted)}")
    return builder(**hyperparameters)

