"""Bad input at the library's edges: metrics on data where they are undefined, arguments that
set an allocation, non-finite or mistyped tensors, and IDX files whose header lies.

Every case calls one library function and asserts the exception type and that its message
names the metric, the argument or the file (and the data set where there is one). Cases that
take a ground-truth data set also assert that nothing was encoded (the refusal comes before
any work), and the IDX cases that the reader allocated at most a few MiB. The controls at the
end show that the same calls on good input still give numbers.
"""

import collections
import functools
import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from refvae import checks, metrics
from refvae.compat import disentanglement_lib as dlib

Case = collections.namedtuple("Case", "call exception texts max_peak_mib", defaults=(None,))


class Context:
    """What a case may use: a representation that counts its calls, tmp_path, monkeypatch."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.calls = 0

    def representation(self, observations):
        self.calls += 1
        flat = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        return np.column_stack([flat, np.sin(flat)])


class Toy:
    """A ground-truth data set with the given factor sizes whose observations are its factors."""

    def __init__(self, factor_sizes, name="toy"):
        self.factor_sizes = tuple(factor_sizes)
        self.name = name

    def sample_factors(self, n, rng):
        rng = checks.rng(rng)
        return np.stack([rng.integers(0, max(int(size), 1), size=n) for size in self.factor_sizes], axis=1)

    def observations_from_factors(self, factors):
        return np.asarray(factors, dtype=np.float64)


class DlibToy:
    """The same, with disentanglement_lib's interface."""

    def __init__(self, factors_num_values):
        self.factors_num_values = list(factors_num_values)
        self.num_factors = len(self.factors_num_values)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(max(int(n), 1), size=num) for n in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, dtype=np.float64)


@functools.cache
def _digits():
    from refvae.data import digits

    return digits()


def _mnist_shaped():
    from refvae.data.images import LabelledImages

    rng = np.random.default_rng(0)
    return LabelledImages(rng.integers(0, 256, (40, 28, 28)), np.arange(40) % 10, np.zeros((0, 28, 28)),
                          np.zeros(0, int), name="MNIST")


def _codes_and_factors(rows=120, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 3, size=(rows, 2))
    return factors + 0.1 * rng.normal(size=(rows, 2)), factors


def _constant_column(factors, column=1):
    factors = np.array(factors)
    factors[:, column] = 2
    return factors


def _split(test_factors=None, train_factors=None):
    codes, factors = _codes_and_factors()
    train_f = factors[:80] if train_factors is None else train_factors
    test_f = factors[80:] if test_factors is None else test_factors
    return codes[:80], train_f, codes[80:], test_f


SMALL = dict(num_train=60, num_eval=30)          # small enough that the unfixed code ends quickly
SMALL_FACTOR_VAE = dict(SMALL, num_variance_estimate=100, batch_size=8)
SMALL_POINTS = dict(num_train=60, num_test=30)


def _factor_vae(data, ctx):
    return metrics.factor_vae_score(data, ctx.representation, 0, **SMALL_FACTOR_VAE)


def _beta_vae(data, ctx):
    return metrics.beta_vae_score(data, ctx.representation, 0, batch_size=8, **SMALL)


def _compat(function, factors_num_values, ctx, **kwargs):
    return function(DlibToy(factors_num_values), ctx.representation, np.random.RandomState(0), **kwargs)


# --- A: metrics refuse data on which they are undefined, before any encoding --------------------

METRIC_CASES = {
    "factor-vae-one-factor": Case(lambda ctx: _factor_vae(Toy((10,)), ctx), ValueError,
                                  ("FactorVAE score", "toy", "at least 2 factors")),
    "factor-vae-digits": Case(lambda ctx: _factor_vae(_digits(), ctx), ValueError,
                              ("FactorVAE score", "digits", "at least 2 factors", "1.0 for any model")),
    "factor-vae-mnist-shaped": Case(lambda ctx: _factor_vae(_mnist_shaped(), ctx), ValueError,
                                    ("FactorVAE score", "MNIST", "at least 2 factors")),
    "factor-vae-one-valued-factor": Case(lambda ctx: _factor_vae(Toy((1, 4)), ctx), ValueError,
                                         ("FactorVAE score", "factor 0", "single value")),
    "beta-vae-one-factor": Case(lambda ctx: _beta_vae(Toy((10,)), ctx), ValueError,
                                ("BetaVAE score", "toy", "at least 2 factors")),
    "beta-vae-digits": Case(lambda ctx: _beta_vae(_digits(), ctx), ValueError,
                            ("BetaVAE score", "digits", "at least 2 factors")),
    "beta-vae-one-valued-factor": Case(lambda ctx: _beta_vae(Toy((3, 1)), ctx), ValueError,
                                       ("BetaVAE score", "factor 1", "single value")),
    "dci-one-factor": Case(lambda ctx: metrics.compute_dci(Toy((10,)), ctx.representation, 0, **SMALL_POINTS),
                           ValueError, ("DCI", "toy", "at least 2 factors")),
    "dci-digits": Case(lambda ctx: metrics.compute_dci(_digits(), ctx.representation, 0, **SMALL_POINTS,
                                                       importance="logistic"),
                       ValueError, ("DCI", "digits", "at least 2 factors")),
    "dci-one-valued-factor": Case(lambda ctx: metrics.compute_dci(Toy((4, 1)), ctx.representation, 0,
                                                                  **SMALL_POINTS, importance="logistic"),
                                  ValueError, ("DCI", "factor 1", "single value")),
    "dci-one-valued-train-factor": Case(lambda ctx: metrics.dci(*_split(train_factors=_constant_column(
        _codes_and_factors()[1][:80])), importance="logistic"), ValueError, ("DCI", "train_factors", "factor 1")),
    "dci-one-valued-test-factor": Case(lambda ctx: metrics.dci(*_split(test_factors=_constant_column(
        _codes_and_factors()[1][80:])), importance="logistic"), ValueError, ("DCI", "test_factors", "factor 1")),
    "sap-one-valued-test-factor": Case(lambda ctx: metrics.sap(*_split(test_factors=_constant_column(
        _codes_and_factors()[1][80:]))), ValueError, ("SAP", "test_factors", "factor 1", "single value")),
    "sap-one-valued-test-factor-continuous": Case(lambda ctx: metrics.sap(*_split(test_factors=_constant_column(
        _codes_and_factors()[1][80:])), continuous_factors=True), ValueError, ("SAP", "test_factors", "factor 1")),
    "sap-one-valued-train-factor-continuous": Case(lambda ctx: metrics.sap(*_split(train_factors=_constant_column(
        _codes_and_factors()[1][:80], 0)), continuous_factors=True), ValueError, ("SAP", "train_factors", "factor 0")),
    "sap-one-valued-factor-of-data": Case(lambda ctx: metrics.compute_sap(Toy((1, 4)), ctx.representation, 0,
                                                                         **SMALL_POINTS),
                                          ValueError, ("SAP", "toy", "factor 0", "single value")),
    "irs-constant-factor": Case(lambda ctx: metrics.irs(_codes_and_factors()[0], _constant_column(
        _codes_and_factors()[1])), ValueError, ("IRS", "factors", "factor 1", "single value")),
    "irs-all-factors-constant": Case(lambda ctx: metrics.irs(_codes_and_factors()[0], np.zeros((120, 2), int)),
                                     ValueError, ("IRS", "factor 0", "single value")),
    "irs-one-valued-factor-of-data": Case(lambda ctx: metrics.compute_irs(Toy((4, 1)), ctx.representation, 0,
                                                                         num_train=60),
                                          ValueError, ("IRS", "toy", "factor 1")),
    "mig-one-valued-factor-of-data": Case(lambda ctx: metrics.compute_mig(Toy((1, 4)), ctx.representation, 0,
                                                                         num_train=60),
                                          ValueError, ("MIG", "toy", "factor 0", "single value")),
    "modularity-one-factor": Case(lambda ctx: metrics.compute_modularity(Toy((10,)), ctx.representation, 0,
                                                                        **SMALL_POINTS),
                                  ValueError, ("modularity", "toy", "at least 2 factors")),
    "modularity-digits": Case(lambda ctx: metrics.compute_modularity(_digits(), ctx.representation, 0,
                                                                    **SMALL_POINTS),
                              ValueError, ("modularity", "digits", "at least 2 factors")),
    "modularity-constant-factor": Case(lambda ctx: metrics.modularity(_codes_and_factors()[0], _constant_column(
        _codes_and_factors()[1])), ValueError, ("modularity", "factors", "factor 1", "single value")),
    "compat-mig-fractional-factor-size": Case(lambda ctx: _compat(dlib.compute_mig, [3.7, 4], ctx, num_train=60),
                                              ValueError, ("factors_num_values", "3.7")),
    "compat-factor-vae-fractional-factor-size": Case(
        lambda ctx: _compat(dlib.compute_factor_vae, [2.5, 4], ctx, **SMALL_FACTOR_VAE), ValueError,
        ("factors_num_values", "2.5")),
    "compat-infinite-factor-size": Case(lambda ctx: _compat(dlib.compute_mig, [np.inf, 4], ctx, num_train=60),
                                        ValueError, ("factors_num_values", "inf")),
    "compat-factor-vae-one-factor": Case(lambda ctx: _compat(dlib.compute_factor_vae, [10], ctx, **SMALL_FACTOR_VAE),
                                         ValueError, ("FactorVAE score", "DlibToy", "at least 2 factors")),
    "compat-beta-vae-one-factor": Case(lambda ctx: _compat(dlib.compute_beta_vae_sklearn, [10], ctx, batch_size=8,
                                                           **SMALL),
                                       ValueError, ("BetaVAE score", "DlibToy", "at least 2 factors")),
    "compat-dci-one-factor": Case(lambda ctx: _compat(dlib.compute_dci, [10], ctx, **SMALL_POINTS), ValueError,
                                  ("DCI", "DlibToy", "at least 2 factors")),
    "compat-modularity-one-factor": Case(lambda ctx: _compat(dlib.compute_modularity_explicitness, [10], ctx,
                                                             **SMALL_POINTS),
                                         ValueError, ("modularity", "DlibToy", "at least 2 factors")),
    "compat-sap-one-valued-factor": Case(lambda ctx: _compat(dlib.compute_sap, [1, 4], ctx, **SMALL_POINTS),
                                         ValueError, ("SAP", "factor 0", "single value")),
    "compat-irs-one-valued-factor": Case(lambda ctx: _compat(dlib.compute_irs, [4, 1], ctx, num_train=60),
                                         ValueError, ("IRS", "factor 1", "single value")),
    "compat-mig-one-valued-factor": Case(lambda ctx: _compat(dlib.compute_mig, [1, 4], ctx, num_train=60),
                                         ValueError, ("MIG", "factor 0", "single value")),
    "data-fractional-factor-size": Case(lambda ctx: metrics.compute_mig(Toy((3.7, 4)), ctx.representation, 0,
                                                                       num_train=60),
                                        ValueError, ("data.factor_sizes", "3.7")),
    "data-nan-factor-size": Case(lambda ctx: metrics.factor_vae_score(Toy((np.nan, 4)), ctx.representation, 0),
                                 ValueError, ("data.factor_sizes", "nan")),
    "mig-sampled-fractional-factor-size": Case(lambda ctx: metrics.mig_sampled(
        np.arange(24.0).reshape(12, 2), np.ones((12, 2)), (4.5, 3), num_samples=12), ValueError,
        ("factor_sizes", "4.5")),
}


@pytest.mark.parametrize("name", list(METRIC_CASES))
def test_metric_refuses_data_on_which_it_is_undefined_before_encoding(name, tmp_path, monkeypatch):
    case = METRIC_CASES[name]
    ctx = Context(tmp_path, monkeypatch)
    with pytest.raises(case.exception) as raised:
        case.call(ctx)
    for text in case.texts:
        assert text in str(raised.value), (text, str(raised.value))
    assert ctx.calls == 0, f"the representation was called {ctx.calls} times before the refusal"


# --- B: API edges --------------------------------------------------------------------------------

def _normal(loc_value=None, scale_value=None, dtype=np.float32, batch=8, dim=3):
    import tensorflow_probability as tfp

    rng = np.random.default_rng(1)
    loc = rng.normal(size=(batch, dim)).astype(dtype)
    scale = np.full((batch, dim), 0.5, dtype)
    if loc_value is not None:
        loc[2, 1] = loc_value
    if scale_value is not None:
        scale[3, 0] = scale_value
    return tfp.distributions.Normal(loc, scale)


def _prior(dtype=np.float32, scale=(1.0, 1.0, 1.0), loc=(0.0, 0.0, 0.0)):
    import tensorflow_probability as tfp

    return tfp.distributions.Normal(np.array(loc, dtype), np.array(scale, dtype))


def _z(dtype=np.float32, value=None, tensor=True):
    import tensorflow as tf

    z = np.random.default_rng(2).normal(size=(8, 3)).astype(dtype)
    if value is not None:
        z[0, 0] = value
    return tf.constant(z) if tensor else z


def _ald(posterior=None, z=None, dataset_size=1000, method="mss1"):
    from refvae import estimators

    return estimators.aggregate_log_density(_z() if z is None else z, posterior or _normal(), dataset_size, method)


def _pairwise(value=None, row=False, dtype=np.float32, dataset_size=100, method="mss1"):
    from refvae import estimators

    pairwise = np.random.default_rng(3).normal(size=(4, 4, 2)).astype(dtype)
    if row:
        pairwise[1, :, 0] = value
    elif value is not None:
        pairwise[1, 2, 0] = value
    return estimators.aggregate_log_density_from_pairwise(pairwise, dataset_size, method)


def _decomposition(name="tc", posterior=None, prior=None, z=None, dataset_size=1000, **kwargs):
    from refvae import decompositions

    posterior, prior, z = posterior or _normal(), prior or _prior(), _z() if z is None else z
    if name == "kl":
        return decompositions.kl_decomposition(z, posterior, prior, **kwargs)
    function = {"tc": decompositions.tc_decomposition, "hj": decompositions.hoffman_johnson,
                "hfvae": decompositions.hfvae_decomposition, "corex": decompositions.corex_terms}[name]
    return function(z, posterior, prior, dataset_size, "mss1", **kwargs)


def _diag_kl(loc_dtype=np.float32, scale_dtype=np.float32, prior_loc=0.0, scale_value=None):
    import tensorflow as tf

    from refvae import info

    scale = np.full((4, 2), 0.5, scale_dtype)
    if scale_value is not None:
        scale[1, 1] = scale_value
    return info.diag_gaussian_kl(tf.constant(np.zeros((4, 2), loc_dtype)), tf.constant(scale), prior_loc)


def _gaussian_grid():
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(3), indexing="ij"), -1).reshape(-1, 2)
    return grid.astype(float), np.full((12, 2), 0.3)


def _idx_header(shape, code=0x08):
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)


def _write_gzip(path, *pieces):
    with gzip.open(path, "wb", compresslevel=1) as out:
        for piece in pieces:
            out.write(piece)
    return path


def _read_idx(path):
    from refvae.data.images import read_idx

    if tracemalloc.is_tracing():
        tracemalloc.reset_peak()  # what writing the file took is not the reader's
    return read_idx(path)


def _idx_with_trailing_data(ctx):
    # 16 bytes of data, then 64 MiB of zeros the header does not announce (290 KiB gzipped)
    path = ctx.tmp_path / "train-labels-idx1-ubyte.gz"
    zeros = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_idx_header((16,)) + bytes(range(16)))
        for _ in range(64):
            out.write(zeros)
    return _read_idx(path)


def _idx_over_a_lowered_limit(ctx):
    from refvae.data import images

    ctx.monkeypatch.setattr(images, "_MAX_IDX_BYTES", 1 << 20, raising=False)
    path = _write_gzip(ctx.tmp_path / "big-idx3-ubyte.gz", _idx_header((4, 1024, 1024)), bytes(4 << 20))
    return _read_idx(path)


def _idx_raw_file(ctx, shape, data=b""):
    path = ctx.tmp_path / "images-idx3-ubyte"
    path.write_bytes(_idx_header(shape) + data)
    return _read_idx(path)


def _idx_padded_by_one_byte(ctx):
    path = _write_gzip(ctx.tmp_path / "t10k-labels-idx1-ubyte.gz", _idx_header((5,)) + bytes(6))
    return _read_idx(path)


API_CASES = {
    # estimators: non-finite and non-positive posterior parameters, dtypes, N
    "estimator-infinite-posterior-loc": Case(lambda ctx: _ald(_normal(loc_value=np.inf)), ValueError,
                                             ("posterior loc", "finite", "inf")),
    "estimator-infinite-posterior-scale": Case(lambda ctx: _ald(_normal(scale_value=np.inf)), ValueError,
                                               ("posterior scale", "finite", "inf")),
    "estimator-zero-posterior-scale": Case(lambda ctx: _ald(_normal(scale_value=0.0)), ValueError,
                                           ("posterior scale must be > 0, got min 0",)),
    "estimator-negative-posterior-scale": Case(lambda ctx: _ald(_normal(scale_value=-0.1)), ValueError,
                                               ("posterior scale must be > 0, got min -0.1",)),
    "estimator-float64-z-float32-posterior": Case(lambda ctx: _ald(z=_z(np.float64)), TypeError,
                                                  ("z has dtype float64", "posterior", "float32")),
    "estimator-float64-numpy-z-float32-posterior": Case(lambda ctx: _ald(z=_z(np.float64, tensor=False)), TypeError,
                                                        ("z has dtype float64", "posterior", "float32")),
    "estimator-int-z": Case(lambda ctx: _ald(z=_z(np.int32)), TypeError, ("z must be a real floating-point",)),
    "estimator-dataset-size-10**400": Case(lambda ctx: _ald(dataset_size=10**400), ValueError,
                                           ("dataset_size", "at most 2**53", "401-digit")),
    "estimator-dataset-size-above-2**53": Case(lambda ctx: _ald(dataset_size=2**53 + 1), ValueError,
                                               ("dataset_size", "at most 2**53")),
    "pairwise-plus-inf": Case(lambda ctx: _pairwise(np.inf), ValueError, ("log_q_pairwise", "+inf")),
    "pairwise-row-of-minus-inf": Case(lambda ctx: _pairwise(-np.inf, row=True, method="mws"), ValueError,
                                      ("log_q_pairwise", "-inf", "sample 1")),
    "pairwise-int": Case(lambda ctx: _pairwise(dtype=np.int32), TypeError,
                         ("log_q_pairwise must be a real floating-point",)),
    "pairwise-dataset-size-10**400": Case(lambda ctx: _pairwise(dataset_size=10**400), ValueError,
                                          ("dataset_size", "at most 2**53")),
    "weights-dataset-size-10**400": Case(lambda ctx: __import__("refvae.estimators").estimators.log_importance_weights(
        4, 10**400, "mss1"), ValueError, ("dataset_size", "at most 2**53")),
    "checks-dataset-size-10**400": Case(lambda ctx: checks.dataset_size(10**400), ValueError,
                                        ("dataset_size", "at most 2**53 = 9,007,199,254,740,992")),
    "tc-of-samples-dataset-size-10**400": Case(lambda ctx: metrics.tc_of_samples(*_gaussian_grid(), method="mss1",
                                                                                 batch_size=4, dataset_size=10**400),
                                               ValueError, ("dataset_size", "at most 2**53")),
    # decompositions: parameters named, scales reported as scales, dtypes named
    "tc-negative-posterior-scale": Case(lambda ctx: _decomposition(posterior=_normal(scale_value=-0.1)), ValueError,
                                        ("posterior scale must be > 0, got min -0.1",)),
    "tc-zero-posterior-scale": Case(lambda ctx: _decomposition(posterior=_normal(scale_value=0.0)), ValueError,
                                    ("posterior scale must be > 0, got min 0",)),
    "tc-infinite-posterior-loc": Case(lambda ctx: _decomposition(posterior=_normal(loc_value=np.inf)), ValueError,
                                      ("posterior loc must be finite",)),
    "tc-negative-prior-scale": Case(lambda ctx: _decomposition(prior=_prior(scale=(1.0, -1.0, 1.0))), ValueError,
                                    ("prior scale must be > 0, got min -1",)),
    "tc-nan-prior-scale": Case(lambda ctx: _decomposition(prior=_prior(scale=(1.0, np.nan, 1.0))), ValueError,
                               ("prior scale must be finite", "NaN")),
    "hoffman-johnson-negative-posterior-scale": Case(
        lambda ctx: _decomposition("hj", posterior=_normal(scale_value=-0.1)), ValueError,
        ("posterior scale must be > 0",)),
    "hfvae-negative-posterior-scale": Case(lambda ctx: _decomposition("hfvae", posterior=_normal(scale_value=-0.1)),
                                           ValueError, ("posterior scale must be > 0",)),
    "corex-zero-posterior-scale": Case(lambda ctx: _decomposition("corex", posterior=_normal(scale_value=0.0)),
                                       ValueError, ("posterior scale must be > 0",)),
    "kl-nan-posterior-loc": Case(lambda ctx: _decomposition("kl", posterior=_normal(loc_value=np.nan)), ValueError,
                                 ("posterior loc must be finite", "NaN")),
    "kl-infinite-posterior-loc": Case(lambda ctx: _decomposition("kl", posterior=_normal(loc_value=np.inf)),
                                      ValueError, ("posterior loc must be finite",)),
    "kl-negative-posterior-scale": Case(lambda ctx: _decomposition("kl", posterior=_normal(scale_value=-0.1)),
                                        ValueError, ("posterior scale must be > 0, got min -0.1",)),
    "kl-nan-z": Case(lambda ctx: _decomposition("kl", z=_z(value=np.nan)), ValueError, ("z holds NaN",)),
    "kl-float64-z-float32-posterior": Case(lambda ctx: _decomposition("kl", z=_z(np.float64)), TypeError,
                                           ("z has dtype float64", "posterior", "float32")),
    "tc-float64-z-float32-posterior": Case(lambda ctx: _decomposition(z=_z(np.float64)), TypeError,
                                           ("z has dtype float64", "posterior", "float32")),
    "tc-float64-prior-float32-posterior": Case(lambda ctx: _decomposition(prior=_prior(np.float64)), TypeError,
                                               ("prior has dtype float64", "posterior", "float32")),
    "tc-float64-log-px-float32-posterior": Case(lambda ctx: _decomposition(log_px_given_z=np.zeros(8)), TypeError,
                                                ("log_px_given_z has dtype float64", "posterior", "float32")),
    "hfvae-float64-z-float32-posterior": Case(lambda ctx: _decomposition("hfvae", z=_z(np.float64)), TypeError,
                                              ("z has dtype float64", "posterior")),
    "tc-dataset-size-10**400": Case(lambda ctx: _decomposition(dataset_size=10**400), ValueError,
                                    ("dataset_size", "at most 2**53")),
    "diag-gaussian-kl-float32-loc-float64-scale": Case(lambda ctx: _diag_kl(scale_dtype=np.float64), TypeError,
                                                       ("loc has dtype float32", "scale has dtype float64")),
    "diag-gaussian-kl-float64-prior-loc": Case(
        lambda ctx: _diag_kl(prior_loc=__import__("tensorflow").constant(0.0, "float64")), TypeError,
        ("prior_loc has dtype float64", "loc has dtype float32")),
    "diag-gaussian-kl-negative-scale-tensor": Case(lambda ctx: _diag_kl(scale_value=-0.1), ValueError,
                                                   ("scale must be > 0, got min -0.1",)),
    # sizes that set an allocation, bounded before work
    "mig-num-bins-10**9": Case(lambda ctx: metrics.mig(*_codes_and_factors(), num_bins=10**9), ValueError,
                               ("num_bins=1,000,000,000", "limit", "cells")),
    "compute-mig-num-bins-10**9": Case(lambda ctx: metrics.compute_mig(Toy((3, 4)), ctx.representation, 0,
                                                                      num_train=60, num_bins=10**9),
                                       ValueError, ("num_bins=1,000,000,000", "limit")),
    "code-mutual-info-num-bins-10**7": Case(lambda ctx: metrics.code_mutual_info(_codes_and_factors()[0],
                                                                                num_bins=10**7),
                                            ValueError, ("num_bins=10,000,000", "limit")),
    "compute-unsupervised-num-bins-10**7": Case(
        lambda ctx: metrics.compute_unsupervised_scores(Toy((3, 4)), ctx.representation, 0, num_train=60,
                                                        num_bins=10**7),
        ValueError, ("num_bins=10,000,000", "limit")),
    "mig-sampled-chunk-elements-10**12": Case(lambda ctx: metrics.mig_sampled(*_gaussian_grid(), (4, 3),
                                                                              num_samples=12, chunk_elements=10**12),
                                              ValueError, ("chunk_elements", "at most")),
    "mig-sampled-num-samples-10**10": Case(lambda ctx: metrics.mig_sampled(*_gaussian_grid(), (4, 3),
                                                                           num_samples=10**10),
                                           ValueError, ("num_samples=10,000,000,000", "limit")),
    "dimwise-mi-chunk-elements-10**12": Case(lambda ctx: metrics.dimwise_mutual_information(
        *_gaussian_grid(), chunk_elements=10**12), ValueError, ("chunk_elements", "at most")),
    "dimwise-mi-num-samples-10**10": Case(lambda ctx: metrics.dimwise_mutual_information(
        *_gaussian_grid(), num_samples=10**10), ValueError, ("num_samples=10,000,000,000", "limit")),
    "compute-mig-num-train-10**12": Case(lambda ctx: metrics.compute_mig(Toy((3, 4)), ctx.representation, 0,
                                                                        num_train=10**12),
                                         ValueError, ("num_train=1,000,000,000,000", "limit")),
    "compute-dci-num-test-10**12": Case(lambda ctx: metrics.compute_dci(Toy((3, 4)), ctx.representation, 0,
                                                                       num_train=60, num_test=10**12),
                                        ValueError, ("num_test=1,000,000,000,000", "limit")),
    "factor-vae-num-variance-estimate-10**12": Case(
        lambda ctx: metrics.factor_vae_score(Toy((3, 4)), ctx.representation, 0, num_variance_estimate=10**12),
        ValueError, ("num_variance_estimate=1,000,000,000,000", "limit")),
    # IDX files: the header is read first and bounds what is decompressed
    "idx-gzip-trailing-64-mib": Case(_idx_with_trailing_data, ValueError,
                                     ("train-labels-idx1-ubyte.gz", "more data than its header"), 8),
    "idx-gzip-header-over-the-limit": Case(_idx_over_a_lowered_limit, ValueError,
                                           ("big-idx3-ubyte.gz", "limit"), 2),
    "idx-header-declares-36-gb": Case(lambda ctx: _idx_raw_file(ctx, (60000, 28, 28, 28, 28), bytes(64)),
                                      ValueError, ("images-idx3-ubyte", "36,879,360,000 bytes", "limit"), 2),
    "idx-header-overflows-int64": Case(lambda ctx: _idx_raw_file(ctx, (2**32 - 1,) * 3, bytes(64)), ValueError,
                                       ("images-idx3-ubyte", "limit"), 2),
    "idx-gzip-padded-by-one-byte": Case(_idx_padded_by_one_byte, ValueError,
                                        ("t10k-labels-idx1-ubyte.gz", "more data than its header")),
}


@pytest.mark.parametrize("name", list(API_CASES))
def test_api_refuses_bad_input_with_the_argument_named(name, tmp_path, monkeypatch):
    case = API_CASES[name]
    ctx = Context(tmp_path, monkeypatch)
    if case.max_peak_mib is not None:
        tracemalloc.start()
    try:
        with pytest.raises(case.exception) as raised:
            case.call(ctx)
    finally:
        if case.max_peak_mib is not None:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    for text in case.texts:
        assert text in str(raised.value), (text, str(raised.value))
    assert ctx.calls == 0, f"the representation was called {ctx.calls} times before the refusal"
    if case.max_peak_mib is not None:
        assert peak < case.max_peak_mib * 2**20, f"peak allocation {peak / 2**20:.1f} MiB"


# --- controls: the same calls on good input, and the promises the refusals rest on -------------

def _metric_modules():
    import importlib

    names = ("mig", "beta_vae", "majority_vote", "dci", "sap", "modularity", "irs")
    return {name: importlib.import_module(f"refvae.metrics.{name}") for name in names}


def test_each_metric_module_says_how_many_factors_it_needs():
    """MIN_FACTORS is what check_defined applies: 2 where one factor makes the metric
    meaningless (BetaVAE, FactorVAE, DCI, modularity), 1 where it is a mean over factors."""
    modules = _metric_modules()
    assert {name: module.MIN_FACTORS for name, module in modules.items()} == {
        "mig": 1, "beta_vae": 2, "majority_vote": 2, "dci": 2, "sap": 1, "modularity": 2, "irs": 1}
    for module in modules.values():
        module.check_defined((10, 4))  # two factors that vary: defined for every metric
        if module.MIN_FACTORS == 1:
            module.check_defined((10,))
        else:
            with pytest.raises(ValueError, match="at least 2 factors and digits has 1"):
                module.check_defined((10,), "digits")
        with pytest.raises(ValueError, match="its factor 1 takes a single value"):
            module.check_defined((10, 1))
        with pytest.raises(ValueError, match=r"factor_sizes\[0\] must be a whole number of values, got 3.7"):
            module.check_defined((3.7, 4))


def test_the_metrics_still_score_two_factor_data():
    """The wrappers whose refusals are above give numbers on data with two varying factors."""
    ctx = Context(None, None)
    data = Toy((3, 4))
    scores = {
        "factor_vae": _factor_vae(data, ctx)["eval_accuracy"],
        "beta_vae": _beta_vae(data, ctx)["eval_accuracy"],
        "dci": metrics.compute_dci(data, ctx.representation, 0, importance="logistic", **SMALL_POINTS)["informativeness"],
        "sap": metrics.compute_sap(data, ctx.representation, 0, **SMALL_POINTS)["sap"],
        "irs": metrics.compute_irs(data, ctx.representation, 0, num_train=60)["irs"],
        "mig": metrics.compute_mig(data, ctx.representation, 0, num_train=60)["mig"],
        "modularity": metrics.compute_modularity(data, ctx.representation, 0, **SMALL_POINTS)["modularity"],
        "compat_mig": _compat(dlib.compute_mig, [3.0, 4], ctx, num_train=60)["discrete_mig"],
    }
    # the codes are the factors and their sines: every factor is read off exactly (the scores
    # that classify are 1), and twice (so SAP's gap between the two best codes is 0)
    assert scores["factor_vae"] == 1.0 and scores["beta_vae"] == 1.0 and scores["dci"] == 1.0
    assert scores["sap"] == 0.0
    assert all(0.0 <= value <= 1.0 for value in scores.values()), scores
    assert metrics.mig(*_codes_and_factors(), num_bins=1000)["mig"] > 0  # many bins, below the limit


def test_a_minus_inf_entry_of_the_pairwise_tensor_is_a_zero_density():
    """A single -inf (a zero density) is accepted: it gives what a density of e^-1000 gives."""
    from refvae import estimators

    pairwise = np.random.default_rng(3).normal(size=(4, 4, 2))
    tiny = pairwise.copy()
    pairwise[1, 2, 0], tiny[1, 2, 0] = -np.inf, -1000.0
    for method in ("mss1", "mws", "hfvae"):
        zero = estimators.aggregate_log_density_from_pairwise(pairwise, 100, method)
        small = estimators.aggregate_log_density_from_pairwise(tiny, 100, method)
        for a, b in zip(zero, small):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


def test_the_largest_dataset_size_is_accepted():
    from refvae import estimators

    assert checks.dataset_size(2**53) == 2**53
    log_w = np.asarray(estimators.log_importance_weights(4, 2**53, "mss1", dtype=__import__("tensorflow").float64))
    assert np.all(np.isfinite(log_w))


@pytest.mark.slow  # traces three graphs: 3.7 s on 2 shared cores (load 5)
def test_inside_tf_function_the_checks_add_no_operation_to_the_training_step():
    """A training step calls the decompositions with check_finite=False inside tf.function:
    the eager checks above add no op to its graph (no Assert, no CheckNumerics), and with
    check_finite=True the graph keeps the assertions on the log densities it had."""
    import tensorflow as tf

    from refvae import decompositions

    posterior, prior = _normal(), _prior()

    def op_types(check_finite, decomposition):
        @tf.function
        def terms(z):
            if decomposition == "kl":
                return decompositions.kl_decomposition(z, posterior, prior, check_finite=check_finite)
            return decompositions.tc_decomposition(z, posterior, prior, 1000, "mss1", check_finite=check_finite)

        graph = terms.get_concrete_function(tf.TensorSpec([8, 3], tf.float32)).graph
        return {op.type for op in graph.get_operations()}

    for decomposition in ("tc", "kl"):
        assert not op_types(False, decomposition) & {"Assert", "CheckNumerics", "CheckNumericsV2"}
    assert op_types(True, "tc") & {"CheckNumerics", "CheckNumericsV2"}
    with pytest.raises(tf.errors.InvalidArgumentError, match="posterior log densities"):
        tf.function(lambda z: decompositions.tc_decomposition(z, _normal(scale_value=-0.1), prior, 1000, "mss1"))(_z())


def test_read_idx_still_reads_the_file_its_header_describes(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = _write_gzip(tmp_path / "small-idx3-ubyte.gz", _idx_header((2, 3, 4)), values.tobytes())
    np.testing.assert_array_equal(_read_idx(path), values)
