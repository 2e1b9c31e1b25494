"""The registered answers of chapters 12 and 13, each against a computation that does not use the function
that registered it: scikit-learn on binned codes, a gradient-boosting fit read by hand, the shares of pure noise
simulated by hand, the SAP-R² measured on correlated factors, the FactorVAE score measured on four mixed codes."""

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from refvae import course

SIZES = (3, 6, 40, 32, 32)   # dSprites: shape, scale, orientation, pos_x, pos_y


def _factors(n, seed=0):
    import refvae

    return refvae.data.dsprites().sample_factors(n, np.random.default_rng(seed))


def test_12_1_histogram_mig_with_10_bins_by_hand():
    # the identity code of 50,000 factor draws cut into 10 bins, scikit-learn's plug-in MI; at this N the plug-in bias
    # of the other codes is below 0.004 nats, so the gap is the large-N value within 1 %
    factors = _factors(50_000)
    binned = [np.digitize(c, np.histogram(c, 10)[1][:-1]) for c in factors.T.astype(float)]
    mi = np.array([[mutual_info_score(f, b) for f in factors.T] for b in binned])          # [codes, factors]
    top_two = -np.sort(-mi, axis=0)[:2]
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    mig = np.mean((top_two[0] - top_two[1]) / entropy)
    assert course.check("12.1", mig) == "right"
    assert course.check("12.1", 1.0) == "wrong"             # 20 bins' answer is not 10 bins'


@pytest.mark.slow
def test_12_2_dci_of_a_code_held_three_times_from_gradient_boosting_importances_by_hand():
    # scikit-learn's GradientBoostingClassifier per factor on z = (v, v_posx, v_posx), 500 training points; the
    # importances are read and the two entropies computed here (not refvae.metrics.dci)
    from sklearn.ensemble import GradientBoostingClassifier

    factors = _factors(10_000)
    codes = np.column_stack([factors, factors[:, 3], factors[:, 3]]).astype(float)
    importance = np.stack([GradientBoostingClassifier(random_state=0).fit(codes[:500], factors[:500, k])
                           .feature_importances_ for k in range(5)], axis=1) + 1e-11       # [7 codes, 5 factors]
    over_factors = importance / importance.sum(1, keepdims=True)
    over_codes = importance / importance.sum(0, keepdims=True)
    per_code = 1 + np.sum(over_factors * np.log(over_factors), 1) / math.log(5)
    per_factor = 1 + np.sum(over_codes * np.log(over_codes), 0) / math.log(7)
    weights_codes, weights_factors = importance.sum(1) / importance.sum(), importance.sum(0) / importance.sum()
    answer = [per_code @ weights_codes, per_factor @ weights_factors]
    assert abs(over_codes[[3, 5, 6], 3] - 1 / 3).max() < 0.1          # pos_x's splits shared by its three copies
    assert course.check("12.2", answer) == "right"
    assert course.check("12.2", [1.0, 1.0]) == "wrong"                  # as if one copy took all of pos_x
    assert course.check("12.2", [1.0 - math.log(3) / (5 * math.log(5)), 1.0]) == "wrong"   # the roles swapped


def test_12_3_shares_of_pure_noise_simulated_by_hand():
    # 20,000 tables of 90 independent standard normal scores on the study's grid (6 objectives x 3 values x 5 seeds),
    # the nested sums of squares computed here with NumPy (not refvae.studies.report), averaged
    scores = np.random.default_rng(0).standard_normal((20_000, 6, 3, 5))
    setting_means, objective_means = scores.mean(3, keepdims=True), scores.mean((2, 3), keepdims=True)
    parts = np.stack([5 * 3 * ((objective_means - scores.mean((1, 2, 3), keepdims=True)) ** 2).sum((1, 2, 3)),
                      5 * ((setting_means - objective_means) ** 2).sum((1, 2, 3)),
                      ((scores - setting_means) ** 2).sum((1, 2, 3))], axis=1)
    shares = (parts / parts.sum(1, keepdims=True)).mean(0)
    assert course.check("12.3", shares) == "right"
    assert course.check("12.3", [1 / 3, 1 / 3, 1 / 3]) == "wrong"           # a third each
    assert course.check("12.3", [6 / 90, 18 / 90, 66 / 90]) != "right"       # counting groups, not degrees of freedom


@pytest.mark.slow
def test_12_3_the_package_shares_of_noise_agree_with_the_answer():
    import pandas

    from refvae.studies import report

    grid = {"beta-vae": ("beta", (1, 4, 8)), "capacity": ("capacity", (5, 25, 75)), "factor-vae": ("gamma", (10, 30, 100)),
            "dip-vae-i": ("lambda_od", (1, 10, 50)), "dip-vae-ii": ("lambda_od", (1, 10, 50)),
            "beta-tcvae": ("beta", (1, 4, 8))}
    rows = pandas.DataFrame([{"model": model, key: value, "seed": seed} for model, (key, values) in grid.items()
                             for value in values for seed in range(5)])
    noise = pandas.DataFrame(np.random.default_rng(1).standard_normal((90, 400)), columns=[f"y{i}" for i in range(400)])
    shares = report.variance_shares(pandas.concat([rows, noise], axis=1), list(noise.columns))
    mean = np.mean([[s["objective"], s["hyperparameter"], s["seed"]] for s in shares.values()], axis=0)
    # 400 draws: the objective's share has a standard error of about 0.034 / 20 = 0.0017 (6 % of 5/89 at 2 s.e.)
    np.testing.assert_allclose(mean, course._REGISTRY["12.3"].expected(), atol=0.006)


def test_13_1_sap_r2_under_correlated_factors_measured():
    import refvae

    tilted = refvae.data.correlated(refvae.data.dsprites(), "orientation", "pos_y", strength=-0.6)
    train, test = tilted.sample_factors(20_000, np.random.default_rng(1)), tilted.sample_factors(10_000, np.random.default_rng(2))
    measured = refvae.metrics.sap(train * 1.0, train, test * 1.0, test, continuous_factors=True)["sap"]
    assert course.check("13.1", measured) == "right"
    assert course.check("13.1", 1.0) == "wrong"          # the independent factors' answer


def test_13_2_factor_vae_score_of_four_codes_mixed_by_a_hadamard_matrix_measured():
    import refvae

    data = refvae.data.dsprites()
    sizes = np.array(SIZES)
    hadamard = 0.5 * np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])

    def mixed(factors):
        z = (np.asarray(factors, dtype=np.float64) - (sizes - 1) / 2) / np.sqrt((sizes**2 - 1) / 12)
        z[:, 1:] = z[:, 1:] @ hadamard.T
        return z

    score = refvae.metrics.factor_vae_score(refvae.data.factors_as_observations(data), mixed, 0)["eval_accuracy"]
    assert course.check("13.2", score) == "right"
    assert course.check("13.2", 0.8) == "wrong"          # the answer for two exchangeable codes (a 45° rotation)
