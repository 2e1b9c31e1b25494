"""Layers that let code written for other libraries call refvae's implementations.

- ``refvae.compat.disentanglement_lib``: disentanglement_lib's metric functions, data
  protocol (``num_factors``, ``factors_num_values``, ``sample_factors(num, random_state)``,
  ``sample_observations_from_factors(factors, random_state)``), ``numpy.random.RandomState``
  and result keys, over ``refvae.metrics``.

Importing this package (or its modules) does not import TensorFlow.
"""

from refvae._lazy import lazy_submodules

_SUBMODULES = ("disentanglement_lib",)

__all__ = list(_SUBMODULES)

__getattr__, __dir__ = lazy_submodules(__name__, _SUBMODULES)
