"""Training runs: a validated configuration, a resumable loop, checkpoints and a history.

A run lives in one directory::

    RUN_DIR/config.json          the configuration (every option; `refvae train --config` reads it back)
    RUN_DIR/checkpoints/         weights, optimiser state, step and the model's RNG state
    RUN_DIR/history.csv          every logged term, every `log_every` steps
    RUN_DIR/tensorboard/         the same scalars for TensorBoard
    RUN_DIR/model.keras          the final model (`keras.models.load_model(..., safe_mode=True)`)

Batches are a pure function of (seed, step): batch t renders observation indices drawn by
``numpy.random.default_rng([seed, t])``. Together with the checkpointed optimiser and
sampling state this makes an interrupted run that is resumed end exactly where the
uninterrupted run ends.

Example:
    >>> config = TrainConfig(model="beta-tcvae", data="dsprites", steps=2000, out="runs/tc")
    >>> train(config)                      # or: refvae train --model beta-tcvae --steps 2000 --out runs/tc
    >>> train(TrainConfig.load("runs/tc"), resume=True)
"""

import csv
import dataclasses
import json
import math
import os
import pathlib
import time

import numpy as np

# Command-line model names -> (catalogue objective, hyperparameters it takes).
MODELS = {
    "vae": ("vae", ()),
    "beta-vae": ("beta-vae", ("beta",)),
    "capacity": ("capacity", ("gamma", "capacity")),
    "beta-tcvae": ("beta-tcvae", ("alpha", "beta", "gamma")),
    "hfvae": ("hfvae", ("alpha", "beta", "gamma")),
    "anchor-vae": ("anchor-vae", ("lam",)),
    "rtc": ("rtc", ("beta", "eta")),
    "dip-vae": ("dip-vae-i", ("lambda_od",)),
    "info-vae": ("info-vae", ("lam",)),
}
DATASETS = ("dsprites", "dsprites-official", "shapes", "mnist", "fashion-mnist", "digits")
ESTIMATORS = ("mws", "mss0", "mss1", "hfvae")
STRATEGIES = ("default", "mirrored")
ARCHITECTURES = ("auto", "conv", "mlp")
HYPERPARAMETERS = ("alpha", "beta", "gamma", "eta", "lam", "capacity", "lambda_od")


@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs; validated before any work starts (``validate``).

    Attributes:
        model: one of ``MODELS``.
        data: one of ``DATASETS``.
        steps: total optimiser steps.
        batch_size: B.
        estimator: q(z) estimator of the logged (and penalised) terms.
        seed: seeds the weights, the batches and the posterior samples.
        out: the run directory.
        latent_dim: Gaussian latent dimensions.
        learning_rate: Adam's step size (β-TCVAE authors: 1e-3; disentanglement_lib: 1e-4).
        checkpoint_every: steps between checkpoints.
        log_every: steps between history rows.
        alpha, beta, gamma, eta, lam, capacity, lambda_od: the objective's weights (None:
            the catalogue default); only those the model takes may be set.
        anchors: anchor dimensions of ``anchor-vae``.
        strategy: "default" (one device) or "mirrored" (``tf.distribute.MirroredStrategy``
            over the local GPUs or CPUs; the q(z) estimators see the global batch, gathered
            across replicas).
        architecture: "auto" (the conv net for 64×64 images, an MLP otherwise), "conv" or
            "mlp" (``refvae.models.networks``).
        hidden: dense widths of encoder and decoder (None: the architecture's default);
            001's dSprites MLP is ``architecture="mlp", hidden=(1200, 1200)``.
        filters: conv filters of the four stride-2 layers (None: (32, 32, 64, 64), the
            disentanglement_lib encoder); "conv" only.
    """

    model: str = "beta-tcvae"
    data: str = "dsprites"
    steps: int = 2000
    batch_size: int = 64
    estimator: str = "mss1"
    seed: int = 0
    out: str = "runs/run"
    latent_dim: int = 10
    learning_rate: float = 1e-3
    checkpoint_every: int = 500
    log_every: int = 50
    alpha: float = None
    beta: float = None
    gamma: float = None
    eta: float = None
    lam: float = None
    capacity: float = None
    lambda_od: float = None
    anchors: tuple = (0,)
    strategy: str = "default"
    architecture: str = "auto"
    hidden: tuple = None
    filters: tuple = None

    def validate(self):
        """Raise ValueError naming the first option that makes no sense."""
        if self.model not in MODELS:
            raise ValueError(f"--model must be one of {', '.join(MODELS)}; got {self.model!r}")
        if self.data not in DATASETS:
            raise ValueError(f"--data must be one of {', '.join(DATASETS)}; got {self.data!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"--estimator must be one of {', '.join(ESTIMATORS)}; got {self.estimator!r}")
        for name in ("steps", "batch_size", "latent_dim", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2 (the TC estimators compare data points), got {self.batch_size}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ValueError(f"--learning-rate must be in (0, 1), got {self.learning_rate!r}")
        takes = MODELS[self.model][1]
        for name in HYPERPARAMETERS:
            value = getattr(self, name)
            if value is None:
                continue
            if name not in takes:
                raise ValueError(f"--{name} does not apply to --model {self.model} (it takes: {', '.join(takes) or 'none'})")
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"--{name} must be a finite number >= 0, got {value!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"--architecture must be one of {', '.join(ARCHITECTURES)}; got {self.architecture!r}")
        if self.hidden is not None:
            self.hidden = _positive_ints(self.hidden, "--hidden", "widths such as 1200,1200")
        if self.filters is not None:
            self.filters = _positive_ints(self.filters, "--filters", "conv filters such as 16,16,32,32")
            if self.architecture == "mlp":
                raise ValueError("--filters applies to the conv architecture, not --architecture mlp")
        anchors = tuple(int(a) for a in self.anchors)
        if any(a < 0 or a >= self.latent_dim for a in anchors):
            raise ValueError(f"--anchors must lie in [0, {self.latent_dim}), got {list(anchors)}")
        self.anchors = anchors
        return self

    def objective_kwargs(self):
        kwargs = {name: getattr(self, name) for name in MODELS[self.model][1] if getattr(self, name) is not None}
        if self.model == "anchor-vae":
            kwargs["anchors"] = tuple(self.anchors)
        return kwargs

    def to_dict(self):
        config = dataclasses.asdict(self)
        config["anchors"] = list(self.anchors)
        config["hidden"] = None if self.hidden is None else list(self.hidden)
        config["filters"] = None if self.filters is None else list(self.filters)
        return config

    def save(self, run_dir):
        _write_atomic(pathlib.Path(run_dir) / "config.json", json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, values):
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config options {unknown}; known: {sorted(names)}")
        values = dict(values)
        for key in ("anchors", "hidden", "filters"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def load(cls, path):
        """Read a config: a run directory, a config.json, or a TOML file with the same keys."""
        path = pathlib.Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no config at {path}")
        if path.suffix == ".toml":
            values = _toml_module().loads(path.read_text())
        else:
            values = json.loads(path.read_text())
        return cls.from_dict(values)


def _toml_module():
    """The TOML reader: ``tomllib`` (Python 3.11+), else its backport ``tomli`` (a dependency on 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    return tomllib


def _positive_ints(value, option, example):
    """``value`` (an int or a sequence of ints) as a non-empty tuple of positive ints."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{option} must be positive integer {example}; got {value!r}")
    return values


def _write_atomic(path, text):
    """Write text to path through a temporary file and a rename: never a partial file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_data(name):
    """The ground-truth data set of a config's ``data`` option."""
    from refvae import data

    if name == "dsprites":
        return data.dsprites()
    if name == "dsprites-official":
        return data.dsprites(source="official")
    if name == "shapes":
        return data.shapes3d()
    if name == "mnist":
        return data.mnist()
    if name == "fashion-mnist":
        return data.fashion_mnist()
    if name == "digits":
        return data.digits()
    raise ValueError(f"--data must be one of {', '.join(DATASETS)}; got {name!r}")


def build_model(config, dataset):
    """The VAE of a config for a data set (``architecture="auto"``: conv for 64×64 images, an MLP otherwise)."""
    import keras

    from refvae import latents, models, objectives

    keras.utils.set_random_seed(config.seed)
    latent = latents.DiagonalGaussian(config.latent_dim)
    shape = tuple(dataset.observation_shape)
    architecture = config.architecture
    if architecture == "auto":
        architecture = "conv" if shape[:2] == (64, 64) else "mlp"
    options = {} if config.filters is None else {"filters": config.filters}
    encoder, decoder = models.networks.build(architecture, shape, latent, hidden=config.hidden, **options)
    objective = objectives.get(MODELS[config.model][0], **config.objective_kwargs())
    model = models.VAE(
        encoder, decoder, latent, "bernoulli", objective,
        dataset_size=int(dataset.num_observations), estimator=config.estimator, seed=config.seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def batch_at(dataset, config, step):
    """The observations of step ``step``: a pure function of (seed, step).

    Observations are drawn by the data set's own sampler (``sample_indices``): uniform
    factors on a grid, the dependent or restricted factors of the correlated and held-out
    variants, uniform training rows of labelled images.
    """
    rng = np.random.default_rng([config.seed, step])
    return dataset.observations_from_indices(dataset.sample_indices(config.batch_size, rng))


class NonFiniteLoss(RuntimeError):
    """Training produced a NaN or infinite loss; the message names the step and the terms."""


def make_strategy(name):
    """The ``tf.distribute`` strategy of a config's ``strategy`` option."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def distributed_step(model, strategy):
    """A compiled step: NumPy batch -> logs; under a multi-replica strategy the batch is split
    evenly across replicas and every replica reports the same global-batch terms."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return tf.function(model.train_step)

    @tf.function
    def step(per_replica_batch):
        logs = strategy.run(model.train_step, args=(per_replica_batch,))
        return {name: strategy.experimental_local_results(value)[0] for name, value in logs.items()}

    def run(batch):
        size = len(batch) // replicas
        per_replica_batch = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(batch[context.replica_id_in_sync_group * size:(context.replica_id_in_sync_group + 1) * size])
        )
        return step(per_replica_batch)

    return run


def _checkpoint(model):
    import tensorflow as tf

    # The model's SeedGenerator (posterior samples) is saved explicitly: a resumed run must
    # draw the noise the uninterrupted run would have drawn.
    return tf.train.Checkpoint(model=model, optimizer=model.optimizer, sampling_state=model.seed_generator.state)


def train(config, resume=False, progress=True, on_checkpoint=None):
    """Train (or resume) the run of ``config``; returns the model.

    Args:
        config: a ``TrainConfig`` (validated here, before any work).
        resume: continue from the newest checkpoint in ``config.out``.
        progress: show a Keras progress bar with every term.
        on_checkpoint: called as ``on_checkpoint(step, model)`` after each checkpoint is
            written (every ``checkpoint_every`` steps and at the end), e.g. to score the
            model during training; its time is not part of the training loop's.

    Raises:
        ValueError: a bad option, or a run directory that holds a different run.
        NonFiniteLoss: a NaN/inf loss; the run stops and names the last good checkpoint.
    """
    import keras
    import tensorflow as tf

    config.validate()
    run_dir = pathlib.Path(config.out)
    saved = run_dir / "config.json"
    if saved.exists():
        previous = TrainConfig.load(saved).to_dict()
        current = config.to_dict()
        differing = sorted(k for k in current if k not in ("steps", "out") and previous.get(k) != current[k])
        if differing:
            raise ValueError(
                f"{run_dir} holds a different run (options {differing} differ); choose another --out"
            )
        if not resume and (run_dir / "checkpoints").exists():
            raise ValueError(f"{run_dir} already holds a run; use --resume to continue it or choose another --out")
    elif resume:
        raise ValueError(f"--resume: {run_dir} holds no run (no config.json)")

    dataset = load_data(config.data)
    if config.batch_size > dataset.num_observations:
        raise ValueError(
            f"--batch-size {config.batch_size} is larger than the data set ({dataset.num_observations} observations)"
        )
    strategy = make_strategy(config.strategy)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"--batch-size {config.batch_size} must be a multiple of the {strategy.num_replicas_in_sync} replicas of --strategy {config.strategy}"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir)
    with strategy.scope():
        model = build_model(config, dataset)  # compiled, optimiser built
    checkpoint = _checkpoint(model)
    manager = tf.train.CheckpointManager(checkpoint, run_dir / "checkpoints", max_to_keep=2)
    if resume and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    start = int(model.optimizer.iterations.numpy())
    train_step = distributed_step(model, strategy)
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    history_path = run_dir / "history.csv"
    _truncate_history(history_path, start)
    bar = keras.utils.Progbar(config.steps, stateful_metrics=model.logged_terms) if progress else None
    logs = {}
    for step in range(start, config.steps):
        for tracker in model.metrics:
            tracker.reset_state()
        logs = {name: float(value) for name, value in train_step(batch_at(dataset, config, step)).items()}
        if not math.isfinite(logs["loss"]):
            raise NonFiniteLoss(
                f"non-finite loss at step {step + 1}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in logs.items())
                + f"; last good checkpoint: {manager.latest_checkpoint or 'none'}"
            )
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            _append_history(history_path, done, logs)
            with writer.as_default(step=done):
                for name, value in logs.items():
                    tf.summary.scalar(name, value)
        if done % config.checkpoint_every == 0 or done == config.steps:
            manager.save(checkpoint_number=done)
            if on_checkpoint is not None:
                on_checkpoint(done, model)
        if bar is not None:
            bar.update(done, values=list(logs.items()))
    writer.flush()
    save_model(model, run_dir / "model.keras")
    return model


def _truncate_history(path, step):
    """Keep the history rows up to ``step`` (a resumed run rewrites what came after)."""
    if not path.exists():
        return
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= step]
    _write_history(path, rows)


def _write_history(path, rows):
    if not rows:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _append_history(path, step, logs):
    rows = []
    if path.exists():
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
    rows.append({"step": step, **{k: f"{v:.6g}" for k, v in logs.items()}})
    _write_history(path, rows)


def read_history(run_dir):
    """The history of a run as {column: float array}."""
    path = pathlib.Path(run_dir) / "history.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]} if rows else {}


def save_model(model, path):
    """Save a model to ``path`` (.keras) through a temporary file and a rename."""
    path = pathlib.Path(path)
    tmp = path.with_name("tmp-" + path.name)
    model.save(tmp)
    os.replace(tmp, path)


def load_model(run_dir):
    """The final model of a run, loaded with ``safe_mode=True``."""
    import keras

    import refvae.models  # noqa: F401  (registers the serialisable classes)

    path = pathlib.Path(run_dir) / "model.keras"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: has `refvae train` finished for this run?")
    return keras.models.load_model(path, safe_mode=True)


def timed(function, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
