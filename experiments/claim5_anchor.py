"""Claim 5 (000 §6.2-6.3): AnchorVAE's anchors carry the most I(x; z_j); Π_j q(z_j) sampling beats N(0, I).

000 §6.2 Fig 4 (Fig 6: the plain-VAE control), §6.3 Figs 7-8.

000 (Gao et al.) gives the anchored units of a VAE a KL weight 1 − λ (eq 21) and finds, on
CelebA with 2048 units and five anchors at KL weight 0.5 (λ = 0.5), that the anchors have the
highest I(x; z_j), about 3.5 nats (Fig 4), while a plain VAE's two most informative units carry
3.1 and 2.8 nats and mix several factors (Fig 6). It then argues (§6.3) that the bound
I(x : z_j) ≤ E KL(q(z_j|x) ‖ r(z_j)) is tight at r = q(z_j), the aggregate marginal, and
generates from Π_j q(z_j) instead of N(0, I): sharper, more varied faces (Fig 8, by eye), which
it attributes to units whose aggregate variance is far from 1 (Fig 7a: 20% of a 128-unit VAE's
units above 2; Fig 7b: higher variance goes with higher I(x : z_j)).

Here, per seed, a plain VAE (λ = 0, the control) and AnchorVAEs (``refvae.objectives.get(
"anchor-vae", lam=λ, anchors=[0, 1])``) are trained with the same initial weights and
batches, and for each model:

* I(x; z_j) per unit over the training images (``refvae.metrics.dimwise_mutual_information``,
  q(z_j) the mixture of all their posteriors) and whether the anchors are the top units
  (``anchor_ranking``); the aggregate mean and variance of every unit;
* 2,000 generated images from each of three sources — N(0, I), Π_j q(z_j)
  (``VAE.sample(source="marginals")`` with the training images as reference) and, to tell a
  variance effect from a shape effect, the moment-matched Gaussian Π_j N(m_j, v_j) — scored
  against the held-out test digits by ``DigitsScorer`` (a classifier trained on the training
  digits): the Fréchet distance between its hidden features (lower is better) and its mean
  top-class probability; the mean over 3 sampling seeds.

The size of the sampling effect is predicted by how far the aggregate marginals are from
N(0, 1): the "moment gap" Σ_j KL(N(m_j, v_j) ‖ N(0, 1)) = Σ_j ½(v_j + m_j² − 1 − log v_j) (the
Gaussian part of 000's prior gap Σ_j KL(q(z_j) ‖ r(z_j))).

Settings (``SIZES``): CPU-sized: sklearn's 8 × 8 digits (1,438 train / 359 test), 8 Gaussian
units, MLP 64-128-128-(2·8) and mirror, Bernoulli decoder, Adam 3e-3, batch 64, 2,000 steps
(≈ 91 epochs of 22 batches), λ ∈ {0, 0.5, 0.8, 0.95}, seeds 0-4 (the course chapter 09's
AnchorVAE setting, trained longer). ``--full``: MNIST (000's MNIST network 784-512-512-64),
64 units, five anchors as in 000 §6.2, 18,000 steps of batch 100 (30 epochs), 10,000
reference points and samples.

Data: ``--data digits`` (default) or ``--data mnist`` (``refvae.data.mnist()`` through
``keras.datasets``, or ``--data-dir`` with the four IDX files); ``--full`` implies MNIST.

Run: ``python -m experiments.claim5_anchor [--smoke | --full] [--data digits|mnist]
[--data-dir DIR] [--seeds 0 1 2] [--out DIR]``
"""

import sys

import numpy as np

from experiments import common

NAME = "claim5_anchor"
SOURCES = ("prior", "marginals", "matched_gaussian")
SOURCE_LABELS = {"prior": "N(0, I)", "marginals": "Π_j q(z_j)", "matched_gaussian": "Π_j N(m_j, v_j)"}
SIZES = {
    "smoke": dict(data="digits", latent_dim=4, anchors=(0, 1), hidden=(16,), batch_size=64, steps=20,
                  learning_rate=3e-3, lams=(0.0, 0.8), reference_points=None, num_samples=200,
                  sampling_seeds=(0,), scorer_hidden=16, scorer_points=500),
    "cpu": dict(data="digits", latent_dim=8, anchors=(0, 1), hidden=(128, 128), batch_size=64, steps=2000,
                learning_rate=3e-3, lams=(0.0, 0.5, 0.8, 0.95), reference_points=None, num_samples=2000,
                sampling_seeds=(0, 1, 2), scorer_hidden=64, scorer_points=None),
    "full": dict(data="mnist", latent_dim=64, anchors=(0, 1, 2, 3, 4), hidden=(512, 512), batch_size=100,
                 steps=18000, learning_rate=1e-3, lams=(0.0, 0.5, 0.8, 0.95), reference_points=10000,
                 num_samples=10000, sampling_seeds=(0, 1, 2), scorer_hidden=64, scorer_points=None),
}
PAPER = {
    "source": "000 (Gao et al. 2019) §6.2 Fig 4 (AnchorVAE), Fig 6 (VAE control), §6.3 Figs 7-8 (sampling)",
    "claims": [
        "the anchored units have the highest I(x; z_j): about 3.5 nats for 5 anchors at KL weight 0.5 "
        "(λ = 0.5) among 2048 units on CelebA (Fig 4); a plain VAE's top two units carry 3.1 and 2.8 nats (Fig 6)",
        "sampling z from Π_j q(z_j) gives more realistic and more varied images than N(0, I) (Fig 8, judged by eye; "
        "no number)",
        "about 20% of a 128-unit CelebA VAE's aggregate marginals have variance > 2 (Fig 7a); higher variance "
        "goes with higher I(x : z_j) (Fig 7b)",
    ],
    "settings": "CelebA, 3-layer conv nets, MSE / log-normal reconstruction loss, 2048 (AnchorVAE) and 128 "
                "(sampling) latent units",
}


def build(sizes, lam, seed, observation_shape, dataset_size):
    """A compiled VAE (λ = 0) or AnchorVAE with λ on ``sizes["anchors"]``; same weights for a seed."""
    import keras

    from refvae import latents, models, objectives

    keras.utils.set_random_seed(seed)
    latent = latents.DiagonalGaussian(sizes["latent_dim"])
    encoder, decoder = models.networks.build("mlp", tuple(observation_shape), latent, hidden=tuple(sizes["hidden"]))
    objective = "vae" if lam == 0 else objectives.get("anchor-vae", lam=float(lam), anchors=list(sizes["anchors"]))
    model = models.VAE(encoder, decoder, latent, "bernoulli", objective, dataset_size=int(dataset_size),
                       decomposition="kl", seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(sizes["learning_rate"]))
    return model


def moment_gap(mean, variance):
    """KL(N(m_j, v_j) ‖ N(0, 1)) per unit (nats): how far the aggregate marginal's first two
    moments are from the prior's."""
    mean, variance = np.asarray(mean, np.float64), np.asarray(variance, np.float64)
    return 0.5 * (variance + mean**2 - 1.0 - np.log(variance))


def generate(model, source, n, seed, reference, mean, variance):
    """n images E[x | z] with z from N(0, I), Π_j q(z_j) (over ``reference``) or Π_j N(m_j, v_j)."""
    if source in ("prior", "marginals"):
        return np.asarray(model.sample(n, source=source, seed=seed, reference=reference if source == "marginals"
                                       else None))
    noise = np.random.default_rng([seed, 7]).standard_normal((n, len(mean)))
    z = (np.asarray(mean) + np.sqrt(np.asarray(variance)) * noise).astype(np.float32)
    return np.asarray(model.decode(z))


def score_model(model, sizes, anchors, reference, x_test, scorer, seed):
    """Information per unit, anchor ranking, aggregate moments, test ELBO and the sampling scores."""
    from refvae import metrics

    loc, scale = metrics.sampling.posterior_moments(model.posterior, reference)
    info = metrics.dimwise_mutual_information(loc, scale, seed=seed)
    mutual_info = np.asarray(info["mutual_info"], np.float64)
    mean, variance = loc.mean(axis=0), np.asarray(info["marginal_variance"], np.float64)
    gap = moment_gap(mean, variance)
    ranking = metrics.anchor_ranking(mutual_info, anchors)
    order = np.argsort(-mutual_info, kind="stable")
    out = {
        "mutual_info": mutual_info, "marginal_mean": mean, "marginal_variance": variance,
        "num_active_dims": info["num_active_dims"], "total_mutual_info": float(mutual_info.sum()),
        "top_units": order[:len(anchors)], "top_mutual_info": mutual_info[order[:len(anchors)]],
        "anchors_are_top": ranking["anchors_are_top"], "anchor_ranks": ranking["ranks"],
        "anchor_mi": ranking["anchor_mi"], "best_other_mi": ranking["best_other_mi"], "gap": ranking["gap"],
        "moment_gap": gap, "moment_gap_sum": float(gap.sum()),
        "test": common.elbo_terms(model, x_test, seed=seed),
    }
    sampling = {}
    for source in SOURCES:
        distances, confidences = [], []
        for sampling_seed in sizes["sampling_seeds"]:
            images = generate(model, source, sizes["num_samples"], sampling_seed, reference, mean, variance)
            distances.append(scorer.frechet_distance(images, x_test))
            confidences.append(scorer.confidence(images))
        sampling[source] = {"frechet_distance": float(np.mean(distances)), "frechet_per_seed": distances,
                            "confidence": float(np.mean(confidences))}
    sampling["frechet_gain_marginals"] = (sampling["prior"]["frechet_distance"]
                                          - sampling["marginals"]["frechet_distance"])
    sampling["frechet_gain_matched_gaussian"] = (sampling["prior"]["frechet_distance"]
                                                 - sampling["matched_gaussian"]["frechet_distance"])
    out["sampling"] = sampling
    return out


def summarise(runs, lams, anchors):
    table = {}
    for lam in lams:
        rows = [r for r in runs if r["lam"] == lam]
        entry = {
            "num_runs": len(rows),
            "anchors_are_top": int(sum(r["anchors_are_top"] for r in rows)),
            "anchor_mi": common.summary([float(np.mean(r["anchor_mi"])) for r in rows]),
            "top_mi": common.summary([float(np.mean(r["top_mutual_info"])) for r in rows]),
            "best_other_mi": common.summary([r["best_other_mi"] for r in rows]),
            "total_mutual_info": common.summary([r["total_mutual_info"] for r in rows]),
            "anchor_variance": common.summary([float(np.mean(r["marginal_variance"][list(anchors)])) for r in rows]),
            "max_variance": common.summary([float(np.max(r["marginal_variance"])) for r in rows]),
            "min_variance": common.summary([float(np.min(r["marginal_variance"])) for r in rows]),
            "moment_gap_sum": common.summary([r["moment_gap_sum"] for r in rows]),
            "test_elbo": common.summary([r["test"]["elbo"] for r in rows]),
            "num_active_dims": common.summary([r["num_active_dims"] for r in rows]),
            "marginals_better": int(sum(r["sampling"]["frechet_gain_marginals"] > 0 for r in rows)),
            "marginals_more_confident": int(sum(r["sampling"]["marginals"]["confidence"]
                                                > r["sampling"]["prior"]["confidence"] for r in rows)),
            "frechet_gain_marginals": common.summary([r["sampling"]["frechet_gain_marginals"] for r in rows]),
            "frechet_gain_matched_gaussian": common.summary(
                [r["sampling"]["frechet_gain_matched_gaussian"] for r in rows]),
        }
        for source in SOURCES:
            entry[f"frechet_{source}"] = common.summary([r["sampling"][source]["frechet_distance"] for r in rows])
            entry[f"confidence_{source}"] = common.summary([r["sampling"][source]["confidence"] for r in rows])
        table[f"{lam:g}"] = entry
    gains = np.array([r["sampling"]["frechet_gain_marginals"] for r in runs])
    gaps = np.array([r["moment_gap_sum"] for r in runs])
    matched = np.array([r["sampling"]["frechet_gain_matched_gaussian"] for r in runs])
    checks = {
        "num_runs": len(runs),
        "marginals_better_runs": int(np.sum(gains > 0)),
        "corr_gain_vs_moment_gap": float(np.corrcoef(gains, gaps)[0, 1]) if len(runs) > 2 else None,
        "corr_gain_marginals_vs_matched_gaussian": float(np.corrcoef(gains, matched)[0, 1]) if len(runs) > 2 else None,
        "mean_sampling_seed_std": float(np.mean([np.std(r["sampling"][source]["frechet_per_seed"])
                                                 for r in runs for source in SOURCES])),
        "fraction_variance_above_2": float(np.mean(np.concatenate([r["marginal_variance"] for r in runs]) > 2.0)),
    }
    return table, checks


def figure(result, samples, path):
    plt = common.pyplot()
    s = result["settings"]
    lams, anchors, dim = s["lams"], s["anchors"], s["latent_dim"]
    runs, table = result["runs"], result["table"]
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(lams)))
    fig = plt.figure(figsize=(13, 8.6))
    grid = fig.add_gridspec(2, 2, hspace=0.38, wspace=0.22)

    ax = fig.add_subplot(grid[0, 0])
    width = 0.8 / len(lams)
    for k, lam in enumerate(lams):
        values = np.array([r["mutual_info"] for r in runs if r["lam"] == lam])
        label = "VAE (λ = 0)" if lam == 0 else f"AnchorVAE λ = {lam:g}"
        ax.bar(np.arange(dim) + (k - (len(lams) - 1) / 2) * width, values.mean(0), width,
               yerr=values.std(0), color=colours[k], label=label, capsize=1.5, error_kw={"linewidth": 0.6})
    ax.axvspan(min(anchors) - 0.5, max(anchors) + 0.5, color="tab:red", alpha=0.08, label="anchored units")
    top = table["0"]["top_mi"]["mean"] if "0" in table else None
    if top is not None:
        ax.axhline(top, color=colours[0], linestyle="--", linewidth=0.9,
                   label=f"VAE: mean I of its top {len(anchors)} units (any index)")
    ticks = np.arange(dim) if dim <= 16 else np.arange(0, dim, 8)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"z{j}" + ("*" if j in anchors else "") for j in ticks], fontsize=9 if dim <= 16 else 7)
    ax.set_xlabel("latent unit j (* = anchored)")
    ax.set_ylabel("I(x; z_j) (nats)")
    ax.set_title(f"Information per unit (mean ± std over {len(result['seeds'])} seeds)", fontsize=10)
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 1])
    for k, lam in enumerate(lams):
        rows = [r for r in runs if r["lam"] == lam]
        var = np.array([r["marginal_variance"] for r in rows])
        mi = np.array([r["mutual_info"] for r in rows])
        mask = np.zeros(dim, bool)
        mask[list(anchors)] = lam != 0
        ax.scatter(var[:, ~mask].ravel(), mi[:, ~mask].ravel(), s=14, color=colours[k], alpha=0.7,
                   label=f"λ = {lam:g}, other units" if lam else "VAE, all units")
        if mask.any():
            ax.scatter(var[:, mask].ravel(), mi[:, mask].ravel(), s=40, marker="^", color=colours[k],
                       edgecolor="black", linewidth=0.5, label=f"λ = {lam:g}, anchors")
    ax.axvline(1.0, color="grey", linestyle=":", label="Var of N(0, 1)")
    ax.set_xlabel("variance of the aggregate marginal q(z_j)")
    ax.set_ylabel("I(x; z_j) (nats)")
    ax.set_title("Aggregate variance vs information (000 Fig 7b)", fontsize=10)
    ax.legend(fontsize=6.5, ncol=2)

    ax = fig.add_subplot(grid[1, 0])
    markers = {"prior": "o", "marginals": "s", "matched_gaussian": "D"}
    xs = np.arange(len(lams))
    for j, source in enumerate(SOURCES):
        means = [table[f"{lam:g}"][f"frechet_{source}"]["mean"] for lam in lams]
        stds = [table[f"{lam:g}"][f"frechet_{source}"]["std"] for lam in lams]
        ax.errorbar(xs + (j - 1) * 0.08, means, yerr=stds, marker=markers[source], capsize=3,
                    label=f"z ~ {SOURCE_LABELS[source]}")
    ax.axhline(result["real_frechet"], color="grey", linestyle=":", label="real train vs test digits")
    ax.set_xticks(xs)
    ax.set_xticklabels(["VAE\nλ = 0" if lam == 0 else f"AnchorVAE\nλ = {lam:g}" for lam in lams])
    ax.set_ylabel("Fréchet distance to test digits\n(classifier features; lower is better)")
    ax.set_title("Generated images by latent source (mean ± std over seeds)", fontsize=10)
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[1, 1])
    rows = []
    labels = []
    for (lam, source), images in samples.items():
        strip = np.hstack([np.pad(im[..., 0], 1, constant_values=1.0) for im in images])
        rows.append(strip)
        labels.append(f"λ = {lam:g}: {SOURCE_LABELS[source]}")
    height = samples[next(iter(samples))].shape[1] + 2
    ax.imshow(np.vstack(rows), cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([height * (i + 0.5) for i in range(len(rows))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"Samples (seed {result['seeds'][0]}): pixel probabilities", fontsize=10)

    fig.suptitle(f"Claim 5 (000 §6.2-6.3): AnchorVAE (anchors z{', z'.join(map(str, anchors))}) vs VAE on "
                 f"{s['data']}, {dim} units, {s['steps']} steps ({result['mode']})", fontsize=11)
    return common.save_figure(fig, path)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2, 3, 4),
                             full_seeds=(0, 1, 2, 3, 4), image_data=True)
    watch = common.Stopwatch()
    from refvae.metrics import sample_quality

    sizes = dict(SIZES[args.mode], data=args.data)
    if args.data == "mnist" and args.mode != "full":
        # MNIST's 28 × 28 images: the paper's 64 units and five anchors; q(z_j) over 10,000 points
        sizes.update(latent_dim=SIZES["full"]["latent_dim"], anchors=SIZES["full"]["anchors"],
                     reference_points=SIZES["full"]["reference_points"])
    lams, anchors = list(sizes["lams"]), list(sizes["anchors"])
    x_train, y_train, x_test, y_test = common.load_images(args.data, args.data_dir)
    if sizes["reference_points"] is None or sizes["reference_points"] >= len(x_train):
        reference = x_train
    else:
        reference = x_train[np.sort(np.random.default_rng(0).choice(len(x_train), sizes["reference_points"],
                                                                    replace=False))]
    result = common.header("5", args, PAPER, {
        **sizes, "architecture": f"MLP {sizes['hidden']} (mirrored decoder), Bernoulli likelihood",
        "train_points": len(x_train), "test_points": len(x_test), "reference_points_used": len(reference),
        "data_source": ("refvae.data.digits() (scikit-learn 8x8, stratified 80/20 split, seed 0)"
                        if args.data == "digits" else "refvae.data.mnist()"),
        "mutual_info": "refvae.metrics.posterior_dimwise_mutual_information over the reference (training) images",
        "sampling": "Π_j q(z_j) over the reference images; Fréchet distance and confidence of DigitsScorer "
                    "(trained on the training images) against the test images; mean over sampling seeds",
    })
    print(f"[{NAME}] mode={args.mode} data={args.data} seeds={args.seeds} λ={lams}: {len(x_train)} train / "
          f"{len(x_test)} test images", flush=True)
    fit_rows = slice(None) if sizes["scorer_points"] is None else slice(0, sizes["scorer_points"])
    scorer = sample_quality.DigitsScorer(hidden=sizes["scorer_hidden"], seed=0).fit(x_train[fit_rows], y_train[fit_rows])
    result["scorer_test_accuracy"] = scorer.accuracy(x_test, y_test)
    result["real_frechet"] = scorer.frechet_distance(x_train, x_test)
    result["real_confidence"] = scorer.confidence(x_test)
    print(f"  scorer: test accuracy {result['scorer_test_accuracy']:.3f}, Fréchet train vs test "
          f"{result['real_frechet']:.2f}", flush=True)
    result["runs"] = []
    samples = {}
    for seed in args.seeds:
        for lam in lams:
            model = build(sizes, lam, seed, x_train.shape[1:], len(x_train))
            history, timing = common.train_model(model, common.epoch_batches(x_train, seed, sizes["batch_size"]),
                                                 sizes["steps"], log_every=max(1, min(100, sizes["steps"])))
            scores = score_model(model, sizes, anchors, reference, x_test, scorer, seed)
            result["runs"].append({"seed": seed, "lam": lam, "train_seconds": timing["seconds"],
                                   "final_loss": history["loss"][-1], **scores})
            if seed == args.seeds[0] and lam in (lams[0], lams[-1]):
                for source in ("prior", "marginals"):
                    samples[(lam, source)] = generate(model, source, 12, 100, reference,
                                                      scores["marginal_mean"], scores["marginal_variance"])
            smp = scores["sampling"]
            print(f"  seed {seed} λ={lam:g}: MI {np.round(scores['mutual_info'], 2).tolist()} anchors top "
                  f"{scores['anchors_are_top']} | var {np.round(scores['marginal_variance'], 2).tolist()} | Fréchet "
                  + " ".join(f"{s} {smp[s]['frechet_distance']:.2f}" for s in SOURCES)
                  + f" ({timing['seconds']:.0f} s)", flush=True)
    result["table"], result["checks"] = summarise(result["runs"], lams, anchors)
    result["seconds"] = watch.seconds()
    figure(result, samples, args.out / f"{NAME}.png")
    path = common.write_json(args.out / f"{NAME}.json", result)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
