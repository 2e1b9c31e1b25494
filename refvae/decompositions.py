r"""Named terms of the ELBO: every decomposition of the five papers, in nats per data point.

Notation: q(z|x) the encoder, q(z) = (1/N) Σ_n q(z|x_n) the aggregate posterior, p(z)
the prior, and for a batch of B points with samples z_i ~ q(z|x_i) every expectation is
the batch mean. All names are positive quantities (docs/ARCHITECTURE.md, Conventions):

    kl           = E[log q(z|x) − log p(z)]                      (the KL of the ELBO, MC form)
    index_code_mi = E[log q(z|x) − log q(z)]     = I_q(x; z)      (Hoffman & Johnson 2016; 003 eq 4.23; HFVAE ②)
    marginal_kl  = E[log q(z) − log p(z)]       = KL(q(z) ‖ p(z)) (HFVAE ④)
    total_correlation = E[log q(z) − Σ_d log q(z_d)]              (001 eq 2)
    dimwise_kl   = E[Σ_d log q(z_d) − log p(z_d)]                (001 eq 2)

    kl = index_code_mi + marginal_kl                             (003 eq 4.23)
       = index_code_mi + total_correlation + dimwise_kl          (001 eq 2, factorised prior)

Because every term is a difference of the *same* log-densities evaluated at the *same*
samples, the identities hold exactly for the estimates too (to floating-point rounding),
whatever estimator of log q(z) is used; what the estimator changes is how close each term
is to its true value (see ``refvae.estimators``).

With ``log_px_given_z`` (log p(x_i | z_i), [B]) the terms also hold
``reconstruction = E[log p(x|z)]`` and ``elbo = reconstruction − kl``; HFVAE's ① + ③ is
the reconstruction up to the constant entropy of the data (002 §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import tensorflow as tf
from numpy.typing import ArrayLike

from refvae import checks, estimators, latents
from refvae import terms as extra_terms

# The terms each decomposition a model can train on returns, with ``log_px_given_z`` given.
# (``hfvae_decomposition`` gives no "kl_per_dim"; a model computes it with
# ``refvae.terms.kl_per_dim`` when its objective names it.)
TERMS = {
    "tc": frozenset({"reconstruction", "elbo", "kl", "index_code_mi", "marginal_kl", "total_correlation",
                     "dimwise_kl", "kl_per_dim"}),
    "hfvae": frozenset({"reconstruction", "elbo", "kl", "index_code_mi", "marginal_kl", "between_group_tc",
                        "prior_between_group_tc", "within_group_tc", "prior_within_group_tc", "dimwise_kl"}),
    "kl": frozenset({"reconstruction", "elbo", "kl", "kl_per_dim"}),
}

if TYPE_CHECKING:
    from tensorflow_probability import distributions as tfd


def _mean(values):
    return tf.reduce_mean(values)


def _check_finite(tensor, message, check=True):
    """``tensor``, checked finite: a ValueError when eager, a ``tf.debugging`` assertion
    (InvalidArgumentError when the graph runs) inside ``tf.function``."""
    if not check:
        return tensor
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(tensor))):
            raise ValueError(message)
        return tensor
    return tf.debugging.assert_all_finite(tensor, message)


def _checked_inputs(z, posterior, prior, check_finite=True):
    """z as a tensor, checked with the distributions before any density is evaluated.

    Dtypes are compared always (statically: free in a graph). With ``check_finite``, when
    eager, the parameters of both distributions are checked finite (and scales > 0), each
    named; inside ``tf.function`` that is left to the assertions on the log densities.
    """
    z = latents.real_tensor(z, "z")
    if z.shape.rank != 2:
        raise ValueError(f"z must have shape [B, event size], got {z.shape}")
    latents.check_dtype("z", z.dtype, posterior, "posterior")
    latents.check_dtype("prior", latents.distribution_dtype(prior), posterior, "posterior")
    if check_finite:
        latents.check_parameters(posterior, "posterior")
        latents.check_parameters(prior, "prior")
    return _check_finite(z, "z holds NaN or infinite values", check_finite)


def _log_densities(z, posterior, prior, dataset_size, method, groups=None, chunk_size=None, check_finite=True,
                   checked=False):
    checks.dataset_size(dataset_size)
    if not checked:
        z = _checked_inputs(z, posterior, prior, check_finite)
    log_qz_x_units = posterior.log_prob(z)
    try:
        log_pz_units = prior.log_prob(z)
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ValueError(f"prior must be a distribution over the units of z [B, {z.shape[-1]}]: {error}") from None
    if log_qz_x_units.shape.rank != 2:
        raise ValueError(
            f"posterior.log_prob(z) must give per-unit log densities [B, D], got shape {log_qz_x_units.shape}"
        )
    if log_pz_units.shape.rank != 2 or (
        log_pz_units.shape[-1] is not None and log_pz_units.shape[-1] != log_qz_x_units.shape[-1]
    ):
        raise ValueError(
            f"prior.log_prob(z) must give per-unit log densities [B, {log_qz_x_units.shape[-1]}], got {log_pz_units.shape}"
        )
    log_qz_x_units = _check_finite(
        log_qz_x_units, "posterior log densities log q(z|x) are not finite: NaN or infinite posterior parameters, "
        "or a scale <= 0", check_finite)
    log_pz_units = _check_finite(
        log_pz_units, "prior log densities log p(z) are not finite: NaN or infinite prior parameters, or a scale <= 0",
        check_finite)
    aggregate = estimators.aggregate_log_density(
        z, posterior, dataset_size, method, groups=groups, chunk_size=chunk_size
    )
    return log_qz_x_units, log_pz_units, aggregate


def _with_reconstruction(terms, log_px_given_z, check_finite=True):
    if log_px_given_z is not None:
        log_px_given_z = latents.real_tensor(log_px_given_z, "log_px_given_z")
        if log_px_given_z.dtype != terms["kl"].dtype:
            raise TypeError(f"log_px_given_z has dtype {log_px_given_z.dtype.name} but the posterior has dtype "
                            f"{terms['kl'].dtype.name}: they must match; cast one (e.g. tf.cast(log_px_given_z, "
                            f"tf.{terms['kl'].dtype.name}))")
        if log_px_given_z.shape.rank != 1:
            raise ValueError(f"log_px_given_z must have shape [B], got {log_px_given_z.shape}")
        log_px_given_z = _check_finite(log_px_given_z, "log_px_given_z holds NaN or infinite values", check_finite)
        terms["reconstruction"] = _mean(log_px_given_z)
        terms["elbo"] = terms["reconstruction"] - terms["kl"]
    return terms


def hoffman_johnson(z: tf.Tensor, posterior: tfd.Distribution, prior: tfd.Distribution, dataset_size: int,
                    method: str, *, log_px_given_z: tf.Tensor | None = None, chunk_size: int | None = None,
                    check_finite: bool = True) -> dict[str, tf.Tensor]:
    """ELBO surgery (Hoffman & Johnson 2016; 003 eq 4.23): kl = index_code_mi + marginal_kl.

    E_x[KL(q(z|x) ‖ p(z))] = I_q(x; z) + KL(q(z) ‖ p(z)) ≥ I_q(x; z).

    Args:
        z: [B, E] samples, z_i ~ q(z | x_i).
        posterior: q(z | x_j) of the batch (per-unit ``log_prob``, batch [B]).
        prior: p(z) (per-unit ``log_prob``; factorised over units).
        dataset_size: N.
        method: estimator of log q(z) (``refvae.estimators.KNOWN_METHODS``).
        log_px_given_z: optional [B] log-likelihoods, adds "reconstruction" and "elbo".
        check_finite: refuse NaN or infinite z, log_px_given_z and posterior or prior log
            densities (a ValueError when eager; inside ``tf.function`` a ``tf.debugging``
            assertion that fails when the graph runs). A training step passes False and
            checks its loss instead, so that a diverging run stops with the terms named.

    Returns:
        dict with "index_code_mi", "marginal_kl", "kl" (scalars, nats).
    """
    log_qz_x_units, log_pz_units, (log_qz, _) = _log_densities(
        z, posterior, prior, dataset_size, method, chunk_size=chunk_size, check_finite=check_finite
    )
    log_qz_x = tf.reduce_sum(log_qz_x_units, axis=-1)
    log_pz = tf.reduce_sum(log_pz_units, axis=-1)
    terms = {
        "index_code_mi": _mean(log_qz_x - log_qz),
        "marginal_kl": _mean(log_qz - log_pz),
        "kl": _mean(log_qz_x - log_pz),
    }
    return _with_reconstruction(terms, log_px_given_z, check_finite)


def tc_decomposition(z: tf.Tensor, posterior: tfd.Distribution, prior: tfd.Distribution, dataset_size: int,
                     method: str, *, log_px_given_z: tf.Tensor | None = None, chunk_size: int | None = None,
                     check_finite: bool = True) -> dict[str, tf.Tensor]:
    """β-TCVAE's decomposition (001 eq 2): kl = index_code_mi + total_correlation + dimwise_kl.

        E_p(n)[KL(q(z|n) ‖ p(z))] = KL(q(z,n) ‖ q(z)p(n))          index-code MI
                                   + KL(q(z) ‖ Π_d q(z_d))           total correlation
                                   + Σ_d KL(q(z_d) ‖ p(z_d))         dimension-wise KL

    Args: as ``hoffman_johnson``; ``prior`` must be factorised over units.

    Returns:
        dict with "index_code_mi", "total_correlation", "dimwise_kl", "marginal_kl", "kl",
        "kl_per_dim" ([D]: E[log q(z_d|x) − log p(z_d)], summing to "kl"), and with
        ``log_px_given_z`` also "reconstruction" and "elbo".

    Example:
        >>> terms = tc_decomposition(z, posterior, prior, dataset_size=737280, method="mss1")
        >>> terms["kl"] - (terms["index_code_mi"] + terms["total_correlation"] + terms["dimwise_kl"])  # ≈ 0
    """
    log_qz_x_units, log_pz_units, (log_qz, log_qzd) = _log_densities(
        z, posterior, prior, dataset_size, method, chunk_size=chunk_size, check_finite=check_finite
    )
    log_qz_x = tf.reduce_sum(log_qz_x_units, axis=-1)
    log_pz = tf.reduce_sum(log_pz_units, axis=-1)
    sum_log_qzd = tf.reduce_sum(log_qzd, axis=-1)
    terms = {
        "index_code_mi": _mean(log_qz_x - log_qz),
        "total_correlation": _mean(log_qz - sum_log_qzd),
        "dimwise_kl": _mean(sum_log_qzd - log_pz),
        "marginal_kl": _mean(log_qz - log_pz),
        "kl": _mean(log_qz_x - log_pz),
        "kl_per_dim": tf.reduce_mean(log_qz_x_units - log_pz_units, axis=0),
    }
    return _with_reconstruction(terms, log_px_given_z, check_finite)


def kl_decomposition(z: tf.Tensor, posterior: tfd.Distribution, prior: tfd.Distribution, *,
                     log_px_given_z: tf.Tensor | None = None, check_finite: bool = True) -> dict[str, tf.Tensor]:
    """The ELBO with no aggregate-posterior estimate: kl and its per-unit parts.

        kl_d = E[log q(z_d|x) − log p(z_d)],   kl = Σ_d kl_d,   elbo = reconstruction − kl

    The cheapest set of terms (no pairwise density tensor), for the plain ELBO and benchmarks.

    Args:
        z, posterior, prior: as ``tc_decomposition`` (``prior`` factorised over units).
        log_px_given_z: optional [B] log-likelihoods, adds "reconstruction" and "elbo".
        check_finite: when eager, refuse NaN or infinite z and log_px_given_z and
            distribution parameters that are not finite, or scales <= 0 (ValueError naming
            them). Inside ``tf.function`` nothing is added: this is the plain VAE's training
            step, which checks its loss instead.

    Returns:
        dict with "kl_per_dim" ([D]) and "kl", and with ``log_px_given_z`` also
        "reconstruction" and "elbo".
    """
    eager_check = check_finite and tf.executing_eagerly()
    z = _checked_inputs(z, posterior, prior, eager_check)
    terms = {"kl_per_dim": extra_terms.kl_per_dim(posterior.log_prob(z), prior.log_prob(z))}
    terms["kl"] = tf.reduce_sum(terms["kl_per_dim"])
    if log_px_given_z is None:
        return terms
    return _with_reconstruction(terms, log_px_given_z, eager_check)


def hfvae_decomposition(z: tf.Tensor, posterior: tfd.Distribution, prior: tfd.Distribution, dataset_size: int,
                        method: str, *, groups: Sequence[Sequence[int]] | None = None,
                        log_px_given_z: tf.Tensor | None = None, prior_log_prob: tf.Tensor | None = None,
                        prior_group_log_prob: tf.Tensor | None = None, chunk_size: int | None = None,
                        check_finite: bool = True) -> dict[str, tf.Tensor]:
    r"""HFVAE's four terms (002 Fig 1) and the two-level split of ④ (002 Fig 3).

        ELBO = E[① − ②] − ③ − ④,   ② = I_q(x; z),   ④ = KL(q(z) ‖ p(z)),
        ④ = −Ⓐ + Σ_d ⓑ,            ⓑ_d = −ⓘ_d + Σ_e ⓘⓘ_{d,e},

        Ⓐ = E_q(z)[log p(z)/Π_d p(z_d) − log q(z)/Π_d q(z_d)]
        ⓘ_d = E_q(z_d)[log p(z_d)/Π_e p(z_{d,e}) − log q(z_d)/Π_e q(z_{d,e})]
        ⓘⓘ_{d,e} = KL(q(z_{d,e}) ‖ p(z_{d,e}))

    (002's figure text calls Ⓐ and ⓑ ⑤ and ⑥.) ① and ③ need log p_θ(x) and are not
    computable separately; ① − ③ is the reconstruction up to the data entropy.
    refvae returns positive quantities: between_group_tc = E[log q(z) − Σ_d log q(z_d)]
    and prior_between_group_tc = E[log p(z) − Σ_d log p(z_d)], so Ⓐ = prior_between_group_tc
    − between_group_tc; likewise Σ_d ⓘ_d = prior_within_group_tc − within_group_tc.

    Args:
        z, posterior, prior, dataset_size, method, log_px_given_z: as ``tc_decomposition``.
        groups: lists of unit indices, one list a group z_d (default: every unit its own
            group, which makes within-group TC zero and between-group TC the usual TC).
        prior_log_prob: optional callable z -> log p(z) [B] for a prior that is not
            factorised over units (``prior.log_prob`` still gives the unit marginals
            log p(z_{d,e})). Default: the sum of the unit marginals.
        prior_group_log_prob: optional callable (z, group index) -> log p(z_d) [B];
            default: the sum of the group's unit marginals.

    Returns:
        dict with "index_code_mi" (②), "marginal_kl" (④), "between_group_tc",
        "prior_between_group_tc", "within_group_tc", "prior_within_group_tc",
        "dimwise_kl" (Σ ⓘⓘ), "kl", and with ``log_px_given_z`` "reconstruction", "elbo".
        marginal_kl = between_group_tc − prior_between_group_tc + within_group_tc
                      − prior_within_group_tc + dimwise_kl.
    """
    z = _checked_inputs(z, posterior, prior, check_finite)
    groups = groups or _singletons(posterior, z)
    log_qz_x_units, log_pz_units, aggregate = _log_densities(
        z, posterior, prior, dataset_size, method, groups=groups, chunk_size=chunk_size,
        check_finite=check_finite, checked=True,
    )
    log_qz, log_qzd, log_qzg = aggregate
    log_qz_x = tf.reduce_sum(log_qz_x_units, axis=-1)
    log_pz_group_sums = tf.stack(
        [tf.reduce_sum(tf.gather(log_pz_units, g, axis=-1), axis=-1) for g in groups], axis=-1
    )
    if prior_group_log_prob is None:
        log_pzg = log_pz_group_sums
    else:
        log_pzg = tf.stack([prior_group_log_prob(z, index) for index in range(len(groups))], axis=-1)
    log_pz = tf.reduce_sum(log_pzg, axis=-1) if prior_log_prob is None else prior_log_prob(z)
    sum_log_qzg = tf.reduce_sum(log_qzg, axis=-1)
    sum_log_pzg = tf.reduce_sum(log_pzg, axis=-1)
    sum_log_qzd = tf.reduce_sum(log_qzd, axis=-1)
    sum_log_pzd = tf.reduce_sum(log_pz_units, axis=-1)
    terms = {
        "index_code_mi": _mean(log_qz_x - log_qz),
        "marginal_kl": _mean(log_qz - log_pz),
        "between_group_tc": _mean(log_qz - sum_log_qzg),
        "prior_between_group_tc": _mean(log_pz - sum_log_pzg),
        "within_group_tc": _mean(sum_log_qzg - sum_log_qzd),
        "prior_within_group_tc": _mean(sum_log_pzg - sum_log_pzd),
        "dimwise_kl": _mean(sum_log_qzd - sum_log_pzd),
        "kl": _mean(log_qz_x - log_pz),
    }
    return _with_reconstruction(terms, log_px_given_z, check_finite)


def _singletons(posterior, z):
    num_units = posterior.log_prob(z[:1]).shape[-1]
    return [[d] for d in range(num_units)]


def data_marginal_entropy(x: ArrayLike) -> float:
    """Σ_i H(x_i) of binary data x [N, ...] from the plug-in pixel means (nats).

    The constant of the CorEx bound (000 eq 12); for data in {0, 1}.
    """
    import numpy as np

    pixels = np.asarray(x, dtype=np.float64)
    pixels = pixels.reshape(len(pixels), -1)
    if not np.all((pixels == 0) | (pixels == 1)):
        raise ValueError("x must be binary (values in {0, 1}) for the plug-in pixel entropy")
    p = pixels.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0))
    return float(h.sum())


def corex_terms(z: tf.Tensor, posterior: tfd.Distribution, prior: tfd.Distribution, dataset_size: int, method: str, *,
                log_px_given_z: tf.Tensor | None = None, data_entropy: float | None = None,
                chunk_size: int | None = None, check_finite: bool = True) -> dict[str, tf.Tensor]:
    r"""Total Correlation Explanation quantities (000 eqs 7–12).

        L = TC(x; z) − TC(z) = Σ_i I(x_i : z) − Σ_j I(z_j : x)                 (000 eq 7)
        I(x_i : z) ≥ H(x_i) + E[log q(x_i | z)]                                 (000 eq 8)
        I(z_j : x) ≤ E_x KL(p(z_j | x) ‖ r(z_j))                                (000 eq 9)
        L ≥ Σ_i H(x_i) + E[log q(x|z)] − KL(p(z|x) ‖ r(z)) = Σ_i H(x_i) + ELBO   (000 eq 12)

    (000 writes the encoder as p_θ(z|x) and the decoder as q_φ(x|z); refvae keeps its own
    names: posterior q(z|x), decoder likelihood log p(x|z).)

    Args:
        z, posterior, prior, dataset_size, method: as ``tc_decomposition``.
        log_px_given_z: [B] decoder log-likelihoods (factorised over x_i, as eq 12 needs).
        data_entropy: Σ_i H(x_i), e.g. ``data_marginal_entropy(x_train)``.

    Returns:
        dict with "sum_mi_zj_x" (Σ_j I(z_j : x) estimated with ``method``),
        "sum_mi_zj_x_upper" (Σ_j E KL(q(z_j|x) ‖ p(z_j)) = kl, eq 9), "total_correlation"
        (TC(z)), "kl", and given the inputs "reconstruction", "elbo", "sum_mi_xi_z_lower"
        (Σ_i H(x_i) + reconstruction, eq 8) and "corex_lower_bound" (eq 12).
    """
    log_qz_x_units, log_pz_units, (log_qz, log_qzd) = _log_densities(
        z, posterior, prior, dataset_size, method, chunk_size=chunk_size, check_finite=check_finite
    )
    terms = {
        "sum_mi_zj_x": _mean(tf.reduce_sum(log_qz_x_units - log_qzd, axis=-1)),
        "sum_mi_zj_x_upper": _mean(tf.reduce_sum(log_qz_x_units - log_pz_units, axis=-1)),
        "total_correlation": _mean(log_qz - tf.reduce_sum(log_qzd, axis=-1)),
    }
    terms["kl"] = terms["sum_mi_zj_x_upper"]
    terms = _with_reconstruction(terms, log_px_given_z, check_finite)
    if data_entropy is not None:
        if "reconstruction" not in terms:
            raise ValueError("data_entropy needs log_px_given_z for the CorEx bounds")
        dtype = terms["reconstruction"].dtype
        # dtype_hint: a Python float goes straight to float64 (tf.cast alone rounds it to float32 first)
        data_entropy = tf.cast(tf.convert_to_tensor(data_entropy, dtype_hint=dtype), dtype)
        terms["sum_mi_xi_z_lower"] = data_entropy + terms["reconstruction"]
        terms["corex_lower_bound"] = data_entropy + terms["elbo"]
    return terms
