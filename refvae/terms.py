"""Terms outside the ELBO decompositions: small pure functions on tensors.

``refvae.decompositions`` names the terms of an ELBO decomposition; the objectives of the
catalogue (``refvae.objectives``) also weigh a few quantities that are not part of one:

    posterior_variance   Σ_k E_n[σ_k²(n)]                               (004 eq 4, RTC-VAE)
    dip_i_*, dip_ii_*    Σ_{i≠j} C_ij²,  Σ_i (C_ii − 1)²  of Cov[μ] or Cov_q(z)   (Kumar et al. 2018)
    mmd                  MMD²(q(z), p(z)) with a Gaussian kernel         (Zhao et al. 2017, InfoVAE)
    kl_per_dim           E[log q(z_d|x) − log p(z_d)], one value a unit  (000 eq 21, AnchorVAE)

A model computes only those its objective names. Every value is in nats per data point
(batch means), like the decomposition terms.

Example::

    terms["posterior_variance"] = refvae.terms.posterior_variance(tf.square(posterior.scale))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from tensorflow.types.experimental import TensorLike

# The names of the terms of this module (each an entry of an objective's weights).
EXTRA_TERMS = frozenset({"kl_per_dim", "posterior_variance", "dip_i_off_diagonal",
                         "dip_i_diagonal", "dip_ii_off_diagonal", "dip_ii_diagonal", "mmd"})

# Terms whose value is a vector over latent units [num_units] rather than a scalar.
VECTOR_TERMS = frozenset({"kl_per_dim"})

# Terms that need the mean and variance of a diagonal Gaussian posterior.
GAUSSIAN_TERMS = frozenset({"posterior_variance", "dip_i_off_diagonal", "dip_i_diagonal",
                            "dip_ii_off_diagonal", "dip_ii_diagonal"})


def posterior_variance(variance: TensorLike) -> tf.Tensor:
    """Trace of the mean posterior covariance (004 eq 4)::

        tr(E_p(n) Cov_q(z|n)[z]) = Σ_k E_n[σ_k²(n)]

    Args:
        variance: [B, D] posterior variances σ²(n) of a diagonal Gaussian.

    Returns:
        A scalar tensor.
    """
    variance = tf.convert_to_tensor(variance)
    if variance.shape.rank != 2:
        raise ValueError(f"variance must have shape [B, D], got {variance.shape}")
    return tf.reduce_sum(tf.reduce_mean(variance, axis=0))


def _covariance(x: tf.Tensor) -> tf.Tensor:
    centred = x - tf.reduce_mean(x, axis=0, keepdims=True)
    return tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(x)[0], x.dtype)


def covariance_penalties(covariance: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The DIP-VAE moment-matching penalties of a covariance matrix against I (Kumar et al.)::

        off_diagonal = Σ_{i≠j} C_ij²,     diagonal = Σ_i (C_ii − 1)²

    Args:
        covariance: [D, D].

    Returns:
        (off_diagonal, diagonal): scalar tensors.
    """
    diagonal = tf.linalg.diag_part(covariance)
    off_diagonal = tf.reduce_sum(tf.square(covariance)) - tf.reduce_sum(tf.square(diagonal))
    return off_diagonal, tf.reduce_sum(tf.square(diagonal - 1.0))


def dip_covariance(loc: TensorLike, variance: tf.Tensor | None = None) -> tf.Tensor:
    """The covariance DIP-VAE matches to I, over a batch (biased, divisor B).

    DIP-VAE-I (``variance=None``): Cov[μ(x)].
    DIP-VAE-II: Cov_q(z)[z] = Cov[μ(x)] + E[diag σ²(x)] (law of total covariance).

    Args:
        loc: [B, D] posterior means.
        variance: [B, D] posterior variances, or None.

    Returns:
        A [D, D] tensor.
    """
    loc = tf.convert_to_tensor(loc)
    if loc.shape.rank != 2:
        raise ValueError(f"loc must have shape [B, D], got {loc.shape}")
    covariance = _covariance(loc)
    if variance is not None:
        covariance = covariance + tf.linalg.diag(tf.reduce_mean(variance, axis=0))
    return covariance


def mmd(z: TensorLike, prior_z: TensorLike, bandwidth: float | None = None) -> tf.Tensor:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel (InfoVAE's MMD form)::

        MMD² = E[k(z, z')] + E[k(y, y')] − 2 E[k(z, y)],   k(a, b) = exp(−‖a − b‖² / (2 h²))

    with z ~ q(z) (posterior samples of the batch), y ~ p(z); the first two expectations skip
    the diagonal (U-statistic).

    Args:
        z: [B, D] samples from q(z).
        prior_z: [B', D] samples from p(z) (B, B' >= 2).
        bandwidth: kernel width h; default sqrt(D / 2), i.e. 2h² = D.

    Returns:
        A scalar tensor (can be slightly negative: unbiased).
    """
    z = tf.convert_to_tensor(z)
    prior_z = tf.cast(prior_z, z.dtype)
    if z.shape.rank != 2 or prior_z.shape.rank != 2 or z.shape[-1] != prior_z.shape[-1]:
        raise ValueError(f"z and prior_z must be [B, D] with the same D, got {z.shape} and {prior_z.shape}")
    dim = z.shape[-1]
    two_h2 = float(dim) if bandwidth is None else 2.0 * float(bandwidth) ** 2

    def kernel(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        squared = (tf.reduce_sum(a * a, 1)[:, None] - 2.0 * tf.matmul(a, b, transpose_b=True)
                   + tf.reduce_sum(b * b, 1)[None, :])
        return tf.exp(-tf.maximum(squared, 0.0) / two_h2)

    def mean_off_diagonal(k: tf.Tensor) -> tf.Tensor:
        n = tf.cast(tf.shape(k)[0], k.dtype)
        return (tf.reduce_sum(k) - tf.linalg.trace(k)) / (n * (n - 1.0))

    return (mean_off_diagonal(kernel(z, z)) + mean_off_diagonal(kernel(prior_z, prior_z))
            - 2.0 * tf.reduce_mean(kernel(z, prior_z)))


def kl_per_dim(log_q_units: tf.Tensor, log_p_units: tf.Tensor) -> tf.Tensor:
    """Per-unit Monte Carlo KL, batch mean (the vector term AnchorVAE weighs, 000 eq 21)::

        kl_d = E_x E_{q(z|x)}[log q(z_d | x) − log p(z_d)]

    Its sum over d is the ``kl`` of ``refvae.decompositions`` (factorised prior).

    Args:
        log_q_units: [B, num_units] log q(z_d,i | x_i) of each sample under its own posterior.
        log_p_units: [B, num_units] log p(z_d,i) under the prior.

    Returns:
        A [num_units] tensor.
    """
    return tf.reduce_mean(log_q_units - log_p_units, axis=0)
