"""Argument checks shared by the package: one rule each, run before any work is done.

Every check returns the value in the form the caller computes with and raises an error
that names the argument and what was expected (ARCHITECTURE.md conventions):

    integer(value, name, minimum)   an int or a NumPy integer (never a bool), >= minimum
    dataset_size(value)             N, the number of training points: an integer in 2 … 2**53
    rng(value, name)                a numpy.random.Generator from a Generator, a seed or a RandomState

A value of the wrong type raises :class:`ArgumentTypeError`, which is both a ``TypeError``
and a ``ValueError``, so callers that catch either keep working.

Example:
    >>> integer(np.int64(3), "num_bins")
    3
    >>> dataset_size(True)
    Traceback (most recent call last):
    ...
    refvae.checks.ArgumentTypeError: dataset_size must be an integer >= 2 (the number of training points), got bool True
"""

from __future__ import annotations

import numbers
from typing import TypeAlias

import numpy as np

__all__ = ["ArgumentTypeError", "MAX_DATASET_SIZE", "RandomLike", "dataset_size", "integer", "rng"]

RandomLike: TypeAlias = np.random.Generator | int | np.random.RandomState
"""What :func:`rng` accepts: a Generator, an int seed >= 0 or a legacy RandomState."""

# The largest N: the estimators' weights compute with N as a float64 (1/N, (N − M)/(N M)),
# which holds every integer up to 2**53 exactly; a larger N would be rounded (and 10**400
# does not fit a float at all).
MAX_DATASET_SIZE = 2**53


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError that is also a ValueError)."""


def _integer_words(minimum: int) -> str:
    if minimum == 0:
        return "a non-negative integer"
    if minimum == 1:
        return "a positive integer"
    return f"an integer >= {minimum}"


def _shown(value: int) -> str:
    """``repr`` of an int, or its number of digits when it would flood the message."""
    text = repr(int(value))
    return text if len(text) <= 30 else f"a {len(text.lstrip('-'))}-digit integer"


def integer(value: object, name: str, minimum: int = 1, *, meaning: str = "", maximum: int | None = None,
            maximum_words: str = "") -> int:
    """``value`` as a Python int: an ``int`` or NumPy integer (a bool is refused), >= ``minimum``.

    Args:
        value: the argument.
        name: its name, for the message.
        minimum: the smallest value accepted.
        meaning: optional words said in the message after the rule, e.g. "the number of
            training points".
        maximum: optional largest value accepted.
        maximum_words: how the message writes ``maximum`` and why it is the limit (default
            the number itself).

    Returns:
        ``int(value)``.
    """
    words = _integer_words(minimum) + (f" ({meaning})" if meaning else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be {words}, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be {words}, got {_shown(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum_words or f'{maximum:,}'}, got {_shown(value)}")
    return int(value)


def dataset_size(value: object, name: str = "dataset_size") -> int:
    """N, the number of training points the aggregate-posterior estimators weigh the batch by.

    The one rule of refvae for N: an integer >= 2 (one point has no aggregate posterior to
    estimate) and at most ``MAX_DATASET_SIZE`` = 2**53, NumPy integers accepted, a bool refused.
    """
    return integer(value, name, 2, meaning="the number of training points", maximum=MAX_DATASET_SIZE,
                   maximum_words=f"2**53 = {MAX_DATASET_SIZE:,}, the largest integer the estimators' float64 "
                                 f"weights hold exactly")


def rng(value: RandomLike, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` for ``value``; the same seed gives the same numbers.

    Args:
        value: a ``numpy.random.Generator`` (used as is, so draws advance it), an int seed
            >= 0, or a legacy ``numpy.random.RandomState`` (a seed is drawn from it).
        name: the argument name used in error messages.
    """
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name} must be a non-negative int seed, got {value}")
        return np.random.default_rng(int(value))
    if isinstance(value, np.random.RandomState):
        return np.random.default_rng(value.randint(0, 2**31 - 1))
    raise ArgumentTypeError(
        f"{name} must be a numpy.random.Generator, a RandomState or an int seed, got {type(value).__name__}"
    )
