"""Runs: the configuration of a training run, its directory, the one training loop, and the
function that trains one run.

============================  =================================================================
``RunConfig``                 every option of a run, checked once when it is made (``config``)
``registry``                  the models a run can train: their options, meaning and builders
``RunDirectory``              a run's folder: one writer (a lock), what a resume may trust,
                              checkpoints, history, the model file (``directory``)
``fit``, ``Callback``         the one training loop and its hooks (``loop``); the callbacks of
                              a run (history, TensorBoard, checkpoints, bias monitor, progress
                              bar) in ``callbacks``
``train``                     one run, trained or resumed in its directory (``training``)
``build_model``, ``batch_at`` the model of a config; the batch of a step
============================  =================================================================

``refvae train``, ``refvae demo``, the trials of ``refvae study`` and the experiments use these;
``refvae evaluate`` reads runs through ``RunDirectory``. Importing this package does not import
TensorFlow.

Example::

    from refvae import runs
    config = runs.RunConfig.create(model="beta-vae", beta=4.0, data="digits", steps=500, out="runs/b4")
    model = runs.train(config)
    history = runs.read_history("runs/b4")
"""

from refvae.runs import callbacks, registry
from refvae.runs.config import ARCHITECTURES, ESTIMATORS, PRESETS, STRATEGIES, ConfigError, RunConfig, read_values
from refvae.runs.directory import RunDirectory, RunDirectoryError, RunInUse, WriteError, read_history
from refvae.runs.loop import Callback, Interrupted, NonFiniteLoss, compiled_step, fit, make_strategy
from refvae.runs.training import batch_at, build_model, load_model, make_checkpoint, train

__all__ = [
    "ARCHITECTURES",
    "Callback",
    "ConfigError",
    "ESTIMATORS",
    "Interrupted",
    "NonFiniteLoss",
    "PRESETS",
    "RunConfig",
    "RunDirectory",
    "RunDirectoryError",
    "RunInUse",
    "STRATEGIES",
    "WriteError",
    "batch_at",
    "build_model",
    "callbacks",
    "compiled_step",
    "fit",
    "load_model",
    "make_checkpoint",
    "make_strategy",
    "read_history",
    "read_values",
    "registry",
    "train",
]
