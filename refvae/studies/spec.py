"""A study declared in a TOML file, and the grid of trials it expands to.

A study trains many models on one data set: every model listed, with every combination of the
values given for its hyperparameters, for every seed. Each trial is one run
(``refvae.runs.RunConfig``) scored by the same metrics. Example::

    [study]
    name = "six-objectives"
    data = "dsprites"
    preset = "recipe"            # refvae.runs.PRESETS; the [run] table and the models go on top
    seeds = [0, 1, 2, 3, 4]
    metrics = "all"              # or a list of refvae.metrics.registry names
    metrics_profile = "fast"     # or "disentanglement-lib"
    retries = 2                  # a failed trial is run again this many times, then reported

    [trial]                      # what one trial takes of a machine
    cpus = 1
    gpus = 0.0                   # a fraction shares a GPU between trials

    [run]                        # options of every run (the keys of config.json)
    steps = 1920

    [models.beta-vae]
    beta = [1.0, 4.0, 8.0]       # a list sweeps the option ...
    [models.factor-vae]
    gamma = [10.0, 30.0, 100.0]
    discriminator_hidden = [256, 256]   # ... except for an option that is itself a list: give a
                                        # list of lists to sweep it

The grid is checked whole before any trial runs: every trial's configuration is made (and so
validated, ``refvae.runs.config``), every metric must be defined on the data set. A trial's id
names its model, the swept values and its seed (``beta-vae-beta4-s0``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Mapping
from typing import Any

from refvae import data as datasets
from refvae.runs import PRESETS, registry
from refvae.runs.config import ConfigError, RunConfig, read_values

__all__ = ["StudyError", "StudySpec", "Trial", "grid_differences", "read_study"]

STUDY_KEYS = {"name", "data", "preset", "seeds", "metrics", "metrics_profile", "retries"}
TRIAL_KEYS = {"cpus", "gpus"}


class StudyError(ValueError):
    """A study file or study directory that cannot be run as asked; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Trial:
    """One trial of a study: a run's configuration (without ``out``) and the metrics to compute."""

    id: str
    model: str
    seed: int
    swept: dict[str, Any]
    config: dict[str, Any]

    def run_config(self, out: str | os.PathLike) -> RunConfig:
        return RunConfig.from_dict({**self.config, "out": str(out)})


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A study: its settings and its trials (see the module docstring)."""

    name: str
    data: str
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    metrics_profile: str
    retries: int
    cpus: float
    gpus: float
    trials: tuple[Trial, ...]
    source: dict[str, Any]

    def settings(self) -> dict[str, Any]:
        """Everything that decides a trial's result or the study's table, as JSON."""
        return {"name": self.name, "data": self.data, "seeds": list(self.seeds), "metrics": list(self.metrics),
                "metrics_profile": self.metrics_profile,
                "trials": [{"id": trial.id, "config": trial.config} for trial in self.trials]}

    def trial(self, trial_id: str) -> Trial:
        for trial in self.trials:
            if trial.id == trial_id:
                return trial
        raise KeyError(trial_id)


def read_study(path: str | os.PathLike) -> StudySpec:
    """The study of a TOML file (or of a table already read), its grid expanded and checked.

    Raises:
        StudyError: a key that is unknown or a value that makes no run, named as
            ``file: models.beta-vae.beta ...``.
    """
    where = str(path)
    try:
        values = read_values(path)
    except ConfigError as error:
        raise StudyError(f"{where}: {error.reason}") from None
    return study_from_table(values, where)


def study_from_table(values: Mapping[str, Any], where: str = "study") -> StudySpec:
    values = dict(values)
    unknown = sorted(set(values) - {"study", "trial", "run", "models"})
    if unknown:
        raise StudyError(f"{where}: unknown tables {unknown}; a study has [study], [trial], [run] and [models.NAME]")
    study = _table(values, "study", where, STUDY_KEYS)
    trial = _table(values, "trial", where, TRIAL_KEYS)
    run = _table(values, "run", where, None)
    models = _table(values, "models", where, None)
    name = study.get("name", "study")
    if not isinstance(name, str) or not name or "/" in name:
        raise StudyError(f"{where}: study.name must be a non-empty name without '/', got {name!r}")
    data_name = study.get("data", "dsprites")
    if data_name not in datasets.NAMES:
        raise StudyError(f"{where}: study.data must be one of {', '.join(datasets.NAMES)}; got {data_name!r}")
    preset = study.get("preset", "recipe")
    if preset not in PRESETS:
        raise StudyError(f"{where}: study.preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    seeds = study.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)):
        raise StudyError(f"{where}: study.seeds must be a list of distinct integers >= 0, got {seeds!r}")
    profile = study.get("metrics_profile", "fast")
    retries = study.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise StudyError(f"{where}: study.retries must be an integer in [0, 10], got {retries!r}")
    cpus, gpus = trial.get("cpus", 1), trial.get("gpus", 0.0)
    for key, value, low in (("cpus", cpus, 0.0), ("gpus", gpus, 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
            raise StudyError(f"{where}: trial.{key} must be a number >= 0, got {value!r}")
    if cpus <= 0:
        raise StudyError(f"{where}: trial.cpus must be > 0, got {cpus!r}")
    if "out" in run or "seed" in run or "model" in run or "data" in run:
        raise StudyError(f"{where}: run.out, run.seed, run.model and run.data are set by the study, not [run]")
    if not models:
        raise StudyError(f"{where}: a study needs at least one [models.NAME] table")
    settings = []
    for model, options in models.items():
        if not isinstance(options, dict):
            raise StudyError(f"{where}: models.{model} must be a table of the model's options")
        try:
            spec = registry.get(model)
        except ConfigError as error:
            raise StudyError(f"{where}: models.{model}: {error.reason}") from None
        settings += [(model, spec, swept, fixed) for swept, fixed in _combinations(spec, options, where)]
    trials = []
    for seed in seeds:      # seed by seed: a study stopped half-way holds whole seeds of every setting
        for model, spec, swept, fixed in settings:
            trial_id = _trial_id(spec.name, swept, seed)
            config = {**PRESETS[preset], **run, **fixed, **swept, "model": spec.name, "data": data_name, "seed": seed}
            try:
                made = RunConfig.from_dict({**config, "out": "unused"})
            except ConfigError as error:
                raise StudyError(f"{where}: models.{model}: {error} (trial {trial_id})") from None
            stored = {key: value for key, value in made.to_dict().items() if key != "out"}
            trials.append(Trial(trial_id, spec.name, seed, swept, stored))
    ids = [trial.id for trial in trials]
    duplicates = sorted({trial_id for trial_id in ids if ids.count(trial_id) > 1})
    if duplicates:
        raise StudyError(f"{where}: the grid holds the same trial twice: {duplicates}")
    metric_names = _metrics(study.get("metrics", "all"), data_name, where)
    from refvae.metrics import registry as metric_registry

    if profile not in metric_registry.PROFILES:
        raise StudyError(f"{where}: study.metrics_profile must be one of {', '.join(metric_registry.PROFILES)}; "
                         f"got {profile!r}")
    return StudySpec(name, data_name, tuple(seeds), metric_names, profile, retries, float(cpus), float(gpus),
                     tuple(trials), values)


def _table(values, key, where, allowed):
    table = values.get(key, {})
    if not isinstance(table, dict):
        raise StudyError(f"{where}: [{key}] must be a table, got {type(table).__name__}")
    if allowed is not None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise StudyError(f"{where}: unknown keys {[f'{key}.{name}' for name in unknown]}; known: {sorted(allowed)}")
    return table


def _combinations(spec, options, where):
    """[(swept values, fixed values)] of one model's table: a list sweeps an option (a list of
    lists for an option that is itself a list of integers)."""
    swept, fixed = {}, {}
    for name, value in options.items():
        if name not in spec.option_names:
            takes = ", ".join(spec.option_names) or "none"
            raise StudyError(f"{where}: models.{spec.name}.{name} is not an option of {spec.name} (it takes: {takes})")
        listed_kind = spec.option(name).kind in ("ints", "dims")
        is_sweep = isinstance(value, list) and (not listed_kind or all(isinstance(v, list) for v in value))
        if is_sweep:
            if not value:
                raise StudyError(f"{where}: models.{spec.name}.{name} must list at least one value")
            swept[name] = [tuple(v) if isinstance(v, list) else v for v in value]
        else:
            fixed[name] = tuple(value) if isinstance(value, list) else value
    names = list(swept)
    return [(dict(zip(names, values)), fixed) for values in itertools.product(*(swept[n] for n in names))]


def _trial_id(model, swept, seed):
    parts = [model] + [f"{name.replace('_', '')}{_short(value)}" for name, value in swept.items()] + [f"s{seed}"]
    return "-".join(parts)


def _short(value):
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _metrics(value, data_name, where):
    from refvae.metrics import registry as metric_registry

    sizes = datasets.load(data_name).factor_sizes
    if value == "all":
        return tuple(name for name in metric_registry.names()
                     if metric_registry.undefined_reason(metric_registry.get(name), sizes) is None)
    if value == "default":
        return metric_registry.default_names(sizes)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise StudyError(f"{where}: study.metrics must be \"all\", \"default\" or a list of metric names, got {value!r}")
    for name in value:
        if name not in metric_registry.names():
            raise StudyError(f"{where}: study.metrics: unknown metric {name!r}; known: "
                             f"{', '.join(metric_registry.names())}")
        reason = metric_registry.undefined_reason(metric_registry.get(name), sizes)
        if reason:
            raise StudyError(f"{where}: study.metrics: {name} is undefined on data {data_name}: {reason}")
    return tuple(value)


def grid_differences(written: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between the settings of a study written in its directory and the current
    ones, in words (empty: the same grid)."""
    differences = []
    for key in ("name", "data", "seeds", "metrics", "metrics_profile"):
        if written.get(key) != current.get(key):
            differences.append(f"{key}: {written.get(key)!r} then, {current.get(key)!r} now")
    before = {trial["id"]: trial["config"] for trial in written.get("trials", [])}
    after = {trial["id"]: trial["config"] for trial in current.get("trials", [])}
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    if added:
        differences.append(f"trials added: {', '.join(added[:5])}" + (" ..." if len(added) > 5 else ""))
    if removed:
        differences.append(f"trials removed: {', '.join(removed[:5])}" + (" ..." if len(removed) > 5 else ""))
    for trial_id in sorted(set(before) & set(after)):
        keys = sorted(key for key in set(before[trial_id]) | set(after[trial_id])
                      if json.dumps(before[trial_id].get(key)) != json.dumps(after[trial_id].get(key)))
        if keys:
            differences.append(f"trial {trial_id}: {', '.join(keys)} changed")
    return differences

