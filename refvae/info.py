"""Closed forms of information theory used throughout refvae.

Everything here is exact: entropies and KL divergences of Gaussians and categoricals,
the Gaussian total correlation (004 Proposition 1, eq 9), Gaussian mutual information
between blocks, and plug-in entropies and mutual information of discrete samples.
Units are nats.

Every function accepts NumPy arrays (or nested lists) and returns NumPy values;
``diag_gaussian_kl``, ``categorical_kl``, ``categorical_entropy`` and
``gaussian_total_correlation`` also accept TensorFlow tensors and then return tensors, so
the course can use the same formula inside a graph (chapter 11 does) as in a NumPy
check. The models do not call them: their KL terms are Monte Carlo differences of
log-densities (``refvae.decompositions``), which serve every latent family.

Example:
    >>> import numpy as np
    >>> from refvae import info
    >>> round(float(info.gaussian_total_correlation([[1.0, 0.8], [0.8, 1.0]])), 4)
    0.5108
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def _is_tensor(x: object) -> bool:
    """True for TensorFlow tensors and variables, without importing TensorFlow."""
    return type(x).__module__.startswith(("tensorflow", "keras"))


def _as_covariance(cov: ArrayLike, name: str = "cov") -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix [D, D], got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} must be finite")
    if not np.allclose(cov, cov.T, atol=1e-10 * max(1.0, np.abs(cov).max())):
        raise ValueError(f"{name} must be symmetric")
    return cov


def _logdet(cov: np.ndarray, name: str = "cov") -> float:
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError(f"{name} must be positive definite")
    return logdet


# --------------------------------------------------------------------------- Gaussians


def gaussian_entropy(cov: ArrayLike) -> float:
    """Differential entropy of N(mu, cov): H = ½ (D log 2πe + log|Σ|).

    Args:
        cov: covariance matrix [D, D].

    Returns:
        float, nats.
    """
    cov = _as_covariance(cov)
    dim = cov.shape[0]
    return 0.5 * (dim * (LOG_2PI + 1.0) + _logdet(cov))


def gaussian_kl(mu0: ArrayLike, cov0: ArrayLike, mu1: ArrayLike, cov1: ArrayLike) -> float:
    """KL(N(mu0, cov0) ‖ N(mu1, cov1)) for full covariances.

    KL = ½ [tr(Σ₁⁻¹Σ₀) + (μ₁−μ₀)ᵀΣ₁⁻¹(μ₁−μ₀) − D + log|Σ₁| − log|Σ₀|].

    Returns:
        float, nats.
    """
    cov0 = _as_covariance(cov0, "cov0")
    cov1 = _as_covariance(cov1, "cov1")
    mu0 = np.asarray(mu0, dtype=np.float64)
    mu1 = np.asarray(mu1, dtype=np.float64)
    dim = cov0.shape[0]
    if cov1.shape != cov0.shape or mu0.shape != (dim,) or mu1.shape != (dim,):
        raise ValueError(
            f"shapes must agree: mu0 {mu0.shape}, cov0 {cov0.shape}, mu1 {mu1.shape}, cov1 {cov1.shape}"
        )
    diff = mu1 - mu0
    solve = np.linalg.solve(cov1, np.column_stack([cov0, diff]))
    trace = np.trace(solve[:, :dim])
    mahalanobis = diff @ solve[:, dim]
    return 0.5 * (trace + mahalanobis - dim + _logdet(cov1, "cov1") - _logdet(cov0, "cov0"))


def _check_same_dtype(**values):
    """Refuse tensors of different dtypes among ``values``, naming both (Python numbers and
    NumPy arrays are converted by TensorFlow to the tensors' dtype and are not compared)."""
    import tensorflow as tf

    tensors = [(name, tf.as_dtype(value.dtype)) for name, value in values.items() if _is_tensor(value)]
    first_name, first_dtype = tensors[0]
    for name, dtype in tensors[1:]:
        if dtype != first_dtype:
            raise TypeError(f"{name} has dtype {dtype.name} but {first_name} has dtype {first_dtype.name}: they must "
                            f"match; cast one (e.g. tf.cast({name}, tf.{first_dtype.name}))")


def diag_gaussian_kl(loc: ArrayLike | tf.Tensor, scale: ArrayLike | tf.Tensor, prior_loc: ArrayLike | float = 0.0,
                     prior_scale: ArrayLike | float = 1.0) -> np.ndarray | tf.Tensor:
    """Elementwise KL(N(loc, scale²) ‖ N(prior_loc, prior_scale²)).

    With μ₀, s₀ = loc, scale and μ₁, s₁ = prior_loc, prior_scale,

        KL = log(s₁/s₀) + (s₀² + (μ₀ − μ₁)²) / (2 s₁²) − ½.

    Write ℓ = log(s₀/s₁) = log1p((s₀ − s₁)/s₁); then (s₀/s₁)² − 1 = expm1(2ℓ) and

        KL = ½ ((μ₀ − μ₁)/s₁)² + ½ expm1(2ℓ) − ℓ,

    the form computed here. When the scales are close, s₀ − s₁ is exact and ℓ and expm1(2ℓ)
    keep their relative precision, so the KL (≈ ℓ² for equal means) is not lost: in float32
    at s₀ = 1 + 10⁻⁴ the textbook form returns 0 and this one 1.0·10⁻⁸ (the float64 value to
    about 10⁻³ relative).

    Args:
        loc, scale: arrays or tensors of the same shape (scale > 0).
        prior_loc, prior_scale: broadcastable to ``loc``.

    Returns:
        Same shape and kind (NumPy or tensor) as ``loc``.

    Raises:
        TypeError: tensors of different float dtypes (each named with its dtype).
        ValueError: a scale <= 0 (for tensors only when eager: inside ``tf.function`` no
            check is added).
    """
    if _is_tensor(loc) or _is_tensor(scale):
        import tensorflow as tf

        _check_same_dtype(loc=loc, scale=scale, prior_loc=prior_loc, prior_scale=prior_scale)
        if tf.executing_eagerly() and tf.size(scale) > 0 and float(tf.reduce_min(scale)) <= 0:
            raise ValueError(f"scale must be > 0, got min {float(tf.reduce_min(scale)):g}")
        # Tensors here, which mypy cannot tell from the ArrayLike members of the parameters' types.
        log_ratio = tf.math.log1p((scale - prior_scale) / prior_scale)  # type: ignore[operator]
        squared = tf.square((loc - prior_loc) / prior_scale)  # type: ignore[operator]
        return 0.5 * (squared + tf.math.expm1(2.0 * log_ratio)) - log_ratio
    loc = np.asarray(loc, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    prior_loc = np.asarray(prior_loc, dtype=np.float64)
    prior_scale = np.asarray(prior_scale, dtype=np.float64)
    if scale.size and scale.min() <= 0:
        raise ValueError(f"scale must be > 0, got min {scale.min():g}")
    log_ratio = np.log1p((scale - prior_scale) / prior_scale)
    return 0.5 * (((loc - prior_loc) / prior_scale) ** 2 + np.expm1(2.0 * log_ratio)) - log_ratio


def gaussian_total_correlation(cov: ArrayLike | tf.Tensor) -> float | tf.Tensor:
    """Total correlation of a Gaussian: TC = ½ (Σ_k log Σ_kk − log|Σ|)  (004 eq 9).

    TC(z) = KL(q(z) ‖ Π_k q(z_k)) depends only on the correlation matrix; it is 0 for a
    diagonal covariance and grows without bound as the correlation approaches ±1.

    Args:
        cov: covariance matrix [D, D], NumPy or tensor.

    Returns:
        float (or a scalar tensor for a tensor input), nats.
    """
    if _is_tensor(cov):
        import tensorflow as tf

        return 0.5 * (
            tf.reduce_sum(tf.math.log(tf.linalg.diag_part(cov)), axis=-1) - tf.linalg.logdet(cov)
        )
    cov = _as_covariance(cov)
    diag = np.diag(cov)
    if np.any(diag <= 0):
        raise ValueError("cov must have a positive diagonal")
    return 0.5 * (np.sum(np.log(diag)) - _logdet(cov))


def gaussian_mutual_information(cov: ArrayLike, idx_a: Sequence[int], idx_b: Sequence[int]) -> float:
    """I(z_A; z_B) = ½ (log|Σ_AA| + log|Σ_BB| − log|Σ_(A∪B)|) for disjoint index sets.

    Args:
        cov: joint covariance [D, D].
        idx_a, idx_b: disjoint sequences of indices.

    Returns:
        float, nats.
    """
    cov = _as_covariance(cov)
    index_a = np.atleast_1d(np.asarray(idx_a, dtype=int))
    index_b = np.atleast_1d(np.asarray(idx_b, dtype=int))
    if index_a.size == 0 or index_b.size == 0:
        raise ValueError("idx_a and idx_b must be non-empty")
    if np.intersect1d(index_a, index_b).size:
        raise ValueError("idx_a and idx_b must be disjoint")
    dim = cov.shape[0]
    if index_a.min() < 0 or index_b.min() < 0 or max(index_a.max(), index_b.max()) >= dim:
        raise ValueError(f"indices must lie in [0, {dim})")
    both = np.concatenate([index_a, index_b])
    return 0.5 * (
        _logdet(cov[np.ix_(index_a, index_a)])
        + _logdet(cov[np.ix_(index_b, index_b)])
        - _logdet(cov[np.ix_(both, both)])
    )


# ------------------------------------------------------------------------- categoricals


def categorical_entropy(probs: ArrayLike | tf.Tensor, axis: int = -1) -> np.ndarray | tf.Tensor:
    """H(p) = −Σ_k p_k log p_k, with 0 log 0 = 0. NumPy or tensor along ``axis``."""
    if _is_tensor(probs):
        import tensorflow as tf

        return -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(probs), probs), axis=axis)
    probs = np.asarray(probs, dtype=np.float64)
    if np.any(probs < 0):
        raise ValueError("probs must be non-negative")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1.0)), 0.0)
    return -terms.sum(axis=axis)


def categorical_kl(p: ArrayLike | tf.Tensor, q: ArrayLike | tf.Tensor, axis: int = -1) -> np.ndarray | tf.Tensor:
    """KL(p ‖ q) = Σ_k p_k (log p_k − log q_k), with 0 log 0 = 0. NumPy or tensor."""
    if _is_tensor(p) or _is_tensor(q):
        import tensorflow as tf

        return tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(p) - tf.math.log(q), p), axis=axis)
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape[axis] != q.shape[axis]:
        raise ValueError(f"p and q must have the same number of categories, got {p.shape} and {q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q)), 0.0)
    return terms.sum(axis=axis)


# --------------------------------------------------------------- plug-in (discrete data)


def _as_labels(x: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of discrete labels, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty")
    _, codes = np.unique(x, return_inverse=True)
    return codes


def discrete_entropy(labels: ArrayLike) -> float:
    """Plug-in entropy −Σ_v p̂(v) log p̂(v) of a sample of discrete labels (nats)."""
    codes = _as_labels(labels, "labels")
    counts = np.bincount(codes).astype(np.float64)
    return float(categorical_entropy(counts / counts.sum()))


def discrete_mutual_information(a: ArrayLike, b: ArrayLike) -> float:
    """Plug-in I(a; b) = Σ p̂(a,b) log p̂(a,b) / (p̂(a) p̂(b)) of two label samples (nats).

    The same quantity as ``sklearn.metrics.mutual_info_score(a, b)``.
    """
    codes_a = _as_labels(a, "a")
    codes_b = _as_labels(b, "b")
    if codes_a.shape != codes_b.shape:
        raise ValueError(f"a and b must have the same length, got {codes_a.size} and {codes_b.size}")
    n_b = codes_b.max() + 1
    counts = np.bincount(codes_a * n_b + codes_b, minlength=(codes_a.max() + 1) * n_b)
    joint = counts.reshape(-1, n_b).astype(np.float64) / codes_a.size
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * (np.log(joint[nonzero]) - np.log(outer[nonzero]))))
