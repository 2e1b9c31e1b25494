"""Evaluate a trained run: the metrics of ``refvae.metrics.registry`` and a report with figures.

``evaluate(run_dir)`` holds the run's lock (no training or other evaluation writes it
meanwhile), loads ``RUN_DIR/model.keras``, scores its Gaussian code (``code_posterior`` of the
model protocol) with the metrics defined on the run's data set, and writes
``RUN_DIR/metrics.json``, which records what it scored (the step, the model file's sha256, the
metric seed, the sample sizes and profile, refvae's version), and ``RUN_DIR/report.html``
(``refvae.report``), whose numbers are those of metrics.json.

Example::

    results = refvae.evaluate.evaluate("runs/tc", ["mig", "dci"])
    results["summary"]          # {"mig": 0.26, "dci": 0.41}
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import threadpoolctl

from refvae import checks
from refvae import data as datasets
from refvae._lazy import moved_names
from refvae.io import jsonable
from refvae.metrics import registry
from refvae.runs import ConfigError, RunConfig, RunDirectory, RunDirectoryError
from refvae.runs.directory import probe_writable

if TYPE_CHECKING:
    import keras

    from refvae.data.base import GroundTruthData

__all__ = ["comparison_sentence", "compute_metrics", "encoders", "estimator_bias", "evaluate", "headline"]

__getattr__ = moved_names(__name__, {"traversal_factor": "refvae.report:traversal_factor",
                                     "write_report": "refvae.report:write_report"})


def check_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple of registered metric names (:class:`ConfigError` naming ``metrics`` otherwise).

    The errors of this module's options are ``refvae.runs.ConfigError``: the option's key and what
    was wrong, which the command line prints as the flag (``--num-points``).
    """
    names = tuple(names)
    known = registry.names()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError("metrics", f"must be a subset of {','.join(known)}; got {','.join(names)}")
    return names


def check_defined(names: Sequence[str], dataset: GroundTruthData, data_name: str) -> None:
    """Refuse, before any work, a metric that is undefined on ``dataset`` (naming both)."""
    for name in names:
        reason = registry.undefined_reason(registry.get(name), dataset.factor_sizes)
        if reason:
            raise ConfigError("metrics", f"{name}: the metric is undefined on data {data_name}: {reason}")


def check_num_points(num_points: int | None) -> int | None:
    """``num_points`` as an int >= 10 (fewer leaves the metrics' train/test splits and bins empty), or None."""
    if num_points is None:
        return None
    try:
        return checks.integer(num_points, "num_points", 10)
    except ValueError as error:
        raise ConfigError("num_points", str(error).removeprefix("num_points ")) from None


def encoders(model: keras.Model, batch_size: int = 512) -> tuple[Callable, Callable]:
    """(representation: x -> mean codes, posterior: x -> (loc, scale)) of the model's Gaussian code,
    as NumPy functions (``code_posterior`` of ``refvae.models.protocol``)."""
    from refvae.metrics.sampling import posterior_moments

    def posterior(x):
        return posterior_moments(model.code_posterior, x, batch_size, dtype=None)

    def representation(x):
        return posterior(x)[0]

    return representation, posterior


def check_model_matches(model: keras.Model, dataset: GroundTruthData, config: RunConfig, run_dir: os.PathLike) -> None:
    """Refuse a model.keras that config.json no longer describes (edited data or latent size)."""
    expected = tuple(dataset.observation_shape)
    if tuple(model.observation_shape) != expected:
        raise RunDirectoryError(run_dir, f"config.json names data {config.data} (observations {expected}), but "
                                         f"model.keras takes {tuple(model.observation_shape)}: config.json no longer "
                                         "matches the model")
    if model.code_size != config.latent_dim:
        raise RunDirectoryError(run_dir, f"config.json has latent_dim {config.latent_dim}, but model.keras has "
                                         f"{model.code_size} latent dimensions: config.json no longer matches the model")


def compute_metrics(model: keras.Model, dataset: GroundTruthData, names: Sequence[str], seed: int = 0,
                    num_points: int | None = None, subgrid: Sequence[int] | None = None,
                    profile: str = "fast") -> dict[str, Any]:
    """{metric: result dict} for the named metrics of the registry.

    Args:
        model: a refvae model (its Gaussian code is scored).
        dataset: the ground-truth data set.
        names: registered metric names.
        seed: seeds every metric's samples.
        num_points: the metrics' training size (test sets: half); None: 10,000.
        subgrid: steps per factor of "mig-sampled" (every step-th value; default: the profile's,
            the whole grid for "disentanglement-lib"), e.g. (1, 1, 4, 4, 4) keeps 11,520 of
            dSprites' 737,280 points.
        profile: "fast" or "disentanglement-lib" (``refvae.metrics.registry``).

    Each result gains "seconds" and "settings" (the profile and sizes it was computed with).
    """
    names = check_metrics(names)
    num_points = check_num_points(num_points)
    subgrid = check_subgrid(dataset, subgrid)
    representation, posterior = encoders(model)
    evaluation = registry.Evaluation(dataset, representation, posterior, seed=seed, profile=profile,
                                     num_points=num_points, subgrid=subgrid)
    results = {}
    for name in names:
        start = time.perf_counter()
        # one OpenMP/BLAS thread for scikit-learn and NumPy: beside TensorFlow's own pools, their
        # default threading ran 3-10x slower on 2 shared cores (benchmarks/bench_evaluate.py)
        with threadpoolctl.threadpool_limits(1):
            result, notes = _with_convergence_notes(registry.get(name).compute, evaluation)
        results[name] = {key: jsonable(value) for key, value in result.items()}
        if notes:
            results[name]["warnings"] = notes
        results[name]["settings"] = {"profile": profile, "seed": seed, "num_points": evaluation.train_size,
                                     "test_points": evaluation.test_size}
        if name == "mig-sampled":
            results[name]["settings"]["grid_steps"] = list(evaluation.grid_steps())
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
    return results


def _with_convergence_notes(compute: Callable, evaluation: registry.Evaluation) -> tuple[dict[str, Any], list[str]]:
    """``compute(evaluation)`` with scikit-learn's convergence warnings kept as notes of the result
    (one line each, counted) instead of raw text on the console."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = compute(evaluation)
    counts: dict[str, int] = {}
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            line = str(warning.message).strip().splitlines()[0]
            counts[line] = counts.get(line, 0) + 1
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    notes = [f"{line} (scikit-learn, {count} fit{'s' if count > 1 else ''}): the classifier did not converge"
             for line, count in counts.items()]
    return result, notes


def check_subgrid(dataset: GroundTruthData, subgrid: Sequence[int] | None) -> tuple[int, ...] | None:
    """``subgrid`` as a tuple of steps, one per factor of ``dataset``, each leaving >= 2 values."""
    if subgrid is None:
        return None
    from refvae import metrics

    sizes = tuple(dataset.factor_sizes)
    try:
        _, kept = metrics.subgrid_factors(sizes, subgrid)
    except (TypeError, ValueError) as error:
        raise ConfigError("subgrid", f"must be one positive step per factor {sizes}: {error}") from None
    if min(kept) < 2:
        raise ConfigError("subgrid", f"{tuple(subgrid)} leaves fewer than 2 values of a factor of {sizes}: {kept}")
    return tuple(subgrid)


def headline(results: dict[str, Any]) -> dict[str, float]:
    """The score of each metric in ``results`` (its registered headline key), e.g. {"mig": 0.21}."""
    summary = {}
    for name, result in results.items():
        if name in registry.names() and registry.get(name).headline in result:
            summary[name] = result[registry.get(name).headline]
    return summary


LARGE_BATCH = 4096


def estimator_bias(model: keras.Model, dataset: GroundTruthData, batch_size: int, estimator: str = "mss1",
                   seed: int = 0, num_points: int = 8192) -> dict[str, Any]:
    """The batch estimate of the TC beside a large-batch one and an independent reference.

    On ``num_points`` fresh points (one posterior sample each, ``dataset_size`` = the data
    set's N, as in training): ``refvae.metrics.minibatch_tc_terms`` at the training
    ``batch_size`` and at B = min(4096, num_points), and the Gaussian fit of the sampled
    codes, TC of N(mean, Cov(μ) + diag E[σ²]) (004 eq 9), which no minibatch weighting
    enters. A batch estimate far below the other two is the bias that a TC weight β > 1
    rewards (see ``refvae.runs.callbacks.EstimatorBiasMonitor``).

    Returns:
        dict: "batch_size", "large_batch_size", "tc_batch", "tc_large_batch", "tc_gaussian_fit",
        "index_code_mi_batch", "index_code_mi_large_batch", "log_dataset_size" (nats).
    """
    from refvae import info, metrics

    num_points = min(num_points, int(dataset.num_observations))
    rng = np.random.default_rng(seed)
    _, posterior = encoders(model)
    loc, scale = posterior(dataset.observations_from_indices(dataset.sample_indices(num_points, rng)))
    loc, scale = loc.astype(np.float64), scale.astype(np.float64)
    large = min(LARGE_BATCH, num_points)
    out = {"batch_size": int(batch_size), "large_batch_size": large,
           "log_dataset_size": float(np.log(dataset.num_observations))}
    for label, size in (("batch", batch_size), ("large_batch", large)):
        terms = metrics.minibatch_tc_terms(loc, scale, estimator, batch_size=size, seed=seed,
                                           dataset_size=int(dataset.num_observations))
        out[f"tc_{label}"] = terms["total_correlation"]
        out[f"index_code_mi_{label}"] = terms["index_code_mi"]
    covariance = np.cov(loc, rowvar=False) + np.diag(np.mean(scale**2, axis=0))
    out["tc_gaussian_fit"] = float(info.gaussian_total_correlation(covariance))
    return out




def evaluate(run_dir: str | os.PathLike, metric_names: Sequence[str] | None = None, seed: int = 0,
             num_points: int | None = None, report: bool = True, subgrid: Sequence[int] | None = None,
             profile: str = "fast") -> dict[str, Any]:
    """Score a run, write metrics.json (and report.html); returns the metrics dict.

    Args:
        run_dir: a run directory with model.keras.
        metric_names: registered metrics; None: the defaults defined on the run's data set
            (``refvae.metrics.registry.default_names``). A metric undefined on the data is refused.
        seed, num_points, subgrid, profile: see :func:`compute_metrics`.
        report: also write report.html and its figures.

    Raises:
        RunDirectoryError: not a run, a model that config.json does not describe, or a run that
            another process is writing (``RunInUse``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
        raise ConfigError("seed", f"must be an integer in [0, {2**32 - 1}], got {seed!r}")
    num_points = check_num_points(num_points)
    if metric_names is not None:
        metric_names = check_metrics(metric_names)
    if profile not in registry.PROFILES:
        raise ConfigError("metrics_profile", f"must be one of {', '.join(registry.PROFILES)}; got {profile!r}")
    directory = RunDirectory(run_dir)
    if not directory.path.is_dir():
        raise RunDirectoryError(directory.path, "is not a directory")
    if not directory.is_run():
        raise RunDirectoryError(directory.path, "holds no run (no config.json)")
    config = directory.read_config()
    with directory.lock():
        # the metrics take a minute or more: find out first that their results can be written
        probe_writable(directory.path)
        if report and directory.figures.is_dir():
            probe_writable(directory.figures, directory.path)
        directory.check_subfolders()
        model = directory.load_model()
        dataset = datasets.load(config.data)
        check_model_matches(model, dataset, config, directory.path)
        names = registry.default_names(dataset.factor_sizes) if metric_names is None else metric_names
        check_defined(names, dataset, config.data)
        results = compute_metrics(model, dataset, names, seed=seed, num_points=num_points, subgrid=subgrid,
                                  profile=profile)
        results["summary"] = headline(results)
        results["estimator_bias"] = estimator_bias(model, dataset, config.batch_size, config.estimator, seed=seed)
        results["scored"] = scored(directory, model, config, seed, num_points, profile)
        directory.write_text(directory.metrics_path, json.dumps(results, indent=2) + "\n")
        if report:
            from refvae import report as reports

            reports.write_report(directory, model, dataset, config, results, seed=seed)
    return results


def scored(directory: RunDirectory, model: keras.Model, config: RunConfig, seed: int, num_points: int | None,
           profile: str) -> dict[str, Any]:
    """What metrics.json scored: the model's step and file checksum, the data, the sample sizes."""
    import refvae

    optimizer = getattr(model, "optimizer", None)
    step = int(optimizer.iterations.numpy()) if optimizer is not None else None
    return {"step": step, "steps": config.steps, "model_file": directory.model_path.name,
            "model_sha256": directory.model_checksum(), "data": config.data, "seed": seed,
            "num_points": 10_000 if num_points is None else num_points, "profile": profile,
            "refvae": refvae.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def comparison_sentence(first: Sequence[float], second: Sequence[float],
                        names: tuple[str, str] = ("beta-TCVAE", "beta-VAE"), score: str = "MIG",
                        tie: float = 0.02) -> str:
    """What paired scores (one pair per seed) show, as a sentence computed from them.

    A seed counts for a model when its score is above the other's by more than ``tie``; a
    model is called ahead only when at least two thirds of the seeds count for it, and one
    seed is never called a result.

    Example:
        >>> comparison_sentence([0.31, 0.30, 0.12], [0.20, 0.18, 0.25])[-50:]
        "In this budget beta-TCVAE's MIG is the higher one."
    """
    if len(first) != len(second) or not first:
        raise ValueError(f"first and second must be non-empty and of one length, got {len(first)} and {len(second)}")
    differences = [a - b for a, b in zip(first, second)]
    n = len(differences)
    ahead = sum(d > tie for d in differences)
    behind = sum(d < -tie for d in differences)
    mean = sum(differences) / n
    a, b = names
    counts = (f"{a}'s {score} is above {b}'s by more than {tie:g} in {ahead}/{n} seed{'s' if n > 1 else ''}, "
              f"below in {behind}/{n}, within {tie:g} in {n - ahead - behind}/{n} (mean difference {mean:+.3f}).")
    if n == 1:
        return counts + " One seed does not settle the comparison."
    if ahead >= 2 * n / 3:
        return counts + f" In this budget {a}'s {score} is the higher one."
    if behind >= 2 * n / 3:
        return counts + f" In this budget {b}'s {score} is the higher one."
    return counts + f" In this budget the two {score}s are not distinguishable."
