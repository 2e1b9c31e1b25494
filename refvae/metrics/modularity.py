"""Modularity and explicitness (Ridgeway & Mozer, NeurIPS 2018).

Modularity asks whether each code carries information about at most one factor. With
m_jk = I(z_j; v_k) (histogram MI of the discretised code, as for MIG) and θ_j = max_k m_jk²,

    δ_j = (Σ_k m_jk² − θ_j) / (θ_j (K − 1)),   modularity_j = 1 − δ_j  (0 when θ_j = 0),

and the modularity score is the mean over codes. A code that takes a single value has
m_jk = 0 exactly and scores 0. A code that only *nearly* does (a collapsed code whose mean
moves by 1e-9) is binned over its own tiny range like any other code, so its m_jk are the
plug-in estimator's positive bias, about (bins − 1)(|V_k| − 1) / (2N) nats each (0.086 for 20
bins, 10 values, N = 1000); spread about evenly over the factors they give it a low but
nonzero score (0.1–0.3 in that case). That is the definition (and disentanglement_lib's);
drop collapsed codes first if they should not count. Explicitness asks whether each factor is
linearly decodable from all codes: for each factor a default scikit-learn
``LogisticRegression`` on codes standardised with the training mean and deviation, scored by
the macro one-vs-rest ROC-AUC of its class probabilities; explicitness is the mean over
factors (disentanglement_lib convention).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import discrete, inputs, registry, sampling
from refvae.metrics.registry import Evaluation, MetricSpec

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["MIN_FACTORS", "check_defined", "modularity", "modularity_from_mutual_info", "explicitness",
           "compute_modularity"]

# δ_j divides by K − 1: with one factor every informative code is trivially modular.
MIN_FACTORS = 2
_WHY = "its deviation from an ideal code divides by K - 1"


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless modularity and explicitness are defined on factors of these
    sizes: at least ``MIN_FACTORS`` factors, each taking at least 2 values."""
    inputs.require_factors("modularity", factor_sizes, MIN_FACTORS, where=where, why=_WHY)


def modularity_from_mutual_info(mutual_info: ArrayLike) -> dict[str, Any]:
    """Modularity of a mutual-information matrix [D codes, K factors] (K >= 2).

    Returns:
        dict: "modularity" (mean over codes), "per_code" [D].

    Example:
        >>> from refvae.metrics import modularity_from_mutual_info
        >>> round(modularity_from_mutual_info([[1, 0], [0, 1], [0, 0]])["modularity"], 6)
        0.666667
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    if mutual_info.ndim != 2 or mutual_info.shape[1] < 2:
        raise ValueError(f"mutual_info must have shape [D, K] with K >= 2 factors, got {mutual_info.shape}")
    if not np.all(np.isfinite(mutual_info)) or np.any(mutual_info < 0):
        raise ValueError("mutual_info must be finite and non-negative")
    squared = mutual_info**2
    theta = squared.max(axis=1)
    informative = theta > 0
    per_code = np.zeros(mutual_info.shape[0])
    deviation = (squared.sum(axis=1)[informative] - theta[informative]) / (
        theta[informative] * (mutual_info.shape[1] - 1)
    )
    per_code[informative] = 1.0 - deviation
    return {"modularity": float(per_code.mean()), "per_code": per_code}


def _macro_roc_auc(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float:
    """Mean over classes present (with both outcomes) of the one-vs-rest ROC-AUC."""
    from sklearn.metrics import roc_auc_score

    scores = [
        roc_auc_score(labels == value, probabilities[:, column])
        for column, value in enumerate(classes)
        if 0 < np.sum(labels == value) < labels.shape[0]
    ]
    return float(np.mean(scores))


def explicitness(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray,
                 test_factors: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Explicitness: mean over factors of the macro ROC-AUC of a logistic regression.

    The arrays are checked ones (``modularity`` checks them): codes float [N, D], factors int [N, K].

    Returns:
        (explicitness_train, explicitness_test, per_factor_test [K]).
    """
    from sklearn.linear_model import LogisticRegression

    mean, std = train_codes.mean(axis=0), train_codes.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    train_codes, test_codes = (train_codes - mean) / std, (test_codes - mean) / std
    train_scores, test_scores = [], []
    for k in range(train_factors.shape[1]):
        if np.unique(train_factors[:, k]).size < 2:
            raise ValueError(f"train_factors[:, {k}] takes a single value; a classifier cannot be trained on it")
        model = LogisticRegression().fit(train_codes, train_factors[:, k])
        train_scores.append(_macro_roc_auc(train_factors[:, k], model.predict_proba(train_codes), model.classes_))
        test_scores.append(_macro_roc_auc(test_factors[:, k], model.predict_proba(test_codes), model.classes_))
    return float(np.mean(train_scores)), float(np.mean(test_scores)), np.array(test_scores)


def modularity(codes: ArrayLike, factors: ArrayLike, num_bins: int = 20, test_codes: ArrayLike | None = None,
               test_factors: ArrayLike | None = None) -> dict[str, Any]:
    """Modularity and explicitness of codes against discrete factors.

    Args:
        codes: [N, D] codes (training set).
        factors: [N, K] integer factors (K >= 2).
        num_bins: bins per code for the mutual information (20).
        test_codes, test_factors: optional held-out set for explicitness; without them
            explicitness is measured on the training set.

    Returns:
        dict: "modularity", "explicitness" (test set if given, else training set),
        "explicitness_train", "per_code" [D], "mutual_info" [D, K].

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> factors = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
        >>> round(metrics.modularity(factors * 1.0, factors)["modularity"], 6)
        1.0
    """
    codes = inputs.check_codes(codes)
    factors = inputs.check_factors(factors)
    inputs.check_same_length(codes=codes, factors=factors)
    num_bins = checks.integer(num_bins, "num_bins")
    if (test_codes is None) != (test_factors is None):
        raise ValueError("pass both test_codes and test_factors, or neither")
    inputs.require_factor_values("modularity", factors, "factors", MIN_FACTORS, why=_WHY)
    if test_codes is None or test_factors is None:  # both None (checked above)
        test_codes, test_factors = codes, factors
    else:
        test_codes = inputs.check_codes(test_codes, "test_codes")
        test_factors = inputs.check_factors(test_factors, "test_factors")
        inputs.check_same_length(test_codes=test_codes, test_factors=test_factors)
        if test_codes.shape[1] != codes.shape[1] or test_factors.shape[1] != factors.shape[1]:
            raise ValueError(
                f"test_codes/test_factors must have {codes.shape[1]}/{factors.shape[1]} columns, "
                f"got {test_codes.shape[1]}/{test_factors.shape[1]}"
            )
        inputs.require_factor_values("modularity", test_factors, "test_factors", MIN_FACTORS, why=_WHY)
    mutual_info = discrete.code_factor_mutual_info(codes, factors, num_bins)[0]
    scores = modularity_from_mutual_info(mutual_info)
    explicitness_train, explicitness_test, _ = explicitness(codes, factors, test_codes, test_factors)
    return {
        "modularity": scores["modularity"],
        "explicitness": explicitness_test,
        "explicitness_train": explicitness_train,
        "per_code": scores["per_code"],
        "mutual_info": mutual_info,
    }


def compute_modularity(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                       num_train: int = 10000, num_test: int = 5000, batch_size: int = 16, num_bins: int = 20) -> dict[str, Any]:
    """Modularity and explicitness of ``representation`` on points sampled from ``data``.

    Args:
        data: ground-truth data set; representation: observations -> codes [n, D];
        rng: Generator or int seed; num_train / num_test: disentanglement_lib 10,000 / 5,000;
        batch_size: observations per call; num_bins: bins per code.

    Returns:
        the dict of ``modularity`` (explicitness on the test points).
    """
    check_defined(inputs.check_data(data), inputs.data_name(data))
    num_train = sampling.check_num_points(num_train, "num_train")
    num_test = sampling.check_num_points(num_test, "num_test")
    rng = checks.rng(rng)
    train_codes, train_factors = sampling.sample_representation(data, representation, num_train, rng, batch_size)
    test_codes, test_factors = sampling.sample_representation(data, representation, num_test, rng, batch_size)
    return modularity(train_codes, train_factors, num_bins, test_codes, test_factors)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        train_codes, _, train_factors = evaluation.pool("train")
        test_codes, _, test_factors = evaluation.pool("test")
        return modularity(train_codes, train_factors, test_codes=test_codes, test_factors=test_factors)
    return compute_modularity(evaluation.dataset, evaluation.representation, evaluation.rng(),
                              num_train=evaluation.train_size, num_test=evaluation.test_size)


registry.register(MetricSpec("modularity", "modularity and explicitness (Ridgeway & Mozer 2018)", "modularity",
                             _evaluate, min_factors=MIN_FACTORS, by_default=True))
