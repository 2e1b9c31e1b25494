"""The registered answers of chapters 12 and 13, each against a computation that does not use the function
that registered it: scikit-learn on binned codes, a gradient-boosting fit read by hand, the study table summed by
hand, the FactorVAE score measured on a rotated code, the SAP-R² measured on correlated factors."""

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


def test_12_3_seed_share_within_beta_tcvae_summed_by_hand():
    table = course.study_table("six-objectives")
    rows = table[(table["status"] == "done") & (table["model"] == "beta-tcvae")]
    by_beta = {}
    for beta, mig in zip(rows["beta"], rows["mig"]):
        by_beta.setdefault(float(beta), []).append(float(mig))
    values = np.concatenate([np.array(v) for v in by_beta.values()])
    within = sum(np.sum((np.array(v) - np.mean(v)) ** 2) for v in by_beta.values())
    share = within / np.sum((values - values.mean()) ** 2)
    assert 0.0 <= share <= 1.0
    assert course.check("12.3", share) == "right"
    assert course.check("12.3", share + 0.2) == "wrong"


def test_12_4_factor_vae_score_of_a_45_degree_rotation_measured():
    import refvae

    data = refvae.data.dsprites()

    class FactorCodes:
        factor_sizes = SIZES

        def sample_factors(self, n, rng):
            return data.sample_factors(n, rng)

        def observations_from_factors(self, factors):
            return np.asarray(factors, dtype=np.float64)

    def rotated(factors):
        z = np.array(factors, dtype=np.float64)
        x, y = z[:, 3].copy(), z[:, 4].copy()
        z[:, 3], z[:, 4] = (x + y) / math.sqrt(2), (y - x) / math.sqrt(2)
        return z

    score = refvae.metrics.factor_vae_score(FactorCodes(), rotated, 0)["eval_accuracy"]
    assert course.check("12.4", score) == "right"
    assert course.check("12.4", 1.0) == "wrong"


def test_13_1_sap_r2_under_correlated_factors_measured():
    import refvae

    tilted = refvae.data.correlated(refvae.data.dsprites(), "scale", "pos_x", strength=0.9)
    train, test = tilted.sample_factors(20_000, np.random.default_rng(1)), tilted.sample_factors(10_000, np.random.default_rng(2))
    measured = refvae.metrics.sap(train * 1.0, train, test * 1.0, test, continuous_factors=True)["sap"]
    assert course.check("13.1", measured) == "right"
    assert course.check("13.1", 1.0) == "wrong"          # the independent factors' answer
