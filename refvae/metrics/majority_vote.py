"""FactorVAE score (Kim & Mnih, ICML 2018), used in 002 Table 3 ("Kim").

1. Global scale: the per-code variance s_j² (ddof = 1) of the codes of
   ``num_variance_estimate`` random points; codes with s_j < ``prune_threshold`` (0.05)
   are collapsed and ignored.
2. A vote: pick factor k, draw ``batch_size`` factor vectors that share factor k's value,
   encode them, and find the active code with the smallest normalised variance
   Var_b(z_j) / s_j² (ddof = 1); the vote is (that code, k).
3. A majority-vote classifier maps each code to the factor it received most votes for;
   the score is its accuracy on the training votes and on fresh evaluation votes.

If no code is active, every score is 0. Defaults are disentanglement_lib's: batch 64,
10,000 points for the variances, 10,000 training and 5,000 evaluation votes.
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

__all__ = ["MIN_FACTORS", "check_defined", "factor_vae_score", "factor_vae_votes", "factor_vae_votes_from_pool",
           "majority_vote_accuracy", "prune_dims"]

# With one factor every vote goes to it: the majority vote is always right.
MIN_FACTORS = 2


def check_defined(factor_sizes: ArrayLike, where: str = "the data") -> None:
    """Raise a ValueError unless the FactorVAE score is defined on factors of these sizes:
    at least ``MIN_FACTORS`` factors, each taking at least 2 values."""
    inputs.require_factors("FactorVAE score", factor_sizes, MIN_FACTORS, where=where,
                           why="with a single factor every vote goes to it and the score is 1.0 for any model")


def prune_dims(global_variance: ArrayLike, prune_threshold: float = 0.05) -> np.ndarray:
    """Active codes: standard deviation sqrt(global_variance) >= prune_threshold -> bool [D]."""
    return np.sqrt(np.asarray(global_variance, dtype=np.float64)) >= prune_threshold


def factor_vae_votes(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                     num_votes: int, global_variance: ArrayLike, active: ArrayLike, batch_size: int = 64,
                     votes_per_call: int = 8) -> np.ndarray:
    """Vote counts [D, K]: entry (j, k) counts the votes for code j with factor k fixed.

    ``votes_per_call`` votes (batch_size · votes_per_call observations) are encoded per call
    of ``representation``; this changes the speed, not the numbers.
    """
    sizes = inputs.check_data(data)
    check_defined(sizes, inputs.data_name(data))
    rng = checks.rng(rng)
    global_variance = np.asarray(global_variance, dtype=np.float64)
    active_index = np.flatnonzero(active)
    votes = np.zeros((global_variance.shape[0], len(sizes)), dtype=np.int64)
    for start in range(0, num_votes, votes_per_call):
        count = min(votes_per_call, num_votes - start)
        factor_index = rng.integers(len(sizes), size=count)
        factors = sampling.sample_factors(data, count * batch_size, rng).reshape(count, batch_size, len(sizes))
        shared = factors[np.arange(count), 0, factor_index]  # [count]
        factors[np.arange(count), :, factor_index] = shared[:, None]
        codes = sampling.encode(data, representation, factors.reshape(count * batch_size, -1), count * batch_size)
        local_variance = codes.reshape(count, batch_size, -1)[:, :, active_index].var(axis=1, ddof=1)
        chosen = active_index[np.argmin(local_variance / global_variance[active_index], axis=1)]
        np.add.at(votes, (chosen, factor_index), 1)
    return votes


def factor_vae_votes_from_pool(codes: ArrayLike, factors: ArrayLike, rng: np.random.Generator | int,
                               num_votes: int, global_variance: ArrayLike, active: ArrayLike,
                               batch_size: int = 64) -> np.ndarray:
    """Vote counts [D, K] of the FactorVAE score from a pool of encoded points.

    A vote picks factor k and the value of k of a uniform pool row, then ``batch_size`` pool
    rows with that value (distinct when the group has that many): for a pool of uniform factor
    vectors, the law of Kim & Mnih's batch (factor k fixed, the others uniform) restricted to
    the pool; no observation is encoded again.
    """
    codes = inputs.check_codes(codes)
    groups = sampling.FactorGroups(factors)
    inputs.check_same_length(codes=codes, factors=factors)
    rng = checks.rng(rng)
    global_variance = np.asarray(global_variance, dtype=np.float64)
    active_index = np.flatnonzero(active)
    num_factors = groups.order.shape[0]
    votes = np.zeros((codes.shape[1], num_factors), dtype=np.int64)
    factor_index = rng.integers(num_factors, size=num_votes)
    anchors = rng.integers(codes.shape[0], size=num_votes)
    members = np.stack([groups.members(k, row, batch_size, rng) for k, row in zip(factor_index, anchors)])
    for start in range(0, num_votes, 1024):
        batch = codes[members[start:start + 1024]][:, :, active_index]       # [votes, batch, active]
        ratio = batch.var(axis=1, ddof=1) / global_variance[active_index]
        np.add.at(votes, (active_index[np.argmin(ratio, axis=1)], factor_index[start:start + 1024]), 1)
    return votes


def majority_vote_accuracy(train_votes: ArrayLike, eval_votes: ArrayLike) -> dict[str, Any]:
    """Accuracy of the majority-vote classifier (code -> most voted factor) on both vote sets.

    Example:
        >>> import numpy as np
        >>> from refvae.metrics import majority_vote_accuracy
        >>> votes = np.array([[8, 2], [1, 9]])
        >>> majority_vote_accuracy(votes, votes)["train_accuracy"]
        0.85
    """
    train_votes = np.asarray(train_votes)
    eval_votes = np.asarray(eval_votes)
    if train_votes.ndim != 2 or eval_votes.shape != train_votes.shape:
        raise ValueError(
            f"train_votes and eval_votes must be count matrices [D, K] of one shape, "
            f"got {train_votes.shape} and {eval_votes.shape}"
        )
    classifier = np.argmax(train_votes, axis=1)
    rows = np.arange(train_votes.shape[0])
    return {
        "train_accuracy": float(train_votes[rows, classifier].sum() / max(train_votes.sum(), 1)),
        "eval_accuracy": float(eval_votes[rows, classifier].sum() / max(eval_votes.sum(), 1)),
    }


def factor_vae_score(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                     batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                     num_variance_estimate: int = 10000, prune_threshold: float = 0.05) -> dict[str, Any]:
    """FactorVAE score of ``representation`` on a ground-truth data set.

    Args:
        data: object with ``factor_sizes``, ``sample_factors(n, rng)`` and
            ``observations_from_factors(factors)``; at least 2 factors (``check_defined``).
        representation: observations -> codes [n, D] (NumPy).
        rng: ``numpy.random.Generator`` or int seed.
        batch_size: factor vectors per vote (64; >= 2 for a variance).
        num_train: training votes (10,000).
        num_eval: evaluation votes (5,000).
        num_variance_estimate: points for the global variances (10,000).
        prune_threshold: minimum global standard deviation of an active code (0.05).

    Returns:
        dict: "train_accuracy", "eval_accuracy", "num_active_dims".

    Example:
        >>> from refvae import metrics
        >>> score = metrics.factor_vae_score(data, lambda x: x.reshape(len(x), -1), rng=0)  # doctest: +SKIP
    """
    check_defined(inputs.check_data(data), inputs.data_name(data))
    inputs.check_representation(representation)
    batch_size = checks.integer(batch_size, "batch_size", minimum=2)
    num_train = checks.integer(num_train, "num_train")
    num_eval = checks.integer(num_eval, "num_eval")
    num_variance_estimate = checks.integer(num_variance_estimate, "num_variance_estimate", minimum=2)
    if not prune_threshold >= 0:
        raise ValueError(f"prune_threshold must be >= 0, got {prune_threshold}")
    rng = checks.rng(rng)
    codes, _ = sampling.sample_representation(data, representation, num_variance_estimate, rng, batch_size,
                                              name="num_variance_estimate")
    global_variance = codes.var(axis=0, ddof=1)
    active = prune_dims(global_variance, prune_threshold)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train_votes = factor_vae_votes(data, representation, rng, num_train, global_variance, active, batch_size)
    eval_votes = factor_vae_votes(data, representation, rng, num_eval, global_variance, active, batch_size)
    result = majority_vote_accuracy(train_votes, eval_votes)
    result["num_active_dims"] = int(active.sum())
    return result


def _evaluate(evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.profile != "fast":
        return factor_vae_score(evaluation.dataset, evaluation.representation, evaluation.rng(),
                                num_train=evaluation.train_size, num_eval=evaluation.test_size,
                                num_variance_estimate=evaluation.train_size)
    train_codes, _, train_factors = evaluation.pool("train")
    test_codes, _, test_factors = evaluation.pool("test")
    global_variance = train_codes.var(axis=0, ddof=1)
    active = prune_dims(global_variance)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    rng = evaluation.rng(4)
    train_votes = factor_vae_votes_from_pool(train_codes, train_factors, rng, evaluation.train_size,
                                             global_variance, active)
    eval_votes = factor_vae_votes_from_pool(test_codes, test_factors, rng, evaluation.test_size,
                                            global_variance, active)
    return {**majority_vote_accuracy(train_votes, eval_votes), "num_active_dims": int(active.sum())}


registry.register(MetricSpec("factor-vae", "FactorVAE score: a majority vote from the least varying code (Kim & "
                             "Mnih 2018; 002 Table 3)", "eval_accuracy", _evaluate, min_factors=MIN_FACTORS, by_default=True))
