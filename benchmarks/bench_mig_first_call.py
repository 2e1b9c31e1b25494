"""The histogram MIG's first call against its later calls, and against disentanglement_lib's loop.

A fresh process builds the whole dSprites factor grid (737,280 points, 5 factors) and 8
synthetic codes (noisy monotone maps of the factors and noise), then times
``refvae.metrics.mig`` once and ``--repeats`` more times, and each of its two stages
(``discretize`` and ``discrete_mutual_info_matrix``) the same way. A first call that costs
much more than the later ones pays for something once per process (imports, first-touch
page faults of fresh memory, a cache being filled); the ratio printed says how much.

The baseline is the algorithm of disentanglement_lib's ``_compute_mig`` (its ``make_discretizer``:
``np.histogram`` edges and ``np.digitize`` per code; its ``discrete_mutual_info``: scikit-learn's
``mutual_info_score`` for every (code, factor) pair; the factors' entropies the same way), timed
on its first call in a fresh process too; the last line prints how many times faster refvae's
first call is.

    python benchmarks/bench_mig_first_call.py
    python benchmarks/bench_mig_first_call.py --repeats 5 --codes 10
"""

import argparse
import resource
import time

import numpy as np

DSPRITES_SIZES = (3, 6, 40, 32, 32)


def grid_factors(sizes):
    """Every factor combination of the grid, row-major: int64 [prod(sizes), len(sizes)]."""
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.int64)


def synthetic_codes(factors, num_codes, rng):
    scaled = factors / (np.array(DSPRITES_SIZES) - 1.0)
    informative = np.tanh(3.0 * scaled - 1.5) + 0.1 * rng.standard_normal(factors.shape)
    noise = rng.standard_normal((factors.shape[0], max(num_codes - factors.shape[1], 0)))
    return np.hstack([informative, noise])[:, :num_codes]


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(function, *args, **kwargs):
    """(result, CPU seconds of this process, minor page faults) of one call. CPU time, not wall
    time: on a shared machine the wall clock also counts the time other processes held the CPU."""
    faults, start = minor_faults(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.process_time() - start, minor_faults() - faults


STAGES = ("mig", "discretize", "mutual_info", "baseline")


def baseline_mig(codes, factors, num_bins=20):
    """MIG as disentanglement_lib computes it: a per-code histogram discretisation and one
    scikit-learn ``mutual_info_score`` per (code, factor) pair (codes and factors batch-first here)."""
    from sklearn.metrics import mutual_info_score

    labels = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        labels[:, j] = np.digitize(codes[:, j], np.histogram(codes[:, j], num_bins)[1][:-1])
    mutual_info = np.array([[mutual_info_score(factors[:, k], labels[:, j]) for k in range(factors.shape[1])]
                            for j in range(codes.shape[1])])
    entropy = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])
    ordered = np.sort(mutual_info, axis=0)[::-1]
    return float(np.mean((ordered[0] - ordered[1]) / entropy))


def run_stage(stage, repeats, num_codes):
    """Time ``stage`` in this process: the first call, then the best of ``repeats`` later calls."""
    from refvae import metrics
    from refvae.metrics import discrete as utils

    factors = grid_factors(DSPRITES_SIZES)
    codes = synthetic_codes(factors, num_codes, np.random.default_rng(0))
    if stage == "mig":
        def function():
            return metrics.mig(codes, factors)["mig"]
    elif stage == "baseline":
        def function():
            return baseline_mig(codes, factors)
    elif stage == "discretize":
        def function():
            return utils.discretize(codes, 20)
    else:
        labels = utils.discretize(codes, 20) if stage == "mutual_info" else None

        def function():
            return utils.discrete_mutual_info_matrix(labels, factors, num_code_labels=20, return_factor_entropy=True)
    _, first_seconds, first_faults = timed(function)
    later = [timed(function) for _ in range(repeats)]
    best = min(seconds for _, seconds, _ in later)
    faults = min(f for _, _, f in later)
    label = {"mig": "mig (whole call)", "discretize": "  discretize",
             "mutual_info": "  discrete_mutual_info_matrix", "baseline": "disentanglement_lib's loop"}[stage]
    print(f"{label:<32s} {first_seconds:10.3f} s {best:11.3f} s {first_seconds / best:6.2f}   "
          f"{first_faults:,} / {faults:,}", flush=True)
    return first_seconds


def main(argv=None):
    import subprocess
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="later calls timed (default 3)")
    parser.add_argument("--codes", type=int, default=8, help="code dimensions D (default 8)")
    parser.add_argument("--stage", choices=STAGES, help="time one stage in this process (default: each in a fresh one)")
    args = parser.parse_args(argv)
    if args.stage:
        print(f"FIRST {run_stage(args.stage, args.repeats, args.codes)!r}")
        return
    print(f"codes {int(np.prod(DSPRITES_SIZES)):,} x {args.codes} against the {len(DSPRITES_SIZES)} factors of the "
          "dSprites grid; each stage in a fresh process\n")
    print(f"{'':<32s} {'first (CPU)':>12s} {'later (best)':>13s} {'ratio':>6s}   minor page faults first/later")
    first = {}
    for stage in STAGES:
        out = subprocess.run([sys.executable, __file__, "--stage", stage, "--repeats", str(args.repeats),
                              "--codes", str(args.codes)], check=True, capture_output=True, text=True).stdout
        print("\n".join(line for line in out.splitlines() if not line.startswith("FIRST ")), flush=True)
        first[stage] = float(out.rsplit("FIRST ", 1)[1])
    print(f"\nfirst call: disentanglement_lib's loop / refvae.metrics.mig = {first['baseline'] / first['mig']:.1f}x")


if __name__ == "__main__":
    main()
