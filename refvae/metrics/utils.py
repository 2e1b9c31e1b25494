"""Old import path of shared pieces of the metrics; each name warns and gives the new one.

The pieces live in modules of one idea each: ``refvae.metrics.inputs`` (input checks),
``refvae.metrics.sampling`` (the data protocol), ``refvae.metrics.discrete`` (histogram bins,
plug-in mutual information), ``refvae.metrics.gaussian_mixture`` (1-D Gaussian mixtures) and
``refvae.checks`` (integers, random generators). ``refvae.metrics.utils.<name>`` keeps working
until refvae 0.5, with a ``DeprecationWarning`` naming where the name lives now.
"""

from refvae._lazy import moved_names

_MOVED = {
    "as_rng": "refvae.checks:rng",
    "check_positive_int": "refvae.checks:integer",
    "as_labels": "refvae.metrics.discrete:as_labels",
    "discrete_entropy": "refvae.metrics.discrete:discrete_entropy",
    "discrete_mutual_info_matrix": "refvae.metrics.discrete:discrete_mutual_info_matrix",
    "discretize": "refvae.metrics.discrete:discretize",
    "gaussian_mixture_log_means": "refvae.metrics.gaussian_mixture:gaussian_mixture_log_means",
    "check_codes": "refvae.metrics.inputs:check_codes",
    "check_data": "refvae.metrics.inputs:check_data",
    "check_factors": "refvae.metrics.inputs:check_factors",
    "check_representation": "refvae.metrics.inputs:check_representation",
    "check_same_length": "refvae.metrics.inputs:check_same_length",
    "encode": "refvae.metrics.sampling:encode",
    "posterior_moments": "refvae.metrics.sampling:posterior_moments",
    "sample_factors": "refvae.metrics.sampling:sample_factors",
    "sample_representation": "refvae.metrics.sampling:sample_representation",
    "split_train_test": "refvae.metrics.sampling:split_train_test",
}
__all__ = sorted(_MOVED)
__getattr__ = moved_names(__name__, _MOVED)
