"""Rendering throughput and epoch memory of the procedural data sets (not run by CI).

Prints, for procedural dSprites and the Shapes3D-like set:

- rendering throughput (images/s) of ``observations_from_factors`` at several batch sizes,
  after the one-off pre-rendering of the base sprites / masks (timed separately);
- time and peak memory of iterating one epoch of shuffled batches with
  ``iterate_batches`` (the generator behind ``as_tf_dataset``): peak traced NumPy/Python
  allocation (``tracemalloc``) and the process's peak resident set (``ru_maxrss``);
- with ``--tf``, the throughput of ``as_tf_dataset`` batches pulled through ``tf.data``.

Usage:
    python benchmarks/bench_data.py [--epoch-fraction 1.0] [--batch-size 256] [--tf]
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from refvae.data import dsprites, shapes3d  # noqa: E402
from refvae.data.dsprites import base_sprites  # noqa: E402
from refvae.data.shapes import object_masks  # noqa: E402


def throughput(data, batch_size, seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    factors = [data.sample_factors(batch_size, rng) for _ in range(16)]
    data.observations_from_factors(factors[0])  # warm up allocator and caches
    rendered, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in factors:
            data.observations_from_factors(f)
        rendered += 16 * batch_size
    return rendered / (time.perf_counter() - start)


def epoch(data, batch_size, fraction):
    """Iterates `fraction` of one epoch; returns (images, seconds, traced peak MiB)."""
    num_batches = max(1, int(fraction * data.num_observations) // batch_size)
    tracemalloc.start()
    start = time.perf_counter()
    images = 0
    for index, batch in enumerate(data.iterate_batches(batch_size, seed=0)):
        images += len(batch)
        if index + 1 == num_batches:
            break
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return images, seconds, peak / 2**20


def tf_throughput(data, batch_size, num_batches=200):
    dataset = data.as_tf_dataset(batch_size, seed=0).take(num_batches + 1)
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    rate = count * batch_size / (time.perf_counter() - start)
    del iterator, dataset  # stop the prefetching thread before the next measurement
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epoch-fraction", type=float, default=1.0,
                        help="part of an epoch to iterate for the memory measurement")
    parser.add_argument("--tf", action="store_true", help="also time as_tf_dataset")
    args = parser.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}")

    start = time.perf_counter()
    base_sprites()
    print(f"dSprites: pre-render 720 base sprites: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    object_masks()
    print(f"shapes3d: pre-render 480 object masks: {time.perf_counter() - start:.2f} s")

    for name, data in (("dSprites", dsprites()), ("shapes3d", shapes3d())):
        for batch_size in (64, 256, 1024):
            rate = throughput(data, batch_size)
            print(f"{name}: render throughput at batch {batch_size:5d}: {rate:10,.0f} images/s")
        images, seconds, traced = epoch(data, args.batch_size, args.epoch_fraction)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name}: iterated {images:,} images ({args.epoch_fraction:g} epoch, batch "
              f"{args.batch_size}) in {seconds:.1f} s = {images / seconds:,.0f} images/s; "
              f"peak traced allocation {traced:.1f} MiB; process peak RSS so far {rss:.0f} MiB")
        if args.tf:
            rate = tf_throughput(data, args.batch_size)
            print(f"{name}: as_tf_dataset throughput at batch {args.batch_size}: "
                  f"{rate:,.0f} images/s")


if __name__ == "__main__":
    main()
