"""Input checks that every disentanglement metric runs before any work.

Codes are real arrays [N, D], factors discrete arrays [N, K]; a ground-truth data set is any
object with ``factor_sizes`` (a sequence of ints), ``sample_factors(n, rng)`` (int array
[n, K]) and ``observations_from_factors(factors)`` (array [n, ...]); a representation is a
callable from observations (NumPy) to codes [n, D]. Each check names the argument and what
was expected.

Example:
    >>> check_factors([[0, 1], [2, 3]]).dtype
    dtype('int64')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from refvae.data.base import FactorData

__all__ = ["check_codes", "check_data", "check_factors", "check_representation", "check_same_length"]


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
    sizes = tuple(int(size) for size in data.factor_sizes)
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{name}.factor_sizes must be a non-empty sequence of positive ints, got {sizes}")
    return sizes


def check_representation(representation: object, name: str = "representation") -> None:
    """Raise TypeError unless ``representation`` is a callable (observations -> codes [n, D])."""
    if not callable(representation):
        raise TypeError(f"{name} must be a callable: observations -> codes [n, D]")
