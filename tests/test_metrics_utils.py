"""Shared metric helpers: discretisation, vectorised discrete MI, the data protocol, mixtures."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.metrics import mutual_info_score

from refvae.metrics import discrete, gaussian_mixture, inputs, sampling


class ToyGroundTruth:
    """A ground-truth data set whose observation is its factor vector (as float32).

    With ``representation=identity`` the codes are the factors themselves: the
    "identity codes" whose disentanglement scores are known.
    """

    def __init__(self, factor_sizes=(2, 3, 4, 5, 6)):
        self.factor_sizes = tuple(factor_sizes)

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes], axis=1)

    def observations_from_factors(self, factors):
        return np.asarray(factors, dtype=np.float32)


def identity(observations):
    return np.asarray(observations, dtype=np.float64)


def test_discretize_uses_equal_width_bins_with_the_maximum_in_the_last_bin():
    codes = np.array([[0.0], [0.49], [0.5], [0.99], [1.0]])
    # edges 0, 0.5, 1: values >= 0.5 go to bin 1, including the maximum 1.0
    assert discrete.discretize(codes, num_bins=2)[:, 0].tolist() == [0, 0, 1, 1, 1]


def test_discretize_puts_a_constant_code_in_one_bin():
    assert np.unique(discrete.discretize(np.full((7, 1), 3.0), num_bins=20)).size == 1


def test_discrete_mutual_info_matrix_matches_sklearn_loop():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 7, size=(3000, 4))
    factors = np.stack([rng.integers(-3, 2, size=3000), codes[:, 1] * 10 + rng.integers(0, 2, size=3000)], axis=1)
    matrix = discrete.discrete_mutual_info_matrix(codes, factors)
    reference = np.array([[mutual_info_score(codes[:, j], factors[:, k]) for k in range(2)] for j in range(4)])
    assert np.max(np.abs(matrix - reference)) < 1e-12


def test_discrete_entropy_of_uniform_labels_is_log_of_their_number():
    labels = np.tile(np.arange(4), 25)[:, None]
    assert discrete.discrete_entropy(labels)[0] == pytest.approx(math.log(4), abs=1e-12)


def test_check_codes_rejects_wrong_rank_and_nan():
    with pytest.raises(ValueError, match="codes must have shape"):
        inputs.check_codes(np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        inputs.check_codes(np.array([[0.0, np.nan]]))


def test_check_factors_rejects_non_integer_values():
    with pytest.raises(ValueError, match="integer"):
        inputs.check_factors(np.array([[0.5], [1.0]]))


def test_sample_representation_same_seed_gives_same_codes():
    data = ToyGroundTruth()
    first = sampling.sample_representation(data, identity, 50, rng=3, batch_size=7)
    second = sampling.sample_representation(data, identity, 50, rng=3, batch_size=7)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert np.array_equal(first[0], first[1])  # identity codes are the factors


def test_sample_representation_rejects_a_representation_with_wrong_batch():
    with pytest.raises(ValueError, match="representation must map"):
        sampling.sample_representation(ToyGroundTruth(), lambda x: x[:1], 10, rng=0)


def test_sample_representation_rejects_an_object_without_the_data_protocol():
    with pytest.raises(TypeError, match="observations_from_factors"):
        sampling.sample_representation(object(), identity, 10, rng=0)


def test_gaussian_mixture_log_means_match_float64_brute_force():
    rng = np.random.default_rng(1)
    grid_shape = (3, 4, 2)
    num_points = 24
    loc = rng.normal(size=(num_points, 2))
    scale = rng.uniform(0.2, 1.5, size=(num_points, 2))
    sample_index = rng.integers(num_points, size=9)
    z = loc[sample_index] + scale[sample_index] * rng.normal(size=(9, 2))
    log_marginal, log_conditional = gaussian_mixture.gaussian_mixture_log_means(
        z, sample_index, loc, scale, grid_shape, factors=(0, 2), chunk_elements=50
    )
    log_density = (
        -0.5 * ((z[:, None, :] - loc[None]) / scale[None]) ** 2 - np.log(scale[None]) - 0.5 * math.log(2 * math.pi)
    )  # [S, N, D]
    assert np.max(np.abs(log_marginal - (logsumexp(log_density, axis=1) - math.log(24)))) < 1e-5
    values = np.stack(np.unravel_index(np.arange(num_points), grid_shape), axis=1)
    for position, k in enumerate((0, 2)):
        for i, n in enumerate(sample_index):
            subset = values[:, k] == values[n, k]
            expected = logsumexp(log_density[i, subset], axis=0) - math.log(subset.sum())
            assert np.max(np.abs(log_conditional[position, i] - expected)) < 1e-5


def test_gaussian_mixture_log_means_survive_float32_underflow():
    # One component 1e-30 times narrower than the sampled one: float32 ratios underflow,
    # the float64 fallback must give the exact value.
    loc = np.array([[0.0], [0.0]])
    scale = np.array([[1.0], [1e-30]])
    log_marginal, _ = gaussian_mixture.gaussian_mixture_log_means(np.array([[3.0]]), np.array([0]), loc, scale)
    expected = -0.5 * 9.0 - 0.5 * math.log(2 * math.pi) - math.log(2)  # the narrow one adds nothing
    assert log_marginal[0, 0] == pytest.approx(expected, abs=1e-9)


def test_mi_matrix_fast_path_and_factor_entropy_match_the_general_path():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(7)
    codes = rng.normal(size=(3000, 4))
    factors = np.stack([rng.integers(0, s, 3000) for s in (3, 40, 32)], axis=1)
    bins = discrete.discretize(codes, 20)
    general = discrete.discrete_mutual_info_matrix(bins, factors)
    fast, entropy = discrete.discrete_mutual_info_matrix(bins, factors, num_code_labels=20, return_factor_entropy=True)
    np.testing.assert_allclose(fast, general, atol=1e-12)
    np.testing.assert_allclose(entropy, [mutual_info_score(f, f) for f in factors.T], atol=1e-12)


def test_a_constant_code_or_factor_has_exactly_zero_mutual_info_and_entropy():
    # n_a = N and n_ab = n_b in every cell: each log[(n_ab N) / (n_a n_b)] is log 1 = 0.
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 10, size=(1000, 3))
    codes = np.column_stack([factors[:, 0], np.zeros(1000, int)])
    matrix, entropy = discrete.discrete_mutual_info_matrix(codes, factors, return_factor_entropy=True)
    assert matrix[1].tolist() == [0.0, 0.0, 0.0]
    constant_factor = np.column_stack([factors[:, 0], np.full(1000, 4)])
    matrix, entropy = discrete.discrete_mutual_info_matrix(codes, constant_factor, return_factor_entropy=True)
    assert matrix[:, 1].tolist() == [0.0, 0.0] and entropy[1] == 0.0
    assert discrete.discrete_entropy(np.full((1000, 1), 7))[0] == 0.0


def test_exactly_independent_counts_give_exactly_zero_mutual_info():
    # every (code, factor) cell holds 25 of 300 points: n_ab N == n_a n_b exactly
    code = np.repeat(np.arange(3), 100)
    factor = np.tile(np.arange(4), 75)
    assert discrete.discrete_mutual_info_matrix(code[:, None], factor[:, None])[0, 0] == 0.0


def test_near_constant_code_matches_the_entropy_difference_by_hand():
    # 999 points in bin 0, one point in bin 1 with factor value 0; the factor splits 500/500.
    num_points = 1000
    factor = np.repeat([0, 1], 500)
    code = np.zeros(num_points, int)
    code[0] = 1
    # I = H(code) - H(code | factor); given factor 1 the code is constant.
    h_code = -(999 / 1000) * math.log(999 / 1000) - (1 / 1000) * math.log(1 / 1000)
    h_code_given_factor = 0.5 * (-(499 / 500) * math.log(499 / 500) - (1 / 500) * math.log(1 / 500))
    expected = h_code - h_code_given_factor
    matrix = discrete.discrete_mutual_info_matrix(code[:, None], factor[:, None])
    assert matrix[0, 0] == pytest.approx(expected, rel=1e-12)
    assert matrix[0, 0] == pytest.approx(mutual_info_score(code, factor), rel=1e-12)
