"""The configuration of one training run: every option, checked once, when it is made.

A :class:`RunConfig` is immutable and valid by construction: ``RunConfig(...)``,
``RunConfig.create(...)``, ``from_dict``, ``from_preset``, ``load`` and
``dataclasses.replace`` all run the same checks, so nothing downstream checks again. A model's
hyperparameters (``beta``, ``gamma``, ...) live in ``hyperparameters`` and are checked against
the model's entry in ``refvae.runs.registry``; in a file (``config.json``, a TOML file) and in
``to_dict`` they sit beside the other options, flat::

    {"model": "beta-tcvae", "data": "dsprites", "steps": 1920, ..., "beta": 6.0}

Errors are :class:`ConfigError` (a ``ValueError``) naming the option by its key, as a library
speaks (``batch_size must be an integer >= 2 ...``); the command line turns the key into its
flag (``--batch-size``).

Example:
    >>> config = RunConfig.create(model="beta-vae", beta=4.0, steps=200, data="digits")
    >>> config.beta, config.hyperparameters
    (4.0, {'beta': 4.0})
    >>> RunConfig.create(model="beta-vae", gamma=1.0)
    Traceback (most recent call last):
    ...
    refvae.runs.config.ConfigError: gamma does not apply to model beta-vae (it takes: beta)
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import pathlib
from collections.abc import Mapping
from typing import Any

from refvae import data as datasets
from refvae.runs import registry
from refvae.runs.registry import ConfigError

__all__ = ["ARCHITECTURES", "ConfigError", "ESTIMATORS", "PRESETS", "RunConfig", "STRATEGIES", "read_values"]

ESTIMATORS = ("mws", "mss0", "mss1", "hfvae")
STRATEGIES = ("default", "mirrored")
ARCHITECTURES = ("auto", "conv", "mlp")
MAX_SEED = 2**32 - 1   # Keras and NumPy seeds are unsigned 32-bit integers

# Named settings (``refvae train --preset NAME``; options given explicitly override them).
# "recipe" is the setting of the recipe study (experiments/study_recipe.py, RESULTS.md) that
# disentangled dSprites fastest on 2 CPU cores (its "batch-64", confirmed on seeds 0-4), for half
# of the study's images (1,920 steps of 64 = 122,880 images, about 3 minutes on 2 quiet cores);
# its values are also RunConfig's defaults. The others are the papers' settings, for comparison
# with their numbers.
PRESETS: dict[str, dict[str, Any]] = {
    "recipe": dict(batch_size=64, architecture="auto", filters=(16, 16, 32, 32), hidden=None,
                   learning_rate=1e-3, estimator="mss1", steps=1920),
    # 001 §6: MLP 1200-1200, batch 2048, Adam 1e-3, 50 epochs of dSprites (18,000 steps), MWS (001 eq 5).
    "001": dict(batch_size=2048, architecture="mlp", filters=None, hidden=(1200, 1200), learning_rate=1e-3,
                estimator="mws", steps=18000),
    # disentanglement_lib's study (Locatello et al. 2019): conv 32-32-64-64, batch 64, Adam 1e-4, 300,000 steps.
    "disentanglement-lib": dict(batch_size=64, architecture="conv", filters=(32, 32, 64, 64), hidden=None,
                                learning_rate=1e-4, estimator="mss1", steps=300000),
}
_RECIPE = PRESETS["recipe"]
# Options that refvae 0.2's config.json held for every model, with the value it wrote.
_LEGACY_DEFAULTS = {"anchors": (0,)}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything one run needs.

    Attributes:
        model: a name of ``refvae.runs.registry.MODELS``.
        data: a name of ``refvae.data.NAMES``.
        steps: total optimiser steps.
        batch_size: B (>= 2: the q(z) estimators compare the points of a batch).
        estimator: the q(z) estimator of the logged (and penalised) terms: mws, mss0, mss1, hfvae.
        seed: seeds the weights, the batches and the posterior samples (0 ... 2**32 - 1).
        out: the run directory.
        latent_dim: Gaussian latent dimensions (the hierarchical model: the width of z1).
        learning_rate: Adam's step size, in (0, 1) (β-TCVAE authors: 1e-3; disentanglement_lib: 1e-4).
        checkpoint_every: steps between checkpoints.
        log_every: steps between history rows.
        strategy: "default" (one device) or "mirrored" (``tf.distribute.MirroredStrategy`` over
            the local devices; the q(z) estimators see the global batch, gathered across replicas).
        architecture: "auto" (the conv net for 64×64 images, an MLP otherwise), "conv" or "mlp".
        hidden: dense widths of encoder and decoder (None: the architecture's default).
        filters: filters of the conv net's four stride-2 layers (None: disentanglement_lib's
            32, 32, 64, 64); the conv architecture only.
        hyperparameters: the model's options by name (``refvae.runs.registry``); those not
            given take the model's default. Each is also readable as an attribute
            (``config.beta``; None when not given).
    """

    model: str = "beta-tcvae"
    data: str = "dsprites"
    steps: int = _RECIPE["steps"]
    batch_size: int = _RECIPE["batch_size"]
    estimator: str = _RECIPE["estimator"]
    seed: int = 0
    out: str = "runs/run"
    latent_dim: int = 10
    learning_rate: float = _RECIPE["learning_rate"]
    checkpoint_every: int = 500
    log_every: int = 50
    strategy: str = "default"
    architecture: str = _RECIPE["architecture"]
    hidden: tuple[int, ...] | None = _RECIPE["hidden"]
    filters: tuple[int, ...] | None = _RECIPE["filters"]
    hyperparameters: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self):
        set_ = object.__setattr__   # frozen: the checked values replace the given ones once, here
        set_(self, "model", registry.get(_text(self.model, "model")).name)
        set_(self, "data", _choice(self.data, "data", datasets.NAMES))
        set_(self, "estimator", _choice(self.estimator, "estimator", ESTIMATORS))
        set_(self, "strategy", _choice(self.strategy, "strategy", STRATEGIES))
        set_(self, "architecture", _choice(self.architecture, "architecture", ARCHITECTURES))
        for name in ("steps", "latent_dim", "checkpoint_every", "log_every"):
            set_(self, name, _integer(getattr(self, name), name, 1))
        set_(self, "batch_size", _integer(self.batch_size, "batch_size", 2,
                                          "the q(z) estimators compare the points of a batch"))
        set_(self, "seed", _integer(self.seed, "seed", 0, high=MAX_SEED))
        set_(self, "out", _out(self.out))
        rate = registry.Option("learning_rate", "", "float", 0.0, 1.0, open_low=True)
        set_(self, "learning_rate", _checked(rate, self.learning_rate))
        for name in ("hidden", "filters"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, _checked(registry.Option(name, "", "ints"), value))
        spec = registry.get(self.model)
        if self.architecture not in spec.architectures:
            raise ConfigError("architecture", f"{self.architecture} cannot build model {self.model} "
                                              f"(it takes: {', '.join(spec.architectures)})")
        if not isinstance(self.hyperparameters, Mapping):
            raise ConfigError("hyperparameters", f"must be a table of the model's options, "
                                                 f"got {type(self.hyperparameters).__name__}")
        set_(self, "hyperparameters", spec.check(self.hyperparameters, self.latent_dim))

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: a model option read as an attribute
        if not name.startswith("_") and name in registry.option_names():
            return self.__dict__.get("hyperparameters", {}).get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def spec(self) -> registry.ModelSpec:
        """The registry entry of ``model``."""
        return registry.get(self.model)

    # ------------------------------------------------------------------ conversions

    @classmethod
    def create(cls, **options: Any) -> RunConfig:
        """A config from flat options: the fields, and the model's hyperparameters by name."""
        return cls.from_dict(options)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """A config from a flat table (``to_dict``, config.json, a TOML file). A hyperparameter
        given as None counts as not given (config.json of refvae 0.2 lists every one)."""
        if not isinstance(values, Mapping):
            raise ConfigError("config", f"must be a table of options, got {type(values).__name__}")
        fields = {field.name for field in dataclasses.fields(cls)} - {"hyperparameters"}
        known = fields | set(registry.option_names())
        unknown = sorted(str(key) for key in set(values) - known - {"hyperparameters"})
        if unknown:
            raise ConfigError("config", f"has unknown options {unknown}; known: {sorted(known)}")
        run = {key: _list_as_tuple(value) for key, value in values.items() if key in fields}
        given = dict(values.get("hyperparameters") or {})
        given.update({key: _list_as_tuple(value) for key, value in values.items()
                      if key not in fields and key != "hyperparameters" and value is not None})
        for key, value in _LEGACY_DEFAULTS.items():   # refvae 0.2 wrote them for every model
            if given.get(key) == value and key not in _options_of(run.get("model", cls.model)):
                del given[key]
        return cls(**run, hyperparameters=given)

    @classmethod
    def from_preset(cls, name: str, **options: Any) -> RunConfig:
        """The config of preset ``name`` (:data:`PRESETS`) with ``options`` on top."""
        if name not in PRESETS:
            raise ConfigError("preset", f"must be one of {', '.join(PRESETS)}; got {name!r}")
        return cls.from_dict({**PRESETS[name], **options})

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunConfig:
        """A config from a file: a run directory, a config.json, or a TOML file with the same keys."""
        try:
            return cls.from_dict(read_values(path))
        except ConfigError as error:
            if str(path) in error.reason:
                raise
            raise ConfigError(error.option, f"{error.reason} (in {path})") from None

    def to_dict(self) -> dict[str, Any]:
        """The flat table of every option (JSON types), hyperparameters after the fields."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                  if field.name != "hyperparameters"}
        values.update(self.hyperparameters)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}

    def replace(self, **options: Any) -> RunConfig:
        """A copy with ``options`` changed (fields or hyperparameters), checked again."""
        return type(self).from_dict({**self.to_dict(), **options})

    def differences(self, other: RunConfig, ignore: tuple[str, ...] = ("steps", "out")) -> list[str]:
        """The keys of ``to_dict`` whose values differ from ``other``'s, except ``ignore``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(key for key in set(mine) | set(theirs)
                      if key not in ignore and mine.get(key) != theirs.get(key))

    def objective_kwargs(self) -> dict[str, Any]:
        """The hyperparameters given, as keyword arguments of the model's objective or class."""
        return dict(self.hyperparameters)


def read_values(path: str | os.PathLike) -> dict[str, Any]:
    """The options written in a config file (a run directory's config.json, a JSON or TOML file)."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no config at {path}")
    if not path.is_file():
        raise ConfigError("config", f"{path} is not a file")
    kind = "TOML" if path.suffix == ".toml" else "JSON"
    try:
        text = path.read_text()
        values = _toml().loads(text) if kind == "TOML" else json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ConfigError("config", f"{path} cannot be read as {kind}: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError("config", f"{path} must be a table of options, got {type(values).__name__}")
    return values


def _toml():
    """The TOML reader: ``tomllib`` (Python 3.11+), else its backport ``tomli`` (a dependency on 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    return tomllib


def _options_of(model):
    """The option names of ``model``; none for a name that is not a model (refused later, named)."""
    try:
        return registry.get(model).option_names
    except ConfigError:
        return ()


def _list_as_tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _text(value, name):
    if not isinstance(value, str):
        raise ConfigError(name, f"must be a string, got {type(value).__name__} {value!r}")
    return value


def _choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _integer(value, name, low, meaning="", high=None):
    words = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    if high is not None:
        words = f"an integer in [{low}, {high}]"
    if meaning:
        words += f" ({meaning})"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(name, f"must be {words}, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        raise ConfigError(name, f"must be {words}, got {value!r}")
    return int(value)


def _out(value):
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("out", f"must name a run directory, got {value!r}")
    return value


def _checked(option, value):
    return option.check(_list_as_tuple(value))
