"""refvae: reference implementations and a course on variational autoencoders and disentanglement.

Submodules are imported on first use, so ``import refvae`` is fast and does not load
TensorFlow until a module that needs it is touched::

    import refvae
    refvae.info.gaussian_total_correlation([[1.0, 0.5], [0.5, 1.0]])   # loads refvae.info only
"""

from refvae._lazy import lazy_submodules

__version__ = "0.3.0"  # the one place of the version: pyproject.toml reads it; CHANGELOG.md names it

_SUBMODULES = (
    "info",
    "latents",
    "estimators",
    "decompositions",
    "terms",
    "objectives",
    "models",
    "metrics",
    "data",
    "train",
    "evaluate",
    "report",
    "runs",
    "studies",
    "cli",
    "viz",
    "course",
    "compat",
    "checks",
    "io",
)

# Old paths kept for their users, not part of the API (they warn and name the new one)
_DEPRECATED = ("train",)

__all__ = ["__version__", *(name for name in _SUBMODULES if name not in _DEPRECATED)]

__getattr__, __dir__ = lazy_submodules(__name__, _SUBMODULES)
