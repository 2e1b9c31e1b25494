"""refvae.course.check: right / close / wrong verdicts, hints, and the answer never shown."""

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from refvae import course

# Chapter 00's worked example by hand: KL(N(1, 0.5^2) || N(0, 1))
#   = log(1 / 0.5) + (0.5^2 + (1 - 0)^2) / (2 * 1^2) - 1/2 = log 2 + 0.125.
KL_CHAPTER_00 = math.log(2.0) + 0.125


@pytest.fixture
def scratch_exercise():
    """Register a throwaway exercise and remove it afterwards."""
    course.register("99.9", lambda: np.array([1.0, -2.0, 0.0]), rtol=1e-3, close_rtol=0.1, atol=1e-3)
    yield "99.9"
    course._REGISTRY.pop("99.9", None)


def test_check_says_right_for_the_hand_computed_kl(capsys):
    assert course.check("00.0", KL_CHAPTER_00) == "right"
    assert capsys.readouterr().out.strip() == "00.0: right."


def test_check_accepts_a_size_one_array_for_a_number():
    assert course.check("00.0", np.array([[KL_CHAPTER_00]])) == "right"


def test_check_says_close_for_a_two_percent_error():
    assert course.check("00.0", 1.02 * KL_CHAPTER_00) == "close"


def test_check_says_wrong_for_a_twenty_percent_error():
    assert course.check("00.0", 1.2 * KL_CHAPTER_00) == "wrong"


def test_wrong_sign_gets_the_sign_hint(capsys):
    assert course.check("00.0", -KL_CHAPTER_00) == "wrong"
    assert "check the sign" in capsys.readouterr().out.lower()


def test_factor_of_two_gets_the_factor_hint(capsys):
    assert course.check("00.0", 2.0 * KL_CHAPTER_00) == "wrong"
    assert "factor of about 2" in capsys.readouterr().out


def test_bits_instead_of_nats_gets_the_units_hint(capsys):
    assert course.check("00.0", KL_CHAPTER_00 / math.log(2.0)) == "wrong"
    assert "nats" in capsys.readouterr().out


def test_answer_is_not_printed(capsys):
    expected_values = [KL_CHAPTER_00, *course._REGISTRY["01.1"].expected()]
    for exercise_id, answer in [
        ("00.0", KL_CHAPTER_00), ("00.0", 1.03 * KL_CHAPTER_00), ("00.0", -KL_CHAPTER_00),
        ("00.0", 3.0), ("01.1", [0.8, 0.2]), ("01.1", [0.1, 0.2, 0.7]),
    ]:
        course.check(exercise_id, answer)
    printed = capsys.readouterr().out
    for value in expected_values:
        for digits in (2, 3, 4, 6):
            assert f"{value:.{digits}f}" not in printed


def test_unknown_id_raises_and_lists_the_known_ids():
    with pytest.raises(ValueError, match=r"unknown exercise_id '42\.1'.*00\.1.*01\.3"):
        course.check("42.1", 1.0)


def test_shape_mismatch_is_wrong_and_says_so(capsys):
    assert course.check("01.1", [0.5, 0.3, 0.2]) == "wrong"
    assert "shape (3,)" in capsys.readouterr().out


def test_non_numeric_answer_raises_type_error():
    with pytest.raises(TypeError, match="answer"):
        course.check("00.0", "0.8")


def test_near_zero_entries_are_compared_on_the_atol_scale(scratch_exercise):
    # The third expected entry is 0: an answer of 5e-7 there is an error of 5e-4 on the
    # atol = 1e-3 scale, within rtol = 1e-3.
    assert course.check(scratch_exercise, [1.0, -2.0, 5e-7]) == "right"
    assert course.check(scratch_exercise, [1.05, -2.0, 0.0]) == "close"
    assert course.check(scratch_exercise, [1.0, -2.0, 0.5]) == "wrong"


def test_register_rejects_a_duplicate_id_and_bad_tolerances(scratch_exercise):
    with pytest.raises(ValueError, match="already registered"):
        course.register(scratch_exercise, lambda: 1.0)
    with pytest.raises(ValueError, match="close_rtol"):
        course.register("99.8", lambda: 1.0, rtol=0.1, close_rtol=0.01)
    with pytest.raises(TypeError, match="expected_fn"):
        course.register("99.8", 1.0)
    assert "99.8" not in course.exercises()


def test_decorator_registers_the_function():
    @course.exercise("99.7", rtol=1e-6, close_rtol=1e-3)
    def _three():
        return 3.0

    try:
        assert course.check("99.7", 3.0) == "right"
        assert "99.7" in course.exercises()
    finally:
        course._REGISTRY.pop("99.7", None)


def test_chapter_00_reverse_kl_matches_scipy_quadrature():
    # KL(N(0, 1) || N(1, 0.5^2)) by numerical integration, independent of the closed form.
    p, q = stats.norm(0.0, 1.0), stats.norm(1.0, 0.5)
    kl, _ = integrate.quad(
        lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -12.0, 12.0
    )
    assert course.check("00.1", kl) == "right"


def test_chapter_01_toy_answers_from_an_independent_computation():
    toy = course.GMM_TOY
    log_joint = np.log(toy["weights"]) + stats.norm(toy["locs"], toy["scales"]).logpdf(toy["x"])
    log_px = np.logaddexp(*log_joint)
    posterior = np.exp(log_joint - log_px)
    assert course.check("01.1", posterior) == "right"

    prior = np.asarray(toy["weights"])
    elbo_of_prior = np.sum(prior * (log_joint - np.log(prior)))
    assert course.check("01.2", log_px - elbo_of_prior) == "right"

    # 01.3 by direct numerical maximisation over q = (q0, 1 - q0), not via the softmax formula.
    log_likelihood = log_joint - np.log(prior)

    def negative_objective(q0):
        q = np.array([q0, 1.0 - q0])
        return -(q @ log_likelihood - 4.0 * np.sum(q * np.log(q / prior)))

    best = optimize.minimize_scalar(negative_objective, bounds=(1e-9, 1 - 1e-9), method="bounded",
                                    options={"xatol": 1e-10})
    assert course.check("01.3", [best.x, 1.0 - best.x]) == "right"


def test_chapter_04_answer_from_quadrature():
    from refvae import info

    # 04.1: I(x; z) from the joint covariance of (x, z), KL(q(z) || p(z)) by numerical integration, root by brentq
    def information_minus_marginal_kl(sigma):
        information = info.gaussian_mutual_information(np.array([[1.0, 1.0], [1.0, 1.0 + sigma**2]]), [0], [1])
        q, p = stats.norm(0.0, np.sqrt(1.0 + sigma**2)), stats.norm(0.0, 1.0)
        marginal_kl, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), -30.0, 30.0)
        return information - marginal_kl

    sigma = optimize.brentq(information_minus_marginal_kl, 0.1, 5.0, xtol=1e-12)
    assert course.check("04.1", sigma) == "right"
    assert course.check("04.1", 0.5) == "wrong"


def test_chapter_05_odd_row_of_the_published_weight_matrix_by_stride_writes():
    # the published placement: fill 1/M, then write 1/N and (N - M)/(N M) with a stride of B into the flattened
    # B x B matrix, and the last strat entry at [B - 2, 0]; read off the largest row sum
    batch, size = 16, 1000
    m = batch - 1
    weights = np.full((batch, batch), 1.0 / m)
    weights.reshape(-1)[::batch] = 1.0 / size
    weights.reshape(-1)[1::batch] = (size - m) / (size * m)
    weights[batch - 2, 0] = (size - m) / (size * m)
    row_sums = weights.sum(axis=1)
    assert np.sum(~np.isclose(row_sums, 1.0)) == 1
    assert course.check("05.2", row_sums.max()) == "right"


def test_chapter_07_bayes_discriminator_accuracy_by_monte_carlo():
    # accuracy of the rule "joint where q(z) > q(z_1) q(z_2)" on samples of each class, equal class sizes
    joint = stats.multivariate_normal(np.zeros(2), [[1.0, 0.8], [0.8, 1.0]])
    product = stats.multivariate_normal(np.zeros(2), np.eye(2))
    n = 400_000
    from_joint, from_product = joint.rvs(n, random_state=1), product.rvs(n, random_state=2)
    accuracy = 0.5 * np.mean(joint.logpdf(from_joint) > product.logpdf(from_joint)) + 0.5 * np.mean(
        product.logpdf(from_product) >= joint.logpdf(from_product))
    standard_error = 0.5 / np.sqrt(n)
    assert course.check("07.1", accuracy) == "right"
    assert abs(accuracy - course._REGISTRY["07.1"].expected()) < 4 * standard_error * np.sqrt(2)


def test_chapter_05_mixture_tc_rises_by_log_10_when_n_shrinks_tenfold():
    # D = 16, σ = 0.1: the components do not overlap, I(z; n) sits at log N and the marginals keep their
    # I(z_d; n), so TC = Σ_d I(z_d; n) − I(z; n) rises by log 10 from N = 20,000 to N = 2,000 (exercise 05.1 uses
    # 100,000 and 10,000; the exercise's check accepts the measured change). The same seed draws the same noise for both
    # data sets, so the Monte Carlo parts of the two H(z) nearly cancel in the change: 500 samples are enough.
    from refvae.metrics.tc import mixture_total_correlation

    cov = 0.5 * np.eye(16) + 0.5
    means = np.random.default_rng([100, 16]).multivariate_normal(np.zeros(16), cov, size=20_000)
    large, small = (mixture_total_correlation(m, 0.1, num_samples=500, seed=0) for m in (means, means[:2000]))
    change = small["total_correlation"] - large["total_correlation"]
    assert course.check("05.1", change) == "right"
    assert abs(change - math.log(10)) < 0.1
    assert course.check("05.1", -change) == "wrong"


def test_chapter_07_equicorrelated_tc_from_a_monte_carlo_log_density_ratio():
    # TC = E[log q(z) − Σ_d log q(z_d)] by Monte Carlo with scipy's densities, 10-D, all correlations 0.5
    dimensions = 10
    covariance = np.full((dimensions, dimensions), 0.5) + 0.5 * np.eye(dimensions)
    z = stats.multivariate_normal(np.zeros(dimensions), covariance).rvs(200_000, random_state=3)
    log_ratio = stats.multivariate_normal(np.zeros(dimensions), covariance).logpdf(z) - stats.norm.logpdf(z).sum(axis=1)
    standard_error = log_ratio.std() / np.sqrt(len(z))
    assert abs(log_ratio.mean() - course._REGISTRY["07.2"].expected()) < 4 * standard_error
    eigenvalues = np.linalg.eigvalsh(covariance)                         # 1 + 9 * 0.5 once, 0.5 nine times
    assert course.check("07.2", -0.5 * np.sum(np.log(eigenvalues))) == "right"
    assert course.check("07.2", 0.5 * np.log(2.0)) == "wrong"             # the 3-D answer


def test_chapter_06_ceiling_of_the_batch_index_code_mi():
    # Posteriors 1e-3 wide and ~100 apart never overlap: each estimator keeps only its own-sample
    # weight, and the batch estimate of I(x; z) reaches its ceiling, measured here by running it.
    from refvae import metrics

    rng = np.random.default_rng(0)
    loc, scale = 100.0 * rng.standard_normal((512, 10)), np.full((512, 10), 1e-3)
    measured = [metrics.minibatch_tc_terms(loc, scale, method, batch_size=batch, seed=0, dataset_size=737_280)["index_code_mi"]
                for method, batch in (("mws", 256), ("mss0", 256), ("mss0", 64))]
    assert course.check("06.2", measured) == "right"
    assert course.check("06.2", [measured[0]] * 3) == "wrong"
    assert course.check("06.2", [math.log(737_280)] * 3) == "wrong"      # MSS1's ceiling log N is not the answer


def test_chapter_06_noisy_duplicate_gap_by_hand():
    # The histogram MIG written out with np.histogram bins and sklearn's plug-in MI, not refvae's.
    from sklearn.metrics import mutual_info_score

    sizes = (3, 6, 40, 32, 32)
    factors = np.random.default_rng(0).integers(0, sizes, size=(10_000, 5))
    noisy = factors[:, 3] + np.random.default_rng(1).normal(0.0, 2.0, 10_000)
    codes = np.column_stack([factors.astype(float), noisy])
    binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
    mi_pos_x = np.array([mutual_info_score(factors[:, 3], b) for b in binned])
    top_two = np.sort(mi_pos_x)[::-1][:2]
    gap = (top_two[0] - top_two[1]) / mutual_info_score(factors[:, 3], factors[:, 3])
    assert 0.05 < gap < 0.95                      # neither an exact copy (0) nor no copy
    assert int(np.argmax(mi_pos_x)) == 3          # the identity code stays the best one
    assert course.check("06.3", gap) == "right"
    assert course.check("06.3", 0.0) == "wrong"


def test_chapter_08_factorised_prior_terms_from_the_pairwise_tensor():
    # Chapter 08's Check 2 with prior_cov = I, by hand: log-mean-exp over the pairwise tensor
    # log q(z_{i,u} | x_j) and scipy's standard normal for the Normal group's prior.
    import tensorflow as tf
    from scipy.special import logsumexp

    from refvae import latents

    latent = latents.Grouped([latents.DiagonalGaussian(3), latents.Concrete(4, temperature=0.67)])
    params = tf.constant(np.random.default_rng(7).normal(size=(6, latent.param_size)), tf.float64)
    posterior = latent.posterior(params)
    z = latent.sample(posterior, seed=11)
    pairwise = latent.log_q_pairwise(z, posterior).numpy()                  # [i, j, unit]
    groups, n = latent.groups, 6
    own = np.einsum("iiu->iu", pairwise)
    log_qz = logsumexp(pairwise.sum(-1), axis=1) - np.log(n)
    log_qzd = np.stack([logsumexp(pairwise[:, :, g].sum(-1), axis=1) for g in groups], 1) - np.log(n)
    log_qzu = logsumexp(pairwise, axis=1) - np.log(n)
    log_concrete = latent.prior(tf.float64).parts[1].log_prob(z[:, 3:]).numpy()[:, 0]
    log_normal_units = stats.norm.logpdf(z.numpy()[:, :3])
    log_pzu = np.column_stack([log_normal_units, log_concrete])
    log_pz = log_pzu.sum(1)                                       # a factorised prior: p(z) = Π_u p(z_u)
    marginal_kl = np.mean(log_qz - log_pz)
    index_code_mi = np.mean(own.sum(1) - log_qz)
    dimwise_kl = np.sum(np.mean(log_qzu - log_pzu, axis=0))
    between = -np.mean(log_qz - log_qzd.sum(1))                   # Ⓐ: the prior part is 0
    within = -sum(np.mean(log_qzd[:, d] - log_qzu[:, g].sum(1)) for d, g in enumerate(groups))
    answer = [marginal_kl, index_code_mi, dimwise_kl, between, within]
    assert course.check("08.2", answer) == "right"
    assert marginal_kl == pytest.approx(-between - within + dimwise_kl, abs=1e-10)


def test_chapter_11_answers_from_a_numerical_minimum_and_a_covariance_determinant():
    # 11.1: minimise the KL of an unused dimension plus a penalty on the standard deviation, numerically
    def unused_dimension_loss(sigma, eta):
        return 0.5 * (sigma**2 - 1.0 - 2.0 * np.log(sigma)) + eta * sigma

    found = [optimize.minimize_scalar(unused_dimension_loss, bounds=(1e-6, 3.0), args=(eta,), method="bounded",
                                      options={"xatol": 1e-12}).x ** 2 for eta in (10.0, 1.0)]
    assert course.check("11.1", found) == "right"
    assert course.check("11.1", found[::-1]) == "wrong"
    assert course.check("11.1", [1 / 21, 1 / 3]) == "wrong"            # the variance penalty's optimum, not this one
    # 11.2: the TC of z's covariance [[1 + s1², ρ], [ρ, 1 + s2²]] from its determinant, at ρ close to 1
    rho = 1.0 - 1e-10
    covariance = np.array([[2.0, rho], [rho, 1.01]])
    tc = 0.5 * (np.log(2.0) + np.log(1.01) - np.linalg.slogdet(covariance)[1])
    assert course.check("11.2", tc) == "right"
    assert course.check("11.2", -0.5 * np.log(1.0 - 1.0 / 1.01**2)) == "wrong"   # both scales 0.1


def test_import_does_not_load_tensorflow():
    code = "import sys, refvae.course; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
