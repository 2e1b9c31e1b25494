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

from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics.inputs import check_codes

__all__ = ["as_labels", "discrete_entropy", "discrete_mutual_info_matrix", "discretize"]


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
    lows, highs = codes.min(axis=0), codes.max(axis=0)
    labels = np.empty(codes.shape, dtype=np.int64)
    for start in range(0, codes.shape[0], _DISCRETIZE_ROWS):
        block = codes[start:start + _DISCRETIZE_ROWS]
        for j in range(codes.shape[1]):
            column, low, high = block[:, j], lows[j], highs[j]
            if low == high:
                low, high = low - 0.5, high + 0.5
            step = (high - low) / num_bins
            bins = np.floor((column - low) / step)
            np.clip(bins, 0, num_bins - 1, out=bins)
            upper_edge = np.where(bins + 1 < num_bins, (bins + 1) * step + low, high)
            bins -= (bins > 0) & (column < bins * step + low)
            bins += (bins < num_bins - 1) & (column >= upper_edge)
            labels[start:start + _DISCRETIZE_ROWS, j] = bins
    return labels


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


@overload
def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None,
                                return_factor_entropy: Literal[False] = False) -> np.ndarray: ...


@overload
def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None, *,
                                return_factor_entropy: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


def discrete_mutual_info_matrix(code_labels: ArrayLike, factor_labels: ArrayLike, num_code_labels: int | None = None,
                                return_factor_entropy: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Plug-in I(code_j; factor_k) in nats for every pair: [D, K].

    For a group of factors one joint histogram of all D codes is built with a single
    ``np.bincount`` over (code index, code label, factor labels), then

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

    def mutual_info_from_joint(pair: np.ndarray, code_counts: np.ndarray, factor_counts: np.ndarray) -> np.ndarray:
        # (1/N) Σ_ab n_ab log[(n_ab N) / (n_a n_b)] for each code: pair [D, width, V].
        expected = code_counts[:, :, None] * factor_counts[None, None, :]
        occupied = pair > 0
        ratio = np.where(occupied, pair * float(num_points), 1.0) / np.where(occupied, expected, 1.0)
        return np.sum(pair * np.log(ratio), axis=(1, 2)) / num_points

    mutual_info = np.empty((num_codes, factor_labels.shape[1]))
    factor_entropy = np.empty(factor_labels.shape[1])
    # Factors are histogrammed in groups whose joint value count stays small (mixed radix,
    # at most _GROUP_VALUES values), so one bincount over the D codes of a point serves
    # several factors and each histogram still lives in cache. Code j occupies the labels
    # j*width ... (j+1)*width - 1 of the flat histogram.
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
    code_offsets = np.arange(num_codes, dtype=np.int64) * width
    joint_index = np.empty(code_labels.shape, dtype=np.int64)
    for group in groups:
        sizes = [factor_sizes[k] for k in group]
        stride = int(np.prod(sizes))
        combined = np.zeros(num_points, dtype=np.int64)
        for k, size in zip(group, sizes):
            combined = combined * size + factor_labels[:, k]
        np.add(code_labels, code_offsets, out=joint_index)
        joint_index *= stride
        joint_index += combined[:, None]
        joint = np.bincount(joint_index.reshape(-1), minlength=num_codes * width * stride)
        joint = joint.reshape(num_codes, width, *sizes).astype(np.float64)
        code_counts = joint.reshape(num_codes, width, -1).sum(axis=2)  # [D, width]
        for position, k in enumerate(group):
            others = tuple(2 + i for i in range(len(group)) if i != position)
            pair = joint.sum(axis=others) if others else joint  # [D, width, |V_k|]
            factor_counts = pair[0].sum(axis=0)  # [|V_k|]
            mutual_info[:, k] = mutual_info_from_joint(pair, code_counts, factor_counts)
            factor_entropy[k] = _entropy_from_counts(factor_counts, num_points)
    # A sum of positive and negative cell terms can still round to -1e-17 where the counts
    # are independent only up to rounding; mutual information is >= 0.
    mutual_info = np.maximum(mutual_info, 0.0)
    return (mutual_info, factor_entropy) if return_factor_entropy else mutual_info
