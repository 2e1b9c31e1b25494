"""Shared pieces of the disentanglement metrics, under their first import path.

The pieces now live in modules of one idea each; this module hands their names on so that
``refvae.metrics.utils.<name>`` keeps working:

- ``refvae.metrics.inputs``: the input checks every metric runs before any work;
- ``refvae.metrics.sampling``: the data protocol (sample factors, encode observations);
- ``refvae.metrics.discrete``: histogram bins and the plug-in (discrete) mutual information;
- ``refvae.metrics.gaussian_mixture``: the chunked log-mean-exp of 1-D Gaussian mixtures;
- ``refvae.checks``: ``as_rng`` (``checks.rng``) and ``check_positive_int`` (``checks.integer``).

Example:
    >>> import numpy as np
    >>> from refvae.metrics import utils
    >>> codes = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> utils.discretize(codes, num_bins=2)[:, 0].tolist()
    [0, 0, 1, 1]
"""

from refvae.checks import integer as check_positive_int
from refvae.checks import rng as as_rng
from refvae.metrics.discrete import as_labels, discrete_entropy, discrete_mutual_info_matrix, discretize
from refvae.metrics.gaussian_mixture import gaussian_mixture_log_means
from refvae.metrics.inputs import check_codes, check_data, check_factors, check_representation, check_same_length
from refvae.metrics.sampling import (
    encode,
    posterior_moments,
    sample_factors,
    sample_representation,
    split_train_test,
)

__all__ = [
    "as_rng",
    "check_codes",
    "check_factors",
    "check_data",
    "check_positive_int",
    "check_representation",
    "check_same_length",
    "discretize",
    "as_labels",
    "discrete_entropy",
    "discrete_mutual_info_matrix",
    "encode",
    "posterior_moments",
    "sample_factors",
    "sample_representation",
    "split_train_test",
    "gaussian_mixture_log_means",
]
