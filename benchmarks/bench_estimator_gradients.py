"""Peak memory and time of a *gradient* step through the aggregate-posterior estimators.

Training differentiates log q̂(z) and log q̂(z_d) (refvae.estimators) with respect to the
encoder's outputs. The forward pass is chunked over samples; in the backward pass each chunk
is recomputed (``tf.recompute_grad``) and one chunk runs at a time, so the peak stays
O(chunk · B · D) instead of keeping every chunk's [chunk, B, D] activations.

For each (B, D) it times, in one process and inside ``tf.function``, the gradient of
TC = mean(log q̂(z) − Σ_d log q̂(z_d)) (MSS1, N = 100,000) with respect to the posterior's loc
and log-scale, two ways:

    whole     chunk_size = B: the [B, B, D] pairwise tensor at once (the baseline)
    chunked   the default chunks (about 4M pairwise entries), recomputed in the backward pass

and prints the peak of TensorFlow's CPU allocator during the step (``get_memory_info``
after ``reset_memory_stats``) and the median step time over ``--repeats`` calls, each as a
ratio chunked / whole. The gradients of the two agree (printed: max relative difference).

Run: ``python benchmarks/bench_estimator_gradients.py [--configs 1024x32 2048x32 2048x10] [--repeats 3]``
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from refvae import estimators  # noqa: E402

DATASET_SIZE = 100_000


def measure(batch_size, dim, chunk_size, repeats):
    """(peak MiB, median seconds, gradients) of one gradient step."""
    rng = np.random.default_rng(0)
    loc = tf.Variable(rng.normal(size=(batch_size, dim)).astype(np.float32))
    log_scale = tf.Variable((rng.normal(size=(batch_size, dim)) * 0.1 - 1.0).astype(np.float32))
    noise = tf.constant(rng.normal(size=(batch_size, dim)).astype(np.float32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            scale = tf.exp(log_scale)
            posterior = tfp.distributions.Normal(loc, scale)
            z = loc + scale * noise
            log_qz, log_qzd = estimators.aggregate_log_density(z, posterior, DATASET_SIZE, "mss1",
                                                               chunk_size=chunk_size)
            tc = tf.reduce_mean(log_qz - tf.reduce_sum(log_qzd, axis=-1))
        return tape.gradient(tc, [loc, log_scale])

    step()                                                       # trace and warm up
    tf.config.experimental.reset_memory_stats("CPU:0")
    base = tf.config.experimental.get_memory_info("CPU:0")["current"]
    gradients = step()
    peak = (tf.config.experimental.get_memory_info("CPU:0")["peak"] - base) / 2**20
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()[0].numpy()
        times.append(time.perf_counter() - start)
    return peak, statistics.median(times), np.concatenate([g.numpy().ravel() for g in gradients])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["1024x32", "2048x32", "2048x10"], help="BxD pairs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"gradient of the MSS1 TC, N = {DATASET_SIZE}; peak of TF's CPU allocator during one step, MiB")
    print(f"{'B':>6} {'D':>4} {'pairwise MiB':>13} {'whole MiB':>10} {'chunked MiB':>12} {'memory ratio':>13} "
          f"{'whole s':>8} {'chunked s':>10} {'time ratio':>11} {'grad rel diff':>14}")
    for config in args.configs:
        batch_size, dim = (int(v) for v in config.lower().split("x"))
        whole_peak, whole_time, whole_grad = measure(batch_size, dim, batch_size, args.repeats)
        chunk_peak, chunk_time, chunk_grad = measure(batch_size, dim, None, args.repeats)
        difference = np.max(np.abs(chunk_grad - whole_grad)) / np.max(np.abs(whole_grad))
        pairwise = batch_size * batch_size * dim * 4 / 2**20
        print(f"{batch_size:>6} {dim:>4} {pairwise:>13.0f} {whole_peak:>10.0f} {chunk_peak:>12.0f} "
              f"{chunk_peak / whole_peak:>13.2f} {whole_time:>8.3f} {chunk_time:>10.3f} "
              f"{chunk_time / whole_time:>11.2f} {difference:>14.1e}", flush=True)


if __name__ == "__main__":
    main()
