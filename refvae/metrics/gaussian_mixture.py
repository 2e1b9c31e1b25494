"""The chunked log-mean-exp of one-dimensional Gaussian mixtures over a factor grid.

Behind the sampled MIG (001 eqs 5-6) and the per-dimension I(x; z_j): log q(z_j) and
log q(z_j | v_k) of posterior samples under the mixture of the N posteriors of a data set,
computed in bounded memory whatever N.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from refvae import checks

__all__ = ["MAX_CHUNK_ELEMENTS", "check_chunk_elements", "gaussian_mixture_log_means"]

_LOG_2PI = math.log(2.0 * math.pi)
_TINY_SUM = 1e-30  # float32 sums below this are recomputed in float64


# The most samples × components evaluated at once (about 12 bytes each: 768 MiB); the
# default is 2**23.
MAX_CHUNK_ELEMENTS = 2**26


def check_chunk_elements(chunk_elements: int, name: str = "chunk_elements") -> int:
    """``chunk_elements`` as an int in 1 … ``MAX_CHUNK_ELEMENTS`` (it sets the memory of a step)."""
    chunk_elements = checks.integer(chunk_elements, name)
    if chunk_elements > MAX_CHUNK_ELEMENTS:
        raise ValueError(
            f"{name} must be at most {MAX_CHUNK_ELEMENTS:,} (2**26; each element takes about 12 bytes, so a "
            f"step would need {chunk_elements * 12 / 2**30:.3g} GiB), got {chunk_elements:,}"
        )
    return chunk_elements


def gaussian_mixture_log_means(z: np.ndarray, sample_index: np.ndarray, loc: np.ndarray, scale: np.ndarray,
                               grid_shape: Sequence[int] | None = None, factors: Iterable[int] = (),
                               chunk_elements: int = 2**23) -> tuple[np.ndarray, np.ndarray]:
    """Chunked log-mean-exp of 1-D Gaussian mixtures over all N components, per dimension.

    For each sample z[i, j] and dimension j this returns

        log q(z_ij)            = log (1/N)   Σ_{n}        N(z_ij; loc[n, j], scale[n, j]²)
        log q(z_ij | v_k = v)  = log (1/N_v) Σ_{n: v_k(n)=v} N(z_ij; loc[n, j], scale[n, j]²)

    where the N components are the points of a factor grid in row-major order
    (``grid_shape``) and v is the value of factor k at the sample's own data point
    ``sample_index[i]`` (001 eq 5: the subset X_{v_k} of the grid that shares it).

    The densities are evaluated with TensorFlow in float32 against a per-dimension shift
    (the largest log normaliser), ``chunk_elements`` at a time, so memory is
    O(chunk_elements) whatever N; logs and means are taken in float64. A sum that underflows
    in float32 (extreme scale ratios) is recomputed exactly in float64 with NumPy.

    Args:
        z: samples [S, D].
        sample_index: int [S], the grid point each sample was drawn from.
        loc, scale: posterior parameters [N, D] (scale > 0).
        grid_shape: factor sizes with prod == N (default (N,): no factor subsets).
        factors: indices of the factors whose conditional densities are wanted.
        chunk_elements: samples × N evaluated per step.

    Returns:
        (log_marginal [S, D], log_conditional [len(factors), S, D]) float64.
    """
    import tensorflow as tf

    num_samples, num_dims = z.shape
    num_components = loc.shape[0]
    grid_shape = tuple(grid_shape) if grid_shape is not None else (num_components,)
    factors = tuple(int(k) for k in factors)
    values = np.stack(np.unravel_index(sample_index, grid_shape), axis=1) if factors else None
    chunk = max(1, min(num_samples, chunk_elements // num_components))

    log_normaliser = -np.log(scale) - 0.5 * _LOG_2PI  # [N, D] float64
    shift = log_normaliser.max(axis=0)  # [D]
    last = len(grid_shape) - 1

    @tf.function(reduce_retracing=True)
    def subset_sums(z_chunk, loc_j, inv_scale_j, log_norm_j, value_chunk):
        # Float32 density ratios exp(log N(z; loc, scale) - shift) in [0, 1]: [s, N].
        standardised = (z_chunk[:, None] - loc_j[None, :]) * inv_scale_j[None, :]
        ratios = tf.exp(log_norm_j[None, :] - 0.5 * standardised * standardised)
        grid = tf.reshape(ratios, [-1, *grid_shape])
        # One pass reduces the last factor; every other factor's subset sums come from it.
        if last > 0:
            partial = tf.reduce_sum(grid, axis=-1)  # [s, V_0, ..., V_{K-2}]
            total = tf.reduce_sum(partial, axis=list(range(1, last + 1)))
        else:
            total = tf.reduce_sum(grid, axis=1)
        conditional: list[tf.Tensor] = []
        for k in factors:
            if k == last:
                sums = tf.reduce_sum(tf.reshape(grid, [-1, num_components // grid_shape[-1], grid_shape[-1]]), axis=1)
            else:
                sums = tf.reduce_sum(partial, axis=[a for a in range(1, last + 1) if a != k + 1])
            conditional.append(tf.gather(sums, value_chunk[:, len(conditional)], batch_dims=1))
        return total, tf.stack(conditional, axis=0) if factors else tf.zeros([0, tf.shape(z_chunk)[0]])

    log_marginal = np.empty((num_samples, num_dims))
    log_conditional = np.empty((len(factors), num_samples, num_dims))
    value_columns = values[:, list(factors)] if values is not None else np.zeros((num_samples, 0), dtype=np.int64)
    subset_sizes = np.array([num_components // grid_shape[k] for k in factors], dtype=np.float64)
    for j in range(num_dims):
        loc_j = tf.constant(loc[:, j], tf.float32)
        inv_scale_j = tf.constant(1.0 / scale[:, j], tf.float32)
        log_norm_j = tf.constant(log_normaliser[:, j] - shift[j], tf.float32)
        for start in range(0, num_samples, chunk):
            stop = min(start + chunk, num_samples)
            total, conditional = subset_sums(
                tf.constant(z[start:stop, j], tf.float32),
                loc_j,
                inv_scale_j,
                log_norm_j,
                tf.constant(value_columns[start:stop], tf.int32),
            )
            total = total.numpy().astype(np.float64)
            conditional = conditional.numpy().astype(np.float64)
            with np.errstate(divide="ignore"):
                log_marginal[start:stop, j] = np.log(total) + shift[j] - math.log(num_components)
                log_conditional[:, start:stop, j] = (
                    np.log(conditional) + shift[j] - np.log(subset_sizes)[:, None]
                )
            underflow = (total < _TINY_SUM) | np.any(conditional < _TINY_SUM, axis=0)
            for i in np.flatnonzero(underflow) + start:
                log_marginal[i, j], log_conditional[:, i, j] = _exact_log_means(
                    z[i, j], loc[:, j], scale[:, j], grid_shape, factors, value_columns[i]
                )
    return log_marginal, log_conditional


def _exact_log_means(z_value: float, loc_j: np.ndarray, scale_j: np.ndarray, grid_shape: tuple[int, ...],
                     factors: tuple[int, ...], sample_values: np.ndarray) -> tuple[float, np.ndarray]:
    """Float64 log-mean-exp for one sample (the underflow fallback)."""
    from scipy.special import logsumexp

    log_density = -0.5 * ((z_value - loc_j) / scale_j) ** 2 - np.log(scale_j) - 0.5 * _LOG_2PI
    marginal = logsumexp(log_density) - math.log(log_density.shape[0])
    grid = log_density.reshape(grid_shape)
    conditional = np.empty(len(factors))
    for position, k in enumerate(factors):
        subset = np.take(grid, sample_values[position], axis=k)
        conditional[position] = logsumexp(subset) - math.log(subset.size)
    return marginal, conditional
