"""Mean mutual information between pairs of codes (an unsupervised score).

Locatello et al. ("Challenging common assumptions in the unsupervised learning of
disentangled representations", ICML 2019) score how much the codes share with each other,
without factors: discretise each code into ``num_bins`` equal-width bins over its observed
range (as for the histogram MIG), take the plug-in mutual information between every pair,
and average over the D (D − 1) ordered pairs j ≠ l:

    mutual_info_score = (1 / (D (D − 1))) Σ_{j ≠ l} I(b_j; b_l)   (nats).

It is 0 for codes whose bins are independent in the sample and log m for two identical
codes spread evenly over m bins; a constant code shares nothing (I = 0 exactly).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import discrete, inputs, registry
from refvae.metrics.registry import Evaluation, MetricSpec

__all__ = ["code_mutual_info"]


def code_mutual_info(codes: ArrayLike, num_bins: int = 20) -> dict[str, Any]:
    """Mean plug-in mutual information between the discretised codes, over pairs j ≠ l.

    Args:
        codes: [N, D] codes, D >= 2.
        num_bins: bins per code (disentanglement_lib: 20).

    Returns:
        dict: "mutual_info_score" float (nats), "mutual_info" [D, D] (I(b_j; b_l) in nats,
        0 on the diagonal).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> z = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> round(metrics.code_mutual_info(np.hstack([z, z]))["mutual_info_score"], 6)  # log 4
        1.386294
    """
    codes = inputs.check_codes(codes, min_dims=2)
    num_bins = checks.integer(num_bins, "num_bins")
    bins = discrete.discretize(codes, num_bins)
    discrete.check_histogram_size(codes.shape[1], num_bins, discrete.as_labels(bins)[1], of="code")
    mutual_info = discrete.discrete_mutual_info_matrix(bins, bins, num_code_labels=num_bins)
    np.fill_diagonal(mutual_info, 0.0)
    num_codes = codes.shape[1]
    return {
        "mutual_info_score": float(mutual_info.sum() / (num_codes * (num_codes - 1))),
        "mutual_info": mutual_info,
    }


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    from refvae.metrics.gaussian_correlation import _codes

    return code_mutual_info(_codes(evaluation))


registry.register(MetricSpec("code-mi", "mean mutual information between pairs of codes (Locatello et al. 2019; "
                             "no factors)", "mutual_info_score", _evaluate, needs_factors=False, by_default=True))
