"""Claim 1 (004 §5.3, Fig 1): minibatch TC estimators against the closed-form Gaussian TC.

Setting (004 §5.3, with correlated means so the truth is not only 0): a notional data set of
N = 100,000 means μ_n ~ N(0, Σ), Σ = (1 − ρ) I + ρ 11ᵀ, posteriors q(z | n) = N(μ_n, σ² I)
with σ = 0.1, minibatches of B = 256 points drawn from it. For N → ∞ the aggregate posterior
is N(0, Σ + σ² I), whose TC is ½(Σ_k log Σ_kk − log|Σ|) (004 eq 9, Prop. 1): the paper's
ground truth ("gaussian_tc"). Each estimator of ``refvae.estimators`` (mws, mws_dropped,
mss0, mss1, hfvae) gives TĈ = mean_i [log q̂(z_i) − Σ_d log q̂(z_i,d)] per batch, averaged
over batches.

A second reference is measured too: the TC of the *finite* mixture q(z) = (1/N) Σ_n q(z|n)
that the estimators actually target ("finite_tc": the "exact" estimator, every sample scored
against all N components). With σ = 0.1 and N = 100,000 the components stop overlapping once
D grows past ~6, and that mixture's TC is far above the Gaussian value: this is what 004's
analysis (the O((D − 1) log M) derivation after eq 10) describes.

Run: ``python -m experiments.claim1_estimator_bias [--smoke | --full] [--seeds 0 1 2] [--out DIR]``
"""

import sys

import numpy as np

from experiments import common

NAME = "claim1_estimator_bias"
METHODS = ("mws", "mws_dropped", "mss0", "mss1", "hfvae")
SIGMA = 0.1
SIZES = {
    "smoke": dict(dims=(2, 8), rhos=(0.0, 0.8), dataset_size=2000, batch_size=64, batches=2, exact_samples=32,
                  sweep=dict(dims=(2,), rhos=(0.0,), batch_sizes=(16, 64), batches=1)),
    "cpu": dict(dims=(2, 4, 8, 10, 16, 32), rhos=(0.0, 0.25, 0.5, 0.75, 0.9), dataset_size=100_000,
                batch_size=256, batches=10, exact_samples=128,
                sweep=dict(dims=(2, 4, 8), rhos=(0.0, 0.9), batch_sizes=(64, 256, 1024, 2048), batches=3)),
    "full": dict(dims=(2, 4, 8, 10, 16, 32), rhos=(0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95),
                 dataset_size=100_000, batch_size=256, batches=100, exact_samples=2048,
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


def batch_size_sweep(seed, sizes):
    """MSS / MWS / HFVAE estimates against the batch size B (004 does not state its B)."""
    sweep = sizes["sweep"]
    rows = []
    for dim in sweep["dims"]:
        for rho in sweep["rhos"]:
            mu, truth, rng = data_set(dim, rho, seed, sizes["dataset_size"])
            for b in sweep["batch_sizes"]:
                values = batch_estimates(mu, sizes["dataset_size"], b, sweep["batches"], rng)
                rows.append({"dim": dim, "rho": rho, "seed": seed, "batch_size": b, "gaussian_tc": truth,
                             **{m: float(np.mean(v)) for m, v in values.items()}})
    return rows


def one_setting(dim, rho, seed, sizes):
    """All estimators, the Gaussian truth and the finite-mixture truth for one (D, ρ, seed)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from refvae import estimators

    n, b = sizes["dataset_size"], sizes["batch_size"]
    mu, truth, rng = data_set(dim, rho, seed, n)
    values = batch_estimates(mu, n, b, sizes["batches"], rng)
    # finite-mixture TC: samples of q(z) = (1/N) Σ_n q(z|n), scored against all N components
    s = sizes["exact_samples"]
    pick = rng.choice(n, size=s, replace=False)
    z = tf.constant(mu[pick] + SIGMA * rng.standard_normal((s, dim)).astype(np.float32))
    everyone = tfp.distributions.Normal(tf.constant(mu), tf.fill([n, dim], np.float32(SIGMA)))
    log_qz, log_qzd = estimators.aggregate_log_density(z, everyone, n, "exact")
    finite = log_qz - tf.reduce_sum(log_qzd, axis=-1)
    return {
        "dim": dim, "rho": rho, "seed": seed, "gaussian_tc": truth,
        "finite_tc": float(tf.reduce_mean(finite)),
        "finite_tc_stderr": float(np.std(finite.numpy()) / np.sqrt(s)),
        **{m: float(np.mean(v)) for m, v in values.items()},
        **{f"{m}_batch_std": float(np.std(v)) for m, v in values.items()},
    }


def aggregate(rows, sizes, seeds):
    table = []
    for dim in sizes["dims"]:
        for rho in sizes["rhos"]:
            chosen = [r for r in rows if r["dim"] == dim and r["rho"] == rho]
            entry = {"dim": dim, "rho": rho, "gaussian_tc": chosen[0]["gaussian_tc"],
                     "finite_tc": common.summary([r["finite_tc"] for r in chosen])}
            for m in METHODS:
                entry[m] = common.summary([r[m] for r in chosen])
            table.append(entry)
    return table


def checks(table):
    """The four statements of 004 §5.3 as numbers (errors are estimate − Gaussian truth)."""
    def err(entry, m):
        return entry[m]["mean"] - entry["gaussian_tc"]

    low = [e for e in table if e["dim"] <= 4]
    high = [e for e in table if e["dim"] >= 8]
    smallest_rho = min(e["rho"] for e in table)
    out = {
        "max_abs_error_dim_le_4": {m: max(abs(err(e, m)) for e in low) for m in METHODS} if low else {},
        "max_rel_error_dim_le_4": {m: max(abs(err(e, m)) / max(e["gaussian_tc"], 1e-3) for e in low)
                                   for m in METHODS} if low else {},
        "error_high_dim_at_smallest_tc": {
            str(e["dim"]): {"gaussian_tc": e["gaussian_tc"], "finite_tc": e["finite_tc"]["mean"],
                            **{m: err(e, m) for m in METHODS}}
            for e in high if e["rho"] == smallest_rho},
        "fraction_underestimated": {m: float(np.mean([err(e, m) < 0 for e in table])) for m in METHODS},
        "mean_abs_error": {m: float(np.mean([abs(err(e, m)) for e in table])) for m in METHODS},
        "mean_abs_error_vs_finite_tc": {
            m: float(np.mean([abs(e[m]["mean"] - e["finite_tc"]["mean"]) for e in table])) for m in METHODS},
    }
    return out


def figure(table, sizes, path, subtitle):
    plt = common.pyplot()
    dims = sizes["dims"]
    cols = min(3, len(dims))
    rows = int(np.ceil(len(dims) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    styles = {"mws": ("tab:blue", "o"), "mws_dropped": ("tab:cyan", "v"), "mss0": ("tab:orange", "s"),
              "mss1": ("tab:red", "^"), "hfvae": ("tab:green", "D")}
    for ax, dim in zip(axes.flat, dims):
        entries = [e for e in table if e["dim"] == dim]
        truth = np.array([e["gaussian_tc"] for e in entries])
        ax.plot(truth, truth, "k-", lw=1.5, label="Gaussian truth (004 eq 9)")
        ax.plot(truth, [e["finite_tc"]["mean"] for e in entries], "k--", lw=1.2, label="finite-N mixture (exact)")
        for m in METHODS:
            colour, marker = styles[m]
            mean = np.array([e[m]["mean"] for e in entries])
            std = np.array([e[m]["std"] for e in entries])
            ax.errorbar(truth, mean, yerr=std, color=colour, marker=marker, ms=4, lw=1, capsize=2, label=m)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(f"D = {dim}")
        ax.set_xlabel("ground-truth TC (nats)")
        ax.set_ylabel("estimated TC (nats, symlog)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(dims):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Claim 1 (004 Fig 1): TC estimators vs closed-form TC — {subtitle}", fontsize=10)
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
    sweep = [row for seed in args.seeds for row in batch_size_sweep(seed, sizes)]
    result["rows"] = rows
    result["batch_size_sweep"] = [
        {"dim": d, "rho": r, "batch_size": b, "gaussian_tc": chosen[0]["gaussian_tc"],
         **{m: common.summary([x[m] for x in chosen]) for m in METHODS}}
        for d in sizes["sweep"]["dims"] for r in sizes["sweep"]["rhos"] for b in sizes["sweep"]["batch_sizes"]
        for chosen in [[x for x in sweep if (x["dim"], x["rho"], x["batch_size"]) == (d, r, b)]]]
    result["table"] = aggregate(rows, sizes, args.seeds)
    result["checks"] = checks(result["table"])
    result["seconds"] = watch.seconds()
    subtitle = f"N = {sizes['dataset_size']:,}, B = {sizes['batch_size']}, σ = {SIGMA}, seeds {args.seeds}"
    figure(result["table"], sizes, args.out / f"{NAME}.png", subtitle)
    path = common.write_json(args.out / f"{NAME}.json", result)
    for e in result["table"]:
        print(f"  D={e['dim']:2d} rho={e['rho']:.2f} truth={e['gaussian_tc']:8.3f} finite={e['finite_tc']['mean']:8.3f} "
              + " ".join(f"{m}={e[m]['mean']:9.3f}" for m in METHODS), flush=True)
    for e in result["batch_size_sweep"]:
        print(f"  sweep D={e['dim']} rho={e['rho']:.2f} B={e['batch_size']:5d} truth={e['gaussian_tc']:.3f} "
              + " ".join(f"{m}={e[m]['mean']:.3f}" for m in ("mss0", "mss1", "mws_dropped")), flush=True)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
