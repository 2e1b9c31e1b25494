"""Separated Attribute Predictability (SAP), Kumar, Sattigeri & Balakrishnan 2018.

A score matrix S [D codes, K factors] says how well code j alone predicts factor k:

- discrete factor: test accuracy of ``LinearSVC(C=0.01, class_weight="balanced")`` trained on
  code j alone (disentanglement_lib convention);
- continuous factor: squared Pearson correlation R² = Cov(z_j, v_k)² / (Var z_j Var v_k) on
  the training points, 0 for a code with variance <= 1e-12.

    SAP = (1/K) Σ_k ( S_{(1)k} − S_{(2)k} ),

the mean over factors of the gap between the largest and second largest score. For a
discrete factor the gap is at most 1 − (accuracy of an uninformative code): a perfect code of
a balanced binary factor scores 0.5, not 1. A linear one-code classifier also cannot separate
the middle values of a factor with many ordered values, so identity codes of such factors
score well below 1 (e.g. ≈ 0.17 for 10 values); use ``continuous_factors`` for ordinal factors
if that is the question.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["MIN_FACTORS", "check_defined", "sap", "sap_from_scores", "sap_score_matrix", "compute_sap"]

# SAP is a mean over factors of a per-factor gap: one factor is enough.
MIN_FACTORS = 1


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless SAP is defined on factors of these sizes: at least
    ``MIN_FACTORS`` factor, each taking at least 2 values (in training and test points)."""
    inputs.require_factors("SAP", factor_sizes, MIN_FACTORS, where=where)


def sap_from_scores(scores: ArrayLike) -> dict[str, Any]:
    """Mean over factors of the gap between the two highest scores of a [D, K] matrix (D >= 2).

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import sap_from_scores
        >>> round(sap_from_scores(np.array([[0.9, 0.2], [0.3, 0.8]]))["sap"], 6)
        0.6
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] < 2:
        raise ValueError(f"scores must have shape [D, K] with D >= 2 codes, got {scores.shape}")
    top_two = -np.sort(-scores, axis=0)[:2]
    per_factor = top_two[0] - top_two[1]
    return {"sap": float(np.mean(per_factor)), "per_factor": per_factor}


def _squared_correlation(codes: np.ndarray, factor: np.ndarray) -> np.ndarray:
    codes = codes - codes.mean(axis=0)
    factor = factor - factor.mean()
    num = codes.shape[0] - 1
    covariance = codes.T @ factor / num
    code_variance = np.sum(codes**2, axis=0) / num
    factor_variance = np.sum(factor**2) / num
    with np.errstate(divide="ignore", invalid="ignore"):
        r_squared = covariance**2 / (code_variance * factor_variance)
    return np.where((code_variance > 1e-12) & (factor_variance > 0), r_squared, 0.0)


def sap_score_matrix(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray,
                     test_factors: np.ndarray,
                     continuous_factors: bool | Sequence[bool] | np.ndarray = False) -> np.ndarray:
    """Score matrix [D, K] of SAP (see the module docstring); arrays already checked.

    ``continuous_factors``: one bool for every factor, or a sequence of K bools (as ``sap``).
    """
    from sklearn.svm import LinearSVC

    num_codes, num_factors = train_codes.shape[1], train_factors.shape[1]
    continuous = np.broadcast_to(np.asarray(continuous_factors, dtype=bool), (num_factors,))
    scores = np.zeros((num_codes, num_factors))
    for k in range(num_factors):
        if continuous[k]:
            scores[:, k] = _squared_correlation(train_codes, train_factors[:, k].astype(np.float64))
            continue
        for j in range(num_codes):
            classifier = LinearSVC(C=0.01, class_weight="balanced")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning on uninformative codes
                classifier.fit(train_codes[:, j : j + 1], train_factors[:, k])
            scores[j, k] = np.mean(classifier.predict(test_codes[:, j : j + 1]) == test_factors[:, k])
    return scores


def sap(train_codes: ArrayLike, train_factors: ArrayLike, test_codes: ArrayLike, test_factors: ArrayLike,
        continuous_factors: bool | Sequence[bool] = False) -> dict[str, Any]:
    """SAP score of codes against factors.

    Args:
        train_codes: [N_train, D] codes (D >= 2).
        train_factors: [N_train, K] factor values (integers for discrete factors).
        test_codes: [N_test, D] codes (used for the discrete factors' accuracies).
        test_factors: [N_test, K] factor values.
        continuous_factors: bool, or a sequence of K bools: which factors are scored by R²
            instead of classification accuracy.

    Returns:
        dict: "sap" float, "per_factor" [K], "scores" [D, K].

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> rng = np.random.default_rng(0)
        >>> factors = rng.integers(0, 3, size=(600, 2))
        >>> codes = factors + 0.01 * rng.normal(size=(600, 2))
        >>> metrics.sap(codes[:400], factors[:400], codes[400:], factors[400:], continuous_factors=True)["sap"] > 0.99
        True
    """
    train_codes = inputs.check_codes(train_codes, "train_codes", min_dims=2)
    test_codes = inputs.check_codes(test_codes, "test_codes", min_dims=2)
    inputs.check_same_length(train_codes=train_codes, train_factors=train_factors)
    inputs.check_same_length(test_codes=test_codes, test_factors=test_factors)
    train_factors = np.asarray(train_factors)
    test_factors = np.asarray(test_factors)
    if train_factors.ndim != 2 or test_factors.ndim != 2 or train_factors.shape[1] != test_factors.shape[1]:
        raise ValueError(
            f"train_factors and test_factors must have shape [N, K] with the same K, "
            f"got {train_factors.shape} and {test_factors.shape}"
        )
    if test_codes.shape[1] != train_codes.shape[1]:
        raise ValueError(f"test_codes must have {train_codes.shape[1]} columns like train_codes, got {test_codes.shape[1]}")
    num_factors = train_factors.shape[1]
    continuous = np.broadcast_to(np.asarray(continuous_factors, dtype=bool), (num_factors,))
    discrete = [k for k in range(num_factors) if not continuous[k]]
    if discrete:
        inputs.check_factors(train_factors[:, discrete], "train_factors (discrete columns)")
        inputs.check_factors(test_factors[:, discrete], "test_factors (discrete columns)")
    for name, values in (("train_factors", train_factors), ("test_factors", test_factors)):
        if values.dtype.kind not in "iubf":
            raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
        if not np.all(np.isfinite(values.astype(np.float64))):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
        # a one-valued factor has no classifier to train (discrete) or no correlation (continuous)
        # in training points, and nothing to score in test points
        inputs.require_factor_values("SAP", values, name, MIN_FACTORS)
    scores = sap_score_matrix(train_codes, train_factors, test_codes, test_factors, continuous)
    result = sap_from_scores(scores)
    result["scores"] = scores
    return result


def compute_sap(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                continuous_factors: bool | Sequence[bool] = False) -> dict[str, Any]:
    """SAP of ``representation`` on fresh train and test points sampled from ``data``.

    Args:
        data: ground-truth data set; representation: observations -> codes [n, D];
        rng: Generator or int seed; num_train / num_test: disentanglement_lib 10,000 / 5,000;
        batch_size: observations per call; continuous_factors: see ``sap``.

    Returns:
        the dict of ``sap``.
    """
    check_defined(inputs.check_data(data), inputs.data_name(data))
    num_train = sampling.check_num_points(num_train, "num_train")
    num_test = sampling.check_num_points(num_test, "num_test")
    rng = checks.rng(rng)
    train_codes, train_factors = sampling.sample_representation(data, representation, num_train, rng, batch_size)
    test_codes, test_factors = sampling.sample_representation(data, representation, num_test, rng, batch_size)
    return sap(train_codes, train_factors, test_codes, test_factors, continuous_factors=continuous_factors)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        train_codes, _, train_factors = evaluation.pool("train")
        test_codes, _, test_factors = evaluation.pool("test")
        return sap(train_codes, train_factors, test_codes, test_factors)
    return compute_sap(evaluation.dataset, evaluation.representation, evaluation.rng(),
                       num_train=evaluation.train_size, num_test=evaluation.test_size)


registry.register(MetricSpec("sap", "SAP: the gap between the two codes that predict a factor best (Kumar et al. "
                             "2018)", "sap", _evaluate, min_factors=MIN_FACTORS, by_default=True))
