"""BetaVAE score (Higgins et al., ICLR 2017), compared with MIG in 001 Table 1.

A training point for factor k: draw two batches of ``batch_size`` factor vectors, copy factor
k of the first batch into the second, encode both, and take the feature

    f = (1/B) Σ_b | z¹_b − z²_b |      (one value per code),

labelled k. Codes that capture factor k alone have f ≈ 0 on such points, so a linear
classifier can read k off the feature. The score is the accuracy of a default scikit-learn
``LogisticRegression`` (disentanglement_lib convention: batch 64, 10,000 training and 5,000
evaluation points).
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

__all__ = ["MIN_FACTORS", "beta_vae_features", "beta_vae_features_from_pool", "beta_vae_score",
           "beta_vae_score_from_features", "check_defined"]

# The label of a training point is the fixed factor: a classifier needs two of them.
MIN_FACTORS = 2


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless the BetaVAE score is defined on factors of these sizes:
    at least ``MIN_FACTORS`` factors, each taking at least 2 values."""
    inputs.require_factors("BetaVAE score", factor_sizes, MIN_FACTORS, where=where,
                           why="its classifier tells apart which factor was held fixed")


def beta_vae_features(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                      num_points: int, batch_size: int = 64, points_per_call: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Features [num_points, D] and labels [num_points] of the BetaVAE score.

    ``points_per_call`` points (2 · batch_size · points_per_call observations) are encoded by
    one call of ``representation``; this changes the speed, not the numbers.
    """
    sizes = inputs.check_data(data)
    check_defined(sizes, inputs.data_name(data))
    rng = checks.rng(rng)
    num_factors = len(sizes)
    features, labels = [], []
    for start in range(0, num_points, points_per_call):
        count = min(points_per_call, num_points - start)
        point_labels = rng.integers(num_factors, size=count)
        first = sampling.sample_factors(data, count * batch_size, rng)
        second = sampling.sample_factors(data, count * batch_size, rng)
        rows = np.arange(count * batch_size)
        fixed = np.repeat(point_labels, batch_size)
        second[rows, fixed] = first[rows, fixed]
        codes = sampling.encode(data, representation, np.concatenate([first, second]), batch_size=2 * count * batch_size)
        difference = np.abs(codes[: count * batch_size] - codes[count * batch_size :])
        features.append(difference.reshape(count, batch_size, -1).mean(axis=1))
        labels.append(point_labels)
    return np.concatenate(features), np.concatenate(labels)


def beta_vae_features_from_pool(codes: ArrayLike, factors: ArrayLike, rng: np.random.Generator | int,
                                num_points: int, batch_size: int = 64,
                                chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Features [num_points, D] and labels of the BetaVAE score from a pool of encoded points.

    A point for factor k takes ``batch_size`` pairs of pool rows (i, j): i uniform over the
    pool, j uniform over the other rows with the same value of factor k. For a pool of uniform
    factor vectors this is the law of Higgins et al.'s pair (a second vector uniform but for
    factor k, copied from the first), restricted to the pool; no observation is encoded again.

    Args:
        codes: [n, D] codes of the pool; factors: [n, K] their factor vectors.
        rng: ``numpy.random.Generator`` or int seed.
        num_points: points (features) to make; batch_size: pairs per point (64).
        chunk: points computed at once (memory chunk · batch_size · D).
    """
    codes = inputs.check_codes(codes)
    groups = sampling.FactorGroups(factors)
    inputs.check_same_length(codes=codes, factors=factors)
    num_points = checks.integer(num_points, "num_points")
    batch_size = checks.integer(batch_size, "batch_size")
    rng = checks.rng(rng)
    labels = rng.integers(groups.order.shape[0], size=num_points)
    features = np.empty((num_points, codes.shape[1]))
    for start in range(0, num_points, chunk):
        k = np.repeat(labels[start:start + chunk, None], batch_size, axis=1)
        first = rng.integers(codes.shape[0], size=k.shape)
        second = groups.other_rows(k, first, rng)
        features[start:start + chunk] = np.abs(codes[first] - codes[second]).mean(axis=1)
    return features, labels


def beta_vae_score_from_features(train_features: ArrayLike, train_labels: ArrayLike, eval_features: ArrayLike,
                                 eval_labels: ArrayLike) -> dict[str, Any]:
    """Train and evaluation accuracy of a default ``LogisticRegression`` on BetaVAE features.

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import beta_vae_score_from_features
        >>> features = np.array([[0.0, 1.0], [1.0, 0.0]] * 20)
        >>> labels = np.array([0, 1] * 20)
        >>> beta_vae_score_from_features(features, labels, features, labels)["eval_accuracy"]
        1.0
    """
    from sklearn.linear_model import LogisticRegression

    train_features = inputs.check_codes(train_features, "train_features")
    eval_features = inputs.check_codes(eval_features, "eval_features")
    train_labels = np.asarray(train_labels).reshape(-1)
    eval_labels = np.asarray(eval_labels).reshape(-1)
    inputs.check_same_length(train_features=train_features, train_labels=train_labels)
    inputs.check_same_length(eval_features=eval_features, eval_labels=eval_labels)
    if np.unique(train_labels).size < 2:
        raise ValueError("train_labels must hold at least two factors")
    model = LogisticRegression().fit(train_features, train_labels)
    return {
        "train_accuracy": float(np.mean(model.predict(train_features) == train_labels)),
        "eval_accuracy": float(np.mean(model.predict(eval_features) == eval_labels)),
    }


def beta_vae_score(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                   batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000) -> dict[str, Any]:
    """BetaVAE score of ``representation`` on a ground-truth data set.

    Args:
        data: object with ``factor_sizes``, ``sample_factors(n, rng)`` and
            ``observations_from_factors(factors)``; at least 2 factors (``check_defined``).
        representation: observations -> codes [n, D] (NumPy).
        rng: ``numpy.random.Generator`` or int seed.
        batch_size: factor vectors per pair of batches (64).
        num_train: training points (10,000).
        num_eval: evaluation points (5,000).

    Returns:
        dict: "train_accuracy", "eval_accuracy".

    Example:
        >>> from refvae import metrics
        >>> score = metrics.beta_vae_score(data, lambda x: x.reshape(len(x), -1), rng=0)  # doctest: +SKIP
    """
    check_defined(inputs.check_data(data), inputs.data_name(data))
    inputs.check_representation(representation)
    batch_size = checks.integer(batch_size, "batch_size")
    num_train = checks.integer(num_train, "num_train")
    num_eval = checks.integer(num_eval, "num_eval")
    rng = checks.rng(rng)
    train_features, train_labels = beta_vae_features(data, representation, rng, num_train, batch_size)
    eval_features, eval_labels = beta_vae_features(data, representation, rng, num_eval, batch_size)
    return beta_vae_score_from_features(train_features, train_labels, eval_features, eval_labels)


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile == "fast":
        train_codes, _, train_factors = evaluation.pool("train")
        test_codes, _, test_factors = evaluation.pool("test")
        rng = evaluation.rng(3)
        train = beta_vae_features_from_pool(train_codes, train_factors, rng, evaluation.train_size)
        test = beta_vae_features_from_pool(test_codes, test_factors, rng, evaluation.test_size)
        return beta_vae_score_from_features(*train, *test)
    return beta_vae_score(evaluation.dataset, evaluation.representation, evaluation.rng(),
                          num_train=evaluation.train_size, num_eval=evaluation.test_size)


registry.register(MetricSpec("beta-vae", "BetaVAE score: a linear classifier reads the fixed factor (Higgins et al. "
                             "2017; 001 Table 1)", "eval_accuracy", _evaluate, min_factors=MIN_FACTORS, by_default=True))
