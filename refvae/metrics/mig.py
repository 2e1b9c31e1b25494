"""Mutual information gap (MIG), Chen et al. 2018 (001 §4.1, eqs 5-6).

    MIG = (1/K) Σ_k (1 / H(v_k)) ( I(z_{j(k)}; v_k) − max_{j ≠ j(k)} I(z_j; v_k) ),
    j(k) = argmax_j I(z_j; v_k)                                              (001 eq 6)

Two estimators of I(z_j; v_k) are in use and their numbers are NOT comparable; name the
one a number comes from:

- ``mig`` (histogram MIG, the disentanglement_lib definition): mean codes of 10,000 sampled
  points, each code discretised into 20 equal-width bins over its observed range, plug-in
  discrete MI in nats, divided by the *empirical* entropy of the sampled factor; no clamping.
- ``mig_sampled`` (the β-TCVAE authors' estimator, 001 eq 5): Gaussian posteriors q(z_j|n)
  over the whole factor grid, I(z_j; v_k) = E_{q(z_j, v_k)}[log q(z_j | v_k) − log q(z_j)]
  with both densities exact mixtures over the grid, clamped at 0 and divided by
  H(v_k) = log |V_k|.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import discrete, gaussian_mixture, inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["MIN_FACTORS", "check_defined", "mig", "mig_from_mutual_info", "compute_mig", "mig_sampled"]

# MIG is a mean over factors of a per-factor gap: one factor is enough.
MIN_FACTORS = 1

# The most samples × codes × arrays of ``mig_sampled``'s Monte-Carlo draws held at once
# (float64: 1 GiB); 001's 10,000 samples of 10 codes over 5 factors need 8 · 10⁵.
_MAX_SAMPLE_VALUES = 2**27


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless MIG is defined on factors of these sizes: at least
    ``MIN_FACTORS`` factor, each taking at least 2 values (H(v_k) > 0, 001 eq 6)."""
    inputs.require_factors("MIG", factor_sizes, MIN_FACTORS, where=where)


def mig_from_mutual_info(mutual_info: ArrayLike, factor_entropy: ArrayLike) -> np.ndarray:
    """Per-factor gap between the two most informative codes, over the factor entropy.

    Args:
        mutual_info: [D, K] I(z_j; v_k) in nats, D >= 2.
        factor_entropy: [K] H(v_k) in nats, > 0.

    Returns:
        float64 array [K]: (largest − second largest of column k) / factor_entropy[k].
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    factor_entropy = np.asarray(factor_entropy, dtype=np.float64)
    if mutual_info.ndim != 2 or mutual_info.shape[0] < 2:
        raise ValueError(f"mutual_info must have shape [D, K] with D >= 2 codes, got {mutual_info.shape}")
    if factor_entropy.shape != (mutual_info.shape[1],):
        raise ValueError(f"factor_entropy must have shape [{mutual_info.shape[1]}], got {factor_entropy.shape}")
    if np.any(factor_entropy <= 0):
        raise ValueError("factor_entropy must be > 0: a factor that takes one value has no information to find")
    top_two = -np.sort(-mutual_info, axis=0)[:2]
    return (top_two[0] - top_two[1]) / factor_entropy


def mig(codes: ArrayLike, factors: ArrayLike, num_bins: int = 20) -> dict[str, Any]:
    """Histogram MIG (disentanglement_lib definition) of codes against discrete factors.

    Each code is discretised into ``num_bins`` equal-width bins over its observed range,
    I(z_j; v_k) is the plug-in discrete mutual information in nats (as
    ``sklearn.metrics.mutual_info_score``), H(v_k) the empirical entropy of the factor in
    the sample, and (001 eq 6)

        MIG_k = (I(z_{j(k)}; v_k) − max_{j≠j(k)} I(z_j; v_k)) / H(v_k),   MIG = mean_k MIG_k.

    Invariant to permuting codes and to any strictly increasing map of a code that keeps
    the bins (e.g. affine rescaling).

    Args:
        codes: [N, D] codes (D >= 2), usually the posterior means.
        factors: [N, K] integer factor values; every factor must vary in the sample.
        num_bins: bins per code (disentanglement_lib: 20).

    Returns:
        dict: "mig" float, "per_factor" [K], "mutual_info" [D, K] (nats),
        "factor_entropy" [K] (nats).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> factors = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
        >>> round(metrics.mig(factors.astype(float), factors)["mig"], 6)
        1.0
    """
    codes = inputs.check_codes(codes, min_dims=2)
    factors = inputs.check_factors(factors)
    inputs.check_same_length(codes=codes, factors=factors)
    num_bins = checks.integer(num_bins, "num_bins")
    inputs.require_factor_values("MIG", factors, "factors", MIN_FACTORS)
    mutual_info, factor_entropy = discrete.code_factor_mutual_info(codes, factors, num_bins)
    per_factor = mig_from_mutual_info(mutual_info, factor_entropy)
    return {
        "mig": float(np.mean(per_factor)),
        "per_factor": per_factor,
        "mutual_info": mutual_info,
        "factor_entropy": factor_entropy,
    }


def compute_mig(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                num_train: int = 10000, batch_size: int = 16, num_bins: int = 20) -> dict[str, Any]:
    """Histogram MIG of ``representation`` on ``num_train`` points sampled from ``data``.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        representation: observations -> codes [n, D] (NumPy).
        rng: ``numpy.random.Generator`` or int seed.
        num_train: points sampled (disentanglement_lib: 10,000).
        batch_size: observations per call of ``representation``.
        num_bins: bins per code.

    Returns:
        the dict of ``mig``.
    """
    sizes = inputs.check_data(data)
    check_defined(sizes, inputs.data_name(data))
    num_bins = checks.integer(num_bins, "num_bins")
    # MIG needs D >= 2 codes and every factor at least 2 values: a lower bound, checked before encoding
    discrete.check_histogram_size(2, num_bins, [2], at_least=True)
    codes, factors = sampling.sample_representation(data, representation, num_train, rng, batch_size, name="num_train")
    return mig(codes, factors, num_bins=num_bins)


def _check_num_samples(num_samples: int, num_codes: int, num_arrays: int) -> int:
    """``num_samples`` checked so that its [S, D] arrays (``num_arrays`` of them) fit the limit."""
    num_samples = checks.integer(num_samples, "num_samples")
    values = num_samples * num_codes * num_arrays
    if values > _MAX_SAMPLE_VALUES:
        raise ValueError(
            f"num_samples={num_samples:,} is above the limit: its samples and log densities ({num_samples:,} x "
            f"{num_codes} codes x {num_arrays} arrays) would take {values * 8 / 2**30:.3g} GiB, and the limit is "
            f"{_MAX_SAMPLE_VALUES * 8 // 2**30} GiB; 001 uses 10,000 samples"
        )
    return num_samples


def subgrid_factors(factor_sizes: Iterable[int], steps: Sequence[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Every ``steps[k]``-th value of factor k, as a row-major grid (for ``mig_sampled``).

    The sampled MIG mixes over the whole grid, N = Π_k |V_k| points; on a CPU the dSprites
    grid (737,280 points) is slow to encode. A sub-grid keeps the product structure, so
    ``mig_sampled`` applies to it unchanged, with H(v_k) = log of the sub-grid's |V_k|.

    Args:
        factor_sizes: |V_k| of the full grid.
        steps: one positive int per factor (1 keeps every value).

    Returns:
        (factors [n, K] int64, values in the full grid's coordinates; sub-grid sizes tuple).

    Example:
        >>> factors, sizes = subgrid_factors((3, 6, 40), (1, 2, 10))
        >>> sizes, factors[:2].tolist()
        ((3, 3, 4), [[0, 0, 0], [0, 0, 10]])
    """
    factor_sizes = tuple(checks.integer(size, "factor_sizes") for size in factor_sizes)
    steps = tuple(steps)
    if len(steps) != len(factor_sizes):
        raise ValueError(f"steps must have one entry per factor ({len(factor_sizes)}), got {steps}")
    steps = tuple(checks.integer(step, "steps") for step in steps)
    values = [np.arange(0, size, step) for size, step in zip(factor_sizes, steps)]
    sizes = tuple(len(v) for v in values)
    index = np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), axis=1)
    factors = np.stack([values[k][index[:, k]] for k in range(len(sizes))], axis=1).astype(np.int64)
    return factors, sizes


def mig_sampled(loc: ArrayLike, scale: ArrayLike, factor_sizes: Iterable[int], num_samples: int = 10000,
                factors: Sequence[int] | None = None, seed: np.random.Generator | int = 0,
                chunk_elements: int = 2**23) -> dict[str, Any]:
    """Sampled MIG of Gaussian posteriors over a whole factor grid (001 eqs 5-6).

    The data set is the full grid of ``factor_sizes`` in row-major order (point n has
    factor values ``np.unravel_index(n, factor_sizes)``), with q(z|n) = N(loc[n], scale[n]²)
    diagonal. For the joint q(z_j, v_k) = Σ_n p(v_k) p(n|v_k) q(z_j|n) (001 eq 5)

        I(z_j; v_k) = E_{q(z_j, v_k)} [ log q(z_j | v_k) − log q(z_j) ],
        q(z_j | v_k = v) = mean over the grid points with factor k = v of q(z_j | n),
        q(z_j)          = mean over all N grid points of q(z_j | n).

    The expectation is a Monte-Carlo average over ``num_samples`` grid points n drawn
    uniformly without replacement, one posterior sample z ~ q(z|n) each, with v_k = v_k(n);
    both mixtures are exact (log-mean-exp against all of their components, chunked so the
    memory is O(chunk_elements)). The same samples serve every (j, k), so the two entropies
    of I = H(z_j) − H(z_j|v_k) share their noise. (The β-TCVAE code draws separate samples
    for each conditional entropy; the expectation is the same.) Estimates are clamped at 0
    and divided by H(v_k) = log |V_k|; MIG is the mean over the scored factors of the gap
    between the two largest normalised values.

    Args:
        loc: [N, D] posterior means, N = prod(factor_sizes), D >= 2.
        scale: [N, D] posterior standard deviations (> 0).
        factor_sizes: sizes |V_k| of the grid (each >= 2).
        num_samples: Monte-Carlo samples S (001: 10,000).
        factors: indices of the factors scored (default all; 001 excludes dSprites' shape,
            i.e. ``factors=[1, 2, 3, 4]``).
        seed: int seed or ``numpy.random.Generator``; the same seed gives the same number.
        chunk_elements: samples × N evaluated at once (memory ≈ 12 bytes each).

    Returns:
        dict: "mig" float, "per_factor" [len(factors)], "mutual_info" [D, len(factors)]
        (I(z_j; v_k) in nats, the Monte-Carlo estimate unclamped, as ``mig`` returns it),
        "normalized_mutual_info" [D, len(factors)] (max(I, 0) / log |V_k|, the matrix whose
        column gaps are MIG), "factors" the scored indices. "mutual_info_nats" is the same
        array as "mutual_info", kept for one release for code written against 0.1.0
        (where "mutual_info" held the normalised matrix).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(3), indexing="ij"), -1).reshape(-1, 2)
        >>> result = metrics.mig_sampled(grid.astype(float), np.full((12, 2), 0.01), (4, 3), num_samples=12)
        >>> round(result["mig"], 6)
        1.0
    """
    factor_sizes = inputs.check_factor_sizes(factor_sizes)
    if not factor_sizes or min(factor_sizes) < 2:
        raise ValueError(f"factor_sizes must be a non-empty sequence of ints >= 2, got {factor_sizes}")
    loc = inputs.check_codes(loc, "loc", min_dims=2)
    scale = inputs.check_codes(scale, "scale", min_dims=2)
    if scale.shape != loc.shape:
        raise ValueError(f"scale must have the shape of loc {loc.shape}, got {scale.shape}")
    if np.any(scale <= 0):
        raise ValueError("scale must be > 0")
    num_points = math.prod(factor_sizes)
    if loc.shape[0] != num_points:
        raise ValueError(
            f"loc must hold the whole grid: {num_points} = prod(factor_sizes={factor_sizes}) rows, got {loc.shape[0]}"
        )
    if factors is None:
        factors = tuple(range(len(factor_sizes)))
    else:
        factors = tuple(int(k) for k in np.atleast_1d(factors))
        if not factors or any(k < 0 or k >= len(factor_sizes) for k in factors) or len(set(factors)) != len(factors):
            raise ValueError(f"factors must be distinct indices in [0, {len(factor_sizes)}), got {factors}")
    num_samples = _check_num_samples(num_samples, loc.shape[1], len(factors) + 3)
    chunk_elements = gaussian_mixture.check_chunk_elements(chunk_elements)
    rng = checks.rng(seed, "seed")

    sample_index = rng.choice(num_points, size=num_samples, replace=num_samples > num_points)
    noise = rng.standard_normal(loc[sample_index].shape)
    z = loc[sample_index] + scale[sample_index] * noise
    log_marginal, log_conditional = gaussian_mixture.gaussian_mixture_log_means(
        z, sample_index, loc, scale, factor_sizes, factors, chunk_elements
    )
    mutual_info = np.mean(log_conditional - log_marginal[None], axis=1).T  # [D, K_scored] nats
    log_sizes = np.log(np.array([factor_sizes[k] for k in factors], dtype=np.float64))
    normalized = np.maximum(mutual_info, 0.0) / log_sizes
    per_factor = mig_from_mutual_info(normalized, np.ones(len(factors)))
    return {
        "mig": float(np.mean(per_factor)),
        "per_factor": per_factor,
        "mutual_info": mutual_info,
        "normalized_mutual_info": normalized,
        "mutual_info_nats": mutual_info,
        "factors": list(factors),
    }


def _evaluate_mig(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        loc, _, factors = evaluation.pool("train")
        return mig(loc, factors)
    return compute_mig(evaluation.dataset, evaluation.representation, evaluation.rng(),
                       num_train=evaluation.train_size)


def _evaluate_mig_sampled(evaluation: Evaluation) -> dict[str, Any]:
    factors, sizes = subgrid_factors(evaluation.dataset.factor_sizes, evaluation.grid_steps())
    from refvae.metrics import sampling

    loc, scale = sampling.posterior_moments(evaluation.posterior, factors, 2048,
                                            render=evaluation.dataset.observations_from_factors, dtype=None)
    result = mig_sampled(loc, scale, sizes, num_samples=min(evaluation.train_size, len(loc)), seed=evaluation.seed)
    return {**result, "grid_sizes": list(sizes)}


registry.register(MetricSpec("mig", "histogram MIG of the mean codes (001 eq 6; disentanglement_lib)", "mig",
                             _evaluate_mig, min_factors=MIN_FACTORS, by_default=True))
registry.register(MetricSpec("mig-sampled", "sampled MIG over the factor grid (001 eqs 5-6)", "mig",
                             _evaluate_mig_sampled, min_factors=MIN_FACTORS))
