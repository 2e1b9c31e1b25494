"""The metrics ``refvae evaluate`` computes by name: what each needs, its headline value, and how
it is computed on a trained model.

Each metric module registers itself (:func:`register`, at the bottom of the module) with a
:class:`MetricSpec`: its name, the key of its result that is "the" score (``headline``), the
data it is defined on (``min_factors``, ``min_values``) and a function that computes it from an
:class:`Evaluation`. ``refvae evaluate``, the study's trials, the experiments and the report read
this table; adding a metric is one module and one test.

Two profiles of sample sizes:

- ``"fast"`` (the default): the observations are encoded once, into a training pool of
  ``num_points`` points (10,000) and a test pool of half as many, and every metric is computed
  from the pools: the BetaVAE and FactorVAE scores draw their batches from the pools' groups of
  points that share a factor value (``beta_vae_features_from_pool``,
  ``factor_vae_votes_from_pool``), the sampled MIG uses a sub-grid of at most
  ``GRID_LIMIT`` points. Every metric of a run in about a minute on 2 CPU cores.
- ``"disentanglement-lib"``: each metric samples and encodes its own points with
  disentanglement_lib's sizes (``unsupervised_study_v1``), the sampled MIG the whole grid; the
  numbers to compare with published ones, at 10-15 minutes a run on 2 CPU cores.

Each result records the profile and the sizes it was computed with (``"settings"``).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Evaluation", "MetricSpec", "PROFILES", "default_names", "get", "names", "register", "undefined_reason"]

PROFILES = ("fast", "disentanglement-lib")
GRID_LIMIT = 16_384    # points of the sampled MIG's sub-grid in the fast profile


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """A metric of the registry.

    Attributes:
        name: the name ``refvae evaluate --metrics`` takes.
        summary: what it measures, with its paper.
        headline: the key of its result that is its score (``metrics.json``'s "summary").
        compute: ``compute(evaluation) -> dict`` of JSON-ready values.
        min_factors: fewer ground-truth factors leave it undefined (a majority vote over one
            factor is always right).
        min_values: a factor with fewer values leaves it undefined.
        needs_factors: it reads the ground-truth factors at all (False: scores without factors).
        by_default: in ``refvae evaluate``'s defaults where defined.
    """

    name: str
    summary: str
    headline: str
    compute: Callable[[Evaluation], dict[str, Any]]
    min_factors: int = 1
    min_values: int = 2
    needs_factors: bool = True
    by_default: bool = False


_METRICS: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the table (a metric module calls this once, at import)."""
    if spec.name in _METRICS and _METRICS[spec.name] is not spec:
        raise ValueError(f"a metric named {spec.name!r} is registered already")
    _METRICS[spec.name] = spec
    return spec


def _table() -> dict[str, MetricSpec]:
    importlib.import_module("refvae.metrics")   # every metric module registers itself on import
    return _METRICS


def names() -> tuple[str, ...]:
    """Every registered metric, in registration order."""
    return tuple(_table())


def get(name: str) -> MetricSpec:
    table = _table()
    if name not in table:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(table)}")
    return table[name]


def undefined_reason(spec: MetricSpec, factor_sizes: Sequence[int]) -> str | None:
    """Why ``spec`` is undefined on data with ``factor_sizes`` (None: it is defined)."""
    if not spec.needs_factors:
        return None
    sizes = [int(size) for size in factor_sizes]
    if len(sizes) < spec.min_factors:
        return (f"it needs at least {spec.min_factors} ground-truth factors and the data has {len(sizes)} "
                f"(with one factor every vote or classifier is trivially right)")
    small = [k for k, size in enumerate(sizes) if size < spec.min_values]
    if small:
        return f"it needs at least {spec.min_values} values of every factor; factor(s) {small} have fewer"
    return None


def default_names(factor_sizes: Sequence[int]) -> tuple[str, ...]:
    """The default metrics that are defined on data with ``factor_sizes``."""
    return tuple(name for name, spec in _table().items()
                 if spec.by_default and undefined_reason(spec, factor_sizes) is None)


@dataclasses.dataclass
class Evaluation:
    """What a metric is computed from: a data set, a model's encoders and the sizes to use.

    Attributes:
        dataset: the ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        representation: observations -> mean codes [n, D] (NumPy).
        posterior: observations -> (loc, scale) [n, D] of the Gaussian code (NumPy).
        seed: seeds every sample of every metric (each metric starts from the same seed).
        profile: "fast" or "disentanglement-lib" (module docstring).
        num_points: the training size of the metrics (the pool in "fast"; each metric's
            ``num_train`` in "disentanglement-lib"); test sets are half of it. None: 10,000.
        subgrid: steps per factor of the sampled MIG's grid (None: the profile's).
    """

    dataset: Any
    representation: Callable[[np.ndarray], np.ndarray]
    posterior: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    seed: int = 0
    profile: str = "fast"
    num_points: int | None = None
    subgrid: Sequence[int] | None = None
    _pools: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {self.profile!r}")

    @property
    def train_size(self) -> int:
        return 10_000 if self.num_points is None else int(self.num_points)

    @property
    def test_size(self) -> int:
        return max(2, self.train_size // 2)

    def rng(self, offset: int = 0) -> np.random.Generator:
        """A generator seeded by ``(seed, offset)``: the same numbers for every metric that asks."""
        return np.random.default_rng([self.seed, offset])

    def pool(self, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(loc, scale, factors) of the ``split`` pool ("train": ``train_size`` points, "test":
        ``test_size``), sampled uniformly and encoded once, then shared by every metric."""
        if split not in self._pools:
            size, offset = (self.train_size, 1) if split == "train" else (self.test_size, 2)
            from refvae.metrics import sampling

            factors = sampling.sample_factors(self.dataset, size, self.rng(offset))
            loc, scale = sampling.posterior_moments(self.posterior, factors, 512,
                                                    render=self.dataset.observations_from_factors)
            self._pools[split] = (loc, scale, factors)
        return self._pools[split]

    def grid_steps(self) -> tuple[int, ...]:
        """Steps per factor of the sampled MIG's grid: ``subgrid``, else the whole grid
        ("disentanglement-lib"), else ("fast") the step of the factor with the most values kept
        doubled until at most ``GRID_LIMIT`` points remain (dSprites: 1, 1, 4, 4, 4; 11,520)."""
        sizes = [int(size) for size in self.dataset.factor_sizes]
        if self.subgrid is not None:
            return tuple(int(step) for step in self.subgrid)
        steps = [1] * len(sizes)
        if self.profile == "fast":
            kept = list(sizes)
            while math.prod(kept) > GRID_LIMIT and max(kept) > 2:
                k = int(np.argmax(kept))
                steps[k] *= 2
                kept[k] = -(-sizes[k] // steps[k])
        return tuple(steps)
