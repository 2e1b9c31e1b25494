"""Layers that let code written for other libraries call refvae's implementations.

- ``refvae.compat.disentanglement_lib``: disentanglement_lib's metric functions, data
  protocol (``num_factors``, ``factors_num_values``, ``sample_factors(num, random_state)``,
  ``sample_observations_from_factors(factors, random_state)``), ``numpy.random.RandomState``
  and result keys, over ``refvae.metrics``.

Importing this package (or its modules) does not import TensorFlow.
"""

import importlib

_SUBMODULES = ("disentanglement_lib",)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'refvae.compat' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
