"""Tests of refvae.objectives: each catalogue entry is its paper's formula on fixed terms."""


import pytest
import tensorflow as tf

from refvae import objectives

# Hand-made terms (nats). They need not be mutually consistent except where a test says so.
TERMS = {
    "reconstruction": -100.0,
    "elbo": -112.0,
    "kl": 12.0,
    "index_code_mi": 5.0,
    "marginal_kl": 7.0,
    "total_correlation": 3.0,
    "dimwise_kl": 4.0,
    "between_group_tc": 2.0,
    "prior_between_group_tc": 0.5,
    "within_group_tc": 1.5,
    "prior_within_group_tc": 0.25,
    "posterior_variance": 0.8,
    "dip_i_off_diagonal": 0.3,
    "dip_i_diagonal": 0.7,
    "dip_ii_off_diagonal": 0.2,
    "dip_ii_diagonal": 0.4,
    "mmd": 0.05,
    "kl_per_dim": [1.0, 2.0, 3.0, 6.0],
}


def _loss(objective, step=0, terms=TERMS):
    tensors = {name: tf.constant(value, tf.float32) for name, value in terms.items()}
    return float(objective.loss(tensors, step))


T = TERMS
# (catalogue name, hyperparameters, the paper's loss written out by hand)
PAPER_FORMULAS = [
    ("vae", {}, -T["reconstruction"] + T["kl"]),
    ("beta-vae", {"beta": 4.0}, -T["reconstruction"] + 4.0 * T["kl"]),
    ("capacity", {"capacity": 25.0, "gamma": 1000.0, "anneal_steps": 0},
     -T["reconstruction"] + 1000.0 * abs(T["kl"] - 25.0)),
    ("beta-tcvae", {"alpha": 0.5, "beta": 6.0, "gamma": 2.0},
     -T["reconstruction"] + 0.5 * T["index_code_mi"] + 6.0 * T["total_correlation"] + 2.0 * T["dimwise_kl"]),
    ("factor-vae", {"gamma": 35.0}, -T["reconstruction"] + T["kl"] + 35.0 * T["total_correlation"]),
    ("dip-vae-i", {"lambda_od": 2.0},
     -T["reconstruction"] + T["kl"] + 2.0 * T["dip_i_off_diagonal"] + 20.0 * T["dip_i_diagonal"]),
    ("dip-vae-ii", {"lambda_od": 5.0},
     -T["reconstruction"] + T["kl"] + 5.0 * T["dip_ii_off_diagonal"] + 5.0 * T["dip_ii_diagonal"]),
    ("dip-vae-i", {"lambda_od": 2.0, "lambda_d": 3.0},
     -T["reconstruction"] + T["kl"] + 2.0 * T["dip_i_off_diagonal"] + 3.0 * T["dip_i_diagonal"]),
    ("info-vae", {"lam": 3.0}, -T["reconstruction"] + 3.0 * T["marginal_kl"]),
    ("info-vae", {"lam": 500.0, "divergence": "mmd"}, -T["reconstruction"] + 500.0 * T["mmd"]),
    ("achille-soatto", {"beta": 2.0, "gamma": 7.0},
     -T["reconstruction"] + 2.0 * T["index_code_mi"] + 7.0 * T["total_correlation"]),
    # 002 eq 4 corrected: L = ① + ③ + α② + βⒶ + γⓘ + ⓘⓘ, Ⓐ = prior TC − q TC between groups.
    ("hfvae", {"alpha": 0.5, "beta": 4.0, "gamma": 2.0},
     -T["reconstruction"] + 0.5 * T["index_code_mi"]
     - 4.0 * (T["prior_between_group_tc"] - T["between_group_tc"])
     - 2.0 * (T["prior_within_group_tc"] - T["within_group_tc"]) + T["dimwise_kl"]),
    # 000 eq 21: anchors 1 and 3 get KL weight (1 − λ).
    ("anchor-vae", {"lam": 0.25, "anchors": [1, 3]},
     -T["reconstruction"] + 1.0 + 0.75 * 2.0 + 3.0 + 0.75 * 6.0),
    # 004 eq 4: L_RTC = ELBO − β TC − η Σ_k E[σ_k²].
    ("rtc", {"beta": 6.0, "eta": 10.0},
     -T["reconstruction"] + T["kl"] + 6.0 * T["total_correlation"] + 10.0 * T["posterior_variance"]),
]


@pytest.mark.parametrize("name, hyperparameters, expected", PAPER_FORMULAS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PAPER_FORMULAS)])
def test_catalogue_entry_equals_paper_formula(name, hyperparameters, expected):
    assert _loss(objectives.get(name, **hyperparameters)) == pytest.approx(expected, rel=1e-6)


def test_every_catalogue_entry_has_a_formula_test_and_a_citation():
    assert {name for name, _, _ in PAPER_FORMULAS} == set(objectives.CATALOGUE)
    for name in objectives.CATALOGUE:
        assert objectives.get(name).citation


def test_unit_weights_give_the_vae_its_negative_elbo():
    # Consistent terms: kl = mi + tc + dimwise_kl = mi + marginal_kl (factorised prior), and
    # marginal_kl = (btc − prior_btc) + (wtc − prior_wtc) + dimwise_kl (002 Fig. 3).
    terms = dict(TERMS, kl=12.0, index_code_mi=5.0, total_correlation=3.0, dimwise_kl=4.0,
                 marginal_kl=7.0, between_group_tc=2.5, prior_between_group_tc=0.5,
                 within_group_tc=1.25, prior_within_group_tc=0.25)
    negative_elbo = -terms["reconstruction"] + terms["kl"]
    for name in ("vae", "beta-vae", "beta-tcvae", "hfvae"):
        objective = objectives.get(name, **({"beta": 1.0} if name != "vae" else {}))
        if name in ("beta-tcvae", "hfvae"):
            objective = objectives.get(name, alpha=1.0, beta=1.0, gamma=1.0)
        assert _loss(objective, terms=terms) == pytest.approx(negative_elbo, rel=1e-7)
    assert _loss(objectives.get("anchor-vae", lam=0.0, anchors=[0]), terms=terms) == pytest.approx(
        -terms["reconstruction"] + sum(terms["kl_per_dim"]), rel=1e-7)


def test_capacity_anneals_linearly_then_stays():
    objective = objectives.get("capacity", capacity=20.0, gamma=10.0, anneal_steps=1000)
    terms = dict(TERMS, kl=12.0)
    # C(0) = 0, C(500) = 10, C(1000) = C(5000) = 20
    assert _loss(objective, 0, terms) == pytest.approx(100.0 + 10.0 * 12.0)
    assert _loss(objective, 500, terms) == pytest.approx(100.0 + 10.0 * 2.0)
    assert _loss(objective, tf.constant(1000, tf.int64), terms) == pytest.approx(100.0 + 10.0 * 8.0)
    assert _loss(objective, 5000, terms) == pytest.approx(100.0 + 10.0 * 8.0)


@pytest.mark.parametrize("name, hyperparameters, argument", [
    ("beta-vae", {"beta": -1.0}, "beta"),
    ("capacity", {"gamma": -5.0}, "gamma"),
    ("capacity", {"capacity": -1.0}, "capacity"),
    ("capacity", {"anneal_steps": -1}, "anneal_steps"),
    ("beta-tcvae", {"alpha": -0.1}, "alpha"),
    ("beta-tcvae", {"gamma": float("nan")}, "gamma"),
    ("factor-vae", {"gamma": -10.0}, "gamma"),
    ("dip-vae-i", {"lambda_od": -1.0}, "lambda_od"),
    ("dip-vae-ii", {"lambda_d": -1.0}, "lambda_d"),
    ("info-vae", {"lam": -1.0}, "lam"),
    ("info-vae", {"divergence": "wasserstein"}, "divergence"),
    ("achille-soatto", {"beta": -2.0}, "beta"),
    ("hfvae", {"beta": -1.0}, "beta"),
    ("anchor-vae", {"lam": 1.5}, "lam"),
    ("anchor-vae", {"anchors": []}, "anchors"),
    ("anchor-vae", {"anchors": [-1]}, "unit index"),
    ("rtc", {"eta": -10.0}, "eta"),
])
def test_weights_that_make_no_sense_raise_naming_the_argument(name, hyperparameters, argument):
    with pytest.raises(ValueError, match=argument):
        objectives.get(name, **hyperparameters)


def test_unknown_objective_lists_the_known_ones():
    with pytest.raises(ValueError, match="known objectives: .*beta-tcvae.*hfvae"):
        objectives.get("beta-tc-vae")


def test_unknown_hyperparameter_raises_listing_accepted():
    with pytest.raises(TypeError, match="accepts .*beta"):
        objectives.get("beta-vae", gamma=3.0)


def test_objective_validates_terms_and_weights():
    with pytest.raises(ValueError, match="unknown term 'klx'"):
        objectives.Objective("x", {"klx": 1.0})
    with pytest.raises(ValueError, match="weight of kl"):
        objectives.Objective("x", {"kl": -1.0})
    with pytest.raises(TypeError, match="weight of kl must be a number"):
        objectives.Objective("x", {"kl": "one"})
    with pytest.raises(ValueError, match=r"needs the terms \['total_correlation'\]"):
        objectives.get("factor-vae").loss({"reconstruction": 1.0, "kl": 1.0})
    with pytest.raises(ValueError, match="unit index 7 out of range"):
        _loss(objectives.get("anchor-vae", anchors=[7]))
    with pytest.raises(TypeError, match="immutable"):
        objectives.get("vae").weights["kl"] = 2.0


def test_config_round_trip_gives_an_equal_objective():
    for name, hyperparameters, _ in PAPER_FORMULAS:
        objective = objectives.get(name, **hyperparameters)
        rebuilt = objectives.get(objective.get_config())
        assert rebuilt == objective
        assert _loss(rebuilt, 700) == _loss(objective, 700)


def test_formula_reads_like_the_paper():
    assert objectives.get("beta-tcvae", beta=6.0).formula == (
        "-reconstruction + index_code_mi + 6*total_correlation + dimwise_kl")
    assert objectives.get("capacity", capacity=5.0, gamma=100.0, anneal_steps=0).formula == (
        "-reconstruction + 100*|kl - 5|")


def test_weight_reads_a_scalar_term_and_refuses_a_vector_one():
    beta_tcvae = objectives.get("beta-tcvae", beta=6.0)
    assert beta_tcvae.weight("total_correlation") == 6.0
    assert beta_tcvae.weight("mmd") == 0.0 and beta_tcvae.weight("mmd", 2.5) == 2.5  # not weighed: the default
    with pytest.raises(TypeError, match="vector term"):
        objectives.get("anchor-vae", lam=0.5, anchors=(0,)).weight("kl_per_dim")
