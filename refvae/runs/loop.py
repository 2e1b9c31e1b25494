"""The one training loop of refvae: steps of a compiled ``train_step``, and callbacks.

``fit(model, batches, steps)`` runs the optimiser steps ``start ... steps - 1``, each on
``batches(step)`` (a NumPy batch; a pure function of the step makes a run reproducible and
resumable), and hands every step's logs to its callbacks. It needs no run directory: the
command line's run (``refvae.runs.train``), the study's trials and the experiments all use it,
with different callbacks (checkpoints, history, TensorBoard, the estimator-bias monitor, a
progress bar: ``refvae.runs.callbacks``).

Each logged value is that step's own (the model's metric trackers are reset inside the
compiled step), converted to a Python float; a NaN or infinite loss stops the loop with
:class:`NonFiniteLoss`, and Ctrl-C with :class:`Interrupted` after the callbacks had their
``on_interrupt``.

Example::

    history = refvae.runs.callbacks.History(every=50)
    logs = refvae.runs.fit(model, lambda step: x[rng_of(step)], steps=1000, callbacks=[history])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = ["Callback", "Interrupted", "NonFiniteLoss", "compiled_step", "fit", "make_strategy"]

STRATEGIES = ("default", "mirrored")


class Callback:
    """What a callback of :func:`fit` may do; every hook is optional.

    ``step`` is the number of steps done (1 after the first step); ``logs`` the terms of that
    step as floats.
    """

    def on_train_begin(self, model: Any, start: int, steps: int) -> None:
        """Before the first step (``start`` steps were done before, by a resumed run)."""

    def on_step_end(self, step: int, logs: dict[str, float]) -> None:
        """After every step."""

    def on_train_end(self, step: int, logs: dict[str, float]) -> None:
        """After the last step."""

    def on_interrupt(self, step: int) -> None:
        """Ctrl-C arrived after ``step`` steps (the model holds exactly that step's state)."""


class NonFiniteLoss(RuntimeError):
    """Training produced a NaN or infinite loss; ``step`` and ``logs`` say where and what."""

    def __init__(self, step: int, logs: dict[str, float], advice: str = "") -> None:
        terms = ", ".join(f"{name}={value:.4g}" for name, value in logs.items())
        super().__init__(f"non-finite loss at step {step}: {terms}" + (f"; {advice}" if advice else ""))
        self.step, self.logs, self.advice = step, dict(logs), advice

    def __reduce__(self):
        # Rebuilt from its own arguments when copied or pickled (Ray sends a trial's error that way).
        return type(self), (self.step, self.logs, self.advice)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`; ``step`` is the number of steps done."""

    def __init__(self, step: int, message: str = "") -> None:
        super().__init__(message or f"interrupted at step {step}")
        self.step = step

    def __reduce__(self):
        return type(self), (self.step, str(self))


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy of a config's ``strategy`` option."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def compiled_step(model: keras.Model, strategy: tf.distribute.Strategy | None = None,
                  autograph: bool = False) -> Callable[[np.ndarray], dict[str, Any]]:
    """A compiled step: NumPy batch -> the logs of this step alone (the model's metric trackers
    are reset inside the compiled function, before the step); under a multi-replica strategy
    the batch is split evenly across replicas and every replica reports the same global-batch
    terms.

    The step is traced without AutoGraph by default: no model's ``train_step`` branches or
    loops on tensors in Python (the losses are the same either way, tests/test_train_models.py),
    and AutoGraph's conversion costs seconds at the first call.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()

    def reset_trackers():
        for tracker in model.metrics:
            tracker.reset_state()

    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        def one_device_step(batch):
            reset_trackers()
            return model.train_step(batch)

        return tf.function(one_device_step, autograph=autograph)

    def step(per_replica_batch):
        reset_trackers()
        logs = strategy.run(model.train_step, args=(per_replica_batch,))
        return {name: strategy.experimental_local_results(value)[0] for name, value in logs.items()}

    step = tf.function(step, autograph=autograph)

    def run(batch):
        size = len(batch) // replicas

        def slice_of(context):
            index = context.replica_id_in_sync_group
            return tf.constant(batch[index * size:(index + 1) * size])

        return step(strategy.experimental_distribute_values_from_function(slice_of))

    return run


def fit(model: keras.Model, batches: Callable[[int], np.ndarray], steps: int, *, start: int = 0,
        callbacks: Sequence[Callback] = (), strategy: tf.distribute.Strategy | None = None,
        step_function: Callable[[np.ndarray], dict[str, Any]] | None = None) -> dict[str, float]:
    """Run optimiser steps ``start ... steps - 1`` of a compiled model; returns the last step's logs.

    Args:
        model: a compiled refvae model (its optimiser built).
        batches: step -> the NumPy batch of that step.
        steps: the total number of steps (the run ends when ``steps`` are done).
        start: steps already done (a resumed run's restored step).
        callbacks: :class:`Callback` objects, called in order.
        strategy: a ``tf.distribute`` strategy (default: the current one).
        step_function: a step made by :func:`compiled_step` to reuse (default: made here).

    Raises:
        NonFiniteLoss: a NaN or infinite loss (nothing of that step is handed to the callbacks).
        Interrupted: Ctrl-C; the callbacks' ``on_interrupt`` ran first.
    """
    step_function = step_function or compiled_step(model, strategy)
    for callback in callbacks:
        callback.on_train_begin(model, start, steps)
    logs: dict[str, float] = {}
    done = start
    try:
        for step in range(start, steps):
            logs = {name: float(value) for name, value in step_function(batches(step)).items()}
            if not math.isfinite(logs["loss"]):
                raise NonFiniteLoss(step + 1, logs)
            done = step + 1
            for callback in callbacks:
                callback.on_step_end(done, logs)
    except KeyboardInterrupt:
        done = int(model.optimizer.iterations.numpy())   # the steps whose update was applied
        for callback in callbacks:
            callback.on_interrupt(done)
        raise Interrupted(done) from None
    for callback in callbacks:
        callback.on_train_end(done, logs)
    return logs
