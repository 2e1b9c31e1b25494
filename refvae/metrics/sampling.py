"""The data protocol of the metrics: sample factors, render and encode their observations.

A metric's ``compute_*`` / ``*_score`` wrapper samples fresh factor vectors from a
ground-truth data set (``factor_sizes``, ``sample_factors(n, rng)``,
``observations_from_factors(factors)``) and encodes their observations a batch at a time
through a ``representation`` callable (observations -> codes [n, D], NumPy), or through a
``posterior`` callable that gives Gaussian parameters (``posterior_moments``).

Example:
    >>> codes, factors = sample_representation(data, representation, 1000, rng=0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from refvae import checks
from refvae.metrics.inputs import check_data, check_factors, check_representation, check_same_length

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

# A Gaussian encoder as the metrics call it: observations [n, ...] -> a distribution with
# ``loc`` and ``scale`` [n, D] (``model.posterior``) or a (loc, scale) pair.
Posterior = Callable[[np.ndarray], Any]

__all__ = ["FactorGroups", "MAX_POINTS", "check_num_points", "encode", "posterior_moments", "sample_factors",
           "sample_representation", "split_train_test"]

# The most points a metric samples in one call: their factors and codes are held in memory
# (2**24 points of 10 codes and 5 factors are 2 GiB); the literature samples 10,000.
MAX_POINTS = 2**24


def check_num_points(num_points: int, name: str = "num_points") -> int:
    """``num_points`` as an int in 1 … ``MAX_POINTS``, checked before anything is sampled."""
    num_points = checks.integer(num_points, name)
    if num_points > MAX_POINTS:
        raise ValueError(
            f"{name}={num_points:,} is above the limit of {MAX_POINTS:,} points: a metric holds the factors and "
            f"codes of every sampled point in memory (the literature samples 10,000)"
        )
    return num_points


def encode(data: FactorData, representation: Representation, factors: np.ndarray, batch_size: int = 64,
           name: str = "representation") -> np.ndarray:
    """Codes [n, D] of the observations of ``factors`` [n, K], encoded in batches."""
    batches = []
    for start in range(0, factors.shape[0], batch_size):
        observations = data.observations_from_factors(factors[start : start + batch_size])
        batch_codes = np.asarray(representation(observations), dtype=np.float64)
        expected = min(batch_size, factors.shape[0] - start)
        if batch_codes.ndim != 2 or batch_codes.shape[0] != expected:
            raise ValueError(
                f"{name} must map {expected} observations to codes [{expected}, D], "
                f"got shape {batch_codes.shape}"
            )
        batches.append(batch_codes)
    codes = np.concatenate(batches, axis=0)
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{name} returned non-finite codes")
    return codes


def sample_factors(data: FactorData, num_points: int, rng: np.random.Generator, name: str = "data") -> np.ndarray:
    """``data.sample_factors(num_points, rng)`` checked to be an int array [num_points, K]."""
    sizes = check_data(data, name)
    factors = check_factors(data.sample_factors(num_points, rng), name=f"{name}.sample_factors(...)")
    if factors.shape != (num_points, len(sizes)):
        raise ValueError(
            f"{name}.sample_factors({num_points}, rng) must return shape {(num_points, len(sizes))}, "
            f"got {factors.shape}"
        )
    return factors


def sample_representation(data: FactorData, representation: Representation, num_points: int,
                          rng: np.random.Generator | int, batch_size: int = 64,
                          name: str = "num_points") -> tuple[np.ndarray, np.ndarray]:
    """Sample ``num_points`` factor vectors uniformly and encode their observations.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        representation: callable, observations -> codes [n, D] (NumPy).
        num_points: number of points.
        rng: ``numpy.random.Generator`` or int seed.
        batch_size: observations encoded per call of ``representation``.
        name: the caller's name of ``num_points``, for the message (at most ``MAX_POINTS``).

    Returns:
        (codes float64 [num_points, D], factors int64 [num_points, K]).
    """
    check_data(data)
    check_representation(representation)
    num_points = check_num_points(num_points, name)
    batch_size = checks.integer(batch_size, "batch_size")
    rng = checks.rng(rng)
    factors = sample_factors(data, num_points, rng)
    return encode(data, representation, factors, batch_size), factors


def split_train_test(*arrays: ArrayLike, train_fraction: float = 0.8) -> list[np.ndarray]:
    """Split arrays by rows: the first ceil(N · train_fraction) rows train, the rest test.

    The points a metric samples are independent draws, so the first rows are as good a
    training set as any random subset (disentanglement_lib's convention, batch-first here).

    Args:
        *arrays: one or more arrays with the same number of rows N >= 2.
        train_fraction: float in (0, 1); both parts must be non-empty.

    Returns:
        list (a_train, a_test, b_train, b_test, ...), as ``sklearn``'s ``train_test_split``.

    Example:
        >>> import numpy as np
        >>> codes_train, codes_test = split_train_test(np.arange(10)[:, None], train_fraction=0.75)
        >>> codes_train.shape, codes_test.shape
        ((8, 1), (2, 1))
    """
    if not arrays:
        raise ValueError("split_train_test needs at least one array")
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, numbers.Real):
        raise TypeError(f"train_fraction must be a float in (0, 1), got {type(train_fraction).__name__}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    as_arrays = [np.asarray(array) for array in arrays]
    if any(array.ndim < 1 for array in as_arrays):
        raise ValueError("every array to split must have at least one dimension (rows)")
    check_same_length(**{f"arrays[{i}]": array for i, array in enumerate(as_arrays)})
    num_points = as_arrays[0].shape[0]
    # round first so that e.g. 10 × 0.7 = 7.000000000000001 keeps 7 rows, not 8
    num_train = int(math.ceil(round(num_points * train_fraction, 9)))
    if num_train >= num_points:
        raise ValueError(
            f"train_fraction={train_fraction} of {num_points} rows leaves no test rows; "
            f"pass more rows or a smaller fraction"
        )
    split = []
    for array in as_arrays:
        split.extend([array[:num_train], array[num_train:]])
    return split


def posterior_moments(posterior: Posterior, inputs: np.ndarray, batch_size: int = 256, *,
                      render: Callable[[np.ndarray], Any] | None = None,
                      dtype: DTypeLike | None = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(loc, scale) [n, D] of Gaussian posteriors of ``inputs``, a batch at a time.

    Args:
        posterior: callable, observations -> a distribution with ``loc`` and ``scale``
            (``model.posterior``) or a (loc, scale) pair.
        inputs: observations [n, ...], or factors [n, K] with ``render``.
        batch_size: inputs per call of ``posterior``.
        render: optional callable, a batch of ``inputs`` -> its observations (e.g.
            ``data.observations_from_factors``).
        dtype: NumPy dtype of the result (None keeps the posterior's).

    Returns:
        (loc, scale), two arrays [n, D].
    """
    batch_size = checks.integer(batch_size, "batch_size")
    locs, scales = [], []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start:start + batch_size]
        moments = posterior(batch if render is None else render(batch))
        loc, scale = (moments.loc, moments.scale) if hasattr(moments, "loc") else moments
        locs.append(np.asarray(loc, dtype=dtype))
        scales.append(np.asarray(scale, dtype=dtype))
    return np.concatenate(locs), np.concatenate(scales)


class FactorGroups:
    """The rows of a pool of encoded points grouped by the value of each factor.

    The BetaVAE and FactorVAE scores need batches of points that share the value of one factor
    and are uniform otherwise; a uniform pool restricted to the rows with that value is such a
    sample (the "fast" profile of ``refvae.metrics.registry``), with no new encoding.

    Args:
        factors: int array [n, K], the factor vectors of the pool's rows.

    Example:
        >>> groups = FactorGroups(np.array([[0, 1], [0, 2], [1, 1]]))
        >>> groups.size(0, np.array([0, 2])).tolist()     # rows sharing factor 0 with rows 0 and 2
        [2, 1]
    """

    def __init__(self, factors: ArrayLike) -> None:
        factors = check_factors(factors)
        count, num_factors = factors.shape
        self.order = np.empty((num_factors, count), dtype=np.int64)   # rows sorted by factor k
        self.start = np.empty((num_factors, count), dtype=np.int64)   # where row i's group starts in order[k]
        self.count = np.empty((num_factors, count), dtype=np.int64)   # its group's size
        self.rank = np.empty((num_factors, count), dtype=np.int64)    # row i's place in its group
        for k in range(num_factors):
            order = np.argsort(factors[:, k], kind="stable")
            values = factors[order, k]
            boundaries = np.flatnonzero(np.diff(values)) + 1
            starts = np.concatenate([[0], boundaries])
            sizes = np.diff(np.concatenate([starts, [count]]))
            group = np.repeat(np.arange(len(starts)), sizes)
            self.order[k] = order
            self.start[k, order] = starts[group]
            self.count[k, order] = sizes[group]
            self.rank[k, order] = np.arange(count) - starts[group]

    def size(self, k: int | np.ndarray, rows: int | np.ndarray) -> np.ndarray:
        """The number of rows sharing factor ``k``'s value with each of ``rows``."""
        return self.count[k, rows]

    def other_rows(self, k: int | np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each of ``rows`` (and its factor ``k``, an array of the same shape), a row drawn
        uniformly from the other rows with the same value of factor k (the row itself when it is
        alone in its group)."""
        start, count, rank = self.start[k, rows], self.count[k, rows], self.rank[k, rows]
        drawn = rng.integers(0, np.maximum(count - 1, 1))
        drawn = np.where(count > 1, drawn + (drawn >= rank), rank)
        return self.order[k, start + drawn]

    def members(self, k: int, row: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` rows sharing factor ``k``'s value with ``row``: distinct when the group has that
        many, else drawn with replacement."""
        start, count = self.start[k, row], self.count[k, row]
        picked = rng.choice(count, size=size, replace=bool(count < size))
        return self.order[k, start + picked]

