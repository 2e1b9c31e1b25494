"""Interventional robustness score (Suter et al. 2019)."""

import numpy as np
import pytest
from test_metrics_utils import ToyGroundTruth, identity

from refvae import metrics


def grid(sizes):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


def test_identity_and_permuted_codes_are_fully_robust():
    # Holding v_k fixed holds z_k fixed: every within-group deviation is 0, IRS_kk = 1.
    factors = grid((3, 4, 5))
    for codes in (factors * 1.0, factors[:, [2, 0, 1]] * 1.0):
        result = metrics.irs(codes, factors)
        assert result["irs"] == 1.0
        assert result["per_code"].tolist() == [1.0, 1.0, 1.0]
    assert metrics.irs(factors[:, [2, 0, 1]] * 1.0, factors)["parents"].tolist() == [2, 0, 1]


def test_constant_codes_score_zero_with_no_active_dims():
    factors = grid((3, 4))
    result = metrics.irs(np.full((12, 3), 2.5), factors)
    assert result["irs"] == 0.0 and result["num_active_dims"] == 0
    assert result["parents"].tolist() == [-1, -1, -1]


def test_a_constant_code_does_not_change_the_score():
    factors = grid((3, 4))
    with_dead = np.column_stack([factors * 1.0, np.zeros(12)])
    assert metrics.irs(with_dead, factors)["irs"] == 1.0
    assert metrics.irs(with_dead, factors)["num_active_dims"] == 2


def test_hand_worked_sum_of_two_binary_factors():
    # v0, v1 in {0, 1}, the four points of the grid. z0 = v0: max deviation 0.5; holding
    # v0 fixed holds z0 (IRS_00 = 1), holding v1 fixed leaves z0 in {0, 1} (IRS_01 = 0).
    # z1 = v0 + v1 (values 0, 1, 1, 2): mean 1, max deviation 1; holding either factor
    # fixed leaves z1 in {v, v + 1}, deviations 0.5, so IRS_1k = 1 − 0.5/1 = 0.5.
    # Weighted by max deviation: (0.5 · 1 + 1 · 0.5) / 1.5 = 2/3.
    factors = grid((2, 2))
    codes = np.column_stack([factors[:, 0], factors.sum(axis=1)]).astype(float)
    result = metrics.irs(codes, factors, diff_quantile=1.0)
    assert result["max_deviations"].tolist() == [0.5, 1.0]
    assert result["irs_matrix"].tolist() == [[1.0, 0.0], [0.5, 0.5]]
    assert result["irs"] == pytest.approx(2 / 3, abs=1e-12)


def test_the_quantile_stands_for_the_supremum_but_ignores_one_outlier():
    # Code = factor 0, plus a shift of 10 on one of the 100 points with v0 = 0. With q = 1
    # the supremum sees the outlier; with q = 0.5 the median deviation is that of the rest.
    factors = np.column_stack([np.repeat([0, 1], 100), np.tile([0, 1], 100)])
    codes = factors[:, :1] * 1.0
    codes[0, 0] += 10.0
    group = codes[:100, 0]
    deviations = np.abs(group - group.mean())
    max_deviation = np.max(np.abs(codes[:, 0] - codes[:, 0].mean()))
    supremum = metrics.irs(codes, factors, diff_quantile=1.0)["irs_matrix"][0, 0]
    median = metrics.irs(codes, factors, diff_quantile=0.5)["irs_matrix"][0, 0]
    assert supremum == pytest.approx(1 - (deviations.max() / 2) / max_deviation, abs=1e-12)
    assert median == pytest.approx(1 - (np.median(deviations) / 2) / max_deviation, abs=1e-12)
    assert median > supremum


def test_entangled_rotation_scores_below_identity():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 10, size=(5000, 2))
    angle = np.pi / 4
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rotated = metrics.irs(factors @ rotation, factors)["irs"]
    # each rotated code is (v0 ± v1)/√2: holding one factor leaves the other's spread,
    # 0.99-quantile deviation ≈ 4.5/√2 against a max deviation ≈ 9/√2: IRS ≈ 0.5
    assert rotated == pytest.approx(0.5, abs=0.05)


def test_compute_irs_of_identity_representation():
    result = metrics.compute_irs(ToyGroundTruth((3, 4)), identity, rng=0, num_train=500)
    assert result["irs"] == 1.0 and result["num_active_dims"] == 2


def test_irs_rejects_bad_inputs():
    with pytest.raises(ValueError, match="diff_quantile must be in"):
        metrics.irs(np.zeros((4, 2)), np.zeros((4, 2), int), diff_quantile=0.0)
    with pytest.raises(TypeError, match="diff_quantile must be a number"):
        metrics.irs(np.zeros((4, 2)), np.zeros((4, 2), int), diff_quantile="0.99")
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.irs(np.zeros((4, 2)), np.zeros((5, 2), int))
