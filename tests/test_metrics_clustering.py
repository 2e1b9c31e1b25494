"""Unsupervised accuracy (Hungarian matching) and the Concrete-group MIG of 002 §6."""

import math

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth

from refvae import metrics


def test_permuted_cluster_ids_score_one():
    labels = np.random.default_rng(0).integers(0, 10, size=500)
    permutation = np.random.default_rng(1).permutation(10)
    assert metrics.unsupervised_accuracy(permutation[labels] + 100, labels) == 1.0


def test_hand_case_with_more_clusters_than_labels():
    clusters = [0, 0, 0, 1, 1, 2]
    labels = [0, 0, 1, 1, 1, 1]
    # best one-to-one matching: cluster 0 -> 0 (2 right), cluster 1 -> 1 (2 right); cluster 2 unmatched
    assert metrics.unsupervised_accuracy(clusters, labels) == pytest.approx(4 / 6)


def test_matching_is_one_to_one_not_majority():
    clusters = [0, 0, 0, 1, 1, 1]
    labels = [0, 0, 0, 0, 0, 1]
    # A majority vote would send both clusters to label 0 (5/6 right); one-to-one matching
    # gives cluster 0 -> 0 (3 right) and cluster 1 -> 1 (1 right).
    mapping, correct = metrics.cluster_assignment(clusters, labels)
    assert mapping == {0: 0, 1: 1} and correct == 4
    assert metrics.unsupervised_accuracy(clusters, labels) == pytest.approx(4 / 6)


def test_unsupervised_accuracy_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.unsupervised_accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        metrics.unsupervised_accuracy(np.zeros((3, 2)), np.zeros(3))


def test_concrete_mig_of_a_perfect_concrete_code_is_the_label_entropy():
    labels = np.arange(400) % 4
    probabilities = 0.7 * np.eye(4)[labels] + 0.3 / 4  # relaxed one-hot, argmax = label
    continuous = np.random.default_rng(0).normal(size=(400, 3))
    result = metrics.concrete_mig(probabilities, continuous, labels)
    assert result["concrete_mi"] == pytest.approx(math.log(4), abs=1e-12)
    assert result["mig"] == pytest.approx(math.log(4) - result["continuous_mi"].max(), abs=1e-12)
    assert result["normalized_mig"] > 0.9


def test_concrete_mig_is_zero_when_a_continuous_dim_carries_the_label():
    labels = np.arange(400) % 4
    continuous = np.column_stack([labels * 1.0, np.zeros(400)])
    result = metrics.concrete_mig(np.eye(4)[labels], continuous, labels)
    assert result["mig"] == pytest.approx(0.0, abs=1e-12)


def test_compute_concrete_mig_reads_the_concrete_block_of_the_codes():
    def representation(observations):
        shape = observations[:, 0].astype(int)
        return np.column_stack([np.eye(3)[shape], observations[:, 1:]])  # one-hot shape + others

    result = metrics.compute_concrete_mig(ToyGroundTruth((3, 4, 5)), representation, rng=0, concrete_dims=[0, 1, 2], num_points=600)
    assert result["concrete_mi"] == pytest.approx(result["label_entropy"], abs=1e-12)
    assert result["continuous_mi"].shape == (2,)


def test_concrete_mig_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.concrete_mig(np.eye(3), np.zeros((4, 1)), np.arange(3))
