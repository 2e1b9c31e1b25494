"""Time and peak memory of the aggregate-posterior estimators (refvae.estimators).

For B in {256, 1024, 4096} data points (M = B samples) and D in {10, 32} units, one fresh
subprocess builds a float32 Gaussian batch and, for every method, runs
``aggregate_log_density`` once to warm up and then times ``--repeats`` calls. Peak memory
is measured two ways, both real for TensorFlow on CPU:

- ``tf MiB``: the peak of TensorFlow's own CPU allocator during that method's calls
  (``tf.config.experimental.get_memory_info("CPU:0")["peak"]`` after
  ``reset_memory_stats``, which works on CPU in TF 2.21), minus what the inputs hold;
- ``rss MiB``: the subprocess's peak resident set (``ru_maxrss``) minus its resident set
  just before the first estimator call (TensorFlow imported, inputs built): everything the
  estimators made the process touch, the largest over the methods of that subprocess.

Each configuration runs chunked (the default chunk of about 4M pairwise entries) and, where
it fits (one [M, B, D] float32 tensor <= --max-unchunked-gb), unchunked (chunk_size = M),
and the ratio of their times is printed. The goal: B = 4096, D = 32 in <= 0.5 GB
peak, time linear in M·B·D (the "ns/entry" column, time / (M·B·D), should stay flat).

Usage:
    python benchmarks/bench_estimators.py                 # the whole table
    python benchmarks/bench_estimators.py --graph         # inside tf.function
    python benchmarks/bench_estimators.py --batch-sizes 4096 --dims 32 --methods mss1
"""

import argparse
import json
import os
import subprocess
import sys
import time

METHODS = ("exact", "mws", "mws_dropped", "mss0", "mss1", "hfvae")
DATASET_SIZE = 737_280  # dSprites; "exact" uses N = B


def run_config(batch_size, dim, methods, chunk_size, repeats, graph):
    """Runs in the subprocess: prints one JSON line a method, then one with the process peak."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp

    from refvae import estimators

    rng = np.random.default_rng(0)
    mu = tf.constant(rng.standard_normal((batch_size, dim)), tf.float32)
    sigma = tf.constant(rng.uniform(0.1, 1.0, (batch_size, dim)), tf.float32)
    z = tf.constant(mu.numpy() + sigma.numpy() * rng.standard_normal((batch_size, dim)), tf.float32)

    def make(method, chunk):
        dataset_size = z.shape[0] if method == "exact" else DATASET_SIZE

        def estimate(z, mu, sigma):
            return estimators.aggregate_log_density(
                z, tfp.distributions.Normal(mu, sigma), dataset_size, method, chunk_size=chunk
            )

        return tf.function(estimate) if graph else estimate

    # A tiny call of the same code path first, so that TensorFlow's one-off allocations are
    # inside the baseline.
    small = make("mss1", 2)
    [t.numpy() for t in small(z[:8], mu[:8], sigma[:8])]
    base_rss = _current_rss_bytes()
    for method in methods:
        estimate = make(method, chunk_size)
        tf.config.experimental.reset_memory_stats("CPU:0")
        base_tf = tf.config.experimental.get_memory_info("CPU:0")["current"]
        times = []
        for _ in range(repeats + 1):  # the first call warms up (and traces, with --graph)
            start = time.perf_counter()
            out = estimate(z, mu, sigma)
            values = [t.numpy() for t in out]
            times.append(time.perf_counter() - start)
        peak_tf = tf.config.experimental.get_memory_info("CPU:0")["peak"] - base_tf
        print(
            json.dumps(
                {
                    "method": method,
                    "time": min(times[1:]) if repeats else times[0],
                    "tf_peak_bytes": peak_tf,
                    "chunk": estimators._chunk_size(batch_size, batch_size, dim, chunk_size),
                    "finite": bool(all(np.all(np.isfinite(v)) for v in values)),
                }
            ),
            flush=True,
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"method": None, "rss_peak_bytes": max(0, peak_rss - base_rss)}), flush=True)


def _current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(batch_size, dim, methods, chunk_size, repeats, graph):
    cmd = [sys.executable, os.path.abspath(__file__), "--one", str(batch_size), str(dim), str(chunk_size or 0),
           str(repeats), ",".join(methods)] + (["--graph"] if graph else [])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = {row["method"]: row for row in rows if row["method"] is not None}
    rss = [row["rss_peak_bytes"] for row in rows if row["method"] is None]
    error = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]
    return results, (rss[0] if rss else None), error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 32])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-unchunked-gb", type=float, default=0.2,
                        help="run the unchunked variant only when one [M, B, D] float32 tensor is at most this")
    parser.add_argument("--graph", action="store_true", help="run the estimators inside tf.function")
    parser.add_argument("--one", nargs=5, metavar=("B", "D", "CHUNK", "REPEATS", "METHODS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        b, d, chunk, repeats, methods = args.one
        run_config(int(b), int(d), methods.split(","), int(chunk) or None, int(repeats), args.graph)
        return

    mib = 1 << 20
    print(f"refvae estimators benchmark ({'tf.function' if args.graph else 'eager'}), float32, M = B, "
          f"N = {DATASET_SIZE} ('exact': N = B); memory = peak minus baseline, MiB")
    header = (f"{'B':>5} {'D':>3} {'method':<12} {'chunk':>5} {'time s':>8} {'ns/entry':>8} {'tf MiB':>7} | "
              f"{'unchunked s':>11} {'tf MiB':>7} {'chunked/unchunked time':>22}")
    print(header)
    print("-" * len(header))
    for b in args.batch_sizes:
        for d in args.dims:
            entries = b * b * d
            chunked, rss, error = measure(b, d, args.methods, None, args.repeats, args.graph)
            fits = entries * 4 <= args.max_unchunked_gb * (1 << 30)
            whole, whole_rss, whole_error = (
                measure(b, d, args.methods, b, args.repeats, args.graph) if fits else ({}, None, None)
            )
            for method in args.methods:
                res = chunked.get(method)
                if res is None:
                    print(f"{b:>5} {d:>3} {method:<12} error: {error}")
                    continue
                line = (f"{b:>5} {d:>3} {method:<12} {res['chunk']:>5} {res['time']:>8.3f} "
                        f"{1e9 * res['time'] / entries:>8.2f} {res['tf_peak_bytes'] / mib:>7.1f} | ")
                if not fits:
                    line += f"(not run: {entries * 4 / (1 << 30):.1f} GB a tensor)"
                elif method in whole:
                    w = whole[method]
                    line += f"{w['time']:>11.3f} {w['tf_peak_bytes'] / mib:>7.1f} {res['time'] / w['time']:>22.2f}"
                else:
                    line += f"error: {whole_error}"
                print(line, flush=True)
            summary = f"{b:>5} {d:>3} process peak RSS: chunked {rss / mib if rss is not None else float('nan'):.1f}"
            if fits:
                summary += f", unchunked {whole_rss / mib if whole_rss is not None else float('nan'):.1f}"
            print(summary, flush=True)


if __name__ == "__main__":
    main()
