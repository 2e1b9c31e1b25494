"""Per-dimension mutual information I(x; z_j) and the aggregate marginals q(z_j).

For a data set of N points with Gaussian posteriors q(z_j | x_n) = N(loc[n, j], scale[n, j]²)
the aggregate marginal is the mixture q(z_j) = (1/N) Σ_n q(z_j | x_n), and

    I(x; z_j) = E_{p(x) q(z_j|x)} [ log q(z_j | x) − log q(z_j) ]

(the per-dimension index-code MI; 000 Fig 7, 002 Fig 4 / term ②). The mixture is exact over
the given data (log-mean-exp against all N components, chunked); the outer expectation is a
Monte-Carlo average over one posterior sample per data point (or per sampled point). Its
variance follows from the law of total variance,

    Var q(z_j) = mean_n scale[n, j]² + Var_n loc[n, j]                 (000 §5, Fig 7)

and a dimension is *active* (Burda et al. 2016) when Var_n loc[n, j] > 0.01: the mean code
moves with the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import gaussian_mixture, inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData

__all__ = [
    "dimwise_mutual_information",
    "aggregate_marginal_variance",
    "active_dimensions",
    "compute_dimwise_mutual_information",
    "posterior_dimwise_mutual_information",
    "anchor_ranking",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_gaussian(loc: ArrayLike, scale: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    loc = inputs.check_codes(loc, "loc")
    scale = inputs.check_codes(scale, "scale")
    if scale.shape != loc.shape:
        raise ValueError(f"scale must have the shape of loc {loc.shape}, got {scale.shape}")
    if np.any(scale <= 0):
        raise ValueError("scale must be > 0")
    return loc, scale


def aggregate_marginal_variance(loc: ArrayLike, scale: ArrayLike) -> np.ndarray:
    """Var q(z_j) = mean_n scale² + Var_n loc (ddof = 0) of the N-component mixture -> [D].

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import aggregate_marginal_variance
        >>> aggregate_marginal_variance([[-1.0], [1.0]], [[1.0], [1.0]]).tolist()
        [2.0]
    """
    loc, scale = _check_gaussian(loc, scale)
    return np.mean(scale**2, axis=0) + np.var(loc, axis=0)


def active_dimensions(loc: ArrayLike, threshold: float = 0.01) -> np.ndarray:
    """Active codes (Burda et al. 2016): Var_n loc[n, j] > threshold -> bool [D]."""
    loc = inputs.check_codes(loc, "loc")
    return np.var(loc, axis=0) > threshold


# The most samples × codes of ``dimwise_mutual_information``'s Monte-Carlo draws: with the
# 5 float64 arrays of that shape it holds, 1 GiB.
_MAX_SAMPLE_VALUES = 2**27 // 5


def _check_num_samples(num_samples: int, num_codes: int) -> int:
    num_samples = checks.integer(num_samples, "num_samples")
    if num_samples * num_codes > _MAX_SAMPLE_VALUES:
        raise ValueError(
            f"num_samples={num_samples:,} is above the limit: its samples and log densities ({num_samples:,} x "
            f"{num_codes} codes x 5 arrays) would take {num_samples * num_codes * 40 / 2**30:.3g} GiB, and the "
            f"limit is 1 GiB ({_MAX_SAMPLE_VALUES // num_codes:,} samples of {num_codes} codes)"
        )
    return num_samples


def dimwise_mutual_information(loc: ArrayLike, scale: ArrayLike, num_samples: int | None = None,
                               seed: np.random.Generator | int = 0,
                               active_threshold: float = 0.01, chunk_elements: int = 2**23) -> dict[str, Any]:
    """I(x; z_j) for every dimension of Gaussian posteriors over a data set (nats).

    Args:
        loc: [N, D] posterior means of the N data points.
        scale: [N, D] posterior standard deviations (> 0).
        num_samples: data points in the outer Monte-Carlo average (default all N, one
            posterior sample each); the mixture q(z_j) always uses all N components.
        seed: int seed or ``numpy.random.Generator``.
        active_threshold: variance of the mean code above which a dimension is active.
        chunk_elements: samples × N evaluated at once.

    Returns:
        dict: "mutual_info" [D] (nats), "marginal_variance" [D], "active" bool [D],
        "num_active_dims" int.

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> loc = np.repeat([[-5.0, 0.0], [5.0, 0.0]], 50, axis=0)   # dim 0 tells the halves apart
        >>> result = metrics.dimwise_mutual_information(loc, np.full_like(loc, 0.1))
        >>> round(float(result["mutual_info"][0]), 3), bool(abs(result["mutual_info"][1]) < 0.01), result["num_active_dims"]
        (0.693, True, 1)
    """
    loc, scale = _check_gaussian(loc, scale)
    num_points = loc.shape[0]
    if num_samples is None:
        num_samples = num_points
    num_samples = _check_num_samples(num_samples, loc.shape[1])
    chunk_elements = gaussian_mixture.check_chunk_elements(chunk_elements)
    rng = checks.rng(seed, "seed")
    if num_samples == num_points:
        sample_index = np.arange(num_points)
    else:
        sample_index = rng.choice(num_points, size=num_samples, replace=num_samples > num_points)
    noise = rng.standard_normal((num_samples, loc.shape[1]))
    z = loc[sample_index] + scale[sample_index] * noise
    log_conditional = -0.5 * noise**2 - np.log(scale[sample_index]) - 0.5 * _LOG_2PI
    log_marginal, _ = gaussian_mixture.gaussian_mixture_log_means(z, sample_index, loc, scale, chunk_elements=chunk_elements)
    active = np.var(loc, axis=0) > active_threshold
    return {
        "mutual_info": np.mean(log_conditional - log_marginal, axis=0),
        "marginal_variance": np.mean(scale**2, axis=0) + np.var(loc, axis=0),
        "active": active,
        "num_active_dims": int(active.sum()),
    }


def compute_dimwise_mutual_information(data: FactorData, posterior: sampling.Posterior,
                                       rng: np.random.Generator | int, num_points: int = 10000, batch_size: int = 64,
                                       **kwargs: Any) -> dict[str, Any]:
    """``dimwise_mutual_information`` over ``num_points`` points sampled from ``data``.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        posterior: observations -> (loc [n, D], scale [n, D]) of a Gaussian encoder.
        rng: Generator or int seed (points and posterior samples).
        num_points: data points (the mixture has this many components).
        batch_size: observations per call of ``posterior``.
        **kwargs: passed to ``dimwise_mutual_information``.
    """
    inputs.check_representation(posterior, "posterior")
    rng = checks.rng(rng)
    num_points = checks.integer(num_points, "num_points")
    factors = sampling.sample_factors(data, num_points, rng)
    loc, scale = sampling.posterior_moments(posterior, factors, batch_size, render=data.observations_from_factors)
    return dimwise_mutual_information(loc, scale, seed=rng, **kwargs)


def posterior_dimwise_mutual_information(posterior: sampling.Posterior, x: np.ndarray,
                                         seed: np.random.Generator | int = 0, batch_size: int = 256) -> dict[str, Any]:
    """I(x; z_j) of every unit over the data x (000 Fig 4), in nats, for a Gaussian posterior callable.

    Args:
        posterior: observations -> a distribution with ``loc`` and ``scale`` [n, D]
            (``model.posterior`` of a Gaussian-latent VAE) or a (loc, scale) pair.
        x: observations [N, ...]; q(z_j) is the mixture over them.
        seed: int or Generator of the posterior samples.
        batch_size: observations per call of ``posterior``.

    Returns:
        the dict of ``dimwise_mutual_information``: "mutual_info" [D], "marginal_variance"
        [D] (000 Fig 7), "active", "num_active_dims".
    """
    loc, scale = sampling.posterior_moments(posterior, x, batch_size)
    return dimwise_mutual_information(loc, scale, seed=seed)


def anchor_ranking(mutual_info: ArrayLike, anchors: Iterable[int]) -> dict[str, Any]:
    """Whether the anchored units carry the most information (000 Fig 4).

    Args:
        mutual_info: [D] I(x; z_j).
        anchors: indices of the anchored units.

    Returns:
        dict: "anchors_are_top" (the anchors are the |a| most informative units),
        "ranks" (rank of each anchor, 0 = most informative), "anchor_mi" [|a|],
        "best_other_mi" (largest I among the other units; 0 if there are none), "gap"
        (smallest anchor MI minus best_other_mi).

    Example:
        >>> anchor_ranking([2.0, 0.1, 3.0], [0, 2])["anchors_are_top"]
        True
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    if mutual_info.ndim != 1 or not np.all(np.isfinite(mutual_info)):
        raise ValueError(f"mutual_info must be a finite 1-D array [D], got shape {mutual_info.shape}")
    anchors = [int(a) for a in anchors]
    if not anchors or len(set(anchors)) != len(anchors) or min(anchors) < 0 or max(anchors) >= mutual_info.size:
        raise ValueError(f"anchors must be distinct indices in [0, {mutual_info.size}), got {anchors}")
    order = np.argsort(-mutual_info, kind="stable")
    ranks = [int(np.flatnonzero(order == a)[0]) for a in anchors]
    others = np.delete(mutual_info, anchors)
    best_other = float(others.max()) if others.size else 0.0
    return {
        "anchors_are_top": bool(max(ranks) < len(anchors)),
        "ranks": ranks,
        "anchor_mi": mutual_info[anchors],
        "best_other_mi": best_other,
        "gap": float(mutual_info[anchors].min() - best_other),
    }


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    points = min(evaluation.train_size, 5000)
    if evaluation.profile == "fast":
        loc, scale, _ = evaluation.pool("train")
        return dimwise_mutual_information(loc[:points], scale[:points], seed=evaluation.seed)
    factors = evaluation.dataset.sample_factors(points, evaluation.rng())
    loc, scale = evaluation.posterior(evaluation.dataset.observations_from_factors(factors))
    return dimwise_mutual_information(loc, scale, seed=evaluation.seed)


registry.register(MetricSpec("mi", "I(x; z_j) of every latent dimension and the active ones (000 Fig 4, 002)",
                             "num_active_dims", _evaluate, needs_factors=False, by_default=True))
