"""Locatello et al.'s findings (2019, ICML) set beside the six-objective study's table.

The study is declared in ``experiments/study_six_objectives.toml`` and run with
``refvae study run``; its table is ``experiments/results/study_six_objectives/results.csv``. This
script reads the table only (no training) and computes, for each finding, what the table shows;
every sentence it writes is a verdict computed from the numbers it prints beside it::

    python -m experiments.study_six_objectives            # writes findings.md and findings.json
    python -m experiments.study_six_objectives --print    # and prints findings.md

RESULTS.md's section "Many models" will be findings.md once all 90 trials have finished (no finding
is read from a partial table there); ``tests/test_experiment_six_objectives.py`` checks each
verdict on tables built so that the verdict is known.
"""

import argparse
import math
import pathlib

import numpy as np

from experiments import common

NAME = "study_six_objectives"
STUDY_DIR = common.RESULTS_DIR / NAME
TARGET_MIG = 0.30          # the recipe's target: a mean histogram MIG over seeds 0-4 (RESULTS.md)
TEN_MINUTES = 600.0
STRONG, WEAK = 0.7, 0.3    # |rho| above STRONG: the metrics agree; below WEAK: they do not


def _fmt(value, digits=2):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _setting(cell, joint=" at "):
    """'factor-vae at gamma = 10' (or 'vae' for a model that sweeps nothing)."""
    return cell["model"] + (f"{joint}{cell['hyperparameter']} = {cell['value']:g}" if cell["hyperparameter"] else "")


def _swept(frame):
    """The hyperparameter columns that some objective of the table sweeps."""
    from refvae.studies import report

    return sorted({key for key in report._sweeps(frame).values() if key})


def findings(frame, declared=None):
    """{finding: {numbers..., "verdict": sentence}} computed from the study's table (``declared``:
    the number of trials of the study's grid, when it is known)."""
    from scipy import stats

    from refvae.studies import report

    done = frame[frame["status"] == "done"]
    metrics = report.metric_columns(done)
    out = {"trials": int(declared or len(frame)), "done": int(len(done)), "failed": int((frame["status"] == "failed").sum()),
           "models": sorted(done["model"].unique().tolist()), "seeds": sorted(int(s) for s in done["seed"].unique())}

    # 1. seeds and hyperparameters matter more than the objective (Locatello et al. §5.2, Fig. 7)
    shares = report.variance_shares(done, metrics)
    seed_above = [m for m, share in shares.items() if share["seed"] > share["objective"]]
    repeated = int((done.groupby(["model"] + [c for c in _swept(done)], dropna=False).size() > 1).sum())
    out["variance_shares"] = {
        "shares": shares, "seed_above_objective": seed_above, "settings_with_two_seeds": repeated,
        "verdict": ("No setting has two finished seeds yet, so the seed's share cannot be told from zero."
                    if repeated == 0 else
                    f"In {len(seed_above)} of {len(shares)} metrics the seed explains more of the variance across the "
                    f"{len(done)} models than the objective does"
                    + (f" ({', '.join(seed_above)})" if seed_above else "") + "; "
                    + ("Locatello et al.'s finding that the random seed matters more than the model holds for most "
                       "metrics here." if len(seed_above) > len(shares) / 2 else
                       "unlike Locatello et al., here the objective explains more than the seed for most metrics."))}

    # 2. which metrics agree (their Fig. 4): Spearman's rank correlation over the trained models
    names, matrix = report.rank_correlations(done, metrics)
    pairs = [(names[i], names[j], float(matrix[i, j])) for i in range(len(names)) for j in range(i + 1, len(names))]
    strong = sorted([p for p in pairs if p[2] > STRONG], key=lambda p: -p[2])
    weak = sorted([p for p in pairs if abs(p[2]) < WEAK], key=lambda p: abs(p[2]))
    core = [p for p in pairs if {p[0], p[1]} <= {"beta-vae", "factor-vae", "mig", "dci"}]
    core_mean = float(np.mean([p[2] for p in core])) if core else float("nan")
    out["rank_correlation"] = {
        "metrics": names, "matrix": matrix.tolist(), "strong": strong, "weak": weak, "core_mean": core_mean,
        "verdict": (f"{len(strong)} of {len(pairs)} pairs of metrics have a rank correlation above {STRONG} and "
                    f"{len(weak)} below {WEAK} in absolute value. Among BetaVAE, FactorVAE, MIG and DCI, which "
                    f"Locatello et al. found to agree, the mean rank correlation is {_fmt(core_mean)}"
                    + (": they agree here too." if core_mean > STRONG else
                       ": here they agree only in part." if core_mean > WEAK else ": here they do not agree."))}

    # 3. TC of the mean representation against TC of the sampled one (their Fig. 1-2; 004 Theorem 1)
    trends = {}
    for model, rows in done.groupby("model"):
        key = report._sweeps(rows).get(model)
        if key is None or "tc" not in rows or "tc.tc_sample" not in rows:
            continue
        trends[model] = {"hyperparameter": key,
                         "tc_mean": float(stats.spearmanr(rows[key], rows["tc"]).statistic),
                         "tc_sample": float(stats.spearmanr(rows[key], rows["tc.tc_sample"]).statistic)}
    sample_falls = [m for m, t in trends.items() if t["tc_sample"] < -WEAK]
    mean_falls = [m for m, t in trends.items() if t["tc_mean"] < -WEAK]
    out["tc_mean_vs_sample"] = {
        "trends": trends,
        "verdict": (f"As the regularisation grows, the TC of the sampled codes falls (rank correlation below -{WEAK}) "
                    f"for {len(sample_falls)} of {len(trends)} objectives ({', '.join(sample_falls) or 'none'}), the "
                    f"TC of the mean codes for {len(mean_falls)} ({', '.join(mean_falls) or 'none'})"
                    + (": as Locatello et al. found, penalising the TC of samples need not lower that of the means."
                       if len(sample_falls) > len(mean_falls) else "."))}

    # 4. 001 Fig 3: MIG against beta, beta-VAE against beta-TCVAE at each beta
    against = report.mig_against_beta(done)
    ahead = []
    if {"beta-vae", "beta-tcvae"} <= set(against):
        for beta in sorted(set(against["beta-vae"]) & set(against["beta-tcvae"])):
            tc = done[(done["model"] == "beta-tcvae") & (done["beta"] == beta)].set_index("seed")["mig"]
            vae = done[(done["model"] == "beta-vae") & (done["beta"] == beta)].set_index("seed")["mig"]
            seeds = sorted(set(tc.index) & set(vae.index))
            wins = sum(tc[s] > vae[s] for s in seeds)
            ahead.append({"beta": beta, "tcvae": against["beta-tcvae"][beta], "vae": against["beta-vae"][beta],
                          "tcvae_ahead": int(wins), "seeds": len(seeds)})
    out["mig_against_beta"] = {
        "rows": ahead,
        "verdict": "; ".join(f"at beta = {row['beta']:g} beta-TCVAE's MIG is above beta-VAE's on {row['tcvae_ahead']} of "
                             f"{row['seeds']} seeds ({_fmt(row['tcvae']['mean'], 3)} against {_fmt(row['vae']['mean'], 3)})"
                             for row in ahead) + "." if ahead else
                   "beta-VAE and beta-TCVAE have no finished trials at a common beta yet."}

    # 5. the 0.30 target of the recipe: a setting with mean MIG >= 0.30 over seeds 0-4 within 10 minutes a model
    cells = []
    for row in report.summary_table(done, ["mig"]):
        rows = done[(done["model"] == row["model"])
                    & ((done[row["hyperparameter"]] == row["value"]) if row["hyperparameter"] else True)]
        per_factor = {c.split(".", 1)[1]: float(rows[c].mean()) for c in rows if c.startswith("mig.")
                      and c.count(".") == 1 and c != "mig.warnings"}
        cells.append({"model": row["model"], "hyperparameter": row["hyperparameter"], "value": row["value"],
                      "mig": row["mig"]["mean"], "sd": row["mig"]["sd"], "seeds": row["seeds"],
                      "train_minutes": float(rows["train_seconds"].mean() / 60), "per_factor_gap": per_factor})
    cells.sort(key=lambda cell: -cell["mig"])
    best = cells[0] if cells else None
    reached = [c for c in cells if c["mig"] >= TARGET_MIG and c["train_minutes"] * 60 <= TEN_MINUTES and c["seeds"] >= 5]
    if best is None:
        target = "no finished trial"
    elif reached:
        target = (f"{len(reached)} setting(s) reach a mean MIG of {TARGET_MIG} over five seeds within ten minutes a "
                  f"model; the best, {_setting(best)}, "
                  f"{_fmt(best['mig'], 3)} ± {_fmt(best['sd'], 3)}, is to be confirmed on seeds 5-9.")
    elif best["seeds"] < 5:
        target = (f"Not decided: the best setting so far, {_setting(best)}, has {_fmt(best['mig'], 3)} over "
                  f"{best['seeds']} of the five seeds the target needs.")
    else:
        weakest = min(best["per_factor_gap"], key=best["per_factor_gap"].get) if best["per_factor_gap"] else "n/a"
        target = (f"No setting reaches a mean MIG of {TARGET_MIG}: the nearest is {_setting(best)} with "
                  f"{_fmt(best['mig'], 3)} ± {_fmt(best['sd'], 3)} "
                  f"over {best['seeds']} seeds; its smallest per-factor gap is {weakest} "
                  f"({_fmt(best['per_factor_gap'].get(weakest), 3)}).")
    out["target"] = {"cells": cells, "reached": reached, "verdict": target}
    return out


def markdown(result):
    """The section of RESULTS.md: every number and verdict from ``findings``."""
    lines = [f"Trials: {result['done']} of {result['trials']} finished ({result['failed']} failed); objectives "
             f"{', '.join(result['models'])}; seeds {', '.join(map(str, result['seeds']))}.", ""]
    lines += ["| setting | seeds | histogram MIG (mean ± sd) | minutes to train |", "|---|---|---|---|"]
    for cell in sorted(result["target"]["cells"], key=lambda c: (c["model"], c["value"] if c["value"] is not None else 0)):
        lines.append(f"| {_setting(cell, ', ')} | {cell['seeds']} | {_fmt(cell['mig'], 3)} ± {_fmt(cell['sd'], 3)} | "
                     f"{_fmt(cell['train_minutes'], 1)} |")
    shares = result["variance_shares"]["shares"]
    lines += ["", "**Where the spread comes from** (share of each metric's sum of squares; Locatello et al. §5.2).", "",
              "| metric | objective | hyperparameter | seed |", "|---|---|---|---|"]
    lines += [f"| {m} | {_fmt(s['objective'])} | {_fmt(s['hyperparameter'])} | {_fmt(s['seed'])} |"
              for m, s in shares.items()]
    lines += ["", result["variance_shares"]["verdict"], "",
              "**Which metrics agree** (Spearman's rank correlation over the trained models; Locatello et al. Fig. 4). "
              "Strongest pairs: " + ", ".join(f"{a}–{b} {r:.2f}" for a, b, r in result["rank_correlation"]["strong"][:6])
              + ". Weakest: " + ", ".join(f"{a}–{b} {r:.2f}" for a, b, r in result["rank_correlation"]["weak"][:6]) + ".",
              "", result["rank_correlation"]["verdict"], "",
              "**TC of the mean and of the sampled codes against the regularisation** (rank correlation with the "
              "hyperparameter; Locatello et al. Figs. 1-2): " + "; ".join(
                  f"{m} ({t['hyperparameter']}): mean {t['tc_mean']:+.2f}, sampled {t['tc_sample']:+.2f}"
                  for m, t in result["tc_mean_vs_sample"]["trends"].items()) + ".", "",
              result["tc_mean_vs_sample"]["verdict"], "",
              "**MIG against β** (001 Fig 3): " + result["mig_against_beta"]["verdict"], "",
              "**The recipe's target of 0.30**: " + result["target"]["verdict"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study-dir", type=pathlib.Path, default=STUDY_DIR)
    parser.add_argument("--print", action="store_true", help="print findings.md")
    args = parser.parse_args(argv)
    from refvae import studies

    grid = common.read_json(args.study_dir / "grid.json")
    result = findings(studies.load(args.study_dir), declared=len(grid["trials"]))
    common.write_json(args.study_dir / "findings.json", result)
    text = markdown(result)
    (args.study_dir / "findings.md").write_text(text)
    if args.print:
        print(text)


if __name__ == "__main__":
    main()
