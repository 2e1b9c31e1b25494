"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams, ICLR 2018).

One predictor per factor k is trained from all codes; its feature importances form column k
of the importance matrix R [D codes, K factors]. With P_jk = R_jk / Σ_k' R_jk' (code j's
importance spread over factors) and P̃_jk = R_jk / Σ_j' R_j'k (factor k's spread over codes):

    disentanglement = Σ_j ρ_j (1 − H_K(P_j·)),  ρ_j = Σ_k R_jk / Σ_jk R_jk
    completeness    = Σ_k ρ̃_k (1 − H_D(P̃_·k)), ρ̃_k = Σ_j R_jk / Σ_jk R_jk

with entropies in base K (number of factors) and D (number of codes), 1e-11 added to every
entry inside the entropies, and informativeness the mean test accuracy of the predictors
(the disentanglement_lib convention: one default scikit-learn ``GradientBoostingClassifier``
per factor, 10,000 train / 5,000 test points). 002 Table 3 reports the disentanglement score
with random-forest importances: ``importance="random_forest"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["MIN_FACTORS", "check_defined", "dci", "dci_from_importance", "importance_matrix", "compute_dci",
           "IMPORTANCE_METHODS"]

IMPORTANCE_METHODS = ("gradient_boosting", "hist_gradient_boosting", "random_forest", "logistic")
_EPSILON = 1e-11

# Disentanglement is an entropy in base K, the number of factors: log 1 = 0 has no base.
MIN_FACTORS = 2
_WHY = "its disentanglement is an entropy in base K, the number of factors"


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless DCI is defined on factors of these sizes: at least
    ``MIN_FACTORS`` factors, each taking at least 2 values (a classifier needs two classes)."""
    inputs.require_factors("DCI", factor_sizes, MIN_FACTORS, where=where, why=_WHY)


def _normalised_entropy(probabilities: np.ndarray, base: float, axis: int) -> np.ndarray:
    """Entropy in base ``base`` of the (renormalised) columns/rows of a non-negative array."""
    probabilities = probabilities / probabilities.sum(axis=axis, keepdims=True)
    return -np.sum(probabilities * np.log(probabilities), axis=axis) / np.log(base)


def dci_from_importance(importance: ArrayLike) -> dict[str, Any]:
    """Disentanglement and completeness of an importance matrix R [D codes, K factors].

    Args:
        importance: non-negative array [D, K], D >= 2 and K >= 2 (entropy bases).

    Returns:
        dict: "disentanglement", "completeness" (floats), "per_code" [D], "per_factor" [K].

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import dci_from_importance
        >>> round(dci_from_importance(np.eye(3))["disentanglement"], 6)
        1.0
    """
    importance = np.asarray(importance, dtype=np.float64)
    if importance.ndim != 2 or min(importance.shape) < 2:
        raise ValueError(f"importance must have shape [D, K] with D >= 2 and K >= 2, got {importance.shape}")
    if not np.all(np.isfinite(importance)) or np.any(importance < 0):
        raise ValueError("importance must be finite and non-negative")
    num_codes, num_factors = importance.shape
    per_code = 1.0 - _normalised_entropy(importance + _EPSILON, num_factors, axis=1)
    per_factor = 1.0 - _normalised_entropy(importance + _EPSILON, num_codes, axis=0)
    total = importance.sum()
    if total == 0:
        code_weight = np.full(num_codes, 1.0 / num_codes)
        factor_weight = np.full(num_factors, 1.0 / num_factors)
    else:
        code_weight = importance.sum(axis=1) / total
        factor_weight = importance.sum(axis=0) / total
    return {
        "disentanglement": float(np.dot(code_weight, per_code)),
        "completeness": float(np.dot(factor_weight, per_factor)),
        "per_code": per_code,
        "per_factor": per_factor,
    }


def _predictor(importance: str, seed: int) -> Any:
    """An unfitted scikit-learn classifier for the ``importance`` method."""
    if importance == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(random_state=seed)
    if importance == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # GradientBoostingClassifier's defaults (100 stages of depth-3 trees, learning rate 0.1)
        # grown on 255-bin histograms: the same kind of trees, a tenth of the time
        return HistGradientBoostingClassifier(max_iter=100, max_depth=3, max_leaf_nodes=None, learning_rate=0.1,
                                              early_stopping=False, random_state=seed)
    if importance == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _split_gains(model: Any, num_codes: int) -> np.ndarray:
    """The importance of each code in a fitted ``HistGradientBoostingClassifier``: the gain of every
    split on it, summed over all trees and normalised to sum to 1, the quantity
    ``GradientBoostingClassifier.feature_importances_`` sums (there the impurity decrease of
    each split, weighted by its samples)."""
    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        raise RuntimeError("this scikit-learn's HistGradientBoostingClassifier keeps no trees to read gains from; "
                           "use importance='gradient_boosting'")
    gains = np.zeros(num_codes)
    for stage in predictors:
        for tree in stage:
            splits = tree.nodes[tree.nodes["is_leaf"] == 0]
            np.add.at(gains, splits["feature_idx"], splits["gain"])
    total = gains.sum()
    return gains / total if total > 0 else gains


def importance_matrix(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray,
                      test_factors: np.ndarray, importance: str = "gradient_boosting",
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix R [D, K] and train/test accuracies of one classifier per factor.

    ``importance`` picks the predictor: "gradient_boosting" (default scikit-learn
    ``GradientBoostingClassifier``, disentanglement_lib), "hist_gradient_boosting" (the same
    100 depth-3 trees of ``HistGradientBoostingClassifier`` on 255-bin histograms, R_jk the
    summed split gains; refvae's fast profile), "random_forest"
    (``RandomForestClassifier``, faster on 2 cores, close to 002's choice) or "logistic"
    (``LogisticRegression`` on standardised codes; R_jk = mean over classes of |coef|,
    fastest). Tree importances are ``feature_importances_``.

    Returns:
        (importance [D, K], train_accuracy [K], test_accuracy [K]).
    """
    if importance not in IMPORTANCE_METHODS:
        raise ValueError(f"importance must be one of {IMPORTANCE_METHODS}, got {importance!r}")
    num_codes, num_factors = train_codes.shape[1], train_factors.shape[1]
    if importance == "logistic":
        mean, std = train_codes.mean(axis=0), train_codes.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        train_codes, test_codes = (train_codes - mean) / std, (test_codes - mean) / std
    matrix = np.zeros((num_codes, num_factors))
    train_accuracy = np.zeros(num_factors)
    test_accuracy = np.zeros(num_factors)
    for k in range(num_factors):
        if np.unique(train_factors[:, k]).size < 2:
            raise ValueError(f"train_factors[:, {k}] takes a single value; a classifier cannot be trained on it")
        model = _predictor(importance, seed).fit(train_codes, train_factors[:, k])
        if importance == "logistic":
            matrix[:, k] = np.abs(model.coef_).mean(axis=0)
        elif importance == "hist_gradient_boosting":
            matrix[:, k] = _split_gains(model, num_codes)
        else:
            matrix[:, k] = np.abs(model.feature_importances_)
        train_accuracy[k] = np.mean(model.predict(train_codes) == train_factors[:, k])
        test_accuracy[k] = np.mean(model.predict(test_codes) == test_factors[:, k])
    return matrix, train_accuracy, test_accuracy


def dci(train_codes: ArrayLike, train_factors: ArrayLike, test_codes: ArrayLike, test_factors: ArrayLike,
        importance: str = "gradient_boosting", seed: int = 0) -> dict[str, Any]:
    """DCI scores (Eastwood & Williams) with one classifier per factor.

    Args:
        train_codes: [N_train, D] codes (D >= 2).
        train_factors: [N_train, K] integer factors (K >= 2).
        test_codes: [N_test, D] codes.
        test_factors: [N_test, K] factors.
        importance: "gradient_boosting" (default, disentanglement_lib), "random_forest" or
            "logistic" (see ``importance_matrix``).
        seed: random_state of the tree ensembles.

    Returns:
        dict: "disentanglement", "completeness", "informativeness" (mean test accuracy),
        "informativeness_train", "importance" [D, K].

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> rng = np.random.default_rng(0)
        >>> factors = rng.integers(0, 4, size=(400, 2))
        >>> result = metrics.dci(factors[:300] * 1.0, factors[:300], factors[300:] * 1.0, factors[300:])
        >>> result["disentanglement"] > 0.99, result["informativeness"]
        (True, 1.0)
    """
    train_codes = inputs.check_codes(train_codes, "train_codes", min_dims=2)
    test_codes = inputs.check_codes(test_codes, "test_codes", min_dims=2)
    train_factors = inputs.check_factors(train_factors, "train_factors")
    test_factors = inputs.check_factors(test_factors, "test_factors")
    inputs.check_same_length(train_codes=train_codes, train_factors=train_factors)
    inputs.check_same_length(test_codes=test_codes, test_factors=test_factors)
    if test_codes.shape[1] != train_codes.shape[1]:
        raise ValueError(f"test_codes must have {train_codes.shape[1]} columns like train_codes, got {test_codes.shape[1]}")
    if test_factors.shape[1] != train_factors.shape[1]:
        raise ValueError(
            f"test_factors must have {train_factors.shape[1]} columns like train_factors, got {test_factors.shape[1]}"
        )
    if importance not in IMPORTANCE_METHODS:
        raise ValueError(f"importance must be one of {IMPORTANCE_METHODS}, got {importance!r}")
    inputs.require_factor_values("DCI", train_factors, "train_factors", MIN_FACTORS, why=_WHY)
    inputs.require_factor_values("DCI", test_factors, "test_factors", MIN_FACTORS, why=_WHY)
    matrix, train_accuracy, test_accuracy = importance_matrix(
        train_codes, train_factors, test_codes, test_factors, importance, seed
    )
    scores = dci_from_importance(matrix)
    return {
        "disentanglement": scores["disentanglement"],
        "completeness": scores["completeness"],
        "informativeness": float(np.mean(test_accuracy)),
        "informativeness_train": float(np.mean(train_accuracy)),
        "importance": matrix,
    }


def compute_dci(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                importance: str = "gradient_boosting") -> dict[str, Any]:
    """DCI of ``representation`` on fresh train and test points sampled from ``data``.

    Args:
        data: ground-truth data set; representation: observations -> codes [n, D];
        rng: Generator or int seed; num_train / num_test: disentanglement_lib 10,000 / 5,000;
        batch_size: observations per call; importance: see ``dci``.

    Returns:
        the dict of ``dci``.
    """
    if importance not in IMPORTANCE_METHODS:
        raise ValueError(f"importance must be one of {IMPORTANCE_METHODS}, got {importance!r}")
    check_defined(inputs.check_data(data), inputs.data_name(data))
    num_train = sampling.check_num_points(num_train, "num_train")
    num_test = sampling.check_num_points(num_test, "num_test")
    rng = checks.rng(rng)
    train_codes, train_factors = sampling.sample_representation(data, representation, num_train, rng, batch_size)
    test_codes, test_factors = sampling.sample_representation(data, representation, num_test, rng, batch_size)
    return dci(train_codes, train_factors, test_codes, test_factors, importance=importance)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        train_codes, _, train_factors = evaluation.pool("train")
        test_codes, _, test_factors = evaluation.pool("test")
        return {**dci(train_codes, train_factors, test_codes, test_factors, importance="hist_gradient_boosting"),
                "importance_method": "hist_gradient_boosting"}
    return {**compute_dci(evaluation.dataset, evaluation.representation, evaluation.rng(),
                          num_train=evaluation.train_size, num_test=evaluation.test_size),
            "importance_method": "gradient_boosting"}


registry.register(MetricSpec("dci", "DCI disentanglement, completeness, informativeness (Eastwood & Williams "
                             "2018; 002 Table 3)", "disentanglement", _evaluate, min_factors=MIN_FACTORS,
                             by_default=True))
