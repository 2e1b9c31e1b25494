"""Running a study on Ray Tune: locally in the process by default, on a Ray cluster by address.

``run_study`` writes the study into its directory before the first trial (the TOML file as
declared and the grid it expands to), hands the trials that have no result yet to Ray Tune as
one grid of a function trainable, and writes each trial's row as Ray reports it::

    STUDY_DIR/study.toml        the study as declared
    STUDY_DIR/grid.json         the grid of trials, written before the first one runs
    STUDY_DIR/trials/<id>/      each trial's run directory (checkpoints, history, metrics.json)
    STUDY_DIR/results/<id>.json each finished (or failed) trial's row, written by the driver
    STUDY_DIR/results.csv       the table of every row (``refvae.studies.load``)
    STUDY_DIR/ray/              Ray Tune's own experiment folders and logs

Ray schedules the trials (one trial takes ``[trial] cpus`` and ``gpus``), retries a failed
trial ``retries`` times (``FailureConfig``), and a retried or resumed trial continues from its
own checkpoints. ``address=None`` starts Ray inside the process with the machine's cores;
``address="auto"`` or ``"ray://HOST:10001"`` joins a running cluster, with no other change.
A trial's run directory is a path under STUDY_DIR on the node that runs it: on a cluster,
STUDY_DIR on a file system every node mounts lets a trial continue on another node; without
one, a trial whose node is lost starts again from its first step elsewhere.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time
from collections.abc import Callable
from typing import Any

from refvae.io import write_atomic
from refvae.studies import table
from refvae.studies.spec import StudyError, StudySpec, grid_differences, read_study
from refvae.studies.trial import failed_row

__all__ = ["prepare", "run_study"]


def prepare(study_file: str | os.PathLike | None, study_dir: str | os.PathLike, resume: bool) -> StudySpec:
    """The study to run in ``study_dir``: a new one is written there (refused if the folder holds
    anything else); a resumed one is read back from the folder and refused if its grid differs
    from the one written (or from ``study_file``, when given), naming the difference."""
    study_dir = pathlib.Path(study_dir)
    written = study_dir / "study.toml"
    if resume:
        if not (study_dir / "grid.json").is_file() or not written.is_file():
            raise StudyError(f"{study_dir}: holds no study (no study.toml and grid.json) to resume")
        study = read_study(study_file or written)
        differences = grid_differences(json.loads((study_dir / "grid.json").read_text()), study.settings())
        if differences:
            raise StudyError(f"{study_dir}: the grid differs from the one written when the study started "
                             f"({'; '.join(differences)}); run it in a new folder instead")
        return study
    if study_file is None:
        raise StudyError("a study file (STUDY.toml) is needed to start a study")
    study = read_study(study_file)
    if study_dir.exists() and any(study_dir.iterdir()):
        raise StudyError(f"{study_dir}: is not empty; a new study needs a new or empty folder "
                         f"(`refvae study run --resume {study_dir}` continues the study there)")
    study_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(study_file, written)
    write_atomic(study_dir / "grid.json", json.dumps(study.settings(), indent=1) + "\n")
    return study


def run_study(study: StudySpec, study_dir: str | os.PathLike, address: str | None = None,
              log: Callable[[str], None] = print) -> Any:
    """Run every trial of ``study`` that has no finished row in ``study_dir`` on Ray Tune; write the
    rows and results.csv; returns the table (``refvae.studies.load``).

    Args:
        study: the study (``prepare``).
        study_dir: its folder.
        address: None: Ray in this process with the machine's cores; "auto" or "ray://HOST:PORT":
            a running Ray cluster.
        log: where the progress lines go.
    """
    import ray

    study_dir = pathlib.Path(study_dir).resolve()
    (study_dir / "results").mkdir(exist_ok=True)
    finished = {trial_id for trial_id, row in table.rows(study_dir).items() if row.get("status") == "done"}
    pending = [trial for trial in study.trials if trial.id not in finished]
    log(f"study {study.name}: {len(study.trials)} trials, {len(finished)} done before, {len(pending)} to run")
    if pending:
        started_here = not ray.is_initialized()
        if started_here:
            _start_ray(address, log)
        try:
            _fit(study, study_dir, pending, log)
        finally:
            if started_here:
                ray.shutdown()
    frame = table.write_csv(study_dir, study)
    failed = [row for row in table.rows(study_dir).values() if row.get("status") == "failed"]
    for row in failed:
        log(f"trial {row['trial']} failed: {row['error']}")
    log(f"study {study.name}: {len(frame)} rows in {study_dir / 'results.csv'}"
        + (f"; {len(failed)} failed" if failed else ""))
    return frame


def _start_ray(address, log, attempts=3):
    """Join the cluster at ``address``, or start Ray in this process with the machine's cores.

    Ray's raylet gives its node agent 15 s to start (a limit of Ray itself:
    https://github.com/ray-project/ray/issues/65983);
    on a machine busy enough to miss it the start is tried again, ``attempts`` times in all.
    """
    import ray

    for attempt in range(1, attempts + 1):
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # "local": a new Ray of this process, never one that `ray start` left running here
                ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            return
        except Exception as error:  # Ray reports a slow start as a bare Exception
            if "timed out during startup" not in str(error) or attempt == attempts:
                raise
            ray.shutdown()
            log(f"Ray did not start in time (attempt {attempt} of {attempts}): trying again")


def _fit(study, study_dir, pending, log):
    import ray
    from ray import tune

    resources = {"cpu": study.cpus, "gpu": study.gpus}
    trainable = tune.with_resources(tune.with_parameters(_trainable, study=study, root=str(study_dir)), resources)
    cluster_cpus = ray.cluster_resources().get("CPU", 1.0)
    concurrency = max(1, min(len(pending), int(cluster_cpus // study.cpus)))
    progress = _progress_callback(study, study_dir, len(study.trials) - len(pending), concurrency, log)
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search([trial.id for trial in pending])},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(study_dir / "ray"),
                                  failure_config=tune.FailureConfig(max_failures=study.retries), verbose=0,
                                  callbacks=[progress]),
    )
    grid = tuner.fit()
    for index in range(len(grid)):   # every row was written as its trial ended; this writes none twice
        result = grid[index]
        trial_id = (result.config or {}).get("trial")
        if trial_id is None or (study_dir / "results" / f"{trial_id}.json").exists():
            continue
        if result.error is not None:
            _write_row(study_dir, failed_row(study.trial(trial_id), _error_line(result.error)))
        elif result.metrics and "row" in result.metrics:
            _write_row(study_dir, json.loads(result.metrics["row"]))


def _write_row(study_dir, row):
    write_atomic(pathlib.Path(study_dir) / "results" / f"{row['trial']}.json", json.dumps(row, indent=1) + "\n")


def _trainable(config, study, root):
    """The function Ray Tune runs for one trial: train, score, report the row."""
    from ray import tune

    from refvae.studies import trial as trials

    trials.configure_tensorflow(study.cpus)
    row = trials.run_trial(study, study.trial(config["trial"]), root)
    tune.report({"row": json.dumps(row)})


def _trial_error(trial) -> str | BaseException | None:
    """The error of a failed trial as Ray wrote it: its text file in the driver's staging folder
    (written before ``on_trial_error`` runs; the copy in the storage folder, which
    ``trial.get_error`` reads, may not be synced yet), else what the storage holds."""
    path = trial.error_file
    if path and os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    return trial.get_error() or trial.get_pickled_error()


def _error_line(error: BaseException | str | None) -> str:
    """The last line of a trial's error that names the exception (Ray wraps it in its own)."""
    if error is None:
        return "the trial failed and Ray recorded no error (see the worker's log under the study's ray/ folder)"
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    named = [line for line in lines if ":" in line and line.split(":", 1)[0].replace(".", "").isidentifier()]
    return (named or lines or [type(error).__name__])[-1][:500]


class _ProgressBase:
    """Counts of the trials done, running and failed, and the time left, one line per change."""

    def __init__(self, study, study_dir, done_before, concurrency, log):
        self.study, self.study_dir = study, study_dir
        self.total, self.done, self.concurrency, self.log = len(study.trials), done_before, concurrency, log
        self.running, self.failed = 0, 0
        self.started: dict[str, float] = {}
        self.durations: list[float] = []

    def _line(self):
        left = self.total - self.done - self.failed
        eta = ""
        if self.durations and left:
            seconds = sum(self.durations) / len(self.durations) * left / self.concurrency
            eta = f"; about {seconds / 3600:.1f} h left" if seconds > 5400 else f"; about {seconds / 60:.0f} min left"
        self.log(f"study: {self.done}/{self.total} done, {self.running} running, {self.failed} failed{eta}")


def _progress_callback(study, study_dir, done_before, concurrency, log):
    """A ``tune.Callback`` that writes each trial's row as soon as the trial reports it (or fails
    for good), so a study whose driver dies keeps every row written, and logs a progress line
    whenever a trial starts, ends or fails."""
    from ray import tune

    class Progress(_ProgressBase, tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            self.running += 1
            self.started[trial.trial_id] = time.perf_counter()
            self._line()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "row" in result:
                _write_row(self.study_dir, json.loads(result["row"]))

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.running = max(0, self.running - 1)
            self.done += 1
            self.durations.append(time.perf_counter() - self.started.pop(trial.trial_id, time.perf_counter()))
            self._line()

        def on_trial_error(self, iteration, trials, trial, **info):
            self.running = max(0, self.running - 1)
            self.failed += 1
            error = _trial_error(trial)
            trial_id = trial.config.get("trial")
            if trial_id is not None:
                _write_row(self.study_dir, failed_row(self.study.trial(trial_id), _error_line(error)))
            self._line()

    return Progress(study, study_dir, done_before, concurrency, log)
