"""The unsupervised scores of Locatello et al. (ICML 2019) together, on sampled points.

``unsupervised_scores(codes)`` returns the Gaussian total and Wasserstein correlation of the
codes (``gaussian_correlation``) and the mean mutual information between pairs of
discretised codes (``code_mutual_info``); ``compute_unsupervised_scores`` samples the
points from a ground-truth data set (whose factors it does not use), as
disentanglement_lib's ``unsupervised_metrics`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import discrete, inputs, sampling
from refvae.metrics.code_mutual_info import code_mutual_info
from refvae.metrics.gaussian_correlation import gaussian_correlation

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["unsupervised_scores", "compute_unsupervised_scores"]


def unsupervised_scores(codes: ArrayLike, num_bins: int = 20) -> dict[str, Any]:
    """Gaussian TC, Wasserstein correlation (and its norm) and mean pairwise code MI.

    Args:
        codes: [N, D] codes, N >= 2, D >= 2.
        num_bins: bins per code for the mutual information.

    Returns:
        dict: "gaussian_total_correlation", "gaussian_wasserstein_correlation",
        "gaussian_wasserstein_correlation_norm", "mutual_info_score", "covariance" [D, D],
        "mutual_info" [D, D], "num_active_dims".
    """
    codes = inputs.check_codes(codes, min_dims=2)
    result = gaussian_correlation(codes)
    result.update(code_mutual_info(codes, num_bins=num_bins))
    return result


def compute_unsupervised_scores(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                                num_train: int = 10000, batch_size: int = 16, num_bins: int = 20) -> dict[str, Any]:
    """``unsupervised_scores`` of ``representation`` on ``num_train`` points sampled from ``data``.

    Args:
        data: ground-truth data set (only its observations are used).
        representation: observations -> codes [n, D] (NumPy).
        rng: ``numpy.random.Generator`` or int seed.
        num_train: points sampled (disentanglement_lib: 10,000).
        batch_size: observations per call of ``representation``.
        num_bins: bins per code.

    Returns:
        the dict of ``unsupervised_scores``.
    """
    num_bins = checks.integer(num_bins, "num_bins")
    # D >= 2 codes, each binned into at least one label: a lower bound, checked before encoding
    discrete.check_histogram_size(2, num_bins, [1], of="code", at_least=True)
    codes, _ = sampling.sample_representation(data, representation, num_train, rng, batch_size, name="num_train")
    return unsupervised_scores(codes, num_bins=num_bins)
