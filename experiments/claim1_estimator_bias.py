"""Claim 1 (004 §5.3, Fig 1): minibatch TC estimators against the N-point mixture they target and the N → ∞ Gaussian.

Setting (004 §5.3, with correlated means so the truth is not only 0): a materialised data set
of N = 100,000 means μ_n ~ N(0, Σ), Σ = (1 − ρ) I + ρ 11ᵀ, posteriors q(z | n) = N(μ_n, σ² I)
with σ = 0.1, minibatches of B = 256 points drawn from it without replacement. Each estimator
of ``refvae.estimators`` (mws, mws_dropped, mss0, mss1, hfvae), told N, gives
TĈ = mean_i [log q̂(z_i) − Σ_d log q̂(z_i,d)] per batch, averaged over batches.

Two references, and the estimate's distance to the paper's one split in two:

- ``finite_tc``: the TC of the N-point mixture q(z) = (1/N) Σ_n q(z | n) of this data set, the
  quantity the estimators target (MSS is unbiased for its q(z), 004 eq 6), computed without any
  minibatch by ``refvae.metrics.tc.mixture_total_correlation``: H(z) by Monte Carlo against all
  N components, each H(z_d) by quadrature, TC = Σ_d H(z_d) − H(z), with its standard error
  (``finite_tc_stderr``).
- ``gaussian_tc``: the TC of N(0, Σ + σ² I), ½(Σ_k log C_kk − log|C|) (004 eq 9, Prop. 1), the
  N → ∞ limit the paper compares with.

estimate − gaussian_tc = (estimate − finite_tc) + (finite_tc − gaussian_tc): the estimator's
error against its target plus the gap between the two targets. With σ = 0.1 the N components
stop overlapping once D grows past ~6; then I(z; n) is close to log N and the mixture's TC is
far above the Gaussian's, which no N-point data set can reach.

Run: ``python -m experiments.claim1_estimator_bias [--smoke | --full] [--seeds 0 1 2] [--out DIR]``
"""

import sys

import numpy as np

from experiments import common

NAME = "claim1_estimator_bias"
METHODS = ("mws", "mws_dropped", "mss0", "mss1", "hfvae")
SIGMA = 0.1
SIZES = {
    "smoke": dict(dims=(2, 8), rhos=(0.0, 0.8), dataset_size=2000, batch_size=64, batches=2, mixture_samples=200,
                  sweep=dict(dims=(2,), rhos=(0.0,), batch_sizes=(16, 64), batches=1)),
    "cpu": dict(dims=(2, 4, 8, 10, 16, 32), rhos=(0.0, 0.25, 0.5, 0.75, 0.9), dataset_size=100_000,
                batch_size=256, batches=10, mixture_samples=2000,
                sweep=dict(dims=(2, 4, 8), rhos=(0.0, 0.9), batch_sizes=(64, 256, 1024, 2048), batches=3)),
    "full": dict(dims=(2, 4, 8, 10, 16, 32), rhos=(0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95),
                 dataset_size=100_000, batch_size=256, batches=100, mixture_samples=10_000,
                 sweep=dict(dims=(2, 4, 8, 16), rhos=(0.0, 0.5, 0.9), batch_sizes=(64, 256, 1024, 2048, 4096),
                            batches=20)),
}
PAPER = {
    "source": "004 §5.3, Fig 1 (and the analysis after eq 10)",
    "claims": [
        "MWS tends to underestimate TC in general",
        "for D <= 4, MSS0 and MSS1 are quite accurate",
        "for high D, MSS0 and MSS1 overestimate TC when the true TC is small",
        "MSS1 is closer to the ground truth than MSS0 overall",
    ],
    "settings": "mu ~ N(0, I), z | mu ~ N(mu, sigma^2 I), sigma = 0.1; the figure shows estimates vs ground "
                "truth for several D; batch size, N and the TC range are not stated in the text",
}


# The ρ of the summary table (RESULTS.md, chapter 05): every D at one correlation.
HEADLINE_RHO = 0.5


def equicorrelation(dim, rho):
    return (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))


def batch_estimates(mu, n, b, batches, rng):
    """{method: [TC estimate of each of ``batches`` minibatches of size b]} (nats)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from refvae import estimators

    dim = mu.shape[1]
    values = {m: [] for m in METHODS}
    for _ in range(batches):
        batch = rng.choice(n, size=b, replace=False)
        loc = tf.constant(mu[batch])
        z = loc + SIGMA * tf.constant(rng.standard_normal((b, dim)).astype(np.float32))
        posterior = tfp.distributions.Normal(loc, tf.fill(loc.shape, np.float32(SIGMA)))
        pairwise = posterior.log_prob(z[:, None, :])  # [M, B, D]: log q(z_i,d | x_j)
        for method in METHODS:
            log_qz, log_qzd = estimators.aggregate_log_density_from_pairwise(pairwise, n, method)
            values[method].append(float(tf.reduce_mean(log_qz - tf.reduce_sum(log_qzd, axis=-1))))
    return values


def data_set(dim, rho, seed, n):
    """(means [n, D] float32 of the notional data set, Gaussian truth, rng for the batches)."""
    from refvae import info

    rng = np.random.default_rng([seed, dim, int(round(rho * 1000))])
    cov = equicorrelation(dim, rho)
    mu = rng.multivariate_normal(np.zeros(dim), cov, size=n).astype(np.float32)
    truth = float(info.gaussian_total_correlation(cov + SIGMA**2 * np.eye(dim)))
    return mu, truth, rng


def batch_size_sweep(seed, sizes, finite):
    """MSS / MWS / HFVAE estimates against the batch size B (004 does not state its B).

    ``finite`` maps (D, ρ, seed) to the N-point mixture's TC of that data set (``one_setting``
    draws the same data set from the same seeds).
    """
    sweep = sizes["sweep"]
    rows = []
    for dim in sweep["dims"]:
        for rho in sweep["rhos"]:
            mu, truth, rng = data_set(dim, rho, seed, sizes["dataset_size"])
            for b in sweep["batch_sizes"]:
                values = batch_estimates(mu, sizes["dataset_size"], b, sweep["batches"], rng)
                rows.append({"dim": dim, "rho": rho, "seed": seed, "batch_size": b, "gaussian_tc": truth,
                             "finite_tc": finite[dim, rho, seed], **{m: float(np.mean(v)) for m, v in values.items()}})
    return rows


def one_setting(dim, rho, seed, sizes):
    """All estimators, the Gaussian truth and the N-point mixture's TC for one (D, ρ, seed)."""
    from refvae.metrics.tc import mixture_total_correlation

    n, b = sizes["dataset_size"], sizes["batch_size"]
    mu, truth, rng = data_set(dim, rho, seed, n)
    values = batch_estimates(mu, n, b, sizes["batches"], rng)
    mixture = mixture_total_correlation(mu, SIGMA, num_samples=sizes["mixture_samples"], seed=rng)
    return {
        "dim": dim, "rho": rho, "seed": seed, "gaussian_tc": truth,
        "finite_tc": mixture["total_correlation"], "finite_tc_stderr": mixture["stderr"],
        "finite_index_code_mi": mixture["index_code_mi"],
        **{m: float(np.mean(v)) for m, v in values.items()},
        **{f"{m}_batch_std": float(np.std(v)) for m, v in values.items()},
    }


def aggregate(rows, sizes):
    """Mean ± sd over seeds per (D, ρ); the mixture's standard error is the Monte Carlo error of one seed's value."""
    table = []
    for dim in sizes["dims"]:
        for rho in sizes["rhos"]:
            chosen = [r for r in rows if r["dim"] == dim and r["rho"] == rho]
            entry = {"dim": dim, "rho": rho, "gaussian_tc": chosen[0]["gaussian_tc"],
                     "finite_tc": common.summary([r["finite_tc"] for r in chosen]),
                     "finite_tc_stderr": float(np.sqrt(np.mean([r["finite_tc_stderr"] ** 2 for r in chosen])
                                                       / len(chosen))),
                     "finite_index_code_mi": common.summary([r["finite_index_code_mi"] for r in chosen])}
            for m in METHODS:
                entry[m] = common.summary([r[m] for r in chosen])
                # the estimator's error against its own target, per seed (same data set), then summarised
                entry[f"{m}_error_vs_finite"] = common.summary([r[m] - r["finite_tc"] for r in chosen])
            table.append(entry)
    return table


def checks(table):
    """004 §5.3's four statements as numbers, each error measured against both references."""
    def err(entry, m):                       # against the Gaussian (the paper's ground truth)
        return entry[m]["mean"] - entry["gaussian_tc"]

    def own(entry, m):                       # against the N-point mixture (the estimator's target)
        return entry[f"{m}_error_vs_finite"]["mean"]

    def gap(entry):
        return entry["finite_tc"]["mean"] - entry["gaussian_tc"]

    low = [e for e in table if e["dim"] <= 4]
    high = [e for e in table if e["dim"] >= 8]
    smallest_rho = min(e["rho"] for e in table)
    out = {
        "max_abs_error_dim_le_4": {m: max(abs(err(e, m)) for e in low) for m in METHODS} if low else {},
        "max_abs_error_vs_finite_dim_le_4": {m: max(abs(own(e, m)) for e in low) for m in METHODS} if low else {},
        "max_rel_error_dim_le_4": {m: max(abs(err(e, m)) / max(e["gaussian_tc"], 1e-3) for e in low)
                                   for m in METHODS} if low else {},
        "max_abs_error_vs_finite_dim_ge_8": {m: max(abs(own(e, m)) for e in high) for m in METHODS} if high else {},
        "gap_finite_minus_gaussian": {f"D={e['dim']},rho={e['rho']:g}": gap(e) for e in table},
        "error_high_dim_at_smallest_tc": {
            str(e["dim"]): {"gaussian_tc": e["gaussian_tc"], "finite_tc": e["finite_tc"]["mean"],
                            **{m: err(e, m) for m in METHODS},
                            **{f"{m}_vs_finite": own(e, m) for m in METHODS}}
            for e in high if e["rho"] == smallest_rho},
        "fraction_underestimated": {m: float(np.mean([err(e, m) < 0 for e in table])) for m in METHODS},
        "fraction_below_finite_tc": {m: float(np.mean([own(e, m) < 0 for e in table])) for m in METHODS},
        "mean_abs_error": {m: float(np.mean([abs(err(e, m)) for e in table])) for m in METHODS},
        "mean_abs_error_vs_finite_tc": {m: float(np.mean([abs(own(e, m)) for e in table])) for m in METHODS},
    }
    return out


def headline(table, dims, rho):
    """The rows of RESULTS.md's claim-1 table: each estimator against both references at one ρ."""
    rows = []
    for dim in dims:
        chosen = [e for e in table if e["dim"] == dim and e["rho"] == rho]
        if not chosen:
            continue
        e = chosen[0]
        rows.append({"dim": dim, "rho": rho, "gaussian_tc": e["gaussian_tc"], "finite_tc": e["finite_tc"]["mean"],
                     "finite_tc_seed_std": e["finite_tc"]["std"], "finite_tc_stderr": e["finite_tc_stderr"],
                     "gap": e["finite_tc"]["mean"] - e["gaussian_tc"],
                     **{m: e[m]["mean"] for m in METHODS},
                     **{f"{m}_error_vs_finite": e[f"{m}_error_vs_finite"]["mean"] for m in METHODS},
                     **{f"{m}_error_vs_finite_std": e[f"{m}_error_vs_finite"]["std"] for m in METHODS},
                     **{f"{m}_error_vs_gaussian": e[m]["mean"] - e["gaussian_tc"] for m in METHODS}})
    return rows


def markdown_table(rows):
    """RESULTS.md's table, printed by the run so that no number is typed by hand."""
    lines = ["| D | Gaussian TC (N → ∞, 004 eq 9) | N-point mixture TC (target) | gap mixture − Gaussian | "
             + " | ".join(f"{m} (error vs mixture)" for m in METHODS) + " |",
             "|" + "---|" * (4 + len(METHODS))]
    for r in rows:
        lines.append(f"| {r['dim']} | {r['gaussian_tc']:.2f} | {r['finite_tc']:.2f} ± {r['finite_tc_stderr']:.2f} | "
                     f"{r['gap']:+.2f} | "
                     + " | ".join(f"{r[m]:.2f} ({r[f'{m}_error_vs_finite']:+.2f})" for m in METHODS) + " |")
    return "\n".join(lines)


def figure(table, sweep, sizes, path, subtitle, rho):
    """(a) estimates against D with both references; (b) each estimator's error against its target
    beside the gap between the targets; (c) MSS1's error against its target over the batch size."""
    plt = common.pyplot()
    styles = {"mws": ("tab:red", "o"), "mws_dropped": ("tab:purple", "v"), "mss0": ("tab:orange", "s"),
              "mss1": ("tab:blue", "^"), "hfvae": ("tab:cyan", "D")}
    entries = [e for e in table if e["rho"] == rho]
    dims = np.array([e["dim"] for e in entries])
    gaussian = np.array([e["gaussian_tc"] for e in entries])
    finite = np.array([e["finite_tc"]["mean"] for e in entries])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    for m in METHODS:
        colour, marker = styles[m]
        ax.errorbar(dims, [e[m]["mean"] for e in entries], yerr=[e[m]["std"] for e in entries], color=colour,
                    marker=marker, ms=4, lw=1, capsize=2, label=m)
    ax.plot(dims, gaussian, "k-", lw=2.5, label="Gaussian TC, N → ∞ (004 eq 9)")
    ax.errorbar(dims, finite, yerr=[e["finite_tc_stderr"] for e in entries], fmt="k--", lw=1.5, capsize=3,
                label=f"N-point mixture TC (target), N = {sizes['dataset_size']:,}")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(title=f"(a) estimates and both references, ρ = {rho:g}", xlabel="latent dimension D",
           ylabel="TC (nats, symlog)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for m in ("mss0", "mss1", "hfvae"):
        colour, marker = styles[m]
        ax.errorbar(dims, [e[f"{m}_error_vs_finite"]["mean"] for e in entries],
                    yerr=[e[f"{m}_error_vs_finite"]["std"] for e in entries], color=colour, marker=marker, ms=4,
                    lw=1, capsize=2, label=f"{m} − mixture TC (estimator error)")
    ax.plot(dims, finite - gaussian, "k--", lw=1.5, label="mixture TC − Gaussian TC (gap between targets)")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(title=f"(b) error against the target vs the gap, B = {sizes['batch_size']}",
           xlabel="latent dimension D", ylabel="nats (symlog)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for dim in sizes["sweep"]["dims"]:
        rows = [e for e in sweep if e["dim"] == dim and e["rho"] == max(sizes["sweep"]["rhos"])]
        ax.errorbar([e["batch_size"] for e in rows], [e["mss1_error_vs_finite"]["mean"] for e in rows],
                    yerr=[e["mss1_error_vs_finite"]["std"] for e in rows], marker="o", ms=4, capsize=2,
                    label=f"D = {dim}")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(title=f"(c) MSS1 − mixture TC against batch size, ρ = {max(sizes['sweep']['rhos']):g}",
           xlabel="batch size B", ylabel="MSS1 error against its target (nats)")
    ax.legend(fontsize=7)
    for ax, ticks in zip(axes, (dims, dims, sizes["sweep"]["batch_sizes"])):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.grid(alpha=0.3)
    fig.suptitle(f"Claim 1 (004 Fig 1): TC estimators against the N-point mixture and the Gaussian — {subtitle}",
                 fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2))
    watch = common.Stopwatch()
    sizes = SIZES[args.mode]
    result = common.header("1", args, PAPER, {**sizes, "sigma": SIGMA, "methods": METHODS,
                                              "covariance": "equicorrelation (1 - rho) I + rho 11^T"})
    print(f"[{NAME}] mode={args.mode} seeds={args.seeds}", flush=True)
    rows = []
    for seed in args.seeds:
        for dim in sizes["dims"]:
            for rho in sizes["rhos"]:
                rows.append(one_setting(dim, rho, seed, sizes))
        print(f"  seed {seed} done ({watch.seconds():.0f} s)", flush=True)
    finite = {(r["dim"], r["rho"], r["seed"]): r["finite_tc"] for r in rows}
    sweep = [row for seed in args.seeds for row in batch_size_sweep(seed, sizes, finite)]
    result["rows"] = rows
    result["batch_size_sweep"] = [
        {"dim": d, "rho": r, "batch_size": b, "gaussian_tc": chosen[0]["gaussian_tc"],
         "finite_tc": common.summary([x["finite_tc"] for x in chosen]),
         **{m: common.summary([x[m] for x in chosen]) for m in METHODS},
         **{f"{m}_error_vs_finite": common.summary([x[m] - x["finite_tc"] for x in chosen]) for m in METHODS}}
        for d in sizes["sweep"]["dims"] for r in sizes["sweep"]["rhos"] for b in sizes["sweep"]["batch_sizes"]
        for chosen in [[x for x in sweep if (x["dim"], x["rho"], x["batch_size"]) == (d, r, b)]]]
    result["table"] = aggregate(rows, sizes)
    result["checks"] = checks(result["table"])
    rho = HEADLINE_RHO if HEADLINE_RHO in sizes["rhos"] else max(sizes["rhos"])
    result["headline"] = headline(result["table"], sizes["dims"], rho)
    result["seconds"] = watch.seconds()
    subtitle = f"N = {sizes['dataset_size']:,}, B = {sizes['batch_size']}, σ = {SIGMA}, seeds {args.seeds}"
    figure(result["table"], result["batch_size_sweep"], sizes, args.out / f"{NAME}.png", subtitle, rho)
    path = common.write_json(args.out / f"{NAME}.json", result)
    for e in result["table"]:
        print(f"  D={e['dim']:2d} rho={e['rho']:.2f} gaussian={e['gaussian_tc']:8.3f} "
              f"mixture={e['finite_tc']['mean']:8.3f} ± {e['finite_tc_stderr']:.3f} "
              + " ".join(f"{m}={e[m]['mean']:9.3f}" for m in METHODS), flush=True)
    for e in result["batch_size_sweep"]:
        print(f"  sweep D={e['dim']} rho={e['rho']:.2f} B={e['batch_size']:5d} gaussian={e['gaussian_tc']:.3f} "
              f"mixture={e['finite_tc']['mean']:.3f} "
              + " ".join(f"{m}={e[m]['mean']:.3f}" for m in ("mss0", "mss1", "mws_dropped")), flush=True)
    print(markdown_table(result["headline"]), flush=True)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
