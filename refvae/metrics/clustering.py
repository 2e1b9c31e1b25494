"""Unsupervised accuracy and the MIG of a discrete (Concrete) code group.

Unsupervised accuracy (000 §5: 85% on MNIST; 003 §4: 82% vs 21%): the discrete code's
value (e.g. the argmax of a Concrete / one-hot block) is a cluster id; clusters are
matched one-to-one to labels so that the number of correctly labelled points is largest
(Hungarian algorithm, ``scipy.optimize.linear_sum_assignment`` on the contingency table),
and the accuracy is that number over N. With more clusters than labels the unmatched
clusters count as errors.

Concrete MIG (002 §6, Fig 6 right): the gap between the information the Concrete variable c
carries about the label y and that of the best single continuous dimension,

    MIG_c = I(y; c) − max_i I(y; z_i)     (nats; 002 does not normalise it),

with c = argmax of the Concrete block and each z_i discretised as for the histogram MIG.
The value divided by H(y) is returned as "normalized_mig".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks
from refvae.metrics import discrete, inputs, sampling

if TYPE_CHECKING:
    from refvae.data.base import FactorData, Representation

__all__ = ["unsupervised_accuracy", "cluster_assignment", "concrete_mig", "compute_concrete_mig"]


def _check_ids(cluster_ids: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    cluster_ids = np.asarray(cluster_ids)
    labels = np.asarray(labels)
    if cluster_ids.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"cluster_ids and labels must be 1-D, got shapes {cluster_ids.shape} and {labels.shape}")
    if cluster_ids.shape[0] == 0:
        raise ValueError("cluster_ids must not be empty")
    inputs.check_same_length(cluster_ids=cluster_ids, labels=labels)
    return cluster_ids, labels


def cluster_assignment(cluster_ids: ArrayLike, labels: ArrayLike) -> tuple[dict[int, int], int]:
    """Hungarian one-to-one matching of clusters to labels.

    Returns:
        (mapping dict {cluster id: label}, number of correctly labelled points).
    """
    from scipy.optimize import linear_sum_assignment

    cluster_ids, labels = _check_ids(cluster_ids, labels)
    clusters, cluster_index = np.unique(cluster_ids, return_inverse=True)
    classes, label_index = np.unique(labels, return_inverse=True)
    contingency = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(contingency, (cluster_index.reshape(-1), label_index.reshape(-1)), 1)
    rows, columns = linear_sum_assignment(contingency, maximize=True)
    mapping = {clusters[r].item(): classes[c].item() for r, c in zip(rows, columns)}
    return mapping, int(contingency[rows, columns].sum())


def unsupervised_accuracy(cluster_ids: ArrayLike, labels: ArrayLike) -> float:
    """Accuracy of cluster ids after the best one-to-one matching of clusters to labels.

    Args:
        cluster_ids: [N] cluster ids (any hashable sortable values).
        labels: [N] true labels.

    Returns:
        float in [0, 1].

    Example:
        >>> from refvae.metrics import unsupervised_accuracy
        >>> unsupervised_accuracy([2, 2, 0, 0, 1], [0, 0, 1, 1, 2])
        1.0
    """
    _, correct = cluster_assignment(cluster_ids, labels)
    return correct / np.shape(cluster_ids)[0]


def concrete_mig(concrete_codes: ArrayLike, continuous_codes: ArrayLike, labels: ArrayLike, num_bins: int = 20) -> dict[str, Any]:
    """MIG between a Concrete group and the best continuous dimension (002 §6).

    Args:
        concrete_codes: [N, C] Concrete (relaxed one-hot) probabilities or one-hot codes;
            the discrete value is their argmax. A 1-D array of ids is accepted as well.
        continuous_codes: [N, D] continuous codes (D >= 1).
        labels: [N] discrete labels y.
        num_bins: bins per continuous code.

    Returns:
        dict: "mig" = I(y; c) − max_i I(y; z_i) (nats), "normalized_mig" (over H(y)),
        "concrete_mi" I(y; c), "continuous_mi" [D], "label_entropy" H(y).

    Example:
        >>> import numpy as np
        >>> from refvae import metrics
        >>> labels = np.arange(100) % 4
        >>> result = metrics.concrete_mig(np.eye(4)[labels], np.zeros((100, 2)), labels)
        >>> round(result["normalized_mig"], 6)
        1.0
    """
    concrete_codes = np.asarray(concrete_codes)
    if concrete_codes.ndim == 2:
        concrete_codes = inputs.check_codes(concrete_codes, "concrete_codes")
        concrete_ids = np.argmax(concrete_codes, axis=1)
    elif concrete_codes.ndim == 1:
        concrete_ids = concrete_codes
    else:
        raise ValueError(f"concrete_codes must have shape [N, C] or [N], got {concrete_codes.shape}")
    continuous_codes = inputs.check_codes(continuous_codes, "continuous_codes")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D [N], got shape {labels.shape}")
    inputs.check_same_length(concrete_codes=concrete_ids, continuous_codes=continuous_codes, labels=labels)
    num_bins = checks.integer(num_bins, "num_bins")
    label_column = labels[:, None]
    concrete_mi = discrete.discrete_mutual_info_matrix(concrete_ids[:, None], label_column)[0, 0]
    continuous_mi = discrete.discrete_mutual_info_matrix(discrete.discretize(continuous_codes, num_bins), label_column)[:, 0]
    label_entropy = float(discrete.discrete_entropy(label_column)[0])
    if label_entropy <= 0:
        raise ValueError("labels take a single value; their mutual information with any code is 0")
    gap = float(concrete_mi - continuous_mi.max())
    return {
        "mig": gap,
        "normalized_mig": gap / label_entropy,
        "concrete_mi": float(concrete_mi),
        "continuous_mi": continuous_mi,
        "label_entropy": label_entropy,
    }


def compute_concrete_mig(data: FactorData, representation: Representation, rng: np.random.Generator | int,
                         concrete_dims: Sequence[int] | np.ndarray | slice, factor: int = 0, num_points: int = 10000,
                         batch_size: int = 16, num_bins: int = 20) -> dict[str, Any]:
    """``concrete_mig`` of a representation whose codes hold a Concrete block.

    Args:
        data: ground-truth data set; representation: observations -> codes [n, E];
        rng: Generator or int seed;
        concrete_dims: indices (or a slice) of the Concrete block in the codes; the other
            columns are the continuous dimensions;
        factor: index of the ground-truth factor used as the label (dSprites: 0, shape);
        num_points, batch_size, num_bins: sample size, encoding batch, bins per code.
    """
    rng = checks.rng(rng)
    codes, factors = sampling.sample_representation(data, representation, num_points, rng, batch_size)
    is_concrete = np.zeros(codes.shape[1], dtype=bool)
    is_concrete[concrete_dims] = True
    if is_concrete.all() or not is_concrete.any():
        raise ValueError(f"concrete_dims must select some but not all of the {codes.shape[1]} code columns")
    if not 0 <= factor < factors.shape[1]:
        raise ValueError(f"factor must be in [0, {factors.shape[1]}), got {factor}")
    return concrete_mig(codes[:, is_concrete], codes[:, ~is_concrete], factors[:, factor], num_bins)
