"""Where the fixed cost of one run goes, against the time of its steps.

A run of ``refvae.runs.train`` pays, besides its optimiser steps, for building the model,
tracing the compiled step, writing config.json, the checkpoints, TensorBoard and history, and
saving model.keras; a fresh process also pays for importing TensorFlow. A study of many short
trials in one worker pays the in-process part once per trial, the import once per worker.

This script runs, in a fresh process, ``--runs`` runs of ``--steps`` steps of the recipe (the
default model of ``refvae train``) one after another, times every phase with callbacks of the
one loop, and prints each phase's seconds and its share of the run. The first run includes
TensorFlow's first-use costs; the later ones are what a reused study worker pays.

    python benchmarks/bench_run_fixed_cost.py                 # 3 runs of 300 steps
    python benchmarks/bench_run_fixed_cost.py --steps 100 --runs 2
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_seconds():
    """Seconds a fresh Python process takes to import refvae.runs and TensorFlow, and build a model."""
    code = ("import time; t = time.perf_counter(); import tensorflow, keras; from refvae import runs, models; "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(out.stdout.strip().splitlines()[-1])


def one_run(root, steps, index):
    from refvae import data, runs

    class Phases(runs.Callback):
        def __init__(self):
            self.first_step_end = None
            self.last_step_end = None
            self.begin = None

        def on_train_begin(self, model, start, total):
            self.begin = time.perf_counter()

        def on_step_end(self, step, logs):
            now = time.perf_counter()
            if self.first_step_end is None:
                self.first_step_end = now
            self.last_step_end = now

    config = runs.RunConfig.create(steps=steps, out=str(pathlib.Path(root) / f"run{index}"), seed=index,
                                   checkpoint_every=max(1, steps // 2), log_every=max(1, steps // 10))
    data.load(config.data)
    phases = Phases()
    start = time.perf_counter()
    runs.train(config, progress=False, callbacks=[phases])
    end = time.perf_counter()
    steady = (phases.last_step_end - phases.first_step_end) / max(1, steps - 1)
    steps_time = steady * steps
    return {"total": end - start, "before_loop": phases.begin - start,
            "first_step": phases.first_step_end - phases.begin, "steady_step": steady,
            "after_loop": end - phases.last_step_end, "steps": steps_time,
            "fixed": (end - start) - steps_time}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"import of TensorFlow, Keras and refvae in a fresh process: {import_seconds():.2f} s")
    with tempfile.TemporaryDirectory() as root:
        for index in range(args.runs):
            phases = one_run(root, args.steps, index)
            print(f"run {index + 1}: {phases['total']:.2f} s = {phases['steps']:.2f} s of {args.steps} steps "
                  f"({phases['steady_step'] * 1000:.1f} ms each) + {phases['fixed']:.2f} s fixed "
                  f"({phases['fixed'] / phases['total']:.0%} of the run): before the loop {phases['before_loop']:.2f} s "
                  f"(data, model, lock, config), first step {phases['first_step']:.2f} s (tracing), after the last "
                  f"step {phases['after_loop']:.2f} s (last checkpoint, model.keras)", flush=True)


if __name__ == "__main__":
    main()
