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

``mixture_total_correlation`` computes the TC of that finite mixture independently of any
minibatch estimator (H(z) by Monte Carlo against all N components, each H(z_d) by quadrature),
with its standard error: the truth a minibatch estimator told N targets (chapter 05, claim 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData

__all__ = ["tc_of_means", "tc_of_samples", "minibatch_tc_terms", "mixture_total_correlation", "tc_means_vs_samples",
           "compute_tc_means_vs_samples"]

LOG_2PI = float(np.log(2.0 * np.pi))

# Elements of one block of log densities (32 MiB of float64) in mixture_total_correlation.
_BLOCK_ELEMENTS = 1 << 22

# Components further than this many standard deviations from a quadrature point are left out
# of its density: each would add less than exp(-TAIL**2 / 2) = 2.3e-11 of its own peak.
_TAIL = 7.0


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
                  seed: np.random.Generator | int = 0, chunk_size: int | None = None,
                  dataset_size: int | None = None) -> float:
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
                       seed: np.random.Generator | int = 0, chunk_size: int | None = None,
                       dataset_size: int | None = None) -> dict[str, Any]:
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


def mixture_total_correlation(loc: ArrayLike, scale: ArrayLike, num_samples: int = 2000,
                              seed: np.random.Generator | int = 0, grid_step: float | None = None) -> dict[str, Any]:
    """TC of the finite Gaussian mixture q(z) = (1/N) Σ_n N(z; loc_n, diag scale_n²), with its standard error.

    The aggregate posterior of N data points with Gaussian posteriors is this mixture, and its
    total correlation (001 eq 2, the second term; 004 eq 7) is

        TC(z) = KL(q(z) ‖ Π_d q(z_d)) = Σ_d H(z_d) − H(z),

    computed here without any minibatch:

    - H(z) = −E_q[log q(z)] by Monte Carlo: ``num_samples`` draws z ~ q(z) (a point n uniform
      among the N, then z ~ N(loc_n, scale_n²)), each scored exactly against all N components,
      log q(z) = logsumexp_n log N(z; loc_n, scale_n²) − log N, in blocks so that memory stays
      O(N · block). Its standard error, std(log q(z)) / √num_samples, is the error of the TC.
    - H(z_d) = −∫ q(z_d) log q(z_d) dz_d by quadrature of the exact 1-D mixture
      q(z_d) = (1/N) Σ_n N(z_d; loc_nd, scale_nd²): the trapezoid rule on a uniform grid that spans
      the means ± 7 largest scales, with a step of half the smallest scale (``grid_step``). On a
      sum of Gaussians the trapezoid rule converges faster than any power of the step, and at
      this step its error is of order 1e-8 nats (tested against adaptive quadrature), negligible
      beside the Monte Carlo error of H(z).

    What it is the truth of: a minibatch estimator of ``refvae.estimators`` told
    ``dataset_size = N`` and fed batches drawn from these N points estimates this TC (MSS is
    unbiased for q(z) of this mixture, 004 eq 6). For loc ~ N(0, Σ), scale σ and N → ∞ it
    tends to the Gaussian TC of N(0, Σ + σ² I) (004 eq 9); for finite N and components that
    barely overlap it is far larger, since I(z; n) ≤ log N while every marginal still mixes.

    Args:
        loc: [N, D] component means (D >= 2).
        scale: [N, D] component standard deviations (> 0), or anything that broadcasts to it
            (a scalar σ, a row [D]).
        num_samples: M, the Monte Carlo samples of q(z) scored against all N components.
        seed: int seed or ``numpy.random.Generator`` for those samples.
        grid_step: quadrature step of the marginals (default: half the smallest scale).

    Returns:
        dict: "total_correlation" and its "stderr" (nats); "joint_entropy" H(z) and its
        "joint_entropy_stderr"; "marginal_entropies" [D]; "index_code_mi" I(z; n) =
        H(z) − H(z | n) (same standard error); "marginal_mass" [D], the quadrature's
        ∫ q(z_d) dz_d (1 up to its error); "num_samples", "dataset_size".

    Example:
        >>> import numpy as np
        >>> from refvae.metrics.tc import mixture_total_correlation
        >>> loc = np.repeat(2.0 * np.arange(50.0)[:, None], 3, axis=1)   # 50 separated points in 3-D
        >>> result = mixture_total_correlation(loc, 0.1, num_samples=4000)
        >>> bool(abs(result["total_correlation"] - 2 * np.log(50)) < 4 * result["stderr"])   # TC = (D − 1) log N
        True
    """
    loc = inputs.check_codes(loc, "loc", min_dims=2)
    try:
        scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), loc.shape)
    except ValueError:
        raise ValueError(f"scale must broadcast to the shape of loc {loc.shape}, got {np.shape(scale)}") from None
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError("scale must be finite and > 0")
    num_samples = checks.integer(num_samples, "num_samples", minimum=2)
    rng = checks.rng(seed, "seed")
    num_points, num_dims = loc.shape
    if grid_step is not None and not grid_step > 0:
        raise ValueError(f"grid_step must be > 0, got {grid_step}")
    log_q = _mixture_log_density_samples(loc, scale, num_samples, rng)
    joint_entropy = -float(np.mean(log_q))
    stderr = float(np.std(log_q, ddof=1) / np.sqrt(num_samples))
    marginals = [_mixture_entropy_1d(loc[:, d], scale[:, d], grid_step) for d in range(num_dims)]
    marginal_entropies = np.array([entropy for entropy, _ in marginals])
    conditional_entropy = float(np.mean(np.sum(np.log(scale), axis=1))) + 0.5 * num_dims * (LOG_2PI + 1.0)
    return {
        "total_correlation": float(marginal_entropies.sum()) - joint_entropy,
        "stderr": stderr,
        "joint_entropy": joint_entropy,
        "joint_entropy_stderr": stderr,
        "marginal_entropies": marginal_entropies,
        "index_code_mi": joint_entropy - conditional_entropy,
        "marginal_mass": np.array([mass for _, mass in marginals]),
        "num_samples": num_samples,
        "dataset_size": num_points,
    }


def _mixture_log_density_samples(loc: np.ndarray, scale: np.ndarray, num_samples: int,
                                  rng: np.random.Generator) -> np.ndarray:
    """log q(z_m) for M samples z_m ~ q(z), each against all N components (exact log-mean-exp)."""
    num_points, num_dims = loc.shape
    components = rng.integers(0, num_points, size=num_samples)
    z = loc[components] + scale[components] * rng.standard_normal((num_samples, num_dims))
    # log N(z; μ, s²) summed over d = z²·(−P/2) + z·(Pμ) + c_n with P = 1/s²: two matrix products per
    # block. Centring first keeps the terms small, so the cancellation in float64 stays below 1e-10.
    centre = loc.mean(axis=0)
    loc, z = loc - centre, z - centre
    precision = scale**-2
    quadratic, linear = (-0.5 * precision).T.copy(), (precision * loc).T.copy()
    constant = (-0.5 * np.sum(precision * loc**2, axis=1) - np.sum(np.log(scale), axis=1)
                - 0.5 * num_dims * LOG_2PI)
    block = max(1, _BLOCK_ELEMENTS // num_points)
    log_q = np.empty(num_samples)
    for start in range(0, num_samples, block):
        rows = z[start:start + block]
        log_densities = rows**2 @ quadratic
        log_densities += rows @ linear
        log_densities += constant
        peak = log_densities.max(axis=1, keepdims=True)
        log_densities -= peak
        # terms below e^-700 of the largest cannot change the sum; clipping them avoids slow denormals
        np.maximum(log_densities, -700.0, out=log_densities)
        np.exp(log_densities, out=log_densities)
        log_q[start:start + block] = np.log(log_densities.sum(axis=1)) + peak[:, 0] - np.log(num_points)
    return log_q


def _mixture_entropy_1d(loc: np.ndarray, scale: np.ndarray, grid_step: float | None) -> tuple[float, float]:
    """(H, ∫q) of the 1-D mixture (1/N) Σ_n N(loc_n, scale_n²) by the trapezoid rule."""
    num_points = len(loc)
    order = np.argsort(loc)
    loc, scale = loc[order], scale[order]
    reach = _TAIL * scale.max()
    step = 0.5 * scale.min() if grid_step is None else float(grid_step)
    num_grid = int(np.ceil((loc[-1] - loc[0] + 2 * reach) / step)) + 1
    if num_grid > 2_000_000:
        raise ValueError(f"the quadrature grid of a marginal would hold {num_grid:,} points (scales from "
                         f"{scale.min():.3g} to {scale.max():.3g} over a range of {loc[-1] - loc[0]:.3g}); "
                         "pass a larger grid_step")
    grid = loc[0] - reach + step * np.arange(num_grid)
    density = np.empty(num_grid)
    block = max(8, _BLOCK_ELEMENTS // num_points)
    for start in range(0, num_grid, block):
        points = grid[start:start + block]
        low, high = np.searchsorted(loc, [points[0] - reach, points[-1] + reach])
        standardised = (points[:, None] - loc[None, low:high]) / scale[None, low:high]
        density[start:start + block] = np.sum(np.exp(-0.5 * standardised**2) / scale[None, low:high], axis=1)
    density /= num_points * np.sqrt(2.0 * np.pi)
    positive = density > 0
    integrand = np.zeros(num_grid)
    integrand[positive] = -density[positive] * np.log(density[positive])
    return float(np.trapezoid(integrand, grid)), float(np.trapezoid(density, grid))


def tc_means_vs_samples(loc: ArrayLike, scale: ArrayLike, method: str = "exact", batch_size: int | None = None,
                        seed: np.random.Generator | int = 0) -> dict[str, Any]:
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


def compute_tc_means_vs_samples(data: FactorData, posterior: sampling.Posterior, rng: np.random.Generator | int,
                                num_points: int = 5000, batch_size: int = 64, method: str = "exact",
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
