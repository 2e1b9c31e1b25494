"""Correlated factors (001 §6.1) and held-out combinations (002 §5.5)."""

import numpy as np
import pytest
from references import Grid

from refvae.data import comonotone_coupling, correlated, held_out, index_correlation, joint_configuration


def empirical_mutual_information(a, b):
    joint = np.histogram2d(a, b, bins=(a.max() + 1, b.max() + 1))[0]
    joint /= joint.sum()
    product = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / product[nonzero])))


# --- correlated factors ------------------------------------------------------------------

def test_comonotone_coupling_has_uniform_marginals_and_full_correlation_for_equal_sizes():
    coupling = comonotone_coupling(6, 32)
    np.testing.assert_allclose(coupling.sum(1), 1 / 6)
    np.testing.assert_allclose(coupling.sum(0), 1 / 32)
    np.testing.assert_allclose(comonotone_coupling(5, 5), np.eye(5) / 5)
    assert index_correlation(comonotone_coupling(5, 5)) == pytest.approx(1.0)


def test_scale_and_pos_x_sampled_with_the_requested_correlation(sprites):
    data = correlated(sprites, "scale", "pos_x", strength=0.8)
    factors = data.sample_factors(100000, np.random.default_rng(0))
    measured = np.corrcoef(factors[:, 1], factors[:, 3])[0, 1]
    expected = 0.8 * index_correlation(comonotone_coupling(6, 32))  # 0.8 x 0.9856
    assert abs(measured - expected) < 0.01
    # Marginals stay uniform; the other factors stay independent of the pair.
    counts = np.bincount(factors[:, 3], minlength=32)
    assert np.abs(counts - 100000 / 32).max() < 5 * np.sqrt(100000 / 32)
    assert abs(np.corrcoef(factors[:, 1], factors[:, 0])[0, 1]) < 0.02
    assert abs(np.corrcoef(factors[:, 3], factors[:, 4])[0, 1]) < 0.02
    images = data.observations_from_factors(factors[:4])
    assert np.array_equal(images, sprites.observations_from_factors(factors[:4]))


def test_negative_strength_gives_negative_correlation(sprites):
    data = correlated(sprites, 1, 3, strength=-0.5)
    factors = data.sample_factors(50000, np.random.default_rng(1))
    measured = np.corrcoef(factors[:, 1], factors[:, 3])[0, 1]
    assert abs(measured - data.correlation) < 0.015 and data.correlation < -0.49


def test_configuration_c_is_uncorrelated_but_dependent(sprites):
    data = correlated(sprites, "scale", "pos_x", configuration="C")
    factors = data.sample_factors(200000, np.random.default_rng(2))
    a, b = factors[:, 1], factors[:, 3]
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    # Independent factors of these sizes would give about (6-1)(32-1)/(2 x 200000) = 0.0004
    # nats of plug-in mutual information; the dependence gives far more.
    assert empirical_mutual_information(a, b) > 0.02
    independent = correlated(sprites, "scale", "pos_x", configuration="A")
    f = independent.sample_factors(200000, np.random.default_rng(2))
    assert empirical_mutual_information(f[:, 1], f[:, 3]) < 0.002


def test_configurations_b_to_d_follow_001(sprites):
    tables = {name: joint_configuration(name, 6, 32) for name in "ABCD"}
    for table in tables.values():
        assert table.sum() == pytest.approx(1.0)
        assert table.max() / table.min() <= 4.0 + 1e-9
    b = tables["B"]
    np.testing.assert_allclose(b, np.outer(b.sum(1), b.sum(0)))  # independent
    assert b.sum(1).max() / b.sum(1).min() == pytest.approx(2.0)  # non-uniform marginals
    assert abs(index_correlation(tables["C"])) < 1e-12
    assert index_correlation(tables["D"]) > 0.2


def test_correlated_epochs_follow_the_joint_table():
    data = correlated(Grid(), "b", "c", strength=1.0)  # 4 and 5 values: comonotone
    batches = list(data.iterate_batches(10, seed=0, with_factors=True))
    factors = np.concatenate([f for _, f in batches])
    allowed = comonotone_coupling(4, 5) > 0
    assert allowed[factors[:, 1], factors[:, 2]].all()
    observed = np.concatenate([o.reshape(-1) for o, _ in batches]).astype(int)
    assert np.array_equal(observed, data.index_of(factors))


def test_correlated_bad_arguments(sprites):
    with pytest.raises(ValueError, match="exactly one"):
        correlated(sprites, "scale", "pos_x")
    with pytest.raises(ValueError, match="strength must be"):
        correlated(sprites, "scale", "pos_x", strength=1.5)
    with pytest.raises(ValueError, match="factor_b must be one of"):
        correlated(sprites, "scale", "posx", strength=0.5)
    with pytest.raises(ValueError, match="two different factors"):
        correlated(sprites, "scale", "scale", strength=0.5)
    with pytest.raises(ValueError, match=r"joint must have shape \(6, 32\)"):
        correlated(sprites, "scale", "pos_x", joint=np.ones((32, 6)))
    with pytest.raises(ValueError, match="configuration must be one of"):
        correlated(sprites, "scale", "pos_x", configuration="E")


# --- held-out combinations ---------------------------------------------------------------

def test_training_split_never_yields_a_held_out_combination(sprites):
    train = held_out(sprites, {"shape": 2, "scale": [4, 5]})  # big hearts
    test = train.test
    assert test.num_observations == 2 * 40 * 32 * 32
    assert train.num_observations + test.num_observations == 737280
    factors = train.sample_factors(50000, np.random.default_rng(0))
    assert not ((factors[:, 0] == 2) & (factors[:, 1] >= 4)).any()
    assert (factors[:, 0] == 2).any() and (factors[:, 1] >= 4).any()  # values still seen
    held = test.sample_factors(2000, np.random.default_rng(0))
    assert ((held[:, 0] == 2) & (held[:, 1] >= 4)).all()
    assert train.is_held_out(held).all() and not train.is_held_out(factors).any()


def test_held_out_epoch_visits_each_training_point_once():
    train = held_out(Grid(), [{"a": 0, "b": 1}, {"b": 3, "c": [0, 4]}])
    seen = np.concatenate([o.reshape(-1) for o in train.iterate_batches(
        4, seed=1, drop_remainder=False)]).astype(int)
    factors = Grid().factors_of(np.arange(60))
    held = ((factors[:, 0] == 0) & (factors[:, 1] == 1)) | (
        (factors[:, 1] == 3) & np.isin(factors[:, 2], [0, 4]))
    assert sorted(seen.tolist()) == np.flatnonzero(~held).tolist()  # 60 - 5 - 6 = 49 points
    assert len(seen) == 49


def test_held_out_accepts_a_predicate():
    train = held_out(Grid(), lambda f: f[:, 0] + f[:, 1] == 5)  # only (a, b) = (2, 3)
    assert train.test.num_observations == 5 and train.num_observations == 55


def test_held_out_bad_arguments(sprites):
    with pytest.raises(ValueError, match="remove every training example with shape"):
        held_out(sprites, {"shape": 2})  # a held-out value, not a combination
    assert held_out(sprites, {"shape": 2}, allow_missing_values=True).test.num_observations \
        == 245760
    with pytest.raises(ValueError, match="unknown factor 'size'"):
        held_out(sprites, {"size": 1, "shape": 0})
    with pytest.raises(ValueError, match=r"values of 'scale' must be value indices in 0..5"):
        held_out(sprites, {"shape": 0, "scale": 6})
    with pytest.raises(TypeError, match="non-empty dict"):
        held_out(sprites, [("shape", 0)])
    with pytest.raises(ValueError, match="empty"):
        held_out(sprites, [])


def test_sample_indices_keeps_each_variants_sampling():
    import numpy as np

    from refvae import data

    grid = data.dsprites()
    split = data.held_out(grid, [{"shape": 2, "scale": 5}])
    indices = split.sample_indices(4000, np.random.default_rng(0))
    factors = grid.factors_of(indices)
    assert not np.any((factors[:, 0] == 2) & (factors[:, 1] == 5))
    coupled = data.correlated(grid, "scale", "pos_x", strength=1.0)
    factors = grid.factors_of(coupled.sample_indices(4000, np.random.default_rng(1)))
    assert np.corrcoef(factors[:, 1], factors[:, 3])[0, 1] > 0.95
    digits = data.digits()
    rows = digits.sample_indices(5000, np.random.default_rng(2))
    assert rows.min() >= 0 and rows.max() < digits.num_observations
    assert len(np.unique(rows)) > 0.9 * digits.num_observations


# --- the factors as observations ---------------------------------------------------------

def test_factors_as_observations_renders_each_factor_vector_as_itself(sprites):
    from refvae.data import factors_as_observations

    codes = factors_as_observations(sprites)
    factors = codes.sample_factors(50, np.random.default_rng(0))
    observations = codes.observations_from_factors(factors)
    assert observations.dtype == np.float64 and codes.observation_shape == (5,)
    np.testing.assert_array_equal(observations, factors)
    np.testing.assert_array_equal(codes.observations_from_indices(sprites.index_of(factors)), factors)
    with pytest.raises(ValueError, match="out of range"):
        codes.observations_from_factors([[3, 0, 0, 0, 0]])              # shape has 3 values, 0..2


def test_factors_as_observations_keeps_the_wrapped_sampling(sprites):
    from refvae.data import factors_as_observations

    coupled = factors_as_observations(correlated(sprites, "scale", "pos_x", strength=0.9))
    factors = coupled.sample_factors(20000, np.random.default_rng(1))
    # the index correlation of the table, 0.9 * 0.986 for 6 scales and 32 positions
    assert np.corrcoef(factors[:, 1], factors[:, 3])[0, 1] == pytest.approx(coupled.data.correlation, abs=0.01)
    split = factors_as_observations(held_out(sprites, {"shape": 2, "scale": [4, 5]}))
    factors = split.sample_factors(5000, np.random.default_rng(2))
    assert not np.any((factors[:, 0] == 2) & (factors[:, 1] >= 4))


def test_the_identity_code_of_the_factors_scores_factor_vae_1_and_a_45_degree_pair_at_most_0_8(sprites):
    # holding pos_x or pos_y fixed leaves the two codes of a 45° rotation the same normalised variance: their votes split
    # between them, and the majority vote gets at most half of the two factors' votes right: (3 + 2 / 2) / 5 = 0.8
    from refvae.data import factors_as_observations
    from refvae.metrics import factor_vae_score

    codes = factors_as_observations(sprites)

    def rotated(observations):
        z = np.array(observations)
        z[:, 3], z[:, 4] = (z[:, 3] + z[:, 4]) / np.sqrt(2), (z[:, 4] - z[:, 3]) / np.sqrt(2)
        return z

    sizes = dict(num_train=1000, num_eval=1000, num_variance_estimate=2000)
    assert factor_vae_score(codes, lambda x: x, 0, **sizes)["eval_accuracy"] == 1.0
    assert factor_vae_score(codes, rotated, 0, **sizes)["eval_accuracy"] == pytest.approx(0.8, abs=0.05)


def test_factors_as_observations_refuses_what_is_not_a_data_set():
    from refvae.data import factors_as_observations

    with pytest.raises(TypeError, match="GroundTruthData"):
        factors_as_observations(np.zeros((4, 5)))
