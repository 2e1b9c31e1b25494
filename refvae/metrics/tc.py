"""Total correlation of the mean codes versus the sampled codes (004 §3, Figs 3-4).

A TC penalty acts on *sampled* codes z ~ q(z|x), but the representation that is scored is
usually the *mean* code μ(x). 004 (Theorem 1) shows the two can disagree without bound: a
model can keep TC(z) small while its means are strongly correlated. Two numbers make the
difference visible:

- TC_mean: the Gaussian-fit TC of the mean codes, ½(Σ_k log Σ_kk − log|Σ|) with Σ the
  covariance of μ over the data (004 eq 9; ``refvae.info.gaussian_total_correlation``);
- TC_sample: the TC of sampled codes, E_q(z)[log q(z) − Σ_j log q(z_j)] with the aggregate
  posterior q(z) = (1/N) Σ_n q(z|x_n) over the N given points, estimated with
  ``refvae.estimators.aggregate_log_density`` ("exact": every sample against all N
  components; a minibatch method gives that estimator's value instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import GroundTruthData, Representation

__all__ = ["tc_of_means", "tc_of_samples", "minibatch_tc_terms", "tc_means_vs_samples", "compute_tc_means_vs_samples"]


def tc_of_means(codes: ArrayLike) -> float:
    """Gaussian-fit total correlation of codes [N, D] (nats, 004 eq 9).

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import tc_of_means
        >>> rng = np.random.default_rng(0)
        >>> tc_of_means(rng.normal(size=(100000, 3))) < 1e-3
        True
    """
    from refvae import info

    codes = inputs.check_codes(codes, min_dims=2)
    if codes.shape[0] < 2:
        raise ValueError(f"codes must hold at least 2 rows for a covariance, got {codes.shape[0]}")
    covariance = np.cov(codes, rowvar=False)
    collapsed = np.flatnonzero(np.diag(covariance) <= 0)
    if collapsed.size:
        raise ValueError(f"codes {collapsed.tolist()} are constant: the Gaussian TC of the means is unbounded")
    return float(info.gaussian_total_correlation(covariance))


def tc_of_samples(loc: ArrayLike, scale: ArrayLike, method: str = "exact", batch_size: int | None = None,
                  seed: int = 0, chunk_size: int | None = None, dataset_size: int | None = None) -> float:
    """TC of codes sampled from Gaussian posteriors, E[log q(z) − Σ_j log q(z_j)] (nats).

    One sample z_n ~ N(loc[n], scale[n]²) per data point. With ``batch_size=None`` the
    estimator sees all N points as one batch (``method="exact"``: the mixture over the whole
    data set); with a ``batch_size`` B, the N points are shuffled into batches of B, the
    estimator runs per batch with ``dataset_size`` (default N), and the batch values are
    averaged (``minibatch_tc_terms``).

    Read the number as the TC of the *finite* mixture q(z) = (1/N) Σ_n N(loc_n, scale_n²),
    not of the smooth aggregate posterior it stands for. When the posteriors are narrow
    next to the spacing of the means (trained models with small σ, RTC-VAE, large D), each
    sample sits in its own component: log q(z) → log q(z|n) − log N while every marginal
    still mixes, so the estimate grows towards ≈ (D − 1) log N whatever the dependence of
    the means (004 after eq 10; claim 1 of RESULTS.md). Compare models at the same N, and
    report ``tc_of_means`` (the Gaussian fit, 004 eq 9) beside it.

    Args:
        loc, scale: [N, D] posterior means and standard deviations (> 0), D >= 2.
        method: an estimator of ``refvae.estimators.KNOWN_METHODS``.
        batch_size: None (one batch of N) or B with 2 <= B <= N.
        seed: int seed or ``numpy.random.Generator``.
        chunk_size: samples per chunk inside the estimator.
        dataset_size: the N the estimator weighs with (default: the number of rows); pass
            the training set's size to see the estimate a training step sees.

    Returns:
        float, nats.
    """
    return minibatch_tc_terms(loc, scale, method, batch_size, seed, chunk_size, dataset_size)["total_correlation"]


def minibatch_tc_terms(loc: ArrayLike, scale: ArrayLike, method: str = "mss1", batch_size: int | None = None,
                       seed: int = 0, chunk_size: int | None = None, dataset_size: int | None = None) -> dict[str, Any]:
    """Total correlation and index-code MI of sampled codes, as a minibatch estimator sees them.

    The N points are shuffled into batches of B (the last partial batch is dropped); in each
    batch the estimator ``method`` gives log q(z) and log q(z_j) with ``dataset_size`` as the
    size of the data set (001 eq 3 and its MSS form, 004 eqs 5–6), and the batch means of

        total_correlation = E[log q(z) − Σ_j log q(z_j)]      (001 eq 2)
        index_code_mi     = E[log q(z|x) − log q(z)]          (003 eq 4.23)

    are averaged over batches. Evaluated on the same points at the training batch size and
    at a large one, the two numbers show the estimator's bias at the training batch: a
    negative TC at B = 64 beside a positive one at B = 4096 means β·TC rewards the bias, and
    an index_code_mi near log N means each sample is scored almost only by its own posterior.

    Args: as ``tc_of_samples``.

    Returns:
        dict: "total_correlation", "index_code_mi" (nats), "batch_size", "num_batches".
    """
    import tensorflow as tf
    import tensorflow_probability as tfp

    from refvae import estimators

    loc = inputs.check_codes(loc, "loc", min_dims=2)
    scale = inputs.check_codes(scale, "scale", min_dims=2)
    if scale.shape != loc.shape:
        raise ValueError(f"scale must have the shape of loc {loc.shape}, got {scale.shape}")
    if np.any(scale <= 0):
        raise ValueError("scale must be > 0")
    estimators.check_method(method)
    num_points = loc.shape[0]
    if batch_size is None:
        batch_size = num_points
    batch_size = checks.integer(batch_size, "batch_size", minimum=2)
    if batch_size > num_points:
        raise ValueError(f"batch_size must be <= N = {num_points}, got {batch_size}")
    if dataset_size is None:
        dataset_size = num_points
    dataset_size = checks.integer(dataset_size, "dataset_size", minimum=batch_size)
    if method == "exact" and batch_size != dataset_size:
        raise ValueError("method='exact' needs the whole data set as one batch (batch_size=None, dataset_size=None)")
    rng = checks.rng(seed, "seed")
    order = rng.permutation(num_points)
    z = loc + scale * rng.standard_normal(loc.shape)
    tc_values, mi_values = [], []
    for start in range(0, num_points - batch_size + 1, batch_size):
        batch = order[start : start + batch_size]
        posterior = tfp.distributions.Normal(tf.constant(loc[batch]), tf.constant(scale[batch]))
        z_batch = tf.constant(z[batch])
        log_qz, log_qzd = estimators.aggregate_log_density(
            z_batch, posterior, dataset_size, method, chunk_size=chunk_size
        )
        log_qz_x = tf.reduce_sum(posterior.log_prob(z_batch), axis=-1)
        tc_values.append(float(tf.reduce_mean(log_qz - tf.reduce_sum(log_qzd, axis=-1))))
        mi_values.append(float(tf.reduce_mean(log_qz_x - log_qz)))
    return {"total_correlation": float(np.mean(tc_values)), "index_code_mi": float(np.mean(mi_values)),
            "batch_size": batch_size, "num_batches": len(tc_values)}


def tc_means_vs_samples(loc: ArrayLike, scale: ArrayLike, method: str = "exact", batch_size: int | None = None,
                        seed: int = 0) -> dict[str, Any]:
    """TC_mean (Gaussian fit of ``loc``) and TC_sample (estimated on samples) of 004.

    Returns:
        dict: "tc_mean", "tc_sample" (nats).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> rng = np.random.default_rng(0)
        >>> u = rng.normal(size=(500, 1))
        >>> loc = np.hstack([u, 0.01 * u + 1e-3 * rng.normal(size=(500, 1))])   # 004 Fig 2
        >>> result = metrics.tc_means_vs_samples(loc, np.ones_like(loc))
        >>> result["tc_mean"] > 1.0 > result["tc_sample"]
        True
    """
    return {
        "tc_mean": tc_of_means(loc),
        "tc_sample": tc_of_samples(loc, scale, method=method, batch_size=batch_size, seed=seed),
    }


def compute_tc_means_vs_samples(data: GroundTruthData, posterior: Representation, rng: np.random.Generator | int,
                                num_points: int = 5000, batch_size: int | None = 64, method: str = "exact",
                                estimator_batch_size: int | None = None) -> dict[str, Any]:
    """``tc_means_vs_samples`` over ``num_points`` points sampled from ``data``.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        posterior: observations -> (loc [n, D], scale [n, D]) of a Gaussian encoder.
        rng: Generator or int seed (points and posterior samples).
        num_points: N; the exact TC costs O(N² D).
        batch_size: observations per call of ``posterior``.
        method, estimator_batch_size: the TC estimator and its batch (see ``tc_of_samples``).

    Returns:
        dict: "tc_mean", "tc_sample" (nats).
    """
    inputs.check_representation(posterior, "posterior")
    rng = checks.rng(rng)
    num_points = checks.integer(num_points, "num_points", minimum=2)
    factors = sampling.sample_factors(data, num_points, rng)
    loc, scale = sampling.posterior_moments(posterior, factors, batch_size, render=data.observations_from_factors)
    return tc_means_vs_samples(loc, scale, method=method, batch_size=estimator_batch_size, seed=rng)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    points = min(evaluation.train_size, 5000)   # the exact TC of samples costs O(N² D)
    if evaluation.profile == "fast":
        loc, scale, _ = evaluation.pool("train")
        return tc_means_vs_samples(loc[:points], scale[:points], seed=evaluation.seed)
    return compute_tc_means_vs_samples(evaluation.dataset, evaluation.posterior, evaluation.rng(), num_points=points)


registry.register(MetricSpec("tc", "TC of the mean codes and of sampled codes (004 Theorem 1)", "tc_mean", _evaluate,
                             needs_factors=False, by_default=True))
