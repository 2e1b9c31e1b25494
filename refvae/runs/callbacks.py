"""Callbacks of the training loop (``refvae.runs.fit``): what a run records while it trains.

- :class:`History`: every ``every`` steps a row of the logged terms, kept in memory and, with a
  path, appended to a CSV file (one write of whole lines, so a row costs the same at any length).
- :class:`TensorBoard`: the same scalars for TensorBoard.
- :class:`Checkpoints`: a ``tf.train.CheckpointManager`` save every ``every`` steps, at the
  end and at Ctrl-C.
- :class:`BiasMonitor`: warns once when the minibatch q(z) estimator is out of its depth
  (:class:`EstimatorBiasMonitor`).
- :class:`ProgressBar`: Keras's progress bar with every term.

A writer that cannot write (a full disk, a vanished folder) raises
``refvae.runs.directory.WriteError`` naming the file.
"""

from __future__ import annotations

import csv
import math
import os
import pathlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from refvae.runs.directory import WriteError
from refvae.runs.loop import Callback

__all__ = ["BiasMonitor", "Checkpoints", "EstimatorBiasMonitor", "EstimatorBiasWarning", "History", "ProgressBar",
           "TensorBoard"]


def _due(step: int, every: int, last: int) -> bool:
    return step % every == 0 or step == last


class History(Callback):
    """The logged terms every ``every`` steps (and at the last step): ``rows`` in memory, and
    appended to the CSV file ``path`` when given (a header first when the file is new).

    ``as_arrays()`` gives {column: array}, the form of ``refvae.runs.read_history``.
    """

    def __init__(self, every: int = 50, path: str | os.PathLike | None = None) -> None:
        self.every = every
        self.path = None if path is None else pathlib.Path(path)
        self.rows: list[dict[str, float]] = []
        self.steps = 0

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        self.steps = steps

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        if not _due(step, self.every, self.steps):
            return
        row = {"step": step, **logs}
        self.rows.append(row)
        if self.path is not None:
            self._append(row)

    def _append(self, row: dict[str, float]) -> None:
        assert self.path is not None
        text = {"step": row["step"], **{name: f"{value:.6g}" for name, value in row.items() if name != "step"}}
        try:
            new = not self.path.exists()
            with self._open() as handle:
                writer = csv.DictWriter(handle, fieldnames=list(text), lineterminator="\n")
                if new:
                    writer.writeheader()
                writer.writerow(text)
        except OSError as error:
            raise WriteError(self.path, error, "free space, then resume the run") from None

    def _open(self) -> Any:
        assert self.path is not None
        return self.path.open("a", newline="")

    def as_arrays(self) -> dict[str, np.ndarray]:
        if not self.rows:
            return {}
        return {name: np.array([row[name] for row in self.rows], dtype=float) for name in self.rows[0]}


class TensorBoard(Callback):
    """Every logged term as a TensorBoard scalar every ``every`` steps, in ``directory``."""

    def __init__(self, directory: str | os.PathLike, every: int = 50) -> None:
        self.directory, self.every = pathlib.Path(directory), every
        self.writer: Any = None
        self.steps = 0

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        import tensorflow as tf

        self.steps = steps
        try:
            self.writer = tf.summary.create_file_writer(str(self.directory))
        except (OSError, tf.errors.OpError) as error:
            raise WriteError(self.directory, error, "free space, then resume the run") from None

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        if not _due(step, self.every, self.steps):
            return
        import tensorflow as tf

        try:
            with self.writer.as_default(step=step):
                for name, value in logs.items():
                    tf.summary.scalar(name, value)
        except (OSError, tf.errors.OpError) as error:
            raise WriteError(self.directory, error, "free space, then resume the run") from None

    def on_train_end(self, step: int, logs: dict[str, float]) -> None:
        self._flush()

    def on_interrupt(self, step: int) -> None:
        self._flush()

    def _flush(self) -> None:
        import tensorflow as tf

        if self.writer is not None:
            try:
                self.writer.flush()
            except (OSError, tf.errors.OpError) as error:
                raise WriteError(self.directory, error, "free space, then resume the run") from None


class Checkpoints(Callback):
    """Save ``checkpoint`` (a ``tf.train.Checkpoint``) into ``directory`` every ``every`` steps,
    at the last step, and when Ctrl-C stops the run; keep the newest ``keep``.

    Args:
        on_save: called as ``on_save(step)`` after each save (e.g. to write config.json once,
            or to score the model during training).
    """

    def __init__(self, checkpoint: Any, directory: str | os.PathLike, every: int, keep: int = 2,
                 on_save: Callable[[int], None] | None = None) -> None:
        import tensorflow as tf

        self.directory = pathlib.Path(directory)
        self.manager = tf.train.CheckpointManager(checkpoint, str(self.directory), max_to_keep=keep)
        self.every, self.on_save = every, on_save
        self.steps = 0
        self.saved = 0

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        self.steps, self.saved = steps, start

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        if _due(step, self.every, self.steps):
            self.save(step)

    def on_interrupt(self, step: int) -> None:
        if step > self.saved:
            self.save(step)

    def save(self, step: int) -> None:
        import tensorflow as tf

        try:
            self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as error:
            raise WriteError(self.directory, error, "free space, then resume the run from its last checkpoint") from None
        self.saved = step
        if self.on_save is not None:
            self.on_save(step)


class EstimatorBiasWarning(UserWarning):
    """The minibatch q(z) estimator is biased enough that the objective rewards the bias."""


class EstimatorBiasMonitor:
    """Watches the logged terms for the two signs of a minibatch estimator out of its depth.

    - A negative batch estimate of the total correlation. TC is a KL divergence, so it is
      >= 0; MWS and MSS (001 eq 3, 004 eqs 5-6) underestimate log q(z) by more than
      Σ_j log q(z_j) when each sample is scored almost only by its own posterior, which
      pushes the estimate below 0. A weight β > 1 on it then rewards the bias, not
      independence.
    - ``index_code_mi`` within ``margin`` nats of log N: the estimate I(x; z) cannot exceed
      log N (003 eq 4.23), and at the ceiling the batch sees no overlap between posteriors.

    ``update`` is called with each logged row; it returns a message once, the first time
    that, after at least ``min_rows`` rows and ``min_progress`` of the run, ``fraction`` of
    the rows so far show either sign; afterwards it returns None.
    """

    def __init__(self, dataset_size: int, batch_size: int, estimator: str, tc_weight: float, total_steps: int,
                 fraction: float = 0.5, min_rows: int = 10, min_progress: float = 0.25, margin: float = 1.0) -> None:
        self.log_n = math.log(dataset_size)
        self.batch_size, self.estimator, self.tc_weight = batch_size, estimator, tc_weight
        self.total_steps = total_steps
        self.fraction, self.min_rows, self.min_progress, self.margin = fraction, min_rows, min_progress, margin
        self.rows = self.negative = self.saturated = 0
        self.warned = False

    def update(self, step: int, logs: dict[str, float]) -> str | None:
        if self.warned or "total_correlation" not in logs or "index_code_mi" not in logs:
            return None
        self.rows += 1
        self.negative += logs["total_correlation"] < 0
        self.saturated += logs["index_code_mi"] > self.log_n - self.margin
        if self.rows < self.min_rows or step < self.min_progress * self.total_steps:
            return None
        negative, saturated = self.negative / self.rows, self.saturated / self.rows
        if max(negative, saturated) < self.fraction:
            return None
        self.warned = True
        signs = []
        if negative >= self.fraction:
            signs.append(f"the batch estimate of the total correlation was negative in {negative:.0%} of the "
                         f"logged steps (now {logs['total_correlation']:.2f} nats; a true TC is >= 0)")
        if saturated >= self.fraction:
            signs.append(f"index_code_mi was within {self.margin:g} nat of log N = {self.log_n:.2f} in "
                         f"{saturated:.0%} of them (now {logs['index_code_mi']:.2f})")
        reward = (f" With the TC weighted by {self.tc_weight:g} > 1 the objective rewards the estimator's bias, "
                  f"not independence." if self.tc_weight > 1 else "")
        return (f"at step {step}, " + " and ".join(signs) + f": at batch {self.batch_size} the {self.estimator} "
                f"estimator scores each sample almost only by its own posterior, so its q(z) terms are biased."
                + reward + f" A larger batch size (at least {max(1024, 4 * self.batch_size)}) shrinks the bias (in "
                "the recipe study of RESULTS.md, seed 0: a batch TC of -0.2 nats at batch 1024, -3.8 at batch 64). "
                "Read the TC of a large batch that `refvae evaluate` reports beside the batch estimate.")


class BiasMonitor(Callback):
    """Runs an :class:`EstimatorBiasMonitor` on the rows a run logs (every ``every`` steps) and
    issues its message once as an :class:`EstimatorBiasWarning`."""

    def __init__(self, dataset_size: int, batch_size: int, estimator: str, every: int) -> None:
        self.dataset_size, self.batch_size, self.estimator, self.every = dataset_size, batch_size, estimator, every
        self.monitor: EstimatorBiasMonitor | None = None
        self.steps = 0

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        self.steps = steps
        self.monitor = EstimatorBiasMonitor(self.dataset_size, self.batch_size, self.estimator,
                                            float(model.estimated_tc_weight), steps)

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        if _due(step, self.every, self.steps) and self.monitor is not None:
            message = self.monitor.update(step, logs)
            if message:
                warnings.warn(message, EstimatorBiasWarning, stacklevel=2)


class ProgressBar(Callback):
    """Keras's progress bar over the run's steps, with every logged term."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        import keras

        self.bar = keras.utils.Progbar(steps, stateful_metrics=model.logged_terms)

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        self.bar.update(step, values=list(logs.items()))
