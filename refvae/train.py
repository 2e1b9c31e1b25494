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

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import pathlib
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from refvae.io import atomic_path, write_atomic

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from refvae.data.base import GroundTruthData

T = TypeVar("T")

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
    # Models with their own networks and optimisers (``build_model``): the objective named
    # here is the VAE side's; the options after the objective's weights are the model's.
    "factor-vae": ("factor-vae", ("gamma", "eta", "discriminator_learning_rate", "discriminator_hidden")),
    "infomax": ("vae", ("lam", "num_classes")),
    "hierarchical": (None, ("lam", "num_classes", "top_hidden")),
}
DATASETS = ("dsprites", "dsprites-official", "shapes", "mnist", "fashion-mnist", "digits")
ESTIMATORS = ("mws", "mss0", "mss1", "hfvae")
STRATEGIES = ("default", "mirrored")
ARCHITECTURES = ("auto", "conv", "mlp")
HYPERPARAMETERS = ("alpha", "beta", "gamma", "eta", "lam", "capacity", "lambda_od")
# Named settings (``refvae train --preset NAME``; options given explicitly override them).
# "recipe" is the setting of the recipe study (experiments/study_recipe.py, RESULTS.md) that
# disentangled dSprites fastest on 2 CPU cores (its "batch-64", confirmed on seeds 0-4), for half
# of the study's images (1,920 steps of 64 = 122,880 images, about 3 minutes on 2 quiet cores);
# it is also TrainConfig's default. The others are the papers' settings, for comparison with
# their numbers.
PRESETS = {
    "recipe": dict(batch_size=64, architecture="auto", filters=(16, 16, 32, 32), hidden=None,
                   learning_rate=1e-3, estimator="mss1", steps=1920),
    # 001 §6: MLP 1200-1200, batch 2048, Adam 1e-3, 50 epochs of dSprites (18,000 steps), MWS (001 eq 5).
    "001": dict(batch_size=2048, architecture="mlp", filters=None, hidden=(1200, 1200), learning_rate=1e-3,
                estimator="mws", steps=18000),
    # disentanglement_lib's study (Locatello et al. 2019): conv 32-32-64-64, batch 64, Adam 1e-4, 300,000 steps.
    "disentanglement-lib": dict(batch_size=64, architecture="conv", filters=(32, 32, 64, 64), hidden=None,
                                learning_rate=1e-4, estimator="mss1", steps=300000),
}
DEFAULT_NUM_CLASSES = 10     # K of InfoMax's categorical code and of the hierarchical z2 (003, 000: ten digits)
# Options that hold a list of integers ("1200,1200" on the command line).
LIST_OPTIONS = ("anchors", "hidden", "filters", "top_hidden", "discriminator_hidden")
# Options of one model each, not weights of an objective (checked by ``_check_model_options``).
MODEL_OPTIONS = ("discriminator_learning_rate", "discriminator_hidden", "num_classes", "top_hidden")


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
        filters: filters of the conv net's four stride-2 layers (used by the conv architecture
            only): default (16, 16, 32, 32), the recipe study's; None or (32, 32, 64, 64) is
            disentanglement_lib's encoder.
        discriminator_learning_rate: Adam step size of FactorVAE's discriminator (None:
            1e-4, Kim & Mnih's).
        discriminator_hidden: widths of its leaky-ReLU hidden layers (None: six of 1000,
            Kim & Mnih's; (256, 256) trains in minutes on a CPU). ``factor-vae`` with ``eta`` > 0 is 004's RTC-VAE trained
            with the discriminator's TC (004 §5.3), ``gamma`` in the role of 004's β.
        num_classes: K of the categorical code: InfoMax's Concrete unit c beside the
            Gaussian units, whose information is maximised (003 §4.4), or the hierarchical
            model's one-hot top layer z2 (000 §6.1). None: 10.
        top_hidden: widths between z1 and z2 of ``hierarchical`` (None: (32, 32, 16, 16),
            000 §6.1); ``hidden`` are its widths between x and z1 (None: (512, 512)) and
            ``latent_dim`` is the width of z1.
    """

    model: str = "beta-tcvae"
    data: str = "dsprites"
    steps: int = PRESETS["recipe"]["steps"]
    batch_size: int = PRESETS["recipe"]["batch_size"]
    estimator: str = PRESETS["recipe"]["estimator"]
    seed: int = 0
    out: str = "runs/run"
    latent_dim: int = 10
    learning_rate: float = PRESETS["recipe"]["learning_rate"]
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
    filters: tuple = PRESETS["recipe"]["filters"]
    discriminator_learning_rate: float = None
    discriminator_hidden: tuple = None
    num_classes: int = None
    top_hidden: tuple = None

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
        anchors = self.anchors
        if isinstance(anchors, (str, bytes)) or not isinstance(anchors, (list, tuple)) or not anchors or any(
                isinstance(a, bool) or not isinstance(a, int) for a in anchors):
            # int("0.7") would round and tuple("12") would split a string into digits
            raise ValueError(f"--anchors must be latent dimensions given as integers, such as 0,3; got {anchors!r}")
        _check_model_options(self)
        if any(a < 0 or a >= self.latent_dim for a in anchors):
            raise ValueError(f"--anchors must lie in [0, {self.latent_dim}), got {list(anchors)}")
        self.anchors = tuple(anchors)
        return self

    def objective_kwargs(self):
        kwargs = {name: getattr(self, name) for name in MODELS[self.model][1] if getattr(self, name) is not None}
        if self.model == "anchor-vae":
            kwargs["anchors"] = tuple(self.anchors)
        return kwargs

    def to_dict(self):
        config = dataclasses.asdict(self)
        for key in LIST_OPTIONS:
            config[key] = None if config[key] is None else list(config[key])
        return config

    def save(self, run_dir):
        write_atomic(pathlib.Path(run_dir) / "config.json", json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_preset(cls, name, **options):
        """The config of preset ``name`` (``PRESETS``) with ``options`` on top."""
        if name not in PRESETS:
            raise ValueError(f"--preset must be one of {', '.join(PRESETS)}; got {name!r}")
        return cls.from_dict({**PRESETS[name], **options})

    @classmethod
    def from_dict(cls, values):
        if not isinstance(values, dict):
            raise ValueError(f"a config must be a table of options, got {type(values).__name__}")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config options {unknown}; known: {sorted(names)}")
        values = dict(values)
        for key in LIST_OPTIONS:
            if isinstance(values.get(key), list):  # a string stays one: the CLI parses "1,2", validate refuses it
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def load(cls, path):
        """Read a config: a run directory, a config.json, or a TOML file with the same keys."""
        values = cls.read_values(path)
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"config {path}: {error}") from None

    @staticmethod
    def read_values(path):
        """The options written in a config file (a run directory, config.json or TOML), as a dict."""
        path = pathlib.Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no config at {path}")
        if not path.is_file():
            raise ValueError(f"config {path} is not a file")
        try:
            if path.suffix == ".toml":
                values = _toml_module().loads(path.read_text())
            else:
                values = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            kind = "TOML" if path.suffix == ".toml" else "JSON"
            raise ValueError(f"config {path} cannot be read as {kind}: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"config {path} must be a table of options, got {type(values).__name__}")
        return values


def _check_model_options(config):
    """The options of one model (``MODEL_OPTIONS``, and what ``hierarchical`` cannot take);
    ValueError naming the first bad one."""
    takes = MODELS[config.model][1]
    for name in MODEL_OPTIONS:
        if getattr(config, name) is not None and name not in takes:
            raise ValueError(f"--{name.replace('_', '-')} does not apply to --model {config.model} "
                             f"(it takes: {', '.join(takes)})")
    rate = config.discriminator_learning_rate
    if rate is not None and not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate < 1):
        raise ValueError(f"--discriminator-learning-rate must be in (0, 1), got {rate!r}")
    classes = config.num_classes
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 2):
        raise ValueError(f"--num-classes must be an integer >= 2 (the categories of the code), got {classes!r}")
    if config.top_hidden is not None:
        config.top_hidden = _positive_ints(config.top_hidden, "--top-hidden", "widths such as 32,32,16,16")
    if config.discriminator_hidden is not None:
        config.discriminator_hidden = _positive_ints(config.discriminator_hidden, "--discriminator-hidden",
                                                     "widths such as 256,256")
    if config.model == "hierarchical":
        if config.lam is not None and config.lam > 1:
            raise ValueError(f"--lam of --model hierarchical must be in [0, 1] (the weight taken off the top KL), "
                             f"got {config.lam!r}")
        if config.architecture == "conv":
            raise ValueError("--model hierarchical is built of MLPs (000 §6.1): use --architecture mlp or auto, "
                             "and --hidden / --top-hidden for its widths")


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


def load_data(name: str) -> GroundTruthData:
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


def build_model(config: TrainConfig, dataset: GroundTruthData) -> keras.Model:
    """The model of a config for a data set, compiled with its optimiser(s) built
    (``architecture="auto"``: conv for 64×64 images, an MLP otherwise)."""
    import keras

    from refvae import latents, models, objectives

    keras.utils.set_random_seed(config.seed)
    shape = tuple(dataset.observation_shape)
    common = dict(dataset_size=int(dataset.num_observations), estimator=config.estimator, seed=config.seed)
    if config.model == "hierarchical":
        model = _hierarchical(config, shape, common)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        model.optimizer.build(model.trainable_variables)   # built now, so a checkpoint restores into it
        return model
    latent = latents.DiagonalGaussian(config.latent_dim)
    if config.model == "infomax":
        # 003 §4.4: a categorical code c beside the Gaussian units; I(x; c) is maximised.
        latent = latents.Grouped([latent, latents.Concrete(config.num_classes or DEFAULT_NUM_CLASSES)])
    architecture = config.architecture
    if architecture == "auto":
        architecture = "conv" if shape[:2] == (64, 64) else "mlp"
    options = {} if config.filters is None else {"filters": config.filters}
    encoder, decoder = models.networks.build(architecture, shape, latent, hidden=config.hidden, **options)
    if config.model == "factor-vae":
        model = models.FactorVAE(encoder, decoder, latent, "bernoulli", **_given(config, MODELS["factor-vae"][1]),
                                 **common)
    elif config.model == "infomax":
        model = models.InfoMaxVAE(encoder, decoder, latent, "bernoulli", info_units=[config.latent_dim],
                                  **_given(config, ("lam",)), **common)
    else:
        objective = objectives.get(MODELS[config.model][0], **config.objective_kwargs())
        model = models.VAE(encoder, decoder, latent, "bernoulli", objective, **common)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def _given(config, names):
    """{name: value} of the options ``names`` that the config sets (the model's defaults otherwise)."""
    return {name: getattr(config, name) for name in names if getattr(config, name) is not None}


def _hierarchical(config, shape, common):
    """000 §6.1's two-layer model: x -> z1 (Gaussian, ``latent_dim``) -> z2 (one-hot, ``num_classes``)."""
    from refvae.models import hierarchical

    layers = {"hidden1": config.hidden, "hidden2": config.top_hidden}
    networks = hierarchical.build_networks(shape, config.latent_dim, config.num_classes or DEFAULT_NUM_CLASSES,
                                           **{k: v for k, v in layers.items() if v is not None})
    return hierarchical.HierarchicalVAE(*networks, z1_dim=config.latent_dim,
                                        num_classes=config.num_classes or DEFAULT_NUM_CLASSES,
                                        **_given(config, ("lam",)), **common)


def batch_at(dataset: GroundTruthData, config: TrainConfig, step: int) -> np.ndarray:
    """The observations of step ``step``: a pure function of (seed, step).

    Observations are drawn by the data set's own sampler (``sample_indices``): uniform
    factors on a grid, the dependent or restricted factors of the correlated and held-out
    variants, uniform training rows of labelled images.
    """
    rng = np.random.default_rng([config.seed, step])
    return dataset.observations_from_indices(dataset.sample_indices(config.batch_size, rng))


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

    def __init__(self, dataset_size, batch_size, estimator, tc_weight, total_steps,
                 fraction=0.5, min_rows=10, min_progress=0.25, margin=1.0):
        self.log_n = math.log(dataset_size)
        self.batch_size, self.estimator, self.tc_weight = batch_size, estimator, tc_weight
        self.total_steps = total_steps
        self.fraction, self.min_rows, self.min_progress, self.margin = fraction, min_rows, min_progress, margin
        self.rows = self.negative = self.saturated = 0
        self.warned = False

    def update(self, step, logs):
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
                + reward + f" A larger --batch-size (at least {max(1024, 4 * self.batch_size)}) shrinks the bias: in "
                "the recipe study of RESULTS.md batch 1024 ended at a batch TC of -0.2 nats and batch 64 at -3.8, yet "
                "batch 64 reached the higher MIG for the same images seen. Read the TC of a large batch that "
                "`refvae evaluate` reports beside the batch estimate.")


def _tc_weight(model):
    """The weight of the minibatch TC estimate in a model's loss (0 when its objective has none,
    or when the model has no catalogue objective, as the hierarchical VAE)."""
    objective = getattr(model, "objective", None)
    return float(objective.weights.get("total_correlation", 0.0)) if objective is not None else 0.0


class NonFiniteLoss(RuntimeError):
    """Training produced a NaN or infinite loss; the message names the step and the terms."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy of a config's ``strategy`` option."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def distributed_step(model, strategy, autograph=False):
    """A compiled step: NumPy batch -> the logs of this step alone (the model's metric trackers
    are reset inside the compiled function, before the step); under a multi-replica strategy
    the batch is split evenly across replicas and every replica reports the same global-batch
    terms.

    The step is traced without AutoGraph by default: no model's ``train_step`` branches or
    loops on tensors in Python (the losses are the same either way, tests/test_train_models.py),
    and AutoGraph's conversion costs seconds at the first call.
    """
    import tensorflow as tf

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
        per_replica_batch = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(batch[context.replica_id_in_sync_group * size:(context.replica_id_in_sync_group + 1) * size])
        )
        return step(per_replica_batch)

    return run


def _checkpoint(model):
    import tensorflow as tf

    # The model's SeedGenerator (posterior samples) is saved explicitly: a resumed run must
    # draw the noise the uninterrupted run would have drawn. So is every optimiser besides
    # the VAE's (FactorVAE's discriminator, InfoMax's Q): their moments and step counts.
    auxiliary = {name: getattr(model, name) for name in model.OPTIMIZERS if name != "optimizer"}
    return tf.train.Checkpoint(model=model, optimizer=model.optimizer, sampling_state=model.seed_generator.state,
                               **auxiliary)


def train(config: TrainConfig, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[keras.Model, int], None] | None = None) -> keras.Model:
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
    check_run_dir(run_dir, resume)
    if saved.exists():
        previous = TrainConfig.load(saved).to_dict()
        current = config.to_dict()
        differing = sorted(k for k in current if k not in ("steps", "out") and previous.get(k) != current[k])
        if differing:
            raise ValueError(
                f"{run_dir} holds a different run (options {differing} differ); choose another --out"
            )
        if not resume and checkpoint_steps(run_dir / "checkpoints"):
            raise ValueError(f"{run_dir} already holds a run; use --resume to continue it or choose another --out")
    elif resume:
        raise ValueError(f"--resume: {run_dir} holds no run (no config.json)")
    elif checkpoint_steps(run_dir / "checkpoints"):
        raise ValueError(f"{run_dir} holds checkpoints but no config.json; choose another --out")

    dataset = load_data(config.data)
    if config.batch_size > dataset.num_observations:
        raise ValueError(
            f"--batch-size {config.batch_size} is larger than the data set ({dataset.num_observations} observations)"
        )
    strategy = make_strategy(config.strategy)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"--batch-size {config.batch_size} must be a multiple of the {strategy.num_replicas_in_sync} replicas "
            f"of --strategy {config.strategy}"
        )
    with strategy.scope():
        model = build_model(config, dataset)  # compiled, optimiser built
    checkpoint = _checkpoint(model)
    if resume:
        restore_newest_checkpoint(checkpoint, model, run_dir / "checkpoints", config.steps)
        config.save(run_dir)  # the run continues: record the new --steps
    else:
        _remove_partial_checkpoints(run_dir / "checkpoints")
    manager = tf.train.CheckpointManager(checkpoint, run_dir / "checkpoints", max_to_keep=2)
    start = int(model.optimizer.iterations.numpy())
    train_step = distributed_step(model, strategy)
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    history_path = run_dir / "history.csv"
    _truncate_history(history_path, start)
    bar = keras.utils.Progbar(config.steps, stateful_metrics=model.logged_terms) if progress else None
    monitor = EstimatorBiasMonitor(int(dataset.num_observations), config.batch_size, config.estimator,
                                   _tc_weight(model), config.steps)
    logs = {}
    for step in range(start, config.steps):
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
            message = monitor.update(done, logs)
            if message:
                warnings.warn(message, EstimatorBiasWarning, stacklevel=2)
            with writer.as_default(step=done):
                for name, value in logs.items():
                    tf.summary.scalar(name, value)
        if done % config.checkpoint_every == 0 or done == config.steps:
            if not saved.exists():  # with the first checkpoint: a refused or diverged start leaves no run
                config.save(run_dir)
            manager.save(checkpoint_number=done)
            if on_checkpoint is not None:
                on_checkpoint(done, model)
        if bar is not None:
            bar.update(done, values=list(logs.items()))
    writer.flush()
    save_model(model, run_dir / "model.keras")
    return model


def check_run_dir(run_dir, resume=False):
    """Refuse a run directory that cannot be created or written, before any work.

    Writability is probed by creating an anonymous temporary file: unlike permission bits it
    also answers for read-only file systems, immutable folders and root.
    """
    option = "--resume" if resume else "--out"
    run_dir = pathlib.Path(run_dir)
    existing = run_dir
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {run_dir}: {existing} is a file, not a directory")
    check_writable(existing, option)


def check_writable(directory, option):
    """Raise ValueError naming ``option`` unless a file can be created in ``directory``."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(f"{option} {directory} is not writable ({error.strerror or error})") from None


def checkpoint_steps(directory):
    """Steps of the checkpoints in ``directory`` (from the files, not the state file), newest first."""
    steps = []
    for index in pathlib.Path(directory).glob("ckpt-*.index"):
        number = index.name[len("ckpt-"):-len(".index")]
        if number.isdigit():
            steps.append(int(number))
    return sorted(steps, reverse=True)


def _remove_partial_checkpoints(directory):
    """Remove the ``ckpt-N_temp`` directories a checkpoint write stopped half-way leaves."""
    import shutil

    for partial in pathlib.Path(directory).glob("ckpt-*_temp*"):
        if partial.is_dir():
            shutil.rmtree(partial)


def restore_newest_checkpoint(checkpoint, model, directory, steps):
    """Restore the newest checkpoint in ``directory`` that reads back whole; returns its step.

    The two kept checkpoints are tried newest first, found from their files (a damaged
    ``checkpoint`` state file does not hide them). A damaged one (truncated data, a
    corrupt index, flipped bytes: TensorFlow's CRCs catch them) is moved to
    ``directory/damaged/`` with a warning and the previous one is used; the state file is
    rewritten to list the checkpoints kept.

    Raises:
        ValueError: no checkpoint can be restored (each is named with its error; nothing
            in the run directory is changed), or ``steps`` is below the restored step.
    """
    import warnings

    directory = pathlib.Path(directory)
    problems = []
    for number in checkpoint_steps(directory):
        prefix = directory / f"ckpt-{number}"
        try:
            checkpoint.restore(str(prefix)).assert_existing_objects_matched()
            restored = int(model.optimizer.iterations.numpy())
            if restored != number:
                raise ValueError(f"it holds step {restored}")
        except Exception as error:  # every way a damaged file fails to read; reported below
            first_line = (str(error).strip().splitlines() or [""])[0]
            problems.append((number, f"{type(error).__name__}: {first_line}"))
            continue
        if steps < number:
            raise ValueError(f"--steps {steps} is below the run's current step {number}; "
                             f"give --steps {number} or more")
        described = "; ".join(f"ckpt-{n}: {why}" for n, why in problems)
        if problems:
            warnings.warn(f"resuming {directory.parent} from ckpt-{number}: newer checkpoints could not be read "
                          f"({described}); moved to {directory / 'damaged'}", RuntimeWarning, stacklevel=3)
            (directory / "damaged").mkdir(exist_ok=True)
            for damaged, _ in problems:
                for path in directory.glob(f"ckpt-{damaged}.*"):
                    os.replace(path, directory / "damaged" / path.name)
        _remove_partial_checkpoints(directory)
        _write_checkpoint_state(directory, number)
        return number
    if not problems:
        raise ValueError(f"--resume: {directory} holds no checkpoint to resume from; "
                         "start the run again without --resume (or delete it)")
    described = "; ".join(f"ckpt-{n}: {why}" for n, why in problems)
    raise ValueError(f"--resume: no checkpoint in {directory} can be restored into the model config.json "
                     f"describes ({described}). If config.json was edited, put its old values back; "
                     "otherwise the checkpoints are damaged: start the run again in a new --out")


def _write_checkpoint_state(directory, latest):
    """Rewrite ``directory/checkpoint`` (the CheckpointState text proto ``tf.train.CheckpointManager``
    reads) to list the checkpoint files present up to ``latest``, so that the manager keeps
    deleting the oldest ones even after the state file was damaged."""
    now = time.time()
    kept = [step for step in sorted(checkpoint_steps(directory)) if step <= latest]
    lines = [f'model_checkpoint_path: "ckpt-{latest}"']
    lines += [f'all_model_checkpoint_paths: "ckpt-{step}"' for step in kept]
    lines += [f"all_model_checkpoint_timestamps: {now:.6f}" for _ in kept]
    lines.append(f"last_preserved_timestamp: {now - 1:.6f}")
    write_atomic(pathlib.Path(directory) / "checkpoint", "\n".join(lines) + "\n")


def _truncate_history(path, step):
    """Keep the history rows up to ``step`` (a resumed run rewrites what came after); a row that
    an interrupted append left incomplete is dropped."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle)
                if None not in row.values() and None not in row and int(row["step"]) <= step]
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
    """Append one row (step, then the logged terms) to the history, with a header when the file
    is new: one write of whole lines, so the cost of a row does not grow with the run."""
    row = {"step": step, **{k: f"{v:.6g}" for k, v in logs.items()}}
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_history(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The history of a run as {column: float array}."""
    path = pathlib.Path(run_dir) / "history.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]} if rows else {}


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a model to ``path`` (.keras) through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(run_dir: str | os.PathLike) -> keras.Model:
    """The final model of a run, loaded with ``safe_mode=True``."""
    import keras

    import refvae.models  # noqa: F401  (registers the serialisable classes)

    path = pathlib.Path(run_dir) / "model.keras"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: has `refvae train` finished for this run?")
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model file (not a zip archive: empty, truncated or overwritten); "
                         f"`refvae train --resume {run_dir}` rewrites it from the newest checkpoint")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # Keras reports a damaged archive as BadZipFile, "File not found", ValueError, ...
        raise ValueError(f"{path} cannot be loaded with safe_mode=True: it is damaged, not a refvae model, or holds code "
                         f"({type(error).__name__}: {error}); `refvae train --resume {run_dir}` rewrites it "
                         "from the newest checkpoint") from None


def timed(function: Callable[..., T], *args, **kwargs) -> tuple[T, float]:
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
