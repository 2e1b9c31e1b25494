"""The analyses of Locatello et al. (2019, ICML) on a study's table, as numbers and figures.

Every number comes from the table (``refvae.studies.load``), over the trials that finished:

- :func:`metric_by_hyperparameter`: each metric against each model's swept hyperparameter,
  one point a seed, the mean over seeds joined (Locatello et al. Fig 7);
- :func:`rank_correlations`: Spearman's rank correlation between every pair of metrics over
  the trained models (their Fig 4);
- :func:`variance_shares`: the share of each metric's variance between objectives, between
  hyperparameter values of one objective, and between seeds of one setting (a nested
  sum-of-squares decomposition; their finding that seeds and hyperparameters matter more
  than the objective);
- :func:`mig_against_beta`: MIG against β for β-VAE and β-TCVAE (001 Fig 3).

``write_report(study_dir)`` draws them into ``STUDY_DIR/report/`` and writes
``STUDY_DIR/report/summary.json`` with every number shown.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import TYPE_CHECKING, Any

import numpy as np

from refvae.io import atomic_path, jsonable, write_atomic

if TYPE_CHECKING:
    import pandas

__all__ = ["metric_by_hyperparameter", "mig_against_beta", "rank_correlations", "summary_table", "variance_shares",
           "write_report"]


def _sweeps(frame: pandas.DataFrame) -> dict[str, str | None]:
    """{model: the hyperparameter its trials vary (None when they vary none)}."""
    from refvae.runs import registry

    sweeps = {}
    for model, rows in frame.groupby("model", sort=False):
        varied = [option for option in registry.get(model).option_names
                  if option in rows and rows[option].nunique(dropna=True) > 1]
        sweeps[model] = varied[0] if varied else None
    return sweeps


def metric_columns(frame: pandas.DataFrame) -> list[str]:
    """The headline metric columns present in the table (registry order)."""
    from refvae.metrics import registry

    return [name for name in registry.names() if name in frame and frame[name].notna().any()]


def _done(frame):
    return frame[frame["status"] == "done"] if "status" in frame else frame


def summary_table(frame: pandas.DataFrame, metrics: list[str] | None = None) -> list[dict[str, Any]]:
    """Mean and standard deviation (ddof 1) over seeds of each metric, per model and value of its
    swept hyperparameter."""
    frame = _done(frame)
    metrics = metrics or metric_columns(frame)
    sweeps = _sweeps(frame)
    rows = []
    for model, group in frame.groupby("model", sort=False):
        key = sweeps[model]
        for value, cell in (group.groupby(key, sort=True) if key else [(None, group)]):
            row = {"model": model, "hyperparameter": key, "value": value, "seeds": len(cell)}
            for metric in metrics:
                values = cell[metric].dropna().to_numpy(dtype=float)
                row[metric] = {"mean": float(values.mean()) if len(values) else math.nan,
                               "sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan}
            rows.append(row)
    return rows


def rank_correlations(frame: pandas.DataFrame, metrics: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """(metrics, Spearman's rank correlation [M, M]) over the finished trials."""
    from scipy import stats

    frame = _done(frame)
    metrics = [m for m in (metrics or metric_columns(frame)) if frame[m].nunique() > 1]
    values = frame[metrics].to_numpy(dtype=float)
    matrix = np.eye(len(metrics))
    for i in range(len(metrics)):
        for j in range(i + 1, len(metrics)):
            keep = np.isfinite(values[:, i]) & np.isfinite(values[:, j])
            rho = stats.spearmanr(values[keep, i], values[keep, j]).statistic if keep.sum() > 2 else math.nan
            matrix[i, j] = matrix[j, i] = rho
    return metrics, matrix


def variance_shares(frame: pandas.DataFrame, metrics: list[str] | None = None) -> dict[str, dict[str, float]]:
    """{metric: {"objective", "hyperparameter", "seed": share of the total sum of squares}}.

    With y the metric of a trial, ȳ the mean of all trials, ȳ_m of model m, ȳ_mh of model m at
    value h of its hyperparameter::

        Σ (y − ȳ)² = Σ_m n_m (ȳ_m − ȳ)² + Σ_mh n_mh (ȳ_mh − ȳ_m)² + Σ (y − ȳ_mh)²
                     (objective)          (hyperparameter)          (seed)

    an identity of sums of squares, so the three shares add up to 1.
    """
    frame = _done(frame)
    metrics = metrics or metric_columns(frame)
    sweeps = _sweeps(frame)
    cells = [(model, value if sweeps[model] else None)
             for model, value in zip(frame["model"], [row.get(sweeps[row["model"]]) if sweeps[row["model"]] else None
                                                      for _, row in frame.iterrows()])]
    frame = frame.assign(_cell=cells)
    shares = {}
    for metric in metrics:
        data = frame[["model", "_cell", metric]].dropna()
        y = data[metric].astype(float)
        total = float(((y - y.mean()) ** 2).sum())
        if total <= 0:
            continue
        model_mean = data.groupby("model")[metric].transform("mean")
        cell_mean = data.groupby("_cell")[metric].transform("mean")
        shares[metric] = {"objective": float(((model_mean - y.mean()) ** 2).sum()) / total,
                          "hyperparameter": float(((cell_mean - model_mean) ** 2).sum()) / total,
                          "seed": float(((y - cell_mean) ** 2).sum()) / total}
    return shares


def metric_by_hyperparameter(frame: pandas.DataFrame, metric: str) -> dict[str, dict[str, Any]]:
    """{model: {"hyperparameter", "values" [n], "scores" [n], "seeds" [n]}} of one metric."""
    frame = _done(frame)
    sweeps = _sweeps(frame)
    out = {}
    for model, group in frame.groupby("model", sort=False):
        key = sweeps[model]
        out[model] = {"hyperparameter": key,
                      "values": group[key].to_numpy(dtype=float).tolist() if key else [0.0] * len(group),
                      "scores": group[metric].to_numpy(dtype=float).tolist(), "seeds": group["seed"].tolist()}
    return out


def mig_against_beta(frame: pandas.DataFrame) -> dict[str, dict[float, dict[str, float]]]:
    """{model: {β: {"mean", "sd", "n"}}} of the MIG of β-VAE and β-TCVAE (001 Fig 3)."""
    frame = _done(frame)
    out = {}
    for model in ("beta-vae", "beta-tcvae"):
        rows = frame[frame["model"] == model]
        if rows.empty or "beta" not in rows or "mig" not in rows:
            continue
        out[model] = {float(beta): {"mean": float(cell["mig"].mean()), "sd": float(cell["mig"].std(ddof=1)),
                                    "n": int(len(cell))} for beta, cell in rows.groupby("beta")}
    return out


def write_report(study_dir: str | os.PathLike) -> dict[str, Any]:
    """Figures and summary.json of a study in ``STUDY_DIR/report/``; returns the summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from refvae.studies.table import load

    study_dir = pathlib.Path(study_dir)
    frame = load(study_dir)
    folder = study_dir / "report"
    folder.mkdir(exist_ok=True)
    done = _done(frame)
    metrics = metric_columns(done)

    def save(fig, name):
        with atomic_path(folder / f"{name}.png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
        plt.close(fig)

    sweeps = _sweeps(done)
    models = list(sweeps)
    for metric in metrics:
        by_model = metric_by_hyperparameter(done, metric)
        fig, axes = plt.subplots(1, len(models), figsize=(2.6 * len(models), 2.6), sharey=True, squeeze=False)
        for ax, model in zip(axes[0], models):
            data = by_model[model]
            values, scores = np.array(data["values"]), np.array(data["scores"])
            ax.scatter(values, scores, s=14, alpha=0.7, label="one seed")
            levels = np.unique(values)
            ax.plot(levels, [np.nanmean(scores[values == v]) for v in levels], "k-", lw=1, label="mean")
            if len(levels) > 1 and levels.min() > 0 and levels.max() / levels.min() > 10:
                ax.set_xscale("log")
            ax.set_title(model, fontsize=9)
            ax.set_xlabel(data["hyperparameter"] or "(no hyperparameter)")
        axes[0][0].set_ylabel(metric)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{metric} against each objective's hyperparameter (points: seeds)", fontsize=10)
        save(fig, f"metric_{metric}")

    names, matrix = rank_correlations(done, metrics)
    fig, ax = plt.subplots(figsize=(0.55 * len(names) + 2, 0.55 * len(names) + 1.5))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="Spearman's rank correlation")
    ax.set_title(f"Rank correlation between metrics over {len(done)} trained models", fontsize=10)
    save(fig, "rank_correlation")

    shares = variance_shares(done, metrics)
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(shares)), 3.2))
    bottom = np.zeros(len(shares))
    for part in ("objective", "hyperparameter", "seed"):
        heights = np.array([shares[m][part] for m in shares])
        ax.bar(list(shares), heights, bottom=bottom, label=part)
        bottom += heights
    ax.set_ylabel("share of the variance")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", rotation=60)
    ax.legend(fontsize=8)
    ax.set_title("What the spread of each metric comes from", fontsize=10)
    save(fig, "variance_shares")

    against_beta = mig_against_beta(done)
    if against_beta:
        fig, ax = plt.subplots(figsize=(4.2, 3.2))
        for model, cells in against_beta.items():
            betas = sorted(cells)
            ax.errorbar(betas, [cells[b]["mean"] for b in betas], yerr=[cells[b]["sd"] for b in betas],
                        marker="o", capsize=3, label=model)
        ax.set_xlabel("β")
        ax.set_ylabel("histogram MIG (mean ± sd over seeds)")
        ax.set_title("MIG against β (001 Fig 3)", fontsize=10)
        ax.legend(fontsize=8)
        save(fig, "mig_against_beta")

    summary = {"trials": int(len(frame)), "done": int(len(done)), "failed": int((frame.get("status") == "failed").sum())
               if "status" in frame else 0, "metrics": metrics, "table": summary_table(done, metrics),
               "rank_correlation": {"metrics": names, "matrix": matrix}, "variance_shares": shares,
               "mig_against_beta": {m: {str(b): v for b, v in cells.items()} for m, cells in against_beta.items()}}
    write_atomic(folder / "summary.json", json.dumps(jsonable(summary), indent=1, allow_nan=True) + "\n")
    return summary
