"""One trial of a study: a run trained by ``refvae.runs.train``, scored by ``refvae.evaluate``, and
its row of the study's table.

The trial's run directory is ``STUDY_DIR/trials/<trial id>``; a trial that is started again
(a retry after a failure, a lost worker, a resumed study) continues from its own newest
checkpoint, and a trial whose run finished is only scored. Each attempt to train is recorded
beside the run (``<trial id>.attempts.json``: the step it started from, and the seconds it
trained once it ends), so a resumed trial's training time is the sum of its attempts and a
trial trained again from its first step would show.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any

from refvae.io import write_atomic
from refvae.runs import RunDirectory
from refvae.studies.spec import StudySpec, Trial

__all__ = ["configure_tensorflow", "row_of", "run_trial"]

# The terms of the last logged step that a row records ("final_" + name).
FINAL_TERMS = ("loss", "elbo", "reconstruction", "kl", "index_code_mi", "total_correlation", "dimwise_kl")


def configure_tensorflow(cpus: float) -> None:
    """TensorFlow in a trial uses the trial's CPUs (intra- and inter-op threads) and grows GPU
    memory instead of taking it all. Before TensorFlow starts, the thread counts go through the
    environment; in a worker where it runs already (a reused one), through its API when allowed."""
    threads = max(1, int(cpus))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    for setter in (tf.config.threading.set_intra_op_parallelism_threads,
                   tf.config.threading.set_inter_op_parallelism_threads):
        try:
            setter(threads)
        except RuntimeError:    # TensorFlow already started in this process: its threads stay
            pass
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass


def run_trial(study: StudySpec, trial: Trial, root: str | os.PathLike) -> dict[str, Any]:
    """Train (or continue) and score one trial; returns its row of the study's table."""
    from refvae import evaluate, runs

    root = pathlib.Path(root)
    config = trial.run_config(root / "trials" / trial.id)
    directory = RunDirectory(config.out)
    attempts_path = root / "trials" / f"{trial.id}.attempts.json"
    attempts = json.loads(attempts_path.read_text()) if attempts_path.exists() else []
    steps = directory.checkpoint_steps() if directory.is_run() else []
    if not (steps and steps[0] >= config.steps and directory.model_path.exists()):
        # recorded before training: an attempt that is killed still shows where it started
        attempts.append({"from_step": steps[0] if steps else 0, "seconds": None})
        write_atomic(attempts_path, json.dumps(attempts, indent=1) + "\n")
        start = time.perf_counter()
        runs.train(config, resume=bool(steps), progress=False)
        attempts[-1]["seconds"] = round(time.perf_counter() - start, 2)
        write_atomic(attempts_path, json.dumps(attempts, indent=1) + "\n")
    start = time.perf_counter()
    results = evaluate.evaluate(config.out, study.metrics, profile=study.metrics_profile, report=False)
    eval_seconds = time.perf_counter() - start
    return row_of(study, trial, results, runs.read_history(config.out),
                  train_seconds=sum(attempt["seconds"] or 0.0 for attempt in attempts), eval_seconds=eval_seconds,
                  attempts=len(attempts))


def row_of(study: StudySpec, trial: Trial, results: dict[str, Any], history: dict[str, Any], *,
           train_seconds: float, eval_seconds: float, attempts: int) -> dict[str, Any]:
    """A trial's row: its id and status, every config field, each metric's headline value and its
    per-factor values (``mig.shape``, ...), the final logged terms, the seconds."""
    from refvae import data as datasets
    from refvae.metrics import registry

    row: dict[str, Any] = {"trial": trial.id, "status": "done", "error": "", "model": trial.model, "seed": trial.seed}
    row.update({key: value for key, value in trial.config.items() if key not in row})
    factor_names = list(datasets.load(study.data).factor_names)
    for name in study.metrics:
        result = results.get(name, {})
        headline = registry.get(name).headline
        row[name] = result.get(headline)
        # the metric's other numbers (DCI's completeness, the BetaVAE score's training accuracy, ...)
        row.update({f"{name}.{key}": value for key, value in result.items()
                    if key not in (headline, "seconds") and isinstance(value, (int, float)) and not isinstance(value, bool)})
        per_factor = result.get("per_factor")
        if isinstance(per_factor, list) and len(per_factor) == len(factor_names):
            row.update({f"{name}.{factor}": value for factor, value in zip(factor_names, per_factor)})
        if result.get("warnings"):
            row[f"{name}.warnings"] = " | ".join(result["warnings"])
    bias = results.get("estimator_bias", {})
    row.update({f"bias.{key}": value for key, value in bias.items() if key.startswith(("tc_", "index_code_mi_"))})
    for term in FINAL_TERMS:
        if term in history and len(history[term]):
            row[f"final_{term}"] = float(history[term][-1])
    row.update(train_seconds=round(train_seconds, 2), eval_seconds=round(eval_seconds, 2), attempts=attempts)
    return row


def failed_row(trial: Trial, error: str) -> dict[str, Any]:
    """The row of a trial that failed after its retries: its config and the error."""
    row: dict[str, Any] = {"trial": trial.id, "status": "failed", "error": error, "model": trial.model,
                           "seed": trial.seed}
    row.update({key: value for key, value in trial.config.items() if key not in row})
    return row
