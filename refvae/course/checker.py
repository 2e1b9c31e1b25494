"""Self-checking exercises for the notebook course.

A chapter's exercise whose answer is a number or an array can be checked with one call::

    import refvae
    refvae.course.check("00.1", my_answer)   # prints and returns "right", "close" or "wrong"

The expected value is never printed or returned, so a student can try again. A wrong or
close answer comes with a hint where one is cheap to find: a flipped sign, a factor of about
2 or 10, bits instead of nats, or the hint the exercise was registered with.

How an answer is compared. With ``e`` the expected value and ``a`` the answer, both as float64
arrays of the same shape, the error is the largest element-wise relative error

    err = max_i |a_i - e_i| / max(|e_i|, atol),

where ``atol`` is a floor that puts expected values near zero on an absolute scale. The answer
is "right" when ``err <= rtol`` and "close" when ``err <= close_rtol``.

Adding exercises for a chapter: register a function that computes the expected answer from
refvae or a closed form (it is called once, on the first check, and cached)::

    from refvae.course import register

    def _gaussian_tc_of_correlated_pair():
        import refvae
        return refvae.info.gaussian_total_correlation([[1.0, 0.8], [0.8, 1.0]])

    register("99.1", _gaussian_tc_of_correlated_pair, rtol=1e-3, close_rtol=0.05,
             hint="TC of a Gaussian depends only on its correlation matrix.")

or use ``@exercise("99.1", rtol=...)`` as a decorator on the function. This module imports
NumPy only; expected-value functions import what they need when they are called. The
course's own exercises are registered by ``refvae.course.answers``.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

RIGHT, CLOSE, WRONG = "right", "close", "wrong"

# Ratios answer / expected that have a cheap explanation, with the hint they give.
_FACTOR_HINTS = (
    (1.0 / math.log(2.0), "check the units: the course works in nats (natural log), not bits"),
    (math.log(2.0), "check the units: the course works in nats (natural log), not bits"),
    (2.0, "off by a factor of about 2"),
    (0.5, "off by a factor of about 2"),
    (10.0, "off by a factor of about 10"),
    (0.1, "off by a factor of about 10"),
)
_FACTOR_MATCH_RTOL = 0.03


@dataclasses.dataclass
class Exercise:
    """One registered exercise: how to compute its answer and how strictly to compare.

    Attributes:
        exercise_id: "NN.k", chapter number and exercise number.
        expected_fn: zero-argument callable returning the expected number or array.
        rtol: largest relative error still "right".
        close_rtol: largest relative error still "close" (> rtol).
        atol: floor on |expected| in the relative error (see the module docstring).
        hint: printed with a "close" or "wrong" verdict; must not contain the answer.
        description: one line saying what the exercise asks, listed by `exercises()`.
    """

    exercise_id: str
    expected_fn: Callable[[], object]
    rtol: float = 1e-3
    close_rtol: float = 5e-2
    atol: float = 1e-12
    hint: str | None = None
    description: str = ""
    _expected: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def expected(self) -> np.ndarray:
        """The expected answer as a float64 array (computed once, then cached)."""
        if self._expected is None:
            value = np.asarray(self.expected_fn(), dtype=np.float64)
            if not np.all(np.isfinite(value)):
                raise RuntimeError(
                    f"exercise {self.exercise_id!r}: its expected_fn returned a non-finite value"
                )
            self._expected = value
        return self._expected


_REGISTRY: dict[str, Exercise] = {}

_ExpectedFn = TypeVar("_ExpectedFn", bound=Callable[[], object])


def register(
    exercise_id: str,
    expected_fn: Callable[[], object],
    *,
    rtol: float = 1e-3,
    close_rtol: float = 5e-2,
    atol: float = 1e-12,
    hint: str | None = None,
    description: str = "",
    overwrite: bool = False,
) -> Exercise:
    """Add an exercise to the registry that `check` consults.

    Args:
        exercise_id: "NN.k" (chapter and exercise number), a non-empty string.
        expected_fn: zero-argument callable returning the expected number or array; it is
            called lazily on the first `check` of this exercise and its result cached.
        rtol: largest relative error counted as "right" (> 0).
        close_rtol: largest relative error counted as "close" (>= rtol).
        atol: floor on |expected| in the relative error, for answers near zero (> 0).
        hint: text printed with "close" and "wrong" verdicts; it must not reveal the answer.
        description: one line listed by `exercises()`.
        overwrite: replace an exercise already registered under this id.

    Returns:
        The registered `Exercise`.

    Raises:
        ValueError: empty id, id already registered (without ``overwrite``), bad tolerances.
        TypeError: ``expected_fn`` is not callable.

    Example:
        >>> register("99.1", lambda: 2.0, rtol=1e-6, close_rtol=1e-2, overwrite=True).rtol
        1e-06
    """
    if not isinstance(exercise_id, str) or not exercise_id.strip():
        raise ValueError(f"exercise_id must be a non-empty string such as '05.2', got {exercise_id!r}")
    if not callable(expected_fn):
        raise TypeError(f"expected_fn must be a callable with no arguments, got {type(expected_fn).__name__}")
    if not rtol > 0:
        raise ValueError(f"rtol must be > 0, got {rtol}")
    if not close_rtol >= rtol:
        raise ValueError(f"close_rtol must be >= rtol ({rtol}), got {close_rtol}")
    if not atol > 0:
        raise ValueError(f"atol must be > 0, got {atol}")
    if exercise_id in _REGISTRY and not overwrite:
        raise ValueError(f"exercise {exercise_id!r} is already registered; pass overwrite=True to replace it")
    entry = Exercise(exercise_id, expected_fn, rtol, close_rtol, atol, hint, description)
    _REGISTRY[exercise_id] = entry
    return entry


def exercise(exercise_id: str, **options: Any) -> Callable[[_ExpectedFn], _ExpectedFn]:
    """Decorator form of `register`: ``@exercise("99.1", rtol=1e-3)`` above the expected_fn.

    ``options`` are `register`'s keyword arguments (rtol, close_rtol, atol, hint, description,
    overwrite).
    """

    def decorate(expected_fn: _ExpectedFn) -> _ExpectedFn:
        register(exercise_id, expected_fn, **options)
        return expected_fn

    return decorate


def exercises() -> dict[str, str]:
    """Known exercise ids (sorted) mapped to their one-line descriptions."""
    return {key: _REGISTRY[key].description for key in sorted(_REGISTRY)}


def _relative_error(answer: np.ndarray, expected: np.ndarray, atol: float) -> float:
    return float(np.max(np.abs(answer - expected) / np.maximum(np.abs(expected), atol)))


def _hint(answer: np.ndarray, expected: np.ndarray, entry: Exercise) -> str | None:
    """A cheap diagnosis of a wrong answer that does not reveal the expected value."""
    if _relative_error(-answer, expected, entry.atol) <= entry.close_rtol:
        return "check the sign"
    informative = np.abs(expected) > entry.atol
    if np.any(informative):
        ratios = answer[informative] / expected[informative]
        for factor, text in _FACTOR_HINTS:
            if np.all(np.abs(ratios / factor - 1.0) <= _FACTOR_MATCH_RTOL):
                return text
    return None


def check(exercise_id: str, answer: object) -> str:
    """Say whether an exercise's answer is right, close or wrong, without revealing it.

    Args:
        exercise_id: a registered id such as "01.2" (see `exercises()`).
        answer: a number, a nested list, a NumPy array or an eager tensor; its shape must be
            the expected one (a single number may be given as any size-1 array).

    Returns:
        "right", "close" or "wrong"; the same word is printed with a hint where one helps.

    Raises:
        ValueError: unknown ``exercise_id`` (the message lists the known ids).
        TypeError: ``answer`` cannot be read as an array of numbers.

    Example:
        >>> check("00.0", 0.8181)   # the closed-form KL of chapter 00
        00.0: right.
        'right'
    """
    if exercise_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown exercise_id {exercise_id!r}; known exercises: {known}")
    entry = _REGISTRY[exercise_id]
    if isinstance(answer, (str, bytes)):
        raise TypeError(f"answer must be a number or an array of numbers, got the string {answer!r}")
    try:
        given = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"answer must be a number or an array of numbers, got {type(answer).__name__}"
        ) from error
    expected = entry.expected()
    if given.size == 1 and expected.size == 1:
        given = given.reshape(expected.shape)

    if given.shape != expected.shape:
        return _report(
            exercise_id, WRONG,
            f"your answer has shape {given.shape}, the exercise expects shape {expected.shape}",
        )
    if not np.all(np.isfinite(given)):
        return _report(exercise_id, WRONG, "your answer contains NaN or infinity")

    relative_error = _relative_error(given, expected, entry.atol)
    if relative_error <= entry.rtol:
        return _report(exercise_id, RIGHT)
    if relative_error <= entry.close_rtol:
        detail = f"within {entry.close_rtol:.0%} but not within {entry.rtol:.2g} (relative)"
        return _report(exercise_id, CLOSE, detail, entry.hint)
    return _report(exercise_id, WRONG, _hint(given, expected, entry), entry.hint)


def _report(exercise_id: str, verdict: str, detail: str | None = None, hint: str | None = None) -> str:
    message = f"{exercise_id}: {verdict}."
    if detail:
        message += f" {detail[0].upper()}{detail[1:]}."
    if hint:
        message += f" Hint: {hint}."
    print(message)
    return verdict
