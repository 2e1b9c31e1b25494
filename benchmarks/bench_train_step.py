"""Time one training step of the 64×64 conv VAE and the cost of the TC machinery.

For batch sizes 64 and 256, times ``train_step`` (inside ``tf.function``, as ``fit`` runs it)
of the conv encoder/decoder of 001/004 with 10 Gaussian latents and a Bernoulli decoder:

    vae               the plain ELBO, decomposition="kl" (no aggregate-posterior estimate)
    beta-tcvae mws    001 eq 4 with minibatch weighted sampling
    beta-tcvae mss1   001 eq 4 with minibatch stratified sampling (004 A.2 placement)
    hfvae             002 eq 4 on the 10 Gaussian + 3-class Concrete latent of 002's dSprites
                      model (two groups), HFVAE-stratified estimator

and prints each as a ratio to the plain VAE step of the same batch size in the same run.
Configurations are timed in interleaved rounds and the median per configuration kept, so
load from other processes affects them alike. Goal: ratios <= 1.15.

Run: ``python benchmarks/bench_train_step.py [--steps 10] [--rounds 3] [--batch-sizes 64 256]``
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from refvae import latents, objectives  # noqa: E402
from refvae.models import VAE, networks  # noqa: E402

DATASET_SIZE = 737_280     # dSprites


def configurations():
    gaussian = latents.DiagonalGaussian(10)
    grouped = latents.Grouped([latents.DiagonalGaussian(10), latents.Concrete(3)])
    return [
        ("vae", gaussian, objectives.get("vae"), "mss1", "kl"),
        ("beta-tcvae mws", gaussian, objectives.get("beta-tcvae", beta=6.0), "mws", "tc"),
        ("beta-tcvae mss1", gaussian, objectives.get("beta-tcvae", beta=6.0), "mss1", "tc"),
        ("hfvae", grouped, objectives.get("hfvae", beta=5.0), "hfvae", "hfvae"),
    ]


def make_step(latent, objective, estimator, decomposition):
    keras.utils.set_random_seed(0)
    encoder, decoder = networks.build("conv", (64, 64, 1), latent)
    model = VAE(encoder, decoder, latent, "bernoulli", objective, dataset_size=DATASET_SIZE,
                estimator=estimator, decomposition=decomposition)
    model.compile(keras.optimizers.Adam(1e-4))
    return tf.function(model.train_step)


def time_steps(step, x, steps):
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(x)
    float(logs["loss"])      # wait for the last step
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"GPU: {bool(tf.config.list_physical_devices('GPU'))}, steps {args.steps} x rounds {args.rounds}")
    rng = np.random.default_rng(0)
    for batch_size in args.batch_sizes:
        x = tf.constant((rng.uniform(size=(batch_size, 64, 64, 1)) < 0.2).astype(np.float32))
        steps = {name: make_step(*config) for name, *config in configurations()}
        for step in steps.values():
            time_steps(step, x, 2)          # trace and warm up
        timings = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                timings[name].append(time_steps(step, x, args.steps))
        base = statistics.median(timings["vae"])
        print(f"\nbatch {batch_size}")
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"  {name:<16} {1000 * median:8.1f} ms/step   ratio {median / base:5.2f}")


if __name__ == "__main__":
    main()
