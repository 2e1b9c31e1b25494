"""Time every metric of ``refvae.metrics`` at dSprites size against the naive loop it replaces.

Codes are synthetic (no trained model is needed to time a metric): on the full dSprites
factor grid (3 × 6 × 40 × 32 × 32 = 737,280 points) the first five codes are noisy monotone
functions of the five factors and the other five are noise. The ground-truth data set used
by the sampling wrappers returns the factor vector as its observation, so the timings are
the metrics' own cost, not an encoder's.

    python benchmarks/bench_metrics.py            # everything, sampled MIG with 10,000 samples
    python benchmarks/bench_metrics.py --quick    # smaller sampled-MIG and classifier runs

Each line prints the metric, its time, the naive loop's time (measured, or extrapolated
from a measured slice where the loop would take hours) and the ratio.
"""

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from sklearn.metrics import mutual_info_score  # noqa: E402

from refvae import metrics  # noqa: E402
from refvae.metrics import utils  # noqa: E402

DSPRITES_SIZES = (3, 6, 40, 32, 32)


class SyntheticGroundTruth:
    """dSprites-sized factor grid whose observation is the factor vector."""

    factor_sizes = DSPRITES_SIZES

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes], axis=1)

    def observations_from_factors(self, factors):
        return np.asarray(factors, dtype=np.float32)


def synthetic_codes(factors, rng):
    """Ten codes: five noisy monotone maps of the factors, five pure noise."""
    scaled = factors / (np.array(DSPRITES_SIZES) - 1.0)
    informative = np.tanh(3.0 * scaled - 1.5) + 0.1 * rng.standard_normal(factors.shape)
    return np.hstack([informative, rng.standard_normal((factors.shape[0], 5))])


def synthetic_representation(observations):
    rng = np.random.default_rng(len(observations))
    return synthetic_codes(np.asarray(observations, dtype=np.float64), rng)


def report(name, seconds, naive_seconds=None, note=""):
    if naive_seconds is None:
        print(f"{name:<42s} {seconds:9.2f} s  {'':>24s} {note}", flush=True)
    else:
        print(
            f"{name:<42s} {seconds:9.2f} s  naive {naive_seconds:9.2f} s  x{naive_seconds / seconds:8.1f}  {note}",
            flush=True,
        )


def timed(function, *args, repeats=1, **kwargs):
    """(result, seconds): the best of ``repeats`` calls (the first call also pays page faults)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def bench_histogram_mig(codes, factors):
    result, seconds = timed(metrics.mig, codes, factors[:, :5], repeats=3)

    def naive():
        # disentanglement_lib's discretisation and a loop of sklearn over the pairs
        bins = np.stack([np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T], axis=1)
        mutual_info = np.array(
            [[mutual_info_score(bins[:, j], factors[:, k]) for k in range(5)] for j in range(codes.shape[1])]
        )
        entropy = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(5)])
        top_two = np.sort(mutual_info, axis=0)[::-1][:2]
        return mutual_info, np.mean((top_two[0] - top_two[1]) / entropy)

    (mutual_info, naive_mig), naive_seconds = timed(naive, repeats=3)
    error = max(np.max(np.abs(mutual_info - result["mutual_info"])), abs(naive_mig - result["mig"]))
    report(
        "MIG histogram (737,280 x 10, 5 factors)",
        seconds,
        naive_seconds,
        f"MIG {result['mig']:.4f}, max |diff| vs sklearn loop {error:.1e}",
    )


def bench_sampled_mig(codes, num_samples):
    loc = codes
    scale = np.full_like(codes, 0.1)
    scale[:, 5:] = 1.0
    result, seconds = timed(metrics.mig_sampled, loc, scale, DSPRITES_SIZES, num_samples=num_samples, seed=0)
    # The naive estimator (the β-TCVAE code's protocol): float64 log-sum-exp of every sample
    # against all N components, once for H(z_j) and once per factor for the conditionals,
    # i.e. (1 + K) · S · N · D densities. Timed on one dimension and 20 samples, extrapolated.
    num_points = loc.shape[0]
    probe = 20
    start = time.perf_counter()
    for i in range(probe):
        log_density = -0.5 * ((loc[i, 0] - loc[:, 0]) / scale[:, 0]) ** 2 - np.log(scale[:, 0]) - 0.5 * math.log(2 * math.pi)
        logsumexp(log_density)
    per_sample_dim = (time.perf_counter() - start) / probe
    naive_seconds = per_sample_dim * (1 + len(DSPRITES_SIZES)) * num_samples * codes.shape[1]
    report(
        f"MIG sampled (737,280 x 10, S={num_samples})",
        seconds,
        naive_seconds,
        f"MIG {result['mig']:.4f}; naive extrapolated from {probe} samples x 1 dim; "
        f"{num_samples * num_points * codes.shape[1] / seconds / 1e6:.0f} M densities/s",
    )


def bench_dimwise_mutual_info(codes):
    loc = codes[:10000]
    scale = np.full_like(loc, 0.3)
    _, seconds = timed(metrics.dimwise_mutual_information, loc, scale)
    probe = 50
    start = time.perf_counter()
    for i in range(probe):
        log_density = -0.5 * ((loc[i] - loc) / scale) ** 2 - np.log(scale) - 0.5 * math.log(2 * math.pi)
        logsumexp(log_density, axis=0)
    naive_seconds = (time.perf_counter() - start) / probe * loc.shape[0]
    report("I(x; z_j) over 10,000 points x 10 dims", seconds, naive_seconds, "naive: NumPy row loop, extrapolated")


def bench_modularity(codes, factors):
    train, test = slice(0, 10000), slice(10000, 15000)
    _, seconds = timed(metrics.modularity, codes[train], factors[train], 20, codes[test], factors[test])
    bins = utils.discretize(codes[train], 20)
    _, mi_seconds = timed(utils.discrete_mutual_info_matrix, bins, factors[train])
    _, naive_mi_seconds = timed(
        lambda: [[mutual_info_score(bins[:, j], factors[train, k]) for k in range(5)] for j in range(10)]
    )
    report("modularity + explicitness (10,000 / 5,000)", seconds, None, "explicitness dominates")
    report("  its MI matrix", mi_seconds, naive_mi_seconds, "vs sklearn loop")


def bench_dci(codes, factors, num_train, num_test):
    # The default GradientBoostingClassifier fits one tree per class and stage (40 classes
    # for orientation): minutes per factor on 10,000 points, so it is timed on 2,000 / 1,000.
    for importance in ("logistic", "random_forest", "gradient_boosting"):
        if importance == "gradient_boosting":
            num_train, num_test = min(num_train, 2000), min(num_test, 1000)
        train, test = slice(0, num_train), slice(num_train, num_train + num_test)
        result, seconds = timed(
            metrics.dci, codes[train], factors[train], codes[test], factors[test], importance=importance
        )
        report(
            f"DCI {importance} ({num_train:,} / {num_test:,})",
            seconds,
            None,
            f"D {result['disentanglement']:.3f} C {result['completeness']:.3f} I {result['informativeness']:.3f}",
        )


def bench_sap(codes, factors):
    train, test = slice(0, 10000), slice(10000, 15000)
    result, seconds = timed(metrics.sap, codes[train], factors[train], codes[test], factors[test])
    report("SAP (10,000 / 5,000, 50 LinearSVC)", seconds, None, f"SAP {result['sap']:.3f}")


def bench_protocol_scores(quick):
    data = SyntheticGroundTruth()
    sizes = dict(num_train=2000, num_eval=1000) if quick else {}
    for name, function, per_call in (
        ("BetaVAE score", metrics.beta_vae_features, "points_per_call"),
        ("FactorVAE score", metrics.factor_vae_votes, "votes_per_call"),
    ):
        num = sizes.get("num_train", 10000) + sizes.get("num_eval", 5000)
        if name == "BetaVAE score":
            run = lambda calls, function=function, num=num, per_call=per_call: function(  # noqa: E731
                data, synthetic_representation, np.random.default_rng(0), num, 64, **{per_call: calls}
            )
        else:
            run = lambda calls, function=function, num=num, per_call=per_call: function(  # noqa: E731
                data, synthetic_representation, np.random.default_rng(0), num, np.ones(10), np.ones(10, bool),
                64, **{per_call: calls}
            )
        _, seconds = timed(run, 64)
        _, naive_seconds = timed(run, 1)
        report(f"{name} points ({num:,}, batch 64)", seconds, naive_seconds, "naive: one representation call per point")
    result, seconds = timed(metrics.beta_vae_score, data, synthetic_representation, 0, **sizes)
    report("BetaVAE score (whole)", seconds, None, f"eval accuracy {result['eval_accuracy']:.3f}")
    result, seconds = timed(metrics.factor_vae_score, data, synthetic_representation, 0, **sizes)
    report("FactorVAE score (whole)", seconds, None, f"eval accuracy {result['eval_accuracy']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="S = 500 for sampled MIG, smaller classifier runs")
    parser.add_argument("--num-samples", type=int, default=None, help="samples of the sampled MIG (default 10,000)")
    parser.add_argument("--skip-sampled", action="store_true", help="skip the sampled MIG (the longest run)")
    args = parser.parse_args()
    num_samples = args.num_samples or (500 if args.quick else 10000)

    rng = np.random.default_rng(0)
    num_points = math.prod(DSPRITES_SIZES)
    grid = np.stack(np.unravel_index(np.arange(num_points), DSPRITES_SIZES), axis=1)
    codes = synthetic_codes(grid, rng)
    shuffled = rng.permutation(num_points)
    print(f"dSprites grid: {num_points:,} points, {codes.shape[1]} codes, {os.cpu_count()} CPU cores", flush=True)

    bench_histogram_mig(codes, grid)
    if not args.skip_sampled:
        bench_sampled_mig(codes, num_samples)
    bench_modularity(codes[shuffled], grid[shuffled])
    bench_sap(codes[shuffled], grid[shuffled])
    bench_dci(codes[shuffled], grid[shuffled], *((2000, 1000) if args.quick else (10000, 5000)))
    bench_protocol_scores(args.quick)
    bench_dimwise_mutual_info(codes[shuffled])


if __name__ == "__main__":
    main()
