"""refvae: reference implementations and a course on variational autoencoders and disentanglement.

Submodules are imported on first use, so ``import refvae`` is fast and does not load
TensorFlow until a module that needs it is touched::

    import refvae
    refvae.info.gaussian_total_correlation([[1.0, 0.5], [0.5, 1.0]])   # loads refvae.info only
"""

import importlib

__version__ = "0.2.0"  # the same as pyproject.toml and CHANGELOG.md (tests/test_package.py)

_SUBMODULES = (
    "info",
    "latents",
    "estimators",
    "decompositions",
    "objectives",
    "models",
    "metrics",
    "data",
    "train",
    "evaluate",
    "cli",
    "viz",
    "course",
    "compat",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'refvae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
