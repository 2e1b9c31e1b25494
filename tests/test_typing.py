"""Every public function and method of refvae says the types of its parameters and its return.

Public: a name without a leading underscore, in a module whose dotted path has no part with one
(``__init__`` of a public class counts, its return is None). Every parameter but ``self`` / ``cls``
is annotated, ``*args`` and ``**kwargs`` included, and so is the return. mypy checks that the
annotations are right (``make test`` runs it); this test checks that they are there.
"""

import importlib
import inspect
import pathlib
import pkgutil

import pytest

import refvae

PACKAGE_DIR = pathlib.Path(refvae.__file__).parent

# Modules another developer is completing; each is listed only while it still has an unannotated
# public function (test_the_modules_left_out_are_still_incomplete), so the list can only shrink.
INCOMPLETE: frozenset[str] = frozenset()


def _is_public(dotted: str) -> bool:
    return not any(part.startswith("_") for part in dotted.split("."))


def _public_module_names():
    """Every public module of refvae (walking the packages imports them, TensorFlow included)."""
    names = ["refvae"]
    for info in pkgutil.walk_packages(refvae.__path__, "refvae."):
        if _is_public(info.name):
            names.append(info.name)
    return sorted(names)


def _files_of_public_modules():
    """The dotted names of the public modules, read from the file system (not from the import system)."""
    names = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        dotted = ".".join(parts)
        if _is_public(dotted):
            names.add(dotted)
    return names


def _functions_of_class(cls):
    """(name, function) of the public methods defined in ``cls`` itself (properties by their
    getter and setter, static and class methods by their function)."""
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(member, property):
            functions = [f for f in (member.fget, member.fset, member.fdel) if f is not None]
        elif isinstance(member, (staticmethod, classmethod)):
            functions = [member.__func__]
        elif inspect.isfunction(member):
            functions = [inspect.unwrap(member)]   # e.g. through contextlib.contextmanager
        else:
            continue
        for function in functions:
            # defined in this class, not taken from elsewhere (typing.Protocol adds an __init__)
            if function.__qualname__.startswith(cls.__qualname__ + "."):
                yield f"{cls.__qualname__}.{name}", function, not isinstance(member, staticmethod)


def _public_functions(module):
    """(qualified name, function, is_method) of every public function and method defined in ``module``."""
    for name, member in vars(module).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(member) and member.__module__ == module.__name__:
            yield from _functions_of_class(member)
        elif callable(member) and getattr(member, "__module__", None) == module.__name__:
            function = inspect.unwrap(member)   # e.g. through functools.lru_cache
            if inspect.isfunction(function):
                yield name, function, False


def _missing_annotations(function, is_method):
    """The parameters of ``function`` without an annotation, and "return" when it has none."""
    annotations = function.__annotations__
    parameters = list(inspect.signature(function, follow_wrapped=False).parameters.values())
    if is_method and parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    missing = [p.name for p in parameters if p.name not in annotations]
    if "return" not in annotations:
        missing.append("return")
    return missing


def _gaps(module_name):
    module = importlib.import_module(module_name)
    return {f"{module_name}.{name}": missing for name, function, is_method in _public_functions(module)
            if (missing := _missing_annotations(function, is_method))}


@pytest.fixture(scope="module")
def modules():
    return _public_module_names()


@pytest.fixture(scope="module")
def gaps(modules):
    """{module name: {function: its missing annotations}} of every public module (all imported)."""
    return {name: _gaps(name) for name in modules}


def test_the_walk_imports_every_public_module_of_the_package(modules, gaps):
    assert set(modules) == _files_of_public_modules() == set(gaps)
    assert {"refvae.info", "refvae.metrics.mig", "refvae.models.vae", "refvae.compat.disentanglement_lib"} <= set(modules)
    assert set(INCOMPLETE) <= set(modules)


def test_every_public_function_and_method_is_annotated(gaps):
    checked = {name: found for name, found in gaps.items() if name not in INCOMPLETE}
    missing = {function: names for found in checked.values() for function, names in found.items()}
    assert missing == {}


def test_the_walk_finds_the_functions_it_checks(gaps):
    # Known annotated functions of three areas are among those the walk looks at.
    module = importlib.import_module("refvae.metrics.sampling")
    names = {name for name, _, _ in _public_functions(module)}
    assert {"encode", "split_train_test", "FactorGroups.__init__", "FactorGroups.members"} <= names
    module = importlib.import_module("refvae.models.vae")
    names = {name for name, _, _ in _public_functions(module)}
    assert {"build", "VAE.__init__", "VAE.compute_terms", "VAE.code_size", "VAE.from_config"} <= names
    module = importlib.import_module("refvae.data.dsprites")
    names = {name for name, _, _ in _public_functions(module)}
    assert {"base_sprites", "dsprites", "OfficialDSprites.num_observations"} <= names  # base_sprites: lru_cache


def test_an_unannotated_function_is_reported():
    def half_typed(x: int, y, *args, **kwargs) -> int:
        return x

    def untyped_method(self, x):
        return x

    assert _missing_annotations(half_typed, False) == ["y", "args", "kwargs"]
    assert _missing_annotations(untyped_method, True) == ["x", "return"]


def test_the_modules_left_out_are_still_incomplete(gaps):
    complete = sorted(name for name in INCOMPLETE if not gaps[name])
    assert complete == [], f"annotated now: remove {complete} from INCOMPLETE"
