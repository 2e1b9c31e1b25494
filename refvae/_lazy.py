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
