"""Submodules imported on first use: a package's ``__getattr__`` and ``__dir__`` (PEP 562)."""

import importlib
import sys


def lazy_submodules(package, names):
    """(``__getattr__``, ``__dir__``) for ``package`` that import ``package.<name>`` on first use.

    Example (in a package's ``__init__.py``)::

        __getattr__, __dir__ = lazy_submodules(__name__, ("disentanglement_lib",))
    """
    names = tuple(names)

    def __getattr__(name):
        if name in names:
            module = importlib.import_module(f"{package}.{name}")
            setattr(sys.modules[package], name, module)
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted({*names, *vars(sys.modules[package]).get("__all__", ())})

    return __getattr__, __dir__


# Old names live this long after they moved (README, "Stable names").
REMOVED_IN = "0.5"


def moved_names(module, aliases):
    """A module ``__getattr__`` that gives each old name of ``module`` from where it moved, with a
    ``DeprecationWarning`` naming the new place.

    Args:
        module: the old module's ``__name__``.
        aliases: {old name: "new.module:name"}; the new module is imported on first use.

    Example (the body of a module whose names moved)::

        __getattr__ = moved_names(__name__, {"discretize": "refvae.metrics.discrete:discretize"})
    """
    aliases = dict(aliases)

    def __getattr__(name):
        if name not in aliases:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target, _, attribute = aliases[name].partition(":")
        import warnings

        warnings.warn(f"{module}.{name} is deprecated and will be removed in refvae {REMOVED_IN}: "
                      f"use {target}.{attribute}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(target), attribute)

    return __getattr__
