"""Input checks that every disentanglement metric runs before any work.

Codes are real arrays [N, D], factors discrete arrays [N, K]; a ground-truth data set is any
object with ``factor_sizes`` (a sequence of ints), ``sample_factors(n, rng)`` (int array
[n, K]) and ``observations_from_factors(factors)`` (array [n, ...]); a representation is a
callable from observations (NumPy) to codes [n, D]. Each check names the argument and what
was expected.

Where a metric is undefined on the data (too few factors, or a factor that takes a single
value), :func:`require_factors` refuses it with one rule and one text for every metric; each
metric module holds its ``MIN_FACTORS`` and a ``check_defined(factor_sizes)`` built on it.

Example:
    >>> check_factors([[0, 1], [2, 3]]).dtype
    dtype('int64')
    >>> require_factors("DCI", (10,), min_factors=2, where="digits")
    Traceback (most recent call last):
    ...
    ValueError: DCI is undefined on digits: it needs at least 2 factors and digits has 1 (factor sizes (10,))
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from refvae.data.base import FactorData

__all__ = [
    "check_codes",
    "check_data",
    "check_factor_sizes",
    "check_factors",
    "check_representation",
    "check_same_length",
    "data_name",
    "require_factor_values",
    "require_factors",
]


def check_codes(codes: ArrayLike, name: str = "codes", min_dims: int = 1) -> np.ndarray:
    """Codes as a finite float64 array [N, D] with N >= 1 and D >= ``min_dims``."""
    if np.iscomplexobj(codes):
        # a float64 cast would drop the imaginary part with only a ComplexWarning
        raise TypeError(f"{name} must be real, got complex values")
    try:
        array = np.asarray(codes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array [N, D]: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D] (2-D), got shape {array.shape}")
    if array.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one row, got shape {array.shape}")
    if array.shape[1] < min_dims:
        raise ValueError(f"{name} must have at least {min_dims} columns (codes), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return array


def check_factors(factors: ArrayLike, name: str = "factors") -> np.ndarray:
    """Discrete factors as an int64 array [N, K] (integer-valued floats accepted)."""
    array = np.asarray(factors)
    if array.ndim == 1:
        raise ValueError(f"{name} must have shape [N, K] (2-D); for one factor pass {name}[:, None]")
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [N, K] (2-D), got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one row and one factor, got shape {array.shape}")
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind != "f":
        raise TypeError(f"{name} must hold integer factor values, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
        raise ValueError(f"{name} must hold integer factor values (discrete factors)")
    return array.astype(np.int64)


def check_same_length(**arrays: ArrayLike) -> None:
    """Raise ValueError unless all given arrays have the same number of rows."""
    lengths = {name: np.shape(array)[0] for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"the inputs must have the same number of rows (N): {described}")


def check_data(data: FactorData, name: str = "data") -> tuple[int, ...]:
    """Check the ground-truth data protocol; return the factor sizes as a tuple of ints."""
    for attribute in ("factor_sizes", "sample_factors", "observations_from_factors"):
        if not hasattr(data, attribute):
            raise TypeError(
                f"{name} must have factor_sizes, sample_factors(n, rng) and "
                f"observations_from_factors(factors); it has no {attribute!r}"
            )
    sizes = check_factor_sizes(data.factor_sizes, f"{name}.factor_sizes")
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{name}.factor_sizes must be a non-empty sequence of positive ints, got {sizes}")
    return sizes


def check_representation(representation: object, name: str = "representation") -> None:
    """Raise TypeError unless ``representation`` is a callable (observations -> codes [n, D])."""
    if not callable(representation):
        raise TypeError(f"{name} must be a callable: observations -> codes [n, D]")


def check_factor_sizes(factor_sizes: Any, name: str = "factor_sizes") -> tuple[int, ...]:
    """Factor sizes |V_k| as a tuple of ints; whole-valued floats (4.0) are accepted, 3.7, NaN,
    inf and bools are refused (a size is a count of values: truncating 3.7 to 3 would drop one)."""
    if isinstance(factor_sizes, (str, bytes)) or not hasattr(factor_sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints (one number of values a factor), got {factor_sizes!r}")
    sizes = []
    for k, size in enumerate(factor_sizes):
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Real):
            raise TypeError(f"{name}[{k}] must be an int (the number of values of factor {k}), "
                            f"got {type(size).__name__} {size!r}")
        if not math.isfinite(size) or size != math.floor(size):
            raise ValueError(f"{name}[{k}] must be a whole number of values, got {size!r}")
        sizes.append(int(size))  # type: ignore[call-overload]  # a whole-valued Real, checked above
    return tuple(sizes)


def data_name(data: Any) -> str:
    """The name a message gives a data set: its ``name`` attribute, else its class name."""
    name = getattr(data, "name", None)
    return name if isinstance(name, str) and name else type(data).__name__


def require_factors(metric: str, factor_sizes: Any, min_factors: int, min_values: int = 2, *, where: str = "the data",
                    why: str = "") -> None:
    """Refuse data on which ``metric`` is undefined: fewer than ``min_factors`` factors, or a
    factor with fewer than ``min_values`` values.

    The one rule (and text) of every metric's refusal; cheap, so wrappers run it before they
    sample or encode anything.

    Args:
        metric: the metric's name for the message ("FactorVAE score", "DCI", ...).
        factor_sizes: |V_k| of each factor (of a data set, or counted in a sample).
        min_factors: the fewest factors the metric is defined for.
        min_values: the fewest values a factor must take (2: a factor that never changes has
            nothing a code could capture).
        where: what the sizes describe, for the message ("digits", "test_factors").
        why: optional reason said after the rule.

    Raises:
        ValueError: naming the metric, ``where`` and what it lacks.
    """
    sizes = check_factor_sizes(factor_sizes)
    reason = f"; {why}" if why else ""
    if len(sizes) < min_factors:
        raise ValueError(f"{metric} is undefined on {where}: it needs at least {min_factors} factors and {where} "
                         f"has {len(sizes)} (factor sizes {sizes}){reason}")
    for k, size in enumerate(sizes):
        if size < min_values:
            takes = "a single value" if size == 1 else f"{size} values"
            raise ValueError(f"{metric} is undefined on {where}: its factor {k} takes {takes}, and every factor "
                             f"must take at least {min_values} (a factor that never changes has nothing for a "
                             f"code to capture)")


def require_factor_values(metric: str, factors: np.ndarray, name: str = "factors", min_factors: int = 1,
                          min_values: int = 2, why: str = "") -> None:
    """``require_factors`` on the values a checked factor array [N, K] takes in its sample.

    Only whether a factor takes at least ``min_values`` values matters, so for the usual
    ``min_values`` of 2 a factor's minimum and maximum decide it (no sort of the sample)."""
    if min_values <= 2 and factors.shape[0]:
        counts = np.where(factors.min(axis=0) == factors.max(axis=0), 1, 2).tolist()
    else:
        counts = [np.unique(factors[:, k]).size for k in range(factors.shape[1])]
    require_factors(metric, counts, min_factors, min_values, where=name, why=why)
