"""Discrete mutual information of codes and factors: histogram bins, plug-in entropies.

- the histogram discretisation of codes used by MIG and modularity (disentanglement_lib
  convention: ``num_bins`` equal-width bins over each code's own observed range);
- a vectorised plug-in mutual information between every discretised code and every factor,
  built from one ``np.bincount`` joint histogram per factor (the same numbers as looping
  ``sklearn.metrics.mutual_info_score`` over (code, factor) pairs, at a fraction of the cost).

Example:
    >>> import numpy as np
    >>> codes = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> discretize(codes, num_bins=2)[:, 0].tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics.inputs import check_codes

__all__ = ["MAX_HISTOGRAM_CELLS", "as_labels", "check_histogram_size", "discrete_entropy",
           "discrete_mutual_info_matrix", "discretize"]

# The most cells of one joint histogram of codes and factors: its int64 counts and their
# float64 copy take 256 MiB. The default 20 bins over dSprites' 10 codes and its largest
# factor (40 positions) need 8,000.
MAX_HISTOGRAM_CELLS = 2**24


# Rows of one block of ``discretize``: a [block, D] slice of float64 codes stays in cache.
_DISCRETIZE_ROWS = 1 << 13


def discretize(codes: ArrayLike, num_bins: int = 20) -> np.ndarray:
    """Histogram discretisation of each code into ``num_bins`` equal-width bins.

    The disentanglement_lib convention: the edges are ``np.histogram``'s over the code's own
    observed range; the last edge is dropped and ``np.digitize`` assigns bins, so the maximum
    falls in the last bin. Labels here are 0 … num_bins − 1 (disentanglement_lib's 1 … num_bins
    shifted by one, which changes no mutual information).

    Args:
        codes: array [N, D].
        num_bins: number of bins per code (>= 1).

    Returns:
        int64 array [N, D] of bin indices.
    """
    codes = check_codes(codes)
    num_bins = checks.integer(num_bins, "num_bins")
    # np.histogram_bin_edges(column, bins) is np.linspace(min, max, bins + 1) (widened by
    # ±0.5 for a constant column), whose edge b is exactly b * step + min (the last one
    # exactly max). The arithmetic guess, then a one-step correction against those exact
    # edges, gives the bins of np.digitize(column, edges[:-1]) without its binary search.
    # The work runs over blocks of _DISCRETIZE_ROWS rows (each column of a block in turn), so
    # every temporary is small and reused: no array of the codes' size is allocated but the
    # labels, and a first call does not pay for touching fresh memory (page faults) that a
    # transposed copy and whole-column temporaries cost (benchmarks/bench_mig_first_call.py).
    return _discretize(codes, num_bins, np.int64)


def _discretize(codes, num_bins, dtype):
    """The bins of ``discretize`` as an array [N, D] of ``dtype`` (a small one where the bins fit:
    an eighth of the memory of int64 labels to touch for dSprites' 737,280 × 10 codes)."""
    # np.histogram_bin_edges(column, bins) is np.linspace(min, max, bins + 1) (widened by
    # ±0.5 for a constant column), whose edge b is exactly b * step + min (the last one
    # exactly max). The arithmetic guess, then a one-step correction against those exact
    # edges, gives the bins of np.digitize(column, edges[:-1]) without its binary search.
    # The work runs over blocks of _DISCRETIZE_ROWS rows, all columns of a block at once, so
    # every temporary is small and reused and a first call does not pay for touching fresh
    # memory (page faults).
    lows, highs = codes.min(axis=0), codes.max(axis=0)
    constant = lows == highs
    lows, highs = np.where(constant, lows - 0.5, lows), np.where(constant, highs + 0.5, highs)
    steps = (highs - lows) / num_bins
    labels = np.empty(codes.shape, dtype=dtype)
    for start in range(0, codes.shape[0], _DISCRETIZE_ROWS):
        block = codes[start:start + _DISCRETIZE_ROWS]
        bins = np.floor((block - lows) / steps)
        np.clip(bins, 0, num_bins - 1, out=bins)
        upper_edge = np.where(bins + 1 < num_bins, (bins + 1) * steps + lows, highs)
        bins -= (bins > 0) & (block < bins * steps + lows)
        bins += (bins < num_bins - 1) & (block >= upper_edge)
        labels[start:start + _DISCRETIZE_ROWS] = bins
    return labels


def _label_dtype(num_labels: int) -> type:
    return np.uint8 if num_labels <= 256 else np.uint16 if num_labels <= 65536 else np.int64


def code_factor_mutual_info(codes: ArrayLike, factors: ArrayLike, num_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """I(z_j; v_k) [D, K] of codes discretised as ``discretize`` does, and H(v_k) [K], in nats:
    ``discrete_mutual_info_matrix(discretize(codes, num_bins), factors)`` with the labels held in
    the smallest integer type (MIG's and modularity's path; the same numbers)."""
    codes = check_codes(codes)
    num_bins = checks.integer(num_bins, "num_bins")
    factor_labels, factor_sizes = as_labels(factors)
    check_histogram_size(codes.shape[1], num_bins, factor_sizes)
    labels = _discretize(codes, num_bins, _label_dtype(num_bins))
    columns = (labels[:, j] for j in range(codes.shape[1]))
    mutual_info, factor_entropy = _mutual_info_of_columns(columns, codes.shape[1], num_bins, factor_labels,
                                                          factor_sizes)
    return np.maximum(mutual_info, 0.0), factor_entropy


def check_histogram_size(num_codes: int, num_code_labels: int, factor_sizes: Iterable[int], name: str = "num_bins",
                         of: str = "factor", at_least: bool = False) -> None:
    """Refuse, before any work, a joint histogram of more than ``MAX_HISTOGRAM_CELLS`` cells.

    ``discrete_mutual_info_matrix`` histograms every code with each factor: num_codes ×
    num_code_labels × |V_k| cells for factor k. A bin count that makes that larger than the
    limit would exhaust memory (``mig(num_bins=10**9)`` asks numpy for over 100 GiB), so it
    is refused with the sizes named.

    Args:
        num_codes: D.
        num_code_labels: bins per code.
        factor_sizes: values of each factor (or of each code, ``of="code"``) in the sample.
        name: the argument that set ``num_code_labels``, for the message.
        of: what ``factor_sizes`` counts, for the message.
        at_least: the sizes are lower bounds (the data is not sampled yet); the message says so.
    """
    sizes = [int(size) for size in factor_sizes] or [1]
    largest = int(np.argmax(sizes))
    cells = int(num_codes) * int(num_code_labels) * sizes[largest]
    if cells > MAX_HISTOGRAM_CELLS:
        which = f"each {of}" if at_least else f"{of} {largest}"
        bound = "at least " if at_least else ""
        raise ValueError(
            f"{name}={num_code_labels:,} is above the limit: the joint histogram of {bound}{num_codes} code(s) x "
            f"{num_code_labels:,} bins x {bound}{sizes[largest]} value(s) of {which} would hold {bound}{cells:,} cells "
            f"({cells * 16 / 2**30:.3g} GiB with its float copy), and the limit is {MAX_HISTOGRAM_CELLS:,} cells "
            f"({MAX_HISTOGRAM_CELLS * 16 // 2**20} MiB) so that one metric cannot exhaust the memory; use fewer "
            f"bins (disentanglement_lib uses 20)"
        )


def as_labels(values: ArrayLike) -> tuple[np.ndarray, list[int]]:
    """Column-wise compact labels 0 … n_k − 1 of a discrete array [N, K] and their counts n_k.

    Non-negative integer columns with a small maximum are used as they are (empty values
    contribute nothing to a histogram); other columns are re-indexed with ``np.unique``.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu" and values.shape[0] > 0:
        low, high = values.min(axis=0), values.max(axis=0)
        if np.all(low >= 0) and np.all(high < 4 * values.shape[0] + 64):
            return values.astype(np.int64, copy=False), [int(size) + 1 for size in high]
    labels = np.empty(values.shape, dtype=np.int64)
    sizes = []
    for k in range(values.shape[1]):
        uniques, inverse = np.unique(values[:, k], return_inverse=True)
        labels[:, k] = inverse.reshape(-1)
        sizes.append(len(uniques))
    return labels, sizes


def _entropy_from_counts(counts: ArrayLike, total: float, axis: int | None = None) -> np.ndarray | float:
    """Σ_b (n_b/N) log(N/n_b) of histogram counts (over ``axis``).

    Written per cell, not as log N − (1/N) Σ n_b log n_b: a value that holds all N points
    contributes log(N/N) = 0 exactly, so a constant column has entropy exactly 0 (the
    difference form leaves round-off of order 1e-16 there).
    """
    counts = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore"):
        terms = np.where(counts > 0, counts * np.log(total / np.maximum(counts, 1.0)), 0.0)
    return np.sum(terms, axis=axis) / total


def discrete_entropy(labels: ArrayLike) -> np.ndarray:
    """Plug-in entropy (nats) of each column of a discrete array [N, K] -> [K]."""
    array = np.asarray(labels)
    labels, sizes = as_labels(array.reshape(len(array), -1))
    total = labels.shape[0]
    return np.array(
        [float(_entropy_from_counts(np.bincount(labels[:, k], minlength=sizes[k]), total)) for k in range(labels.shape[1])]
    )


# Largest number of joint factor values histogrammed together (see discrete_mutual_info_matrix).
_GROUP_VALUES = 2048


def _mutual_info_of_columns(columns, num_codes, width, factor_labels, factor_sizes):
    """I(code_j; factor_k) [D, K] and H(factor_k) [K] from the code label columns (an iterable of
    integer arrays [N] in 0 … width − 1, consumed one at a time) and compact factor labels.

    Factors are histogrammed in groups whose joint value count stays small (mixed radix, at
    most _GROUP_VALUES values), so one bincount of a code's column serves several factors and
    its histogram lives in cache. One code at a time: no int64 array of the codes' size is made,
    so a first call does not pay for touching fresh memory (benchmarks/bench_mig_first_call.py).
    """
    num_points = factor_labels.shape[0]
    groups: list[list[int]] = []
    current: list[int] = []
    values = 1
    for k, size in enumerate(factor_sizes):
        if current and values * size > _GROUP_VALUES:
            groups.append(current)
            current, values = [], 1
        current.append(k)
        values *= size
    groups.append(current)
    combined = []
    for group in groups:
        index = np.zeros(num_points, dtype=np.int64)
        for k in group:
            index *= factor_sizes[k]
            index += factor_labels[:, k]
        combined.append(index)
    mutual_info = np.empty((num_codes, len(factor_sizes)))
    factor_entropy = np.empty(len(factor_sizes))
    joint_index = np.empty(num_points, dtype=np.int64)
    for j, column in enumerate(columns):
        for group, index in zip(groups, combined):
            sizes = [factor_sizes[k] for k in group]
            stride = int(np.prod(sizes))
            np.multiply(column, stride, out=joint_index, dtype=np.int64)
            joint_index += index
            joint = np.bincount(joint_index, minlength=width * stride).reshape(width, *sizes).astype(np.float64)
            code_counts = joint.reshape(width, -1).sum(axis=1)                       # [width]
            for position, k in enumerate(group):
                others = tuple(1 + i for i in range(len(group)) if i != position)
                pair = joint.sum(axis=others) if others else joint                  # [width, |V_k|]
                factor_counts = pair.sum(axis=0)                                     # [|V_k|]
                mutual_info[j, k] = _mutual_info_from_joint(pair, code_counts, factor_counts, num_points)
                if j == 0:
                    factor_entropy[k] = _entropy_from_counts(factor_counts, num_points)
    return mutual_info, factor_entropy


def _mutual_info_from_joint(pair, code_counts, factor_counts, num_points):
    """(1/N) Σ_ab n_ab log[(n_ab N) / (n_a n_b)] of one joint histogram pair [A, B]."""
    expected = code_counts[:, None] * factor_counts[None, :]
    occupied = pair > 0
    ratio = np.where(occupied, pair * float(num_points), 1.0) / np.where(occupied, expected, 1.0)
    return float(np.sum(pair * np.log(ratio)) / num_points)


@overload
def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None,
                                return_factor_entropy: Literal[False] = False) -> np.ndarray: ...


@overload
def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None, *,
                                return_factor_entropy: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None,
                                return_factor_entropy: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Plug-in I(code_j; factor_k) in nats for every pair: [D, K].

    For each code and each group of factors one joint histogram is built with a single
    ``np.bincount`` over (code label, factor labels), then

        I(a; b) = Σ_ab p̂(a, b) log[p̂(a, b) / (p̂(a) p̂(b))] = (1/N) Σ_ab n_ab log[(n_ab N) / (n_a n_b)],

    the same quantity as ``sklearn.metrics.mutual_info_score(a, b)``. Each cell's ratio is
    formed from integer counts (exact in float64 while n_ab N < 2⁵³), so wherever the counts
    factorise exactly the log is exactly 0: a code or factor that takes a single value
    (n_a = N, n_ab = n_b) has I = 0 exactly, not the 1e-16 of round-off that the
    equivalent form log N + (1/N)(Σ n_ab log n_ab − Σ n_a log n_a − Σ n_b log n_b) leaves
    and that a ratio of mutual informations (modularity) would read as information.

    Args:
        code_labels: discrete array [N, D] (e.g. from ``discretize``).
        factor_labels: discrete array [N, K].
        num_code_labels: if given, the code labels are known to be int64 in
            0 … num_code_labels − 1 (as ``discretize`` returns them) and are used as they are.
        return_factor_entropy: also return the plug-in entropy of each factor [K], read
            off the same histograms.

    Returns:
        float64 array [D, K] (and [K] with ``return_factor_entropy``).
    """
    if num_code_labels is None:
        code_labels, code_sizes = as_labels(code_labels)
    else:
        code_labels = np.asarray(code_labels)
        code_sizes = [int(num_code_labels)] * code_labels.shape[1]
    factor_labels, factor_sizes = as_labels(factor_labels)
    num_points, num_codes = code_labels.shape
    if factor_labels.shape[0] != num_points:
        raise ValueError(
            f"code_labels and factor_labels must have the same number of rows, "
            f"got {num_points} and {factor_labels.shape[0]}"
        )
    width = max(code_sizes)
    check_histogram_size(num_codes, width, factor_sizes, name="num_code_labels")

    columns = (code_labels[:, j] for j in range(num_codes))
    mutual_info, factor_entropy = _mutual_info_of_columns(columns, num_codes, width, factor_labels, factor_sizes)
    # A sum of positive and negative cell terms can still round to -1e-17 where the counts
    # are independent only up to rounding; mutual information is >= 0.
    mutual_info = np.maximum(mutual_info, 0.0)
    return (mutual_info, factor_entropy) if return_factor_entropy else mutual_info
