"""Unsupervised scores of a Gaussian fit to the codes: total and Wasserstein correlation.

Locatello et al. ("Challenging common assumptions in the unsupervised learning of
disentangled representations", ICML 2019) report, next to the supervised metrics, scores
that need no factors: fit a Gaussian N(μ, Σ) to the mean codes (Σ the sample covariance,
N − 1 in the denominator) and measure how far it is from the product of its marginals
N(μ, diag Σ).

- Gaussian total correlation (the KL divergence, 004 eq 9):

      TC = KL(N(μ, Σ) ‖ N(μ, diag Σ)) = ½ (Σ_j log Σ_jj − log |Σ|).

- Gaussian Wasserstein correlation (the squared 2-Wasserstein distance between the two
  Gaussians; for Gaussians W₂² = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₂^½ Σ₁ Σ₂^½)^½, and
  here tr diag Σ = tr Σ):

      WC = 2 tr Σ − 2 tr (D^½ Σ D^½)^½,   D = diag Σ,

  and its normalised form WC / tr Σ (in [0, 2), scale-free).

WC stays finite for duplicated codes, where TC is infinite. A constant code (Σ_jj = 0) is
independent of every other code: it adds nothing to either score, so TC is taken over the
codes that vary (the formula above would read log 0 − log 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import info
from refvae.metrics import inputs, registry
from refvae.metrics.registry import Evaluation, MetricSpec

__all__ = ["gaussian_wasserstein_correlation", "gaussian_correlation"]


def _check_covariance(cov):
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise ValueError(f"cov must be a square matrix [D, D], got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError("cov must be finite")
    if not np.allclose(cov, cov.T, atol=1e-10 * max(1.0, np.abs(cov).max())):
        raise ValueError("cov must be symmetric")
    if np.any(np.diag(cov) < 0):
        raise ValueError("cov must have a non-negative diagonal")
    return cov


def gaussian_wasserstein_correlation(cov: ArrayLike) -> float:
    """Squared 2-Wasserstein distance between N(0, Σ) and N(0, diag Σ).

        WC = 2 tr Σ − 2 Σ_i sqrt(λ_i),   λ_i the eigenvalues of D^½ Σ D^½, D = diag Σ.

    Args:
        cov: covariance [D, D] (symmetric, positive semi-definite).

    Returns:
        float >= 0 (squared units of the codes).

    Example:
        >>> from refvae.metrics import gaussian_wasserstein_correlation
        >>> round(gaussian_wasserstein_correlation([[1.0, 0.6], [0.6, 1.0]]), 6)  # 4 − 2(√1.6 + √0.4)
        0.205267
    """
    cov = _check_covariance(cov)
    root_diag = np.sqrt(np.diag(cov))
    scaled = root_diag[:, None] * cov * root_diag[None, :]
    eigenvalues = np.linalg.eigvalsh(0.5 * (scaled + scaled.T))
    # A positive semi-definite Σ has λ_i >= 0; round-off can leave −1e-17.
    return float(max(2.0 * np.trace(cov) - 2.0 * np.sum(np.sqrt(np.maximum(eigenvalues, 0.0))), 0.0))


def gaussian_correlation(codes: ArrayLike) -> dict[str, Any]:
    """Gaussian total and Wasserstein correlation of codes (no factors needed).

    Args:
        codes: [N, D] codes, N >= 2 (usually posterior means).

    Returns:
        dict: "gaussian_total_correlation" (nats, over the codes that vary; ``inf`` when
        they are linearly dependent), "gaussian_wasserstein_correlation",
        "gaussian_wasserstein_correlation_norm" (WC / tr Σ; 0 when every code is
        constant), "covariance" [D, D], "num_active_dims" (codes with Σ_jj > 0).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> codes = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        >>> metrics.gaussian_correlation(codes)["gaussian_total_correlation"]
        0.0
    """
    codes = inputs.check_codes(codes)
    if codes.shape[0] < 2:
        raise ValueError(f"codes must hold at least 2 rows for a covariance, got shape {codes.shape}")
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    active = np.diag(cov) > 0
    if active.sum() <= 1:
        total_correlation = 0.0
    else:
        active_cov = cov[np.ix_(active, active)]
        sign, _ = np.linalg.slogdet(active_cov)
        total_correlation = float(info.gaussian_total_correlation(active_cov)) if sign > 0 else math.inf
    wasserstein = gaussian_wasserstein_correlation(cov)
    trace = float(np.trace(cov))
    return {
        "gaussian_total_correlation": total_correlation,
        "gaussian_wasserstein_correlation": wasserstein,
        "gaussian_wasserstein_correlation_norm": wasserstein / trace if trace > 0 else 0.0,
        "covariance": cov,
        "num_active_dims": int(active.sum()),
    }


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    return gaussian_correlation(_codes(evaluation))


def _codes(evaluation: Evaluation) -> np.ndarray:
    """Mean codes of fresh points: the fast profile's pool, or ``num_points`` points of their own."""
    if evaluation.profile == "fast":
        return evaluation.pool("train")[0]
    from refvae.metrics import sampling

    return sampling.sample_representation(evaluation.dataset, evaluation.representation, evaluation.train_size,
                                          evaluation.rng())[0]


registry.register(MetricSpec("gaussian-correlation", "Gaussian total and Wasserstein correlation of the codes "
                             "(Locatello et al. 2019; no factors)", "gaussian_wasserstein_correlation_norm",
                             _evaluate, needs_factors=False, by_default=True))
