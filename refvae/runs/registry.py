"""The models a run can train, by name: their hyperparameters, their meaning and how each is built.

One table, :data:`MODELS`, is read by everything that names a model: the options and help of
``refvae train`` and ``refvae study``, the validation of a run's configuration
(``refvae.runs.RunConfig``) and the factory (``refvae.runs.build_model``). A model's
hyperparameters are written here once, each an :class:`Option` with its meaning, its range and
the paper's default; the model classes and objectives keep their own Python signatures.

The table imports neither TensorFlow nor the model classes (``refvae --help`` answers at
once): each entry names its builder as ``"module:function"``, imported when a model is built.
A builder is called as ``builder(spec, config, dataset)`` and returns an uncompiled model that
follows the protocol of ``refvae.models.protocol``.

Adding a model is one entry here (and one test): an objective of ``refvae.objectives`` needs
only ``objective_model(...)``; a model with its own class names the function that builds it.

Example:
    >>> from refvae.runs import registry
    >>> registry.get("beta-tcvae").option_names
    ('alpha', 'beta', 'gamma')
    >>> registry.get("beta-vae").check({"beta": -1.0})
    Traceback (most recent call last):
    ...
    refvae.runs.registry.ConfigError: beta must be a number >= 0, got -1.0
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["ConfigError", "MODELS", "ModelSpec", "Option", "get", "names", "objective_model", "option_names"]

# float32 is what a weight becomes in the loss: a value it cannot carry is refused, not rounded
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38  # the smallest positive normal float32
KINDS = ("float", "int", "ints", "dims")


class ConfigError(ValueError):
    """A value an option of a run does not accept; ``option`` is its key (``"beta"``,
    ``"batch_size"``), ``reason`` the rest of the sentence (``"must be a number >= 0, got -1.0"``).
    The command line prints the option as its flag (``--beta``)."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option} {reason}")
        self.option = option
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.option, self.reason)


@dataclasses.dataclass(frozen=True)
class Option:
    """One hyperparameter of a model.

    Attributes:
        name: the paper's name (``beta``, ``gamma``, ``lam``, ...).
        help: what it weighs or sets, with the paper and equation.
        kind: "float", "int", "ints" (a tuple of positive ints, e.g. layer widths) or "dims"
            (a tuple of latent dimensions, each in [0, latent_dim)).
        low, high: the accepted range, inclusive (for "float" and "int").
        open_low: ``low`` itself is refused (a learning rate > 0).
        default: the value used when the option is not given (shown in the help).
    """

    name: str
    help: str
    kind: str = "float"
    low: float = 0.0
    high: float = math.inf
    open_low: bool = False
    default: Any = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def describe_range(self) -> str:
        if self.kind in ("ints", "dims"):
            return "positive integers such as 256,256" if self.kind == "ints" else "latent dimensions such as 0,3"
        noun = "an integer" if self.kind == "int" else "a number"
        low = f"> {self.low:g}" if self.open_low else f">= {self.low:g}"
        if math.isinf(self.high):
            return f"{noun} {low}"
        return f"{noun} in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"

    def check(self, value: Any, latent_dim: int | None = None) -> Any:
        """``value`` in the form the model computes with; :class:`ConfigError` otherwise."""
        if self.kind in ("ints", "dims"):
            return self._check_integers(value, latent_dim)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(self.name, f"must be {self.describe_range()}, got {type(value).__name__} {value!r}")
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise ConfigError(self.name, f"must be {self.describe_range()}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                raise ConfigError(self.name, f"must be {self.describe_range()} that float32 can hold "
                                             f"(finite, at most {FLOAT32_MAX:.3g}), got {value!r}")
            if value != 0 and abs(value) < FLOAT32_TINY:
                raise ConfigError(self.name, f"{value!r} is 0 in float32 (the smallest positive value is "
                                             f"{FLOAT32_TINY:.3g})")
        below = value <= self.low if self.open_low else value < self.low
        if below or value > self.high:
            raise ConfigError(self.name, f"must be {self.describe_range()}, got {value!r}")
        return value

    def _check_integers(self, value, latent_dim):
        items = tuple(value) if isinstance(value, (list, tuple)) else None
        if not items or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
            # a string would split into digits and a float would round: both refused
            raise ConfigError(self.name, f"must be {self.describe_range()}, got {value!r}")
        items = tuple(int(v) for v in items)
        if self.kind == "ints" and min(items) < 1:
            raise ConfigError(self.name, f"must be {self.describe_range()}, got {list(items)}")
        if self.kind == "dims":
            if len(set(items)) != len(items) or min(items) < 0 or (latent_dim is not None and max(items) >= latent_dim):
                bound = f"[0, {latent_dim})" if latent_dim is not None else "[0, latent_dim)"
                raise ConfigError(self.name, f"must be distinct latent dimensions in {bound}, got {list(items)}")
        return items


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model refvae trains by name.

    Attributes:
        name: the name ``refvae train --model`` takes.
        summary: one line for the help.
        citation: paper and equation of its objective.
        options: its hyperparameters, in the order the help lists them.
        builder: ``"module:function"``; ``function(spec, config, dataset)`` returns the
            uncompiled model.
        objective: the ``refvae.objectives`` catalogue entry it trains (None: the model
            computes its own loss).
        sweep: the hyperparameter a study varies by default (None: the model has none).
        architectures: the ``architecture`` values it can be built with.
    """

    name: str
    summary: str
    citation: str
    options: tuple[Option, ...] = ()
    builder: str = "refvae.models.vae:build"
    objective: str | None = None
    sweep: str | None = None
    architectures: tuple[str, ...] = ("auto", "conv", "mlp")

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def check(self, values: Mapping[str, Any], latent_dim: int | None = None) -> dict[str, Any]:
        """The hyperparameters ``values`` (None values dropped) checked against this model's options."""
        checked = {}
        for name, value in values.items():
            if value is None:
                continue
            if name not in self.option_names:
                takes = ", ".join(self.option_names) or "none"
                raise ConfigError(name, f"does not apply to model {self.name} (it takes: {takes})")
            checked[name] = self.option(name).check(value, latent_dim)
        return checked

    def build(self, config: Any, dataset: Any) -> Any:
        """The uncompiled model of ``config`` for ``dataset`` (imports the builder's module)."""
        module, _, function = self.builder.partition(":")
        builder: Callable[..., Any] = getattr(importlib.import_module(module), function)
        return builder(self, config, dataset)


def objective_model(name: str, summary: str, citation: str, options: Iterable[Option] = (),
                    objective: str | None = None, sweep: str | None = None) -> ModelSpec:
    """A ``refvae.models.VAE`` trained on the catalogue objective ``objective`` (default ``name``);
    its options are the objective's hyperparameters."""
    return ModelSpec(name, summary, citation, tuple(options), "refvae.models.vae:build", objective or name, sweep)


def _weight(name, help, default, high=math.inf):
    return Option(name, help, "float", 0.0, high, default=default)


_LAM_ANCHOR = Option("lam", "KL weight taken off the anchored dimensions, (1 - lam) left (000 eq 21)",
                     "float", 0.0, 1.0, default=0.5)
_NUM_CLASSES = Option("num_classes", "categories K of the categorical code", "int", 2, default=10)

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    objective_model("vae", "the ELBO", "Kingma & Welling 2014; 001 eq 1"),
    objective_model("beta-vae", "the KL weighted by beta", "Higgins et al. 2017; 003 eq 3.17",
                    [_weight("beta", "KL weight (003 eq 3.17)", 4.0)], sweep="beta"),
    objective_model("capacity", "gamma |KL - C(step)|, C annealed from 0 to capacity (AnnealedVAE)",
                    "Burgess et al. 2018; 003 eq 3.19",
                    [_weight("capacity", "final capacity C in nats (003 eq 3.19)", 25.0),
                     _weight("gamma", "weight of |KL - C| (003 eq 3.19)", 1000.0),
                     Option("anneal_steps", "steps over which C grows linearly from 0 to capacity", "int", 1,
                            default=100_000)], sweep="capacity"),
    objective_model("beta-tcvae", "index-code MI, total correlation and dimension-wise KL weighted apart",
                    "001 eq 4",
                    [_weight("alpha", "index-code MI weight (001 eq 4)", 1.0),
                     _weight("beta", "total correlation weight (001 eq 4)", 6.0),
                     _weight("gamma", "dimension-wise KL weight (001 eq 4)", 1.0)], sweep="beta"),
    ModelSpec("factor-vae", "the ELBO plus gamma times a discriminator's estimate of the total correlation",
              "Kim & Mnih 2018; 004 eq 8 (density ratio); 002 Table 1",
              (_weight("gamma", "extra total correlation weight, TC from the discriminator (Kim & Mnih eq 2)", 10.0),
               _weight("eta", "posterior-variance penalty: eta > 0 is 004's RTC-VAE trained with the "
                              "discriminator's TC (004 eq 4, §5.3)", 0.0),
               Option("discriminator_learning_rate", "Adam step size of the discriminator", "float", 0.0, 1.0,
                      open_low=True, default=1e-4),
               Option("discriminator_hidden", "widths of the discriminator's hidden layers (Kim & Mnih: six of "
                                              "1000; 256,256 trains in minutes on a CPU)", "ints",
                      default=(1000,) * 6)),
              builder="refvae.models.factor_vae:build", objective="factor-vae", sweep="gamma"),
    objective_model("dip-vae-i", "the ELBO plus penalties on the covariance of the mean codes",
                    "Kumar et al. 2018 (DIP-VAE-I)",
                    [_weight("lambda_od", "off-diagonal covariance weight", 10.0),
                     _weight("lambda_d", "diagonal covariance weight (default 10 lambda_od)", None)],
                    sweep="lambda_od"),
    objective_model("dip-vae-ii", "the ELBO plus penalties on the covariance of q(z)",
                    "Kumar et al. 2018 (DIP-VAE-II)",
                    [_weight("lambda_od", "off-diagonal covariance weight", 10.0),
                     _weight("lambda_d", "diagonal covariance weight (default lambda_od)", None)],
                    sweep="lambda_od"),
    objective_model("info-vae", "reconstruction and the marginal KL weighted by lam", "Zhao et al. 2017; "
                    "002 Table 1", [_weight("lam", "marginal-KL weight (002 Table 1)", 1.0)], sweep="lam"),
    objective_model("hfvae", "HFVAE's four-term objective", "002 eq 4",
                    [_weight("alpha", "I(x; z) weight (002 eq 4)", 1.0),
                     _weight("beta", "between-group total correlation weight (002 eq 4)", 1.0),
                     _weight("gamma", "within-group total correlation weight (002 eq 4)", 1.0)], sweep="gamma"),
    objective_model("anchor-vae", "less KL on anchored dimensions", "000 eq 21",
                    [_LAM_ANCHOR, Option("anchors", "the anchored latent dimensions", "dims", default=(0,))],
                    sweep="lam"),
    objective_model("rtc", "RTC-VAE with the minibatch TC estimate", "004 eq 4",
                    [_weight("beta", "extra total correlation weight (004 eq 4)", 6.0),
                     _weight("eta", "posterior-variance penalty (004 eq 4)", 10.0)], sweep="beta"),
    ModelSpec("infomax", "the ELBO plus lam times a lower bound on I(x; z) from a Q network",
              "003 eqs 4.4-4.8, Algorithm 1",
              (_weight("lam", "MI lower bound weight (003 eq 4.8)", 1.0), _NUM_CLASSES),
              builder="refvae.models.infomax:build", sweep="lam"),
    ModelSpec("hierarchical", "the two-layer CorEx VAE: Gaussian z1 under a one-hot z2", "000 eqs 13-19",
              (Option("lam", "KL weight taken off the top layer, in [0, 1] (000 eq 21 on z2)", "float", 0.0, 1.0,
                      default=0.0),
               _NUM_CLASSES,
               Option("top_hidden", "widths between z1 and z2 (hidden: between x and z1; latent_dim: z1's width)",
                      "ints", default=(32, 32, 16, 16))),
              builder="refvae.models.hierarchical:build", sweep="lam", architectures=("auto", "mlp")),
)}
# Names refvae accepted before; each maps to its model (the help says so).
ALIASES = {"dip-vae": "dip-vae-i"}


def names() -> tuple[str, ...]:
    """The model names, in the order of the table."""
    return tuple(MODELS)


def get(name: str) -> ModelSpec:
    """The spec of model ``name`` (an alias gives its model); :class:`ConfigError` naming ``model``."""
    if not isinstance(name, str):
        raise ConfigError("model", f"must be one of {', '.join(MODELS)}; got {type(name).__name__} {name!r}")
    name = ALIASES.get(name, name)
    if name not in MODELS:
        raise ConfigError("model", f"must be one of {', '.join(MODELS)}; got {name!r}")
    return MODELS[name]


def option_names() -> tuple[str, ...]:
    """Every hyperparameter name of any model, in first-seen order."""
    seen: dict[str, None] = {}
    for spec in MODELS.values():
        for option in spec.options:
            seen.setdefault(option.name)
    return tuple(seen)


def options_named(name: str) -> list[tuple[ModelSpec, Option]]:
    """(model, option) for every model that takes a hyperparameter called ``name``."""
    return [(spec, option) for spec in MODELS.values() for option in spec.options if option.name == name]
