"""Interventional robustness score (IRS), Suter et al., ICML 2019.

Suter, Miladinović, Schölkopf and Bauer ("Robustly disentangled causal mechanisms:
validating deep representations for interventional robustness", §4) ask how much a code
z_j moves when the factors it should be blind to are intervened on while the factors it
encodes are held fixed. With every point of a uniformly sampled data set read as one
intervention do(v = v(n)), their post-interventional disagreement for code j and factor k
is, per value v of v_k,

    PIDA_jk(v) = quantile_q { |z_j(n) − E[z_j | v_k = v]| : n with v_k(n) = v },

the q-quantile (q = 0.99; q = 1 is the paper's supremum over interventions on the other
factors, the quantile keeps one outlier from deciding it) of the deviations within the
group that shares v_k = v. Its expectation over v, normalised by the largest deviation of
the code over all points,

    EMPIDA_jk = mean_v PIDA_jk(v),    max_dev_j = max_n |z_j(n) − E[z_j]|,
    IRS_jk = 1 − EMPIDA_jk / max_dev_j,

is 1 when z_j is a function of v_k alone. A code is scored by its best factor,
IRS_j = max_k IRS_jk, and the representation by the mean of IRS_j weighted by max_dev_j,
so codes that barely move count little and constant codes (max_dev_j = 0) not at all;
with no active code the score is 0 (the convention of disentanglement_lib's "scalable"
IRS, whose numbers this reproduces).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae.metrics import inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["MIN_FACTORS", "check_defined", "irs", "compute_irs"]

# A code is scored by its best factor: one factor is enough.
MIN_FACTORS = 1


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless IRS is defined on factors of these sizes: at least
    ``MIN_FACTORS`` factor, each taking at least 2 values (a constant factor puts every
    point in one group, whose deviations say nothing about robustness)."""
    inputs.require_factors("IRS", factor_sizes, MIN_FACTORS, where=where)


def irs(codes: ArrayLike, factors: ArrayLike, diff_quantile: float = 0.99) -> dict[str, Any]:
    """Interventional robustness score of codes against discrete factors.

    Args:
        codes: [N, D] codes (usually posterior means).
        factors: [N, K] integer factor values, sampled independently (each point an
            intervention on all factors).
        diff_quantile: q in (0, 1], the quantile of the within-group deviations that stands
            for their supremum (0.99; 1.0 is the supremum itself).

    Returns:
        dict: "irs" float (weighted mean of the per-code scores), "per_code" [D] (IRS_j,
        0 for a constant code), "irs_matrix" [D, K] (IRS_jk, 0 rows for constant codes),
        "parents" [D] (argmax_k IRS_jk, -1 for a constant code), "max_deviations" [D],
        "num_active_dims" (codes that are not constant).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> factors = np.stack(np.meshgrid(np.arange(2), np.arange(2), indexing="ij"), -1).reshape(-1, 2)
        >>> codes = np.column_stack([factors[:, 0], factors.sum(axis=1)]).astype(float)
        >>> round(metrics.irs(codes, factors)["irs"], 6)  # (1 · 0.5 + 0.5 · 1) / 1.5
        0.666667
    """
    codes = inputs.check_codes(codes)
    factors = inputs.check_factors(factors)
    inputs.check_same_length(codes=codes, factors=factors)
    if isinstance(diff_quantile, bool) or not isinstance(diff_quantile, (int, float, np.floating, np.integer)):
        raise TypeError(f"diff_quantile must be a number in (0, 1], got {type(diff_quantile).__name__}")
    if not 0 < diff_quantile <= 1:
        raise ValueError(f"diff_quantile must be in (0, 1], got {diff_quantile}")
    inputs.require_factor_values("IRS", factors, "factors", MIN_FACTORS)
    num_codes, num_factors = codes.shape[1], factors.shape[1]
    max_deviations = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    active = max_deviations > 0
    empida = np.zeros((num_codes, num_factors))
    for k in range(num_factors):
        values = np.unique(factors[:, k])
        for value in values:
            group = codes[factors[:, k] == value]
            deviations = np.abs(group - group.mean(axis=0))
            empida[:, k] += np.quantile(deviations, diff_quantile, axis=0)
        empida[:, k] /= len(values)
    irs_matrix = np.zeros((num_codes, num_factors))
    irs_matrix[active] = 1.0 - empida[active] / max_deviations[active, None]
    per_code = irs_matrix.max(axis=1)
    parents = np.where(active, irs_matrix.argmax(axis=1), -1)
    score = float(np.average(per_code, weights=max_deviations)) if active.any() else 0.0
    return {
        "irs": score,
        "per_code": per_code,
        "irs_matrix": irs_matrix,
        "parents": parents,
        "max_deviations": max_deviations,
        "num_active_dims": int(active.sum()),
    }


def compute_irs(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                num_train: int = 10000, batch_size: int = 16, diff_quantile: float = 0.99) -> dict[str, Any]:
    """IRS of ``representation`` on ``num_train`` points sampled from ``data``.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        representation: observations -> codes [n, D] (NumPy).
        rng: ``numpy.random.Generator`` or int seed.
        num_train: points sampled (disentanglement_lib: 10,000).
        batch_size: observations per call of ``representation``.
        diff_quantile: see ``irs``.

    Returns:
        the dict of ``irs``.
    """
    check_defined(inputs.check_data(data), inputs.data_name(data))
    codes, factors = sampling.sample_representation(data, representation, num_train, rng, batch_size, name="num_train")
    return irs(codes, factors, diff_quantile=diff_quantile)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        loc, _, factors = evaluation.pool("train")
        return irs(loc, factors)
    return compute_irs(evaluation.dataset, evaluation.representation, evaluation.rng(),
                       num_train=evaluation.train_size)


registry.register(MetricSpec("irs", "interventional robustness score (Suter et al. 2019)", "irs", _evaluate,
                             min_factors=MIN_FACTORS, by_default=True))
