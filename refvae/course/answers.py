"""The expected answers of the course's exercises, chapter by chapter (00 to 13).

Each chapter's exercises are registered with ``refvae.course.checker.register`` when this
module is imported (``import refvae.course`` does it). An expected value is computed from a
closed form or from refvae on the first check of its exercise and cached; the functions
import what they need when they are called, so importing the course loads NumPy only.
"""

import math
import types

import numpy as np

from refvae.course.checker import register

__all__ = ["DSPRITES_SIZE", "GMM_TOY", "refvae_digits_pixels"]


# ---------------------------------------------------------------------------------------
# Chapter 00 · setup. The worked example: q = N(1, 0.5^2) (an encoder's posterior) against
# the prior p = N(0, 1).

def _normal_kl(loc0: float, scale0: float, loc1: float, scale1: float) -> float:
    """KL(N(loc0, scale0^2) || N(loc1, scale1^2)) in nats (chapter 00's derivation)."""
    return math.log(scale1 / scale0) + (scale0**2 + (loc0 - loc1) ** 2) / (2.0 * scale1**2) - 0.5


register(
    "00.0",
    lambda: _normal_kl(1.0, 0.5, 0.0, 1.0),
    rtol=1e-3,
    close_rtol=5e-2,
    hint="KL(q || p) takes the expectation under q, the first argument",
    description="demo: KL(N(1, 0.5^2) || N(0, 1)) in nats",
)
register(
    "00.1",
    lambda: _normal_kl(0.0, 1.0, 1.0, 0.5),
    rtol=1e-3,
    close_rtol=5e-2,
    hint="swap the roles of the two Gaussians everywhere in the formula, including log(sigma1/sigma0)",
    description="the reverse direction KL(N(0, 1) || N(1, 0.5^2)) in nats",
)


def _reverse_kl_standard_error(num_samples: int = 80_000) -> float:
    """sd(f) / sqrt(n) for f = log N(x; 0, 1) − log N(x; 1, 0.5²), x ~ N(0, 1): the standard error of
    the Monte Carlo estimate of exercise 00.1's KL. f = 1.5 x² − 4 x + const, so
    Var f = 1.5² Var(x²) + 4² Var(x) = 1.5² · 2 + 16 = 20.5 (Cov(x², x) = 0)."""
    return math.sqrt((1.5**2 * 2.0 + 4.0**2) / num_samples)


register(
    "00.2",
    _reverse_kl_standard_error,
    # a measured standard error deviates from sd(f)/sqrt(n) by under 1 % at n = 80,000 (20 seeds)
    rtol=0.03,
    close_rtol=0.15,
    hint="the standard error is sd(f)/sqrt(n) with f = log q(x) − log p(x), x drawn from the FIRST argument, "
    "N(0, 1), and n = 80,000",
    description="standard error (nats) of the Monte Carlo KL(N(0, 1) || N(1, 0.5^2)) from 80,000 samples",
)


# ---------------------------------------------------------------------------------------
# Chapter 01 · probabilistic models. A two-component 1-D mixture and one observation.

# Read-only, so that an answer cannot be "right" because the exercise's data were edited.
GMM_TOY = types.MappingProxyType({
    "weights": (0.3, 0.7),
    "locs": (-1.0, 2.0),
    "scales": (1.0, 0.5),
    "x": 0.5,
})


def _gmm_toy_log_joint() -> np.ndarray:
    """log p(x, z = k) = log pi_k + log N(x; mu_k, sigma_k^2) for the toy mixture, [K]."""
    weights, locs, scales = (np.asarray(GMM_TOY[key]) for key in ("weights", "locs", "scales"))
    log_likelihood = (
        -0.5 * np.log(2.0 * np.pi * scales**2) - (GMM_TOY["x"] - locs) ** 2 / (2.0 * scales**2)
    )
    return np.log(weights) + log_likelihood


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits)
    return shifted - np.log(np.sum(np.exp(shifted)))


def _gmm_toy_posterior() -> np.ndarray:
    """p(z | x) for the toy mixture (003 eq 2.30: the E-step)."""
    return np.exp(_log_softmax(_gmm_toy_log_joint()))


def _gmm_toy_gap_of_prior() -> float:
    """log p(x) - ELBO(q = pi) = KL(pi || p(z | x)) (003 eq 2.23)."""
    prior = np.asarray(GMM_TOY["weights"])
    log_posterior = _log_softmax(_gmm_toy_log_joint())
    return float(np.sum(prior * (np.log(prior) - log_posterior)))


def _gmm_toy_beta_posterior(beta: float = 4.0) -> np.ndarray:
    """argmax_q E_q[log p(x|z)] - beta KL(q || pi) = softmax(log pi + log p(x|z) / beta)."""
    log_prior = np.log(np.asarray(GMM_TOY["weights"]))
    log_likelihood = _gmm_toy_log_joint() - log_prior
    return np.exp(_log_softmax(log_prior + log_likelihood / beta))


register(
    "01.1",
    _gmm_toy_posterior,
    rtol=1e-3,
    close_rtol=5e-2,
    hint="responsibilities are proportional to pi_k N(x; mu_k, sigma_k^2) and sum to 1; "
    "N takes the variance sigma^2, not sigma",
    description="responsibilities p(z | x) of the toy mixture at x = 0.5, shape [2]",
)
register(
    "01.2",
    _gmm_toy_gap_of_prior,
    rtol=1e-3,
    close_rtol=5e-2,
    hint="the gap is log p(x) minus the ELBO, and it is a KL divergence, so it is >= 0",
    description="log p(x) - ELBO(q) at x = 0.5 when q(z) is the prior pi",
)
register(
    "01.3",
    _gmm_toy_beta_posterior,
    rtol=1e-3,
    close_rtol=5e-2,
    hint="the maximiser is a softmax; only the log-likelihood term is divided by beta",
    description="the q maximising E_q[log p(x|z)] - 4 KL(q || pi) at x = 0.5, shape [2]",
)


# ---------------------------------------------------------------- chapters 04 and 05

def _bisect(function, low, high, tolerance=1e-13):
    """The root of a continuous ``function`` that changes sign on [low, high], by bisection."""
    f_low = function(low)
    while high - low > tolerance:
        middle = 0.5 * (low + high)
        if (function(middle) > 0) == (f_low > 0):
            low, f_low = middle, function(middle)
        else:
            high = middle
    return 0.5 * (low + high)


def _information_equals_marginal_kl() -> float:
    """σ > 0 where I(x; z) = KL(q(z) ‖ p(z)) for x ~ N(0, 1), q(z|x) = N(x, σ²), p = N(0, 1)."""
    def information_minus_marginal_kl(sigma):
        return 0.5 * math.log(1.0 + 1.0 / sigma**2) - 0.5 * (sigma**2 - math.log(1.0 + sigma**2))

    return _bisect(information_minus_marginal_kl, 0.1, 5.0)


register(
    "04.1",
    _information_equals_marginal_kl,
    rtol=1e-3,
    close_rtol=0.05,
    hint="I(x; z) = ½ log(1 + 1/σ²) and q(z) = N(0, 1 + σ²); solve I = KL(q(z) ‖ p(z)) numerically",
    description="the σ at which I(x; z) equals KL(q(z) ‖ p(z)) for x ~ N(0, 1), q(z|x) = N(x, σ²)",
)
def _two_point_tc(sigma: float = 0.7) -> float:
    """TC(z) = E_q[log q(z) − log q(z_1) − log q(z_2)] of q(z) = ½ N((1, 1), σ² I) + ½ N((−1, −1), σ² I),
    the aggregate posterior of chapter 04's exercise 3, by quadrature on a grid of spacing 0.01 over [−10, 10]²."""
    from scipy.stats import norm

    axis = np.linspace(-10.0, 10.0, 2001)
    z1, z2 = np.meshgrid(axis, axis, indexing="ij")
    log_q = np.logaddexp(norm.logpdf(z1, 1, sigma) + norm.logpdf(z2, 1, sigma),
                         norm.logpdf(z1, -1, sigma) + norm.logpdf(z2, -1, sigma)) - math.log(2.0)
    log_marginal = np.logaddexp(norm.logpdf(axis, 1, sigma), norm.logpdf(axis, -1, sigma)) - math.log(2.0)
    integrand = np.exp(log_q) * (log_q - log_marginal[:, None] - log_marginal[None, :])
    return float(np.sum(integrand) * (axis[1] - axis[0]) ** 2)


register(
    "04.3",
    _two_point_tc,
    # a Monte Carlo estimate with 10^5 samples has a standard error of about 0.5 %
    rtol=0.01,
    close_rtol=0.05,
    hint="q(z) is a mixture of two Gaussians and so is each marginal q(z_d); TC(z) = E_q[log q(z) − Σ_d log q(z_d)]",
    description="TC(z) (nats) of the codes of the two-point data set (1, 1), (−1, −1) under q(z|x) = N(x, 0.7² I)",
)
# 05.1: TC = Σ_d I(z_d; n) − I(z; n). At D = 16, σ = 0.1 the N components do not overlap, so I(z; n) sits at
# its ceiling log N, while the one-dimensional marginals overlap and keep their I(z_d; n): going from N = 100,000
# to 10,000 raises the TC by log 10 (measured with mixture_total_correlation, M = 4,000: 2.27; the marginals of
# the two data sets differ by 0.03 nats).
register(
    "05.1",
    lambda: math.log(10.0),
    rtol=0.05,
    close_rtol=0.3,
    hint="which of the two terms of TC = Σ_d I(z_d; n) − I(z; n) is held at a ceiling that depends on N?",
    description="N-point mixture TC at N = 10,000 minus at N = 100,000 (D = 16, ρ = 0.5, σ = 0.1)",
)
register(
    "05.2",
    lambda: 16 / 15 - 2 / 1000,
    rtol=1e-4,
    close_rtol=0.02,
    hint="a stride of B walks down a column; one row gets (N − B + 1)/(N (B − 1)) twice",
    description="the largest row sum of the published MSS weight matrix for B = 16, N = 1000",
)
register(
    "05.4",
    lambda: math.log(2.0),
    rtol=0.1,
    close_rtol=0.3,
    hint="the Bayes classifier's logit includes the log prior odds",
    description="|shift| of the density-ratio TC estimate when the discriminator sees twice as many permuted samples",
)


# ---------------------------------------------------------------- chapters 02 and 03


def _binarised_digits():
    import refvae.data

    return refvae.data.digits().x_train.reshape(-1, 64) > 0.5


def _sum_of_pixel_entropies() -> float:
    """Σ_i H(x_i) of the binarised digits' training pixels (nats): the distortion of a code
    that carries no information, the β → ∞ end of the rate–distortion curve."""
    p = _binarised_digits().mean(axis=0)
    p = p[(p > 0) & (p < 1)]
    return float(-(p * np.log(p) + (1 - p) * np.log1p(-p)).sum())


def _toy_terms(beta: float) -> tuple[float, float]:
    """(distortion, rate) in nats per data point of chapter 03's linear toy at the closed-form β-VAE
    optimum m* = w x / (w² + β s²), σ*² = β s² / (w² + β s²), with w = 0.9, s = 0.45 and x the
    first principal-component scores of the training digits, scaled to unit variance."""
    from sklearn.decomposition import PCA

    x = PCA(1, random_state=0).fit_transform(refvae_digits_pixels()).ravel()
    x = x / x.std()
    w, s = 0.9, 0.45
    m = w * x / (w**2 + beta * s**2)
    var = beta * s**2 / (w**2 + beta * s**2)
    distortion = np.mean(((x - w * m) ** 2 + w**2 * var) / (2 * s**2)) + 0.5 * math.log(2 * math.pi * s**2)
    return float(distortion), float(np.mean(0.5 * (m**2 + var - 1 - np.log(var))))


def _toy_capacity_rate(capacity: float = 0.5, gamma: float = 1.5) -> float:
    """The rate (nats) at the optimum of Δ + γ|R − C| on chapter 03's linear toy: C when γ ≥ β_C (the β
    whose β-VAE optimum has rate C, found by bisection on log β), else the rate of the β-VAE with β = γ."""
    from scipy.optimize import brentq

    beta_c = math.exp(brentq(lambda log_beta: _toy_terms(math.exp(log_beta))[1] - capacity,
                             math.log(1e-4), math.log(1e4)))
    return capacity if gamma >= beta_c else _toy_terms(gamma)[1]


def refvae_digits_pixels() -> np.ndarray:
    """The pixels of refvae's digits training images, one row of 64 values per 8x8 image."""
    import refvae.data

    return refvae.data.digits().x_train.reshape(-1, 64)


register(
    "02.1",
    lambda: 8 * 1.0**2 + 10 * 0.5**2,
    rtol=0.05,
    close_rtol=0.2,
    hint="subtract the baseline before multiplying by (z − μ)/σ²; you need E ε⁶ = 15",
    description="variance of the score-function gradient with the optimal constant baseline, μ = 1, σ = 0.5",
)
def _gaussian_decoder_baseline(scale: float = 0.1) -> float:
    """The reconstruction term (nats per image, mean over the grey training digits) of the best Gaussian
    decoder of fixed ``scale`` that ignores z: each pixel predicted by its training mean x̄_p, so
    −Σ_p Var(x_p) / (2 s²) − P (log s + ½ log 2π), with the variance over the N training images."""
    pixels = refvae_digits_pixels().astype(np.float64)
    return float(-pixels.var(axis=0).sum() / (2.0 * scale**2)
                 - pixels.shape[1] * (math.log(scale) + 0.5 * math.log(2.0 * math.pi)))


register(
    "02.2",
    _gaussian_decoder_baseline,
    rtol=2e-3,
    close_rtol=0.05,
    hint="the best mean that ignores z is each pixel's training mean; the squared error then averages to each "
    "pixel's variance; sum over the 64 pixels and include the normalising constant −log s − ½ log 2π per pixel",
    description="reconstruction term (nats per image) of the best z-ignoring Gaussian decoder, s = 0.1, grey training digits",
)
register(
    "03.1",
    _sum_of_pixel_entropies,
    rtol=1e-3,
    close_rtol=0.05,
    hint="a pixel that is always 0 or always 1 contributes 0",
    description="distortion (nats) of a β-VAE whose code carries no information, binarised digits",
)
register(
    "03.2",
    _toy_capacity_rate,
    rtol=1e-3,
    close_rtol=0.05,
    hint="compare γ with β_C, the β whose optimum has rate C (bisection on log β); when γ < β_C the optimum "
    "is the β-VAE with β = γ",
    description="the rate (nats) of the optimum of Δ + γ|R − C| on chapter 03's linear toy, C = 0.5, γ = 1.5",
)


# ---------------------------------------------------------------- chapters 07, 09 and 10


def _equicorrelated_tc(dimensions: int = 10, rho: float = 0.5) -> float:
    """TC of N(0, R), R with unit diagonal and all correlations ρ: −½ log det R, det R = (1 + (D − 1)ρ)(1 − ρ)^(D − 1)."""
    import refvae.info

    correlation = np.full((dimensions, dimensions), rho) + (1.0 - rho) * np.eye(dimensions)
    return float(refvae.info.gaussian_total_correlation(correlation))


def _corex_gaussian_l() -> float:
    """L = Σ_i I(x_i; z) − I(z; x) for chapter 09's three-variable Gaussian with a 1-D code."""
    import refvae.info

    cov = np.full((4, 4), 1.0)
    cov[[0, 1, 2], [0, 1, 2]] = 1.5
    cov[:3, 3] = cov[3, :3] = 3.5 / 3
    cov[3, 3] = 10.5 / 9 + 0.1
    mi = refvae.info.gaussian_mutual_information
    return float(sum(mi(cov, [i], [3]) for i in range(3)) - mi(cov, [3], [0, 1, 2]))


def _bayes_discriminator_accuracy() -> float:
    """½ ∫ max(q(z), q(z_1) q(z_2)) dz for q = N(0, [[1, 0.8], [0.8, 1]]), by quadrature on a grid."""
    axis = np.linspace(-8.0, 8.0, 1601)
    z1, z2 = np.meshgrid(axis, axis, indexing="ij")
    rho = 0.8
    log_joint = (-0.5 * (z1**2 - 2 * rho * z1 * z2 + z2**2) / (1 - rho**2)
                 - math.log(2 * math.pi) - 0.5 * math.log(1 - rho**2))
    log_product = -0.5 * (z1**2 + z2**2) - math.log(2 * math.pi)
    return float(0.5 * np.sum(np.exp(np.maximum(log_joint, log_product))) * (axis[1] - axis[0]) ** 2)


register(
    "07.1",
    _bayes_discriminator_accuracy,
    rtol=5e-3,
    close_rtol=0.05,
    hint="the Bayes classifier says 'joint' where q(z) > q(z_1) q(z_2); its accuracy is ½ ∫ max(q, Π_j q_j) dz",
    description="the best possible accuracy of a discriminator between q(z) and Π_j q(z_j), 2-D Gaussian, ρ = 0.8",
)
register(
    "07.2",
    _equicorrelated_tc,
    rtol=1e-3,
    close_rtol=0.15,
    hint="a Gaussian's TC depends only on its correlation matrix R: −½ log det R; R = (1 − ρ)I + ρ11ᵀ has two distinct eigenvalues",
    description="TC of a 10-D Gaussian with unit variances and all correlations 0.5",
)
register(
    "09.1",
    _corex_gaussian_l,
    rtol=1e-3,
    close_rtol=0.05,
    hint="build the 4×4 covariance of (x1, x2, x3, z); L = Σ_i I(x_i; z) − I(z; x); a 1-D code has TC(z) = 0",
    description="the CorEx objective L of chapter 09's Gaussian example",
)
register(
    "10.1",
    lambda: 0.5 * math.log(4),
    rtol=1e-3,
    close_rtol=0.05,
    hint="E[(z − x)²] is the noise variance; H(z) = ½ log(2πe) for z ~ N(0, 1)",
    description="the InfoMax bound of chapter 10's 1-D Gaussian pair with the guessed Q(z|x) = N(x, 0.25)",
)


# ---------------------------------------------------------------- chapters 06, 08 and 11


def _hfvae_check2_terms_with_factorised_prior() -> np.ndarray:
    """Chapter 08, Check 2 rebuilt with ``prior_cov = I``: the five printed terms, in order
    (marginal_kl, index_code_mi, dimwise_kl, Ⓐ, Σ ⓘ), nats per data point (002 Fig 3)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    import refvae.decompositions
    import refvae.latents

    tfd = tfp.distributions
    latent = refvae.latents.Grouped([refvae.latents.DiagonalGaussian(3), refvae.latents.Concrete(4, temperature=0.67)])
    num_points = 6
    params = tf.constant(np.random.default_rng(7).normal(size=(num_points, latent.param_size)), tf.float64)
    posterior = latent.posterior(params)
    z = latent.sample(posterior, seed=11)
    gaussian_prior = tfd.MultivariateNormalDiag(tf.zeros(3, tf.float64))
    concrete_prior = latent.prior(tf.float64).parts[1]
    unit_prior = refvae.latents.GroupedDistribution([tfd.Normal(tf.zeros(3, tf.float64), 1.0), concrete_prior], [3, 4])

    def prior_group_log_prob(codes, d):
        return gaussian_prior.log_prob(codes[:, :3]) if d == 0 else concrete_prior.log_prob(codes[:, 3:])[:, 0]

    terms = refvae.decompositions.hfvae_decomposition(
        z, posterior, unit_prior, num_points, "exact", groups=latent.groups,
        prior_log_prob=lambda codes: prior_group_log_prob(codes, 0) + prior_group_log_prob(codes, 1),
        prior_group_log_prob=prior_group_log_prob)
    values = [terms["marginal_kl"], terms["index_code_mi"], terms["dimwise_kl"],
              terms["prior_between_group_tc"] - terms["between_group_tc"],
              terms["prior_within_group_tc"] - terms["within_group_tc"]]
    return np.array([float(v) for v in values])


def _std_penalty_optimal_variance(eta: float) -> float:
    """σ² minimising ½(σ² − 1 − log σ²) + η σ (an unused dimension, the penalty on σ instead of 004 eq 4's σ²):
    σ² + η σ − 1 = 0, σ = (√(η² + 4) − η) / 2."""
    return ((math.sqrt(eta**2 + 4.0) - eta) / 2.0) ** 2


def _two_scale_tc_bound(scale_1: float, scale_2: float) -> float:
    """sup over ρ of TC(z) for z = μ + (s₁ε₁, s₂ε₂), μ ~ N(0, [[1, ρ], [ρ, 1]]) (chapter 11, 004 Thm 1):
    −½ log(1 − 1/((1 + s₁²)(1 + s₂²)))."""
    return -0.5 * math.log(1.0 - 1.0 / ((1.0 + scale_1**2) * (1.0 + scale_2**2)))


# Chapter 06 · β-TCVAE. 06.2: with no overlap between posteriors, a batch estimate of
# log q(z_i) keeps only the own-sample term W_ii q(z_i | x_i), so the estimated index-code MI
# E[log q(z|x) − log q̂(z)] is the batch mean of −log W_ii: 1/(N B) for MWS (001 eq 3); for MSS0
# (the published placement, chapter 05) W_00 = 1/N, W_11 = (N − B + 1)/(N (B − 1)) and W_ii = 1/(B − 1) for i ≥ 2.
DSPRITES_SIZE = 737_280


def _mss0_index_code_mi_ceiling(batch_size: int, dataset_size: int = DSPRITES_SIZE) -> float:
    """Mean over the rows of −log W_ii for MSS0's weight matrix (B = batch_size, N = dataset_size)."""
    others = batch_size - 1
    return (math.log(dataset_size) + math.log(dataset_size * others / (dataset_size - others))
            + (batch_size - 2) * math.log(others)) / batch_size


register(
    "06.2",
    lambda: np.array([math.log(DSPRITES_SIZE * 256), _mss0_index_code_mi_ceiling(256), _mss0_index_code_mi_ceiling(64)]),
    rtol=1e-3,
    close_rtol=0.05,
    hint="with no overlap only the own-sample weight W_ii survives in log q̂(z_i); read it off each row of the weight matrix",
    description="ceiling of the batch index_code_mi at N = 737,280: [MWS B = 256, MSS0 B = 256, MSS0 B = 64] (nats)",
)


def _noisy_duplicate_pos_x_gap() -> float:
    """Chapter 06, exercise 3: the pos_x gap of the histogram MIG after appending a noisy copy
    (noise N(0, 2²) positions) of the pos_x code to the identity code of 10,000 factor draws."""
    from refvae import metrics

    sizes = (3, 6, 40, 32, 32)   # dSprites: shape, scale, orientation, pos_x, pos_y
    factors = np.random.default_rng(0).integers(0, sizes, size=(10_000, 5))
    noisy = factors[:, 3] + np.random.default_rng(1).normal(0.0, 2.0, 10_000)
    codes = np.column_stack([factors.astype(np.float64), noisy])
    return float(metrics.mig(codes, factors)["per_factor"][3])


register(
    "06.3",
    _noisy_duplicate_pos_x_gap,
    rtol=1e-3,
    close_rtol=0.1,
    hint="MIG's gap for pos_x is (best I − second best I) / H(pos_x); the noisy copy is now the second best",
    description="the pos_x gap of the histogram MIG after appending a noisy (sd 2) copy of pos_x to the identity code",
)
register(
    "08.2",
    _hfvae_check2_terms_with_factorised_prior,
    rtol=1e-6,
    close_rtol=0.05,
    atol=1e-6,
    hint="only the terms that contain the prior's joint density of the Normal group can move",
    description="chapter 08's Check 2 with prior_cov = I: [marginal_kl, index_code_mi, dimwise_kl, Ⓐ, Σ ⓘ]",
)
register(
    "11.1",
    lambda: np.array([_std_penalty_optimal_variance(10.0), _std_penalty_optimal_variance(1.0)]),
    rtol=1e-3,
    close_rtol=0.05,
    hint="write the KL of an unused dimension and the penalty η σ as functions of σ and set the derivative to 0",
    description="the posterior variance σ² of an unused dimension under a penalty η Σ_d E_n[σ_d] on the standard "
                "deviations, for [eta = 10, eta = 1]",
)
register(
    "11.2",
    lambda: _two_scale_tc_bound(1.0, 0.1),
    rtol=1e-3,
    close_rtol=0.05,
    hint="the correlation of z is ρ/√((1 + s₁²)(1 + s₂²)); let ρ → 1 in the two-dimensional Gaussian TC",
    description="the bound C on TC(z) of chapter 11's constant-scale family with scales s₁ = 1 and s₂ = 0.1",
)


# ---------------------------------------------------------------- chapter 12


def _identity_mig_10_bins() -> float:
    """Histogram MIG of the identity code of dSprites with 10 bins, in the large-N limit."""
    ratios = []
    for size in (3, 6, 40, 32, 32):
        values = np.arange(size, dtype=float)
        counts = np.bincount(np.digitize(values, np.histogram_bin_edges(values, bins=10)[:-1]))
        p = counts[counts > 0] / size
        ratios.append(-np.sum(p * np.log(p)) / math.log(size))
    return float(np.mean(ratios))


def _dci_of_a_code_held_three_times() -> np.ndarray:
    """DCI [disentanglement, completeness] of dSprites' identity code with pos_x held by three codes (D = 7), when
    the importance of pos_x splits evenly over its three copies (gradient boosting breaks ties at random): each code
    serves one factor (disentanglement 1); pos_x's importance spreads evenly over 3 of 7 codes, so its completeness is
    1 − log 3 / log 7 and the others' 1, each factor weighing 1/5."""
    return np.array([1.0, 1.0 - math.log(3) / (5 * math.log(7))])


def _variance_shares_of_noise() -> np.ndarray:
    """Expected [objective, hyperparameter, seed] shares of the sum of squares when every score of the six-objectives
    study (6 objectives x 3 values x 5 seeds = 90 models) is an independent draw of one normal distribution: the three
    sums of squares are independent σ² χ² variables with 6 − 1, 6 (3 − 1) and 18 (5 − 1) degrees of freedom (Cochran's
    theorem), so each share is Beta distributed with mean its degrees of freedom over the 89 of the total."""
    objectives, values, seeds = 6, 3, 5
    freedom = np.array([objectives - 1, objectives * (values - 1), objectives * values * (seeds - 1)], dtype=float)
    return freedom / freedom.sum()


register(
    "12.1",
    _identity_mig_10_bins,
    rtol=0.02,
    close_rtol=0.1,
    hint="a code that is a function of the factor has I(b; v) = H(b); count the factor values in each of the 10 bins",
    description="histogram MIG of the identity code of dSprites with num_bins = 10 (large N)",
)
register(
    "12.2",
    _dci_of_a_code_held_three_times,
    rtol=0.03,
    close_rtol=0.1,
    hint="disentanglement asks how each code spreads over the factors, completeness how each factor spreads over the "
         "codes (entropy base D = 7); how do three identical codes share the splits?",
    description="DCI [disentanglement, completeness] with gradient boosting of the identity code with pos_x held by "
                "three codes",
)
register(
    "12.3",
    _variance_shares_of_noise,
    rtol=0.05,
    close_rtol=0.25,
    hint="count the independent deviations (degrees of freedom) each sum of squares is made of: between 6 objective "
         "means, between 3 values within each objective, between 5 seeds within each setting",
    description="expected [objective, hyperparameter, seed] shares of variance_shares for 90 models of pure noise "
                "(6 objectives x 3 values x 5 seeds)",
)


# ---------------------------------------------------------------- chapter 13


def _sap_r2_correlated() -> float:
    """SAP (R²) of dSprites' identity code as N → ∞ with orientation and pos_y coupled at strength −0.6: the two coupled
    factors' top-two gaps are 1 − c² (c the index correlation; its sign does not enter), the other three 1."""
    from refvae.data import correlated, dsprites

    correlation = correlated(dsprites(), "orientation", "pos_y", strength=-0.6).correlation
    return (3 + 2 * (1 - correlation**2)) / 5


register(
    "13.1",
    _sap_r2_correlated,
    rtol=0.02,
    close_rtol=0.1,
    hint="only orientation and pos_y have a second code with non-zero R²; that R² is the squared index correlation",
    description="SAP (R²) of the identity code with orientation and pos_y correlated at strength -0.6",
)
register(
    "13.2",
    lambda: 0.4,
    rtol=0.03,
    close_rtol=0.1,
    hint="holding any one of the four mixed factors fixed leaves all four codes the same normalised variance; the "
         "majority vote maps each code to one factor, whatever its choice",
    description="FactorVAE score of dSprites' identity code with its last four (standardised) codes mixed by a 4 x 4 "
                "Hadamard matrix",
)
