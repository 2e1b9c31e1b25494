"""One run: a configuration trained into its run directory, resumable, by the one loop.

:func:`train` is the function ``refvae train``, ``refvae demo``, a study's trials and the
experiments' runs all call. It checks everything it can before any work, holds the run's lock
for its whole life, writes config.json when it starts, then runs ``refvae.runs.fit`` with the
callbacks of a run (history, TensorBoard, checkpoints, the estimator-bias monitor, a progress
bar) and saves model.keras at the end.

Batches are a pure function of (seed, step): batch t renders observation indices drawn by
``numpy.random.default_rng([seed, t])``. Together with the checkpointed optimiser and sampling
state this makes an interrupted run that is resumed end exactly where the uninterrupted run ends.

Example:
    >>> config = RunConfig.create(model="beta-tcvae", data="dsprites", steps=2000, out="runs/tc")
    >>> model = train(config)                 # or: refvae train --model beta-tcvae --steps 2000 --out runs/tc
    >>> model = train(config.replace(steps=3000), resume=True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from refvae import data as datasets
from refvae.runs import callbacks as run_callbacks
from refvae.runs.config import ConfigError, RunConfig
from refvae.runs.directory import CONFIG_KEY, RunDirectory, RunDirectoryError
from refvae.runs.loop import Callback, Interrupted, NonFiniteLoss, compiled_step, fit, make_strategy

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from refvae.data.base import GroundTruthData

__all__ = ["batch_at", "build_model", "load_model", "make_checkpoint", "train"]


def build_model(config: RunConfig, dataset: GroundTruthData) -> keras.Model:
    """The model of ``config`` for ``dataset`` (``refvae.runs.registry``), compiled with Adam at
    ``config.learning_rate``, its optimiser built; the weights are seeded by ``config.seed``."""
    import keras

    keras.utils.set_random_seed(config.seed)
    model = config.spec.build(config, dataset)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def batch_at(dataset: GroundTruthData, config: RunConfig, step: int) -> np.ndarray:
    """The observations of step ``step``: a pure function of (seed, step).

    Observations are drawn by the data set's own sampler (``sample_indices``): uniform
    factors on a grid, the dependent or restricted factors of the correlated and held-out
    variants, uniform training rows of labelled images.
    """
    rng = np.random.default_rng([config.seed, step])
    return dataset.observations_from_indices(dataset.sample_indices(config.batch_size, rng))


def make_checkpoint(model: keras.Model, config: RunConfig) -> tf.train.Checkpoint:
    """A ``tf.train.Checkpoint`` of what a run must restore: the model's ``checkpoint_objects``
    (weights, every optimiser, the sampling state) and the configuration it trains with."""
    import tensorflow as tf

    config_variable = tf.Variable(_stored(config), dtype=tf.string, trainable=False)
    return tf.train.Checkpoint(**model.checkpoint_objects(), **{CONFIG_KEY: config_variable})


def _stored(config: RunConfig) -> str:
    """The configuration as a checkpoint stores it: JSON of every option but ``out`` (the same run
    may be moved to another folder)."""
    return json.dumps({key: value for key, value in config.to_dict().items() if key != "out"})


def train(config: RunConfig, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[int, keras.Model], None] | None = None,
          callbacks: Sequence[Callback] = ()) -> keras.Model:
    """Train (or resume) the run of ``config`` in ``config.out``; returns the model.

    Args:
        config: a :class:`RunConfig` (valid by construction).
        resume: continue the run in ``config.out`` from its newest checkpoint; ``config``
            must equal its config.json except ``steps``.
        progress: show a progress bar with every term.
        on_checkpoint: called as ``on_checkpoint(step, model)`` after each checkpoint is
            written, e.g. to score the model during training.
        callbacks: more callbacks of the loop, after the run's own.

    Raises:
        ConfigError: an option that cannot work with the data (a batch larger than the data set).
        RunDirectoryError: a folder that cannot hold this run (see ``RunDirectory``); a
            second writer gets ``RunInUse``.
        NonFiniteLoss: a NaN/inf loss; the message names the last good checkpoint.
        Interrupted: Ctrl-C; a checkpoint of the step reached was written first.
        WriteError: a file of the run could not be written (a full disk).
    """
    directory = RunDirectory(config.out)
    directory.check_location()
    if resume and not directory.is_run():
        directory.prepare_resume()           # refuses, naming why (no folder, a file, no config.json)
    dataset = datasets.load(config.data)
    if config.batch_size > dataset.num_observations:
        raise ConfigError("batch_size", f"{config.batch_size} is larger than the data set "
                                        f"({dataset.num_observations} observations)")
    strategy = make_strategy(config.strategy)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError("batch_size", f"{config.batch_size} must be a multiple of the "
                                        f"{strategy.num_replicas_in_sync} replicas of strategy {config.strategy}")
    directory.create()
    with directory.lock():
        if resume:
            saved = directory.prepare_resume()
            differing = config.differences(saved)
            if differing:
                raise RunDirectoryError(directory.path, f"holds a different run than the one asked to resume "
                                                        f"(options {differing} differ)")
        else:
            directory.prepare_new(config)
        with strategy.scope():
            model = build_model(config, dataset)
        checkpoint = make_checkpoint(model, config)
        start, rows = 0, []
        if resume:
            columns = ["step", *model.logged_terms]
            directory.check_stored_config(config)                     # an edited config.json, then damage,
            directory.checked_history(columns, upto=config.steps)     # are refused before any write
            start = directory.restore(checkpoint, model, config)
            rows = directory.checked_history(columns, upto=start)
            getattr(checkpoint, CONFIG_KEY).assign(_stored(config))     # a resume may raise the steps
        else:
            directory.remove_partial_checkpoints()
        directory.write_config(config)        # at the start, under the lock; a resume records its steps
        if resume:
            directory.rewrite_history(rows)
        saver = run_callbacks.Checkpoints(
            checkpoint, directory.checkpoints, config.checkpoint_every,
            on_save=None if on_checkpoint is None else (lambda step: on_checkpoint(step, model)))
        loop_callbacks = [run_callbacks.History(config.log_every, directory.history_path),
                          run_callbacks.TensorBoard(directory.tensorboard, config.log_every),
                          run_callbacks.BiasMonitor(int(dataset.num_observations), config.batch_size,
                                                    config.estimator, config.log_every),
                          saver, *callbacks]
        if progress:
            loop_callbacks.append(run_callbacks.ProgressBar())
        try:
            fit(model, lambda step: batch_at(dataset, config, step), config.steps, start=start,
                callbacks=loop_callbacks, step_function=compiled_step(model, strategy))
        except NonFiniteLoss as error:
            raise NonFiniteLoss(error.step, error.logs, _non_finite_advice(config, saver.latest)) from None
        except Interrupted as error:
            raise Interrupted(error.step, f"interrupted at step {error.step} (checkpoint written); continue with "
                                          f"`refvae train --resume {directory.path}`") from None
        directory.save_model(model)
    return model


def _non_finite_advice(config: RunConfig, latest: str | None) -> str:
    large = {name: value for name, value in config.hyperparameters.items()
             if isinstance(value, float) and value > 1e6}
    advice = f"last good checkpoint: {latest or 'none'}"
    if large:
        advice += f"; the weights {large} are large enough to overflow float32 in the loss"
    return advice


def load_model(run_dir: str | os.PathLike) -> keras.Model:
    """The final model of a run, loaded with ``safe_mode=True`` (see ``RunDirectory.load_model``)."""
    return RunDirectory(run_dir).load_model()
