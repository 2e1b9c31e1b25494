"""Data sets whose factors are not uniform and independent, and held-out combinations.

Two experiments of the source papers change *how factors are sampled* while keeping the
renderer:

- **Correlated or dependent factors** (001 §6.1, Figure 5a): two factors are drawn from a
  joint table P[a, b] instead of independently, the others stay uniform. 001 uses four
  configurations: A uniform and independent; B non-uniform marginals, still independent;
  C uncorrelated but dependent; D correlated and dependent; "the most likely sample is 4
  times as likely as the least likely sample". The paper shows the tables only as
  pictures, so :func:`joint_configuration` builds tables with exactly these properties
  (documented there); they are refvae's construction, not the paper's numbers.
- **Held-out combinations** (002 §5.5, "zero-shot generalisation"): chosen combinations of
  factor values (a thick 7, a big heart) are removed from training and kept as a test set;
  every single factor value still appears in training.

A third wrapper, :func:`factors_as_observations`, keeps a data set's sampling and replaces its
renderer by the factor vector itself, so that codes written as functions of the factors (the
identity code, a rotation of it) can be scored by every metric without rendering an image.

Both wrappers follow the :class:`~refvae.data.base.GroundTruthData` protocol, so metrics
and ``as_tf_dataset`` use the modified sampling without knowing about it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from refvae.checks import RandomLike
from refvae.data.base import GroundTruthData, as_generator, check_count

__all__ = [
    "CorrelatedFactors",
    "HeldOutSplit",
    "FactorsAsObservations",
    "comonotone_coupling",
    "correlated",
    "factors_as_observations",
    "held_out",
    "index_correlation",
    "joint_configuration",
]

CONFIGURATIONS = ("A", "B", "C", "D")

# A held-out combination: {factor name: value index or list of value indices}.
Combination: TypeAlias = dict[str, int | Sequence[int]]


def _factor_position(names: tuple[str, ...], factor: str | int, name: str) -> int:
    """Column of ``factor`` (a name in ``names`` or an int index)."""
    if isinstance(factor, str):
        if factor not in names:
            raise ValueError(f"{name} must be one of {names}, got {factor!r}")
        return names.index(factor)
    if isinstance(factor, numbers.Integral) and not isinstance(factor, bool) and (
            0 <= int(factor) < len(names)):
        return int(factor)
    raise ValueError(f"{name} must be a factor name {names} or an index "
                     f"0..{len(names) - 1}, got {factor!r}")


class _Wrapper(GroundTruthData):
    """Shares the wrapped data set's factors, renderer and indexing."""

    def __init__(self, data: GroundTruthData) -> None:
        if not isinstance(data, GroundTruthData):
            raise TypeError(f"data must be a GroundTruthData, got {type(data).__name__}")
        self.data = data
        self.factor_names = tuple(data.factor_names)
        self.factor_sizes = tuple(data.factor_sizes)
        self.observation_shape = tuple(data.observation_shape)
        self.factor_values = data.factor_values

    def index_of(self, factors: ArrayLike) -> np.ndarray:
        return self.data.index_of(factors)

    def factors_of(self, index: ArrayLike) -> np.ndarray:
        return self.data.factors_of(index)

    def observations_from_indices(self, indices: ArrayLike) -> np.ndarray:
        return self.data.observations_from_indices(indices)

    def observations_from_factors(self, factors: ArrayLike) -> np.ndarray:
        return self.data.observations_from_factors(factors)


# --- correlated factors ------------------------------------------------------------------

def comonotone_coupling(size_a: int, size_b: int) -> np.ndarray:
    """The joint table of two discrete uniforms coupled monotonically.

    P[a, b] = |[a/A, (a+1)/A) ∩ [b/B, (b+1)/B)|: both indices are quantiles of one uniform
    variable, so the marginals are uniform and the dependence is as strong as it can be
    (b = a when A = B).

    Returns:
        float64 ``[size_a, size_b]``, summing to 1.
    """
    edges_a = np.arange(size_a + 1) / size_a
    edges_b = np.arange(size_b + 1) / size_b
    lower = np.maximum(edges_a[:-1, None], edges_b[None, :-1])
    upper = np.minimum(edges_a[1:, None], edges_b[None, 1:])
    return np.clip(upper - lower, 0.0, None)


def index_correlation(joint: ArrayLike) -> float:
    """Pearson correlation of the row and column indices under a joint table."""
    table: np.ndarray = np.asarray(joint, dtype=np.float64) / np.sum(joint)
    a = np.arange(table.shape[0], dtype=np.float64)
    b = np.arange(table.shape[1], dtype=np.float64)
    pa, pb = table.sum(1), table.sum(0)
    mean_a, mean_b = pa @ a, pb @ b
    covariance = (a - mean_a) @ table @ (b - mean_b)
    return covariance / np.sqrt((pa @ (a - mean_a) ** 2) * (pb @ (b - mean_b) ** 2))


def joint_configuration(name: str, size_a: int, size_b: int) -> np.ndarray:
    """The joint tables A-D of 001 §6.1 (Figure 5a), as refvae constructs them.

    With u_a = a / (A − 1) and u_b = b / (B − 1) in [0, 1]:

    - ``A``: uniform, independent: P ∝ 1.
    - ``B``: non-uniform marginals, independent: P ∝ (1 + u_a)(1 + u_b).
    - ``C``: uncorrelated but dependent: P ∝ 1 + 3 (1 − |(2u_a − 1)² − (2u_b − 1)²|).
      P depends on a only through |2u_a − 1|, so E[a | b] is the centre for every b and
      the covariance is exactly 0, while P[a | b] changes with b.
    - ``D``: correlated and dependent: P ∝ 1 + 3 (1 − |u_a − u_b|).

    In B, C and D the most likely cell is at most 4 times as likely as the least likely
    (exactly 4 when the extreme values of the formula are reached on the grid), as in 001.

    Returns:
        float64 ``[size_a, size_b]``, summing to 1.
    """
    if name not in CONFIGURATIONS:
        raise ValueError(f"configuration must be one of {CONFIGURATIONS}, got {name!r}")
    for size, label in ((size_a, "size_a"), (size_b, "size_b")):
        if check_count(size, label) < 2:
            raise ValueError(f"{label} must be >= 2, got {size}")
    u_a = np.linspace(0.0, 1.0, size_a)[:, None]
    u_b = np.linspace(0.0, 1.0, size_b)[None, :]
    if name == "A":
        table = np.ones((size_a, size_b))
    elif name == "B":
        table = (1.0 + u_a) * (1.0 + u_b)
    elif name == "C":
        table = 1.0 + 3.0 * (1.0 - np.abs((2 * u_a - 1) ** 2 - (2 * u_b - 1) ** 2))
    else:
        table = 1.0 + 3.0 * (1.0 - np.abs(u_a - u_b))
    return table / table.sum()


class CorrelatedFactors(_Wrapper):
    """A data set whose factors ``factor_a`` and ``factor_b`` are drawn from a joint table.

    ``sample_factors`` draws (v_a, v_b) ~ P[a, b] and every other factor uniformly and
    independently; rendering is the wrapped data set's. ``as_tf_dataset`` iterates epochs
    of ``num_observations`` draws from this distribution (with replacement).

    Attributes:
        data: the wrapped data set.
        factor_a, factor_b: column positions of the two dependent factors.
        joint: float64 ``[|V_a|, |V_b|]``, the sampling table (sums to 1).
    """

    def __init__(self, data: GroundTruthData, factor_a: str | int, factor_b: str | int, joint: ArrayLike) -> None:
        super().__init__(data)
        self.factor_a = _factor_position(self.factor_names, factor_a, "factor_a")
        self.factor_b = _factor_position(self.factor_names, factor_b, "factor_b")
        if self.factor_a == self.factor_b:
            raise ValueError("factor_a and factor_b must be two different factors")
        joint = np.asarray(joint, dtype=np.float64)
        shape = (self.factor_sizes[self.factor_a], self.factor_sizes[self.factor_b])
        if joint.shape != shape:
            raise ValueError(f"joint must have shape {shape} "
                             f"(|{self.factor_names[self.factor_a]}|, "
                             f"|{self.factor_names[self.factor_b]}|), got {joint.shape}")
        if not np.all(np.isfinite(joint)) or (joint < 0).any() or joint.sum() <= 0:
            raise ValueError("joint must be finite, non-negative and not all zero")
        self.joint = joint / joint.sum()
        self._cumulative = np.cumsum(self.joint.reshape(-1))
        self._cumulative[-1] = 1.0

    def sample_factors(self, n: int, rng: RandomLike) -> np.ndarray:
        """n factor vectors: the pair from ``joint``, the others uniform (int64 ``[n, K]``)."""
        n = check_count(n)
        rng = as_generator(rng)
        factors = rng.integers(0, np.asarray(self.factor_sizes), size=(n, self.num_factors))
        cells = np.searchsorted(self._cumulative, rng.random(n), side="right")
        cells = np.minimum(cells, len(self._cumulative) - 1)
        factors[:, self.factor_a], factors[:, self.factor_b] = np.divmod(
            cells, self.joint.shape[1])
        return factors.astype(np.int64)

    def _epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        return self.data.index_of(self.sample_factors(self.num_observations, rng))

    @property
    def correlation(self) -> float:
        """Pearson correlation of the two factor indices under ``joint``."""
        return float(index_correlation(self.joint))


def correlated(data: GroundTruthData, factor_a: str | int, factor_b: str | int, strength: float | None = None,
               joint: ArrayLike | None = None, configuration: str | None = None) -> CorrelatedFactors:
    """Makes two factors of ``data`` dependent (001 §6.1).

    Give exactly one of:

    - ``strength`` ρ in [−1, 1]: the mixture P = (1 − |ρ|) · uniform + |ρ| · C, with C the
      :func:`comonotone_coupling` (ρ > 0) or its mirror image (ρ < 0). Both marginals stay
      uniform, so only the dependence changes, and the index correlation is exactly
      ρ · corr(C) (= ρ when the two factors have the same size, 0.986 ρ for 6 scales
      and 32 positions);
    - ``joint``: an explicit non-negative table ``[|V_a|, |V_b|]`` (normalised here);
    - ``configuration``: ``"A"``, ``"B"``, ``"C"`` or ``"D"`` (:func:`joint_configuration`).

    Args:
        data: a :class:`~refvae.data.base.GroundTruthData`.
        factor_a, factor_b: factor names (or column indices), e.g. ``"scale"``, ``"pos_x"``.

    Returns:
        :class:`CorrelatedFactors`.

    Example:
        >>> data = correlated(dsprites(), "scale", "pos_x", strength=0.8)
        >>> round(data.correlation, 2)
        0.79
    """
    given = [v is not None for v in (strength, joint, configuration)]
    if sum(given) != 1:
        raise ValueError("give exactly one of strength, joint or configuration")
    if not isinstance(data, GroundTruthData):
        raise TypeError(f"data must be a GroundTruthData, got {type(data).__name__}")
    names = tuple(data.factor_names)
    a = _factor_position(names, factor_a, "factor_a")
    b = _factor_position(names, factor_b, "factor_b")
    size_a, size_b = data.factor_sizes[a], data.factor_sizes[b]
    if strength is not None:
        if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not (
                -1.0 <= strength <= 1.0):
            raise ValueError(f"strength must be a number in [-1, 1], got {strength!r}")
        coupling = comonotone_coupling(size_a, size_b)
        if strength < 0:
            coupling = coupling[::-1]
        joint = (1.0 - abs(strength)) / (size_a * size_b) + abs(strength) * coupling
    elif configuration is not None:
        joint = joint_configuration(configuration, size_a, size_b)
    assert joint is not None  # exactly one of strength, joint and configuration was given (checked above)
    return CorrelatedFactors(data, a, b, joint)


# --- held-out combinations ---------------------------------------------------------------

class HeldOutSplit(_Wrapper):
    """One side of a held-out split: sampling restricted to an allowed set of grid points.

    Attributes:
        data: the wrapped data set.
        indices: sorted int64 grid indices of this split.
        test: the other split (on the training split), else ``None``.
        held_out_mask: bool ``[num_grid_points]``, True where held out (shared by both).
    """

    def __init__(self, data: GroundTruthData, indices: np.ndarray, held_out_mask: np.ndarray,
                 test: HeldOutSplit | None = None) -> None:
        super().__init__(data)
        self.indices = indices
        self.held_out_mask = held_out_mask
        self.test = test

    @property
    def num_observations(self) -> int:
        """Grid points in this split."""
        return len(self.indices)

    def is_held_out(self, factors: ArrayLike) -> np.ndarray:
        """Whether each factor vector ``[n, K]`` is a held-out combination (bool ``[n]``)."""
        return self.held_out_mask[self.data.index_of(factors)]

    def sample_factors(self, n: int, rng: RandomLike) -> np.ndarray:
        """n factor vectors uniform over this split's grid points (int64 ``[n, K]``)."""
        n = check_count(n)
        rng = as_generator(rng)
        if len(self.indices) == 0:
            raise ValueError("this split is empty: nothing to sample")
        return self.data.factors_of(self.indices[rng.integers(0, len(self.indices), n)])

    def _epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(self.indices)


def _combination_mask(data: GroundTruthData, combination: Combination, names: tuple[str, ...]) -> np.ndarray:
    if not isinstance(combination, dict) or not combination:
        raise TypeError("each combination must be a non-empty dict {factor name: value index "
                        f"or list of value indices}}, got {combination!r}")
    grids = np.indices(data.factor_sizes, sparse=True)
    mask = np.ones(data.factor_sizes, dtype=bool)
    for factor, chosen in combination.items():
        if factor not in names:
            raise ValueError(f"unknown factor {factor!r} in combinations; factors are {names}")
        position = names.index(factor)
        values = np.atleast_1d(np.asarray(chosen))
        size = data.factor_sizes[position]
        if not np.issubdtype(values.dtype, np.integer) or values.ndim != 1 or (
                values < 0).any() or (values >= size).any():
            raise ValueError(f"values of {factor!r} must be value indices in 0..{size - 1}, "
                             f"got {values.tolist()}")
        mask &= np.isin(grids[position], values)
    return mask.reshape(-1)


def held_out(data: GroundTruthData,
             combinations: Combination | Sequence[Combination] | Callable[[np.ndarray], ArrayLike],
             allow_missing_values: bool = False) -> HeldOutSplit:
    """Removes factor combinations from training and keeps them as a test split (002 §5.5).

    Args:
        data: a :class:`~refvae.data.base.GroundTruthData` with a factor grid.
        combinations: a dict or a list of dicts ``{factor name: value index or list of
            value indices}``; a grid point is held out when it matches every entry of at
            least one dict. ``{"shape": 2, "scale": [4, 5]}`` holds out the two largest
            hearts of dSprites at every orientation and position. A callable
            ``factors [n, K] -> bool [n]`` is accepted too.
        allow_missing_values: by default a split that removes every occurrence of some
            single factor value (so that it is a held-out *value*, not a combination)
            raises; set True to allow it.

    Returns:
        :class:`HeldOutSplit` for training, with the held-out points as ``.test``.

    Example:
        >>> train = held_out(dsprites(), {"shape": 2, "scale": [4, 5]})
        >>> train.num_observations + train.test.num_observations
        737280
    """
    if not isinstance(data, GroundTruthData):
        raise TypeError(f"data must be a GroundTruthData, got {type(data).__name__}")
    names = tuple(data.factor_names)
    total = int(np.prod(data.factor_sizes, dtype=np.int64))
    if callable(combinations):
        factors = np.stack(np.unravel_index(np.arange(total), data.factor_sizes), axis=1)
        mask = np.asarray(combinations(factors), dtype=bool).reshape(-1)
        if mask.shape != (total,):
            raise ValueError(f"the combinations callable must return bool [{total}]")
    else:
        if isinstance(combinations, dict):
            combinations = [combinations]
        if not combinations:
            raise ValueError("combinations is empty: give at least one combination")
        mask = np.zeros(total, dtype=bool)
        for combination in combinations:
            mask |= _combination_mask(data, combination, names)
    if not mask.any():
        raise ValueError("the combinations hold out no grid point")
    if mask.all():
        raise ValueError("the combinations hold out every grid point")
    if not allow_missing_values:
        kept = mask.reshape(data.factor_sizes) == 0
        for position, name in enumerate(names):
            other = tuple(k for k in range(len(names)) if k != position)
            present = kept.any(axis=other)
            if not present.all():
                raise ValueError(
                    f"the combinations remove every training example with {name} = "
                    f"{np.flatnonzero(~present).tolist()}; held-out combinations should leave "
                    "each single value in training (pass allow_missing_values=True to allow)")
    mask.setflags(write=False)
    test = HeldOutSplit(data, np.flatnonzero(mask), mask)
    return HeldOutSplit(data, np.flatnonzero(~mask), mask, test=test)


# --- the factors as observations ---------------------------------------------------------

class FactorsAsObservations(_Wrapper):
    """A data set whose observation of a factor vector is the vector itself.

    Sampling is the wrapped data set's (uniform, :func:`correlated` or a :func:`held_out`
    split); only the rendering changes: ``observations_from_factors(v)`` is ``v`` as float64
    ``[n, K]``. A representation written as a function of the factors (the identity code
    z = v, a rotation or a copy of some of its codes) can then be scored by the metrics that
    sample observations themselves (the BetaVAE and FactorVAE scores), as in
    disentanglement_lib's tests of codes whose scores are known in advance.

    Attributes:
        data: the wrapped data set.
    """

    def __init__(self, data: GroundTruthData) -> None:
        super().__init__(data)
        self.observation_shape = (self.num_factors,)

    def sample_factors(self, n: int, rng: RandomLike) -> np.ndarray:
        """n factor vectors drawn as the wrapped data set draws them (int64 ``[n, K]``)."""
        return self.data.sample_factors(n, rng)

    def observations_from_factors(self, factors: ArrayLike) -> np.ndarray:
        """The factor vectors themselves, checked, as float64 ``[n, K]``."""
        return self.check_factors(factors).astype(np.float64)

    def observations_from_indices(self, indices: ArrayLike) -> np.ndarray:
        """The factor vectors of flat grid indices as float64 ``[n, K]``."""
        return self.data.factors_of(indices).astype(np.float64)

    def _epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        return self.data._epoch_indices(rng)


def factors_as_observations(data: GroundTruthData) -> FactorsAsObservations:
    """``data`` with each observation replaced by its factor vector (float64 ``[K]``).

    Args:
        data: a :class:`~refvae.data.base.GroundTruthData` (a :func:`correlated` or
            :func:`held_out` variant keeps its sampling).

    Returns:
        :class:`FactorsAsObservations`.

    Example:
        >>> codes = factors_as_observations(dsprites())
        >>> codes.observations_from_factors([[2, 5, 39, 31, 0]])
        array([[ 2.,  5., 39., 31.,  0.]])
    """
    return FactorsAsObservations(data)
