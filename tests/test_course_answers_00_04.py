"""The answers of exercises 00.2, 02.2, 03.2 and 04.3, each reached by a computation independent of the
function that registers it (Monte Carlo, scipy's densities, a direct minimisation), and the guesses a
student could make from the chapter's text marked wrong."""

import math

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.decomposition import PCA

from refvae import course
from refvae.data import digits


def test_00_2_standard_error_of_the_reverse_kl_by_monte_carlo():
    # KL(N(0, 1) || N(1, 0.5^2)) estimated from 80,000 draws of N(0, 1): its standard error, measured
    x = np.random.default_rng(11).standard_normal(80_000)
    f = stats.norm(0.0, 1.0).logpdf(x) - stats.norm(1.0, 0.5).logpdf(x)
    measured = f.std(ddof=1) / math.sqrt(x.size)
    assert abs(measured / math.sqrt(20.5 / 80_000) - 1) < 0.02
    assert course.check("00.2", measured) == "right"
    assert course.check("00.2", 0.5) == "wrong"            # the ratio SE(4n)/SE(n), the old answer
    assert course.check("00.2", 2 * measured) == "wrong"   # the standard error of n = 20,000 draws


def test_02_2_baseline_of_a_gaussian_decoder_that_ignores_z_by_scipy():
    pixels = digits().x_train.reshape(len(digits().x_train), -1).astype(np.float64)
    means = pixels.mean(axis=0)
    baseline = stats.norm(means, 0.1).logpdf(pixels).sum(axis=1).mean()
    assert course.check("02.2", baseline) == "right"
    assert course.check("02.2", -math.log(0.1) - 0.5 * math.log(2 * math.pi)) == "wrong"   # one pixel's maximum
    assert course.check("02.2", 64 * (-math.log(0.1) - 0.5 * math.log(2 * math.pi))) == "wrong"  # no squared error


@pytest.mark.slow
def test_03_2_rate_of_the_capacity_optimum_by_direct_minimisation():
    first_pc = PCA(1, random_state=0).fit_transform(digits().x_train.reshape(len(digits().x_train), -1))[:, 0]
    x = first_pc / first_pc.std()
    w, s, capacity, gamma = 0.9, 0.45, 0.5, 1.5

    def objective(params):
        # distortion + gamma |rate - C| over a per-point encoder family m = a x, sigma^2 = v (a, log v free)
        a, log_v = params
        m, v = a * x, math.exp(log_v)
        distortion = np.mean(((x - w * m) ** 2 + w**2 * v) / (2 * s**2)) + 0.5 * math.log(2 * math.pi * s**2)
        rate = np.mean(0.5 * (m**2 + v - 1 - log_v))
        return distortion + gamma * abs(rate - capacity), rate

    best = optimize.minimize(lambda p: objective(p)[0], x0=[0.5, -1.0], method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    rate = objective(best.x)[1]
    assert rate > capacity + 0.05                           # gamma < beta_C: the capacity does not hold
    assert course.check("03.2", rate) == "right"
    assert course.check("03.2", capacity) == "wrong"


@pytest.mark.slow
def test_04_3_two_point_total_correlation_by_monte_carlo():
    sigma, n = 0.7, 400_000
    rng = np.random.default_rng(5)
    centres = rng.choice([-1.0, 1.0], size=n)[:, None] * np.ones(2)
    z = centres + sigma * rng.standard_normal((n, 2))
    log_joint = np.logaddexp(stats.norm(1, sigma).logpdf(z).sum(axis=1),
                             stats.norm(-1, sigma).logpdf(z).sum(axis=1)) - math.log(2)
    log_marginals = (np.logaddexp(stats.norm(1, sigma).logpdf(z), stats.norm(-1, sigma).logpdf(z)) - math.log(2)).sum(axis=1)
    per_sample = log_joint - log_marginals
    tc, standard_error = per_sample.mean(), per_sample.std(ddof=1) / math.sqrt(n)
    assert abs(tc - course._REGISTRY["04.3"].expected()) < 4 * standard_error
    assert 0 < tc < math.log(2)                              # below the TC of the means
    assert course.check("04.3", tc) == "right"
    assert course.check("04.3", math.log(2) / 2) == "wrong"
