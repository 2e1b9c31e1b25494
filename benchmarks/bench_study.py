"""Trials per hour of a study on Ray Tune against the same trials one after another, and Ray's
cost per trial.

The same grid of ``--trials`` trials (β-TCVAE of the recipe, ``--steps`` steps each, seeds
0, 1, ..., every default metric of the fast profile) runs twice on this machine:

- one after another in one process: ``refvae.studies.trial.run_trial`` for each, TensorFlow
  with all the machine's cores;
- as a study on a local Ray (``refvae study``), one CPU a trial, so two trials at a time on 2
  cores.

It prints the trials per hour of each and their ratio, and Ray's cost per trial: the seconds
between Ray starting a trial and the trial's end that the trial did not spend training and
scoring (worker start, scheduling, reporting), with Ray's own start-up shared over the trials,
as a share of one trial.

    python benchmarks/bench_study.py                     # 4 trials of 300 steps
    python benchmarks/bench_study.py --trials 6 --steps 1920   # recipe-sized trials (an hour)
"""

import argparse
import json
import os
import pathlib
import tempfile
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def study_file(folder, trials, steps):
    seeds = ", ".join(str(seed) for seed in range(trials))
    path = pathlib.Path(folder) / "bench.toml"
    path.write_text(textwrap.dedent(f"""
        [study]
        name = "bench"
        data = "dsprites"
        seeds = [{seeds}]
        metrics = "default"
        retries = 0
        [trial]
        cpus = 1
        [run]
        steps = {steps}
        checkpoint_every = {steps}
        log_every = {max(1, steps // 10)}
        [models.beta-tcvae]
        beta = 6.0
        """))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)

    from refvae.studies import read_study, runner, table, trial

    with tempfile.TemporaryDirectory() as scratch:
        path = study_file(scratch, args.trials, args.steps)
        study = read_study(path)

        serial_dir = pathlib.Path(scratch) / "serial"
        start = time.perf_counter()
        for spec in study.trials:
            trial.run_trial(study, spec, serial_dir)
        serial = time.perf_counter() - start

        ray_dir = pathlib.Path(scratch) / "ray"
        start = time.perf_counter()
        runner.run_study(runner.prepare(path, ray_dir, resume=False), ray_dir, log=lambda line: print("   ", line))
        parallel = time.perf_counter() - start
        rows = table.rows(ray_dir)
        work = sum(row["train_seconds"] + row["eval_seconds"] for row in rows.values())

    per_hour_serial = 3600 * args.trials / serial
    per_hour_ray = 3600 * args.trials / parallel
    print(f"\n{args.trials} trials of {args.steps} steps: one after another in one process {serial:.0f} s "
          f"({per_hour_serial:.1f} trials/h); on Ray, two at a time {parallel:.0f} s ({per_hour_ray:.1f} trials/h); "
          f"ratio {per_hour_ray / per_hour_serial:.2f}")
    # Ray's cost: wall time of the study times its concurrency, less the seconds the trials trained and scored
    concurrency = min(2, args.trials)
    overhead = (parallel * concurrency - work) / args.trials
    trial_seconds = work / args.trials
    print(f"Ray's cost per trial (start-up shared, workers, scheduling, reports): {overhead:.1f} s, "
          f"{overhead / trial_seconds:.0%} of a trial's {trial_seconds:.0f} s of training and scoring")
    print(json.dumps({"serial_seconds": serial, "ray_seconds": parallel, "ratio": per_hour_ray / per_hour_serial,
                      "ray_cost_per_trial": overhead, "trial_seconds": trial_seconds}))


if __name__ == "__main__":
    main()
