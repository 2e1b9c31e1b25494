r"""Estimators of the aggregate posterior q(z) and its marginals q(z_d) from a minibatch.

The aggregate posterior of a data set {x_1, …, x_N} is the mixture

    q(z) = (1/N) Σ_{n=1}^{N} q(z | x_n),        q(z_d) = (1/N) Σ_n q(z_d | x_n).

Every estimator here replaces that sum by a weighted sum over the B data points of a
minibatch. For a sample z_i drawn from q(z | x_i) of the batch,

    log q̂(z_i)   = logsumexp_j [ log W_ij + Σ_d log q(z_i,d | x_j) ]
    log q̂(z_i,d) = logsumexp_j [ log W_ij +       log q(z_i,d | x_j) ]

and the methods differ only in the weight matrix W (rows i, columns j):

==============  ===========================================================================
``exact``       W_ij = 1/N; the batch *is* the data set (B = N); no approximation.
``mws``         W_ij = 1/(N·B): minibatch weighted sampling, 001 eq 3 (004 eq 11), with the
                constant −log(N·B) kept. Its rows sum to 1/N, not 1: even with the whole data
                set as the batch it gives log q − log N for log q(z) and for every log q(z_d),
                so its TC is shifted up by (D − 1) log N. The gradient is unbiased; the value
                is not the TC.
``mws_dropped`` W_ij = 1: MWS with that constant dropped, as disentanglement_lib computes
                it. Gradients are unchanged; the TC it reports is lower by
                (D − 1) log(N·B) and is *not* in nats. For comparison only.
``mss1``        stratified sampling (Chen et al. 2018, appendix; 004 eqs 5–6 and A.2) with
                M = B − 1: W_ii = 1/N, W_i,(i+1) mod B = (N − M)/(N M), every other entry
                1/M. Each row sums to 1: a proper mixture estimate.
``mss0``        the same weights *placed as the published β-TCVAE code places them*: it
                writes with stride B into the flattened B×B matrix, which walks down columns
                0 and 1 instead of the diagonal. Column 0 gets 1/N (row B−2 gets
                (N − M)/(N M)), column 1 gets (N − M)/(N M), the rest 1/M, so the own-sample
                entries W_ii (i ≥ 2) keep 1/M and row B−2 sums to (M + 1)/M − 2/N.
                Reproduced on purpose, to compare with published numbers.
``hfvae``       002 §3.1: W_ii = 1/N, W_ij = (N − 1)/(N (B − 1)) for j ≠ i (rows sum to 1).
==============  ===========================================================================

The pairwise tensor log q(z_i,d | x_j) is [M, B, D]; it is never materialised whole.
The work is chunked over samples, one chunk at a time, so memory is O(chunk · B · D) and
time O(M · B · D). Under a gradient tape each chunk is recomputed in the backward pass
(``tf.recompute_grad``) instead of keeping its [chunk, B, D] activations, so training
memory is O(chunk · B · D) too, for one extra forward pass of the estimator; this needs a
posterior whose tensors ``flatten_distribution`` can read (tfp distributions and the
``refvae.latents`` wrappers), else the chunks' activations are kept.

Example:
    >>> import tensorflow_probability as tfp
    >>> posterior = tfp.distributions.Normal(loc=mu, scale=sigma)      # batch [B, D]
    >>> z = posterior.sample(seed=0)                                    # [B, D]
    >>> log_qz, log_qzd = aggregate_log_density(z, posterior, dataset_size=60000, method="mss1")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from refvae import checks, latents

# flatten_distribution lives with the distributions it takes apart; its old name keeps working here.
from refvae.latents import flatten_distribution

if TYPE_CHECKING:
    from tensorflow_probability import distributions as tfd

KNOWN_METHODS = ("exact", "mws", "mws_dropped", "mss0", "mss1", "hfvae")

# Methods whose weights pair sample i with data point i of the batch.
_PAIRED_METHODS = ("mss0", "mss1", "hfvae")

# Elements of one chunk of the pairwise tensor (16 MiB of float32).
DEFAULT_CHUNK_ELEMENTS = 1 << 22


def check_method(method: str) -> None:
    """Raise a ValueError naming the known methods unless ``method`` is one of them."""
    if method not in KNOWN_METHODS:
        raise ValueError(f"unknown estimator method {method!r}; known methods: {', '.join(KNOWN_METHODS)}")


def _check_sizes(num_samples, batch_size, dataset_size, method):
    check_method(method)
    dataset_size = checks.dataset_size(dataset_size)
    if batch_size is not None:
        if dataset_size < batch_size:
            raise ValueError(
                f"dataset_size ({dataset_size}) must be at least the batch size ({batch_size}): the batch is drawn from the data set"
            )
        if method == "exact" and batch_size != dataset_size:
            raise ValueError(
                f"method 'exact' needs the whole data set as the batch: batch size {batch_size} != dataset_size {dataset_size}"
            )
        if method in _PAIRED_METHODS and batch_size < 2:
            raise ValueError(f"method {method!r} needs a batch of at least 2 data points, got {batch_size}")
        if method in _PAIRED_METHODS and num_samples is not None and num_samples != batch_size:
            raise ValueError(
                f"method {method!r} pairs sample i with data point i: need as many samples as data points, "
                f"got {num_samples} samples and {batch_size} data points"
            )


def log_importance_weights(batch_size: int, dataset_size: int, method: str, rows: tf.Tensor | None = None,
                           dtype: tf.DType = tf.float32) -> tf.Tensor:
    """log W for the rows ``rows`` (default all) of the B×B weight matrix of ``method``.

    Args:
        batch_size: B, data points in the batch (columns); a Python int or a scalar int
            tensor (a batch size only known when the graph runs).
        dataset_size: N.
        method: one of ``KNOWN_METHODS``.
        rows: int tensor of row indices (samples); default ``range(B)``. Rows past B − 1
            (padding) get finite weights that callers discard.
        dtype: float dtype of the result.

    Returns:
        [len(rows), B] tensor of log weights.

    Example:
        >>> np.exp(log_importance_weights(4, 100, "mss1")).sum(axis=1)   # rows sum to 1
        array([1., 1., 1., 1.], dtype=float32)
    """
    static_b = batch_size if isinstance(batch_size, (int, np.integer)) else None
    _check_sizes(None, static_b, dataset_size, method)
    return _log_importance_weights(batch_size, dataset_size, method, rows, dtype)


def _log_importance_weights(batch_size, dataset_size, method, rows, dtype):
    """``log_importance_weights`` without the checks, which its callers have run."""
    b = tf.cast(batch_size, tf.int32)
    bf = tf.cast(b, tf.float64)
    n = tf.constant(float(dataset_size), tf.float64)
    if rows is None:
        rows = tf.range(b)
    rows = tf.cast(rows, tf.int32)
    cols = tf.range(b)
    shape = tf.stack([tf.size(rows), b])

    def full(value):
        return tf.fill(shape, tf.cast(value, dtype))

    if method == "exact":
        return full(-tf.math.log(n))
    if method == "mws":
        return full(-tf.math.log(n * bf))
    if method == "mws_dropped":
        return full(tf.zeros([], tf.float64))
    own = tf.equal(rows[:, None], cols[None, :])
    log_own = full(-tf.math.log(n))
    if method == "hfvae":
        return tf.where(own, log_own, full(tf.math.log((n - 1.0) / (n * (bf - 1.0)))))
    m = bf - 1.0
    log_rest = full(-tf.math.log(m))
    log_strat = full(tf.math.log((n - m) / (n * m)))
    if method == "mss1":
        strat = tf.equal(cols[None, :], ((rows + 1) % b)[:, None])
        return tf.where(own, log_own, tf.where(strat, log_strat, log_rest))
    # mss0: the published placement, column 0 <- 1/N, column 1 <- strat, W[B-2, 0] <- strat.
    col0 = tf.broadcast_to(tf.equal(cols[None, :], 0), shape)
    col1 = tf.broadcast_to(tf.equal(cols[None, :], 1), shape)
    corner = tf.logical_and(col0, tf.equal(rows[:, None], b - 2))
    log_w = tf.where(col0, log_own, tf.where(col1, log_strat, log_rest))
    return tf.where(corner, log_strat, log_w)


def _chunk_size(num_samples, batch_size, num_units, chunk_size):
    if chunk_size is not None:
        return checks.integer(chunk_size, "chunk_size")
    per_sample = max(1, (batch_size or 1024) * num_units)
    return int(max(1, min(num_samples or 1 << 30, DEFAULT_CHUNK_ELEMENTS // per_sample)))


def _reduce(log_q_rows, log_w, groups):
    """Mixture log densities of one block of rows: log_q_rows [m, B, D], log_w [m, B]."""
    log_w = tf.cast(log_w, log_q_rows.dtype)
    log_qz = tf.reduce_logsumexp(log_w + tf.reduce_sum(log_q_rows, axis=-1), axis=1)
    log_qzd = tf.reduce_logsumexp(log_w[:, :, None] + log_q_rows, axis=1)
    outputs = [log_qz, log_qzd]
    if groups is not None:
        group_sums = tf.stack(
            [tf.reduce_sum(tf.gather(log_q_rows, g, axis=-1), axis=-1) for g in groups], axis=-1
        )
        outputs.append(tf.reduce_logsumexp(log_w[:, :, None] + group_sums, axis=1))
    return outputs


def _check_groups(groups, num_units):
    if groups is None:
        return None
    groups = [list(map(int, g)) for g in groups]
    flat = sorted(i for g in groups for i in g)
    if any(len(g) == 0 for g in groups) or flat != list(range(num_units)):
        raise ValueError(f"groups must partition the {num_units} units into non-empty lists, got {groups}")
    return groups


def aggregate_log_density(z: tf.Tensor, posterior: tfd.Distribution, dataset_size: int, method: str, *,
                          groups: Sequence[Sequence[int]] | None = None, chunk_size: int | None = None) -> tuple[tf.Tensor, ...]:
    """log q̂(z_i) and log q̂(z_i,d) for samples z_i drawn from q(z | x_i) of a batch.

    Args:
        z: [M, E] samples (E the event size; sample i from q(z | x_i) for the paired
            methods, which need M = B).
        posterior: the batch's q(z | x_j), any distribution whose ``log_prob(z)`` returns
            per-unit log densities [..., D] broadcast against batch [B] (``tfd.Normal``
            with batch [B, D], or a ``refvae.latents`` wrapper).
        dataset_size: N, the size of the data set the batch was drawn from.
        method: one of ``KNOWN_METHODS`` (see the module docstring for each weight matrix).
        groups: optional list of lists of unit indices; then log q̂(z_g) per group is
            returned as a third output [M, G].
        chunk_size: samples per chunk (default: chunks of about 4M pairwise entries).

    Returns:
        (log_qz [M], log_qzd [M, D]) and, with ``groups``, log_qzg [M, G].

    Raises:
        TypeError: z not floating, or of another dtype than the posterior.
        ValueError: when eager, non-finite z or posterior parameters, or a posterior scale
            <= 0 (inside ``tf.function`` nothing is checked, so a training step pays nothing).
    """
    check_method(method)
    checks.dataset_size(dataset_size)
    z = latents.real_tensor(z, "z")
    if z.shape.rank != 2:
        raise ValueError(f"z must have shape [M samples, event size], got {z.shape}")
    latents.check_dtype("z", z.dtype, posterior, "posterior")
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(z))):
            raise ValueError("z holds NaN or infinite values")
        latents.check_parameters(posterior, "posterior")
    probe = posterior.log_prob(z[:1, None, :])
    if probe.shape.rank != 3:
        raise ValueError(
            "posterior must have a batch of data points and return per-unit log densities; "
            f"log_prob(z[:, None, :]) gave shape {probe.shape}, expected [M, B, D]"
        )
    static_b, num_units = probe.shape[1], probe.shape[2]
    _check_sizes(z.shape[0], static_b, dataset_size, method)
    # a posterior whose parameters could not be read above (not a tfp distribution or a refvae wrapper)
    if tf.executing_eagerly() and bool(tf.reduce_any(tf.math.is_nan(probe))):
        raise ValueError("posterior has NaN parameters: its log densities are NaN")
    groups = _check_groups(groups, num_units)
    batch_size = static_b if static_b is not None else tf.shape(probe)[1]
    chunk = _chunk_size(z.shape[0], static_b, num_units, chunk_size)

    def weights(row_ids):
        return _log_importance_weights(batch_size, dataset_size, method, row_ids, probe.dtype)

    def reduce_rows(z_rows, log_w):
        return _reduce(posterior.log_prob(z_rows[:, None, :]), log_w, groups)

    if z.shape[0] is not None and chunk >= z.shape[0]:
        return tuple(reduce_rows(z, weights(tf.range(z.shape[0]))))

    num_samples = tf.shape(z)[0]
    num_chunks = (num_samples + chunk - 1) // chunk
    padding = num_chunks * chunk - num_samples
    z_padded = tf.concat([z, tf.zeros(tf.stack([padding, tf.shape(z)[1]]), z.dtype)], axis=0)
    z_chunks = tf.reshape(z_padded, tf.stack([num_chunks, chunk, tf.shape(z)[1]]))
    spec = [tf.TensorSpec([chunk], probe.dtype), tf.TensorSpec([chunk, num_units], probe.dtype)]
    if groups is not None:
        spec.append(tf.TensorSpec([chunk, len(groups)], probe.dtype))

    # Under a gradient tape, recompute each chunk in the backward pass instead of keeping it:
    # the posterior's tensors become explicit inputs so that their gradients flow.
    flat = flatten_distribution(posterior)
    if flat is None:
        reduce_chunk, parts = reduce_rows, []
    else:
        tensors, rebuild = flat
        parts = [tf.convert_to_tensor(t) for t in tensors]

        @tf.recompute_grad
        def reduce_chunk(z_rows, log_w, *parts):
            return tuple(_reduce(rebuild(parts).log_prob(z_rows[:, None, :]), log_w, groups))

    def one_chunk(args):
        index, z_rows = args
        return list(reduce_chunk(z_rows, weights(index * chunk + tf.range(chunk)), *parts))

    # one chunk at a time: map_fn's default runs 10 in flight, 10x the memory
    stacked = tf.map_fn(one_chunk, (tf.range(num_chunks), z_chunks), fn_output_signature=spec,
                        parallel_iterations=1)
    return tuple(
        tf.reshape(part, tf.concat([[-1], tf.shape(part)[2:]], axis=0))[:num_samples] for part in stacked
    )


def _check_pairwise_values(values):
    if np.isnan(values).any():
        raise ValueError("log_q_pairwise holds NaN values")
    if np.isposinf(values).any():
        i, j, d = np.argwhere(np.isposinf(values))[0]
        raise ValueError(f"log_q_pairwise holds +inf (at [{i}, {j}, {d}]): a log density is finite, or -inf "
                         f"for a zero density")
    empty = np.all(np.isneginf(values), axis=1)  # [M, D]
    if empty.any():
        i, d = np.argwhere(empty)[0]
        raise ValueError(f"log_q_pairwise[{i}, :, {d}] is -inf for every data point: sample {i} would have zero "
                         f"density under every posterior of the batch, which a sample drawn from the batch cannot")


def aggregate_log_density_from_pairwise(log_q_pairwise: tf.Tensor, dataset_size: int, method: str, *,
                                        groups: Sequence[Sequence[int]] | None = None) -> tuple[tf.Tensor, ...]:
    """The same estimators from an explicit tensor log_q_pairwise[i, j, d] = log q(z_i,d | x_j).

    For teaching and tests: the whole [M, B, D] tensor is given, so no chunking is done. An
    entry may be −inf (a zero density: sample i outside the support of q(z_d | x_j)), but
    not every entry of a row log_q_pairwise[i, :, d]: a sample drawn from the batch has a
    positive density under at least its own posterior.

    Returns:
        (log_qz [M], log_qzd [M, D]) and, with ``groups``, log_qzg [M, G].

    Raises:
        ValueError: when eager, NaN or +inf entries, or a row of −inf (inside
            ``tf.function`` nothing is checked).
    """
    check_method(method)
    log_q_pairwise = latents.real_tensor(log_q_pairwise, "log_q_pairwise")
    if log_q_pairwise.shape.rank != 3:
        raise ValueError(f"log_q_pairwise must have shape [M, B, D], got {log_q_pairwise.shape}")
    num_samples, batch_size, num_units = log_q_pairwise.shape
    _check_sizes(num_samples, batch_size, dataset_size, method)
    if tf.executing_eagerly():
        _check_pairwise_values(log_q_pairwise.numpy())
    groups = _check_groups(groups, num_units)
    # inside tf.function M and B may only be known when the graph runs
    dynamic = tf.shape(log_q_pairwise)
    rows = tf.range(num_samples if num_samples is not None else dynamic[0])
    batch_size = batch_size if batch_size is not None else dynamic[1]
    log_w = _log_importance_weights(batch_size, dataset_size, method, rows, log_q_pairwise.dtype)
    return tuple(_reduce(log_q_pairwise, log_w, groups))
