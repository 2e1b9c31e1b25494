"""Claim 8 (002 §5.5, Fig 7): reconstruction of factor combinations held
out of training ("zero-shot generalisation").

002 trains an HFVAE on MNIST, prunes combinations of factors (a thick 7, a narrow 0),
retrains on the pruned data and shows that the unseen combinations are still reconstructed.
The paper shows reconstructions and feature histograms; it reports no number.

Here, on procedural dSprites (every factor known exactly), two combinations are held out
with ``refvae.data.held_out`` — every single factor value still occurs in training:

  A. large hearts: shape = heart (2) and scale ∈ {4, 5} (the two largest), any pose;
  B. a corner: pos_x ∈ 24..31 and pos_y ∈ 24..31 (bottom-right 8 × 8 of the 32 × 32 grid).

Two models with the same settings and seed are trained: one on the pruned split, one on the
whole grid (the control). Both reconstruct the same images: held-out (unseen by the pruned
model) and seen ones. Reconstruction is per-pixel Bernoulli cross-entropy with the mean code,
−log p(x | z = μ(x)) / 4096 (nats per pixel). Generalisation shows as a small excess of the
pruned model over the control on the held-out images (the control saw those combinations).

Run: ``python -m experiments.claim8_held_out [--smoke | --full] [--seeds 0 1 2] [--out DIR]``
"""

import sys

import numpy as np

from experiments import common

NAME = "claim8_held_out"
COMBINATIONS = {
    "large_hearts": {"shape": 2, "scale": [4, 5]},
    "corner": {"pos_x": list(range(24, 32)), "pos_y": list(range(24, 32))},
}
MODEL, BETA = "beta-tcvae", 3.0
EVAL_POINTS = {"smoke": 64, "cpu": 1000, "full": 5000}
PAPER = {
    "source": "002 (Esmaeili et al. 2019) §5.5 'Zero-shot generalization', Fig 7",
    "claims": ["a disentangled model trained without some factor combinations reconstructs them "
               "(qualitative: reconstructions and feature histograms; no number given)"],
    "settings": "HFVAE on MNIST with stroke-width / character-width combinations pruned",
}


def reconstruction_bce(model, observations, batch_size=256):
    """Per-image −log p(x | z = mean code) / pixels (nats per pixel), float64 [n]."""
    values = []
    pixels = int(np.prod(observations.shape[1:]))
    for start in range(0, len(observations), batch_size):
        x = observations[start:start + batch_size]
        code = model.latent.mean(model.posterior(x))
        log_p = model.likelihood.log_prob(x, model.decoder(code))
        values.append(-np.asarray(log_p, dtype=np.float64) / pixels)
    return np.concatenate(values)


def which_combination(factors, names):
    shape, scale = factors[:, names.index("shape")], factors[:, names.index("scale")]
    px, py = factors[:, names.index("pos_x")], factors[:, names.index("pos_y")]
    return {"large_hearts": (shape == 2) & (scale >= 4), "corner": (px >= 24) & (py >= 24)}


def evaluate(models, split, n, seed):
    """BCE of every model on n held-out and n seen images (same images for every model)."""
    rng = np.random.default_rng(seed)
    unseen_factors = split.test.sample_factors(n, rng)
    seen_factors = split.sample_factors(n, rng)
    names = list(split.factor_names)
    out = {"num_unseen": n, "num_seen": n}
    groups = which_combination(unseen_factors, names)
    examples = {}
    for label, model in models.items():
        unseen = reconstruction_bce(model, split.observations_from_factors(unseen_factors))
        seen = reconstruction_bce(model, split.observations_from_factors(seen_factors))
        out[label] = {
            "unseen_bce": float(unseen.mean()), "unseen_bce_sem": float(unseen.std() / np.sqrt(n)),
            "seen_bce": float(seen.mean()), "seen_bce_sem": float(seen.std() / np.sqrt(n)),
            **{f"unseen_{g}_bce": float(unseen[mask].mean()) if mask.any() else None for g, mask in groups.items()},
        }
        examples[label] = unseen
    out["pruned_minus_full_on_unseen"] = float(np.mean(examples["pruned"] - examples["full"]))
    out["pruned_minus_full_on_unseen_sem"] = float(np.std(examples["pruned"] - examples["full"]) / np.sqrt(n))
    return out, unseen_factors


def figure(models, split, unseen_factors, evaluation, path, subtitle):
    plt = common.pyplot()
    names = list(split.factor_names)
    groups = which_combination(unseen_factors, names)
    picks = [int(np.flatnonzero(mask)[i]) for mask in groups.values() for i in range(min(3, mask.sum()))]
    x = split.observations_from_factors(unseen_factors[picks])
    rows = [("held-out image", x)]
    for label in ("pruned", "full"):
        model = models[label]
        recon = np.asarray(model.decode(model.latent.mean(model.posterior(x))))
        rows.append((f"{label}-data model", recon))
    fig = plt.figure(figsize=(12, 4.2))
    grid = fig.add_gridspec(3, len(picks) + 5)
    for r, (label, images) in enumerate(rows):
        for c in range(len(picks)):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(images[c, :, :, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    ax = fig.add_subplot(grid[:, len(picks) + 1:])
    labels, values, errors, colours = [], [], [], []
    for model_label, colour in (("pruned", "tab:orange"), ("full", "tab:blue")):
        for which in ("seen", "unseen"):
            labels.append(f"{model_label}\n{which}")
            values.append(evaluation[model_label][f"{which}_bce"])
            errors.append(evaluation[model_label][f"{which}_bce_sem"])
            colours.append(colour)
    ax.bar(range(len(values)), values, yerr=errors, color=colours, capsize=3)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("reconstruction BCE (nats per pixel)")
    ax.set_title("seen vs held-out combinations", fontsize=9)
    fig.suptitle(f"Claim 8 (002 §5.5): held-out dSprites combinations (large hearts, a corner) — {subtitle}",
                 fontsize=10)
    return common.save_figure(fig, path)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2), full_seeds=tuple(range(5)))
    from refvae import data

    watch = common.Stopwatch()
    sizes = common.DSPRITES_SIZES[args.mode]
    full = data.dsprites()
    split = data.held_out(full, list(COMBINATIONS.values()))
    n_eval = EVAL_POINTS[args.mode]
    result = common.header("8", args, PAPER, {
        "model": MODEL, "beta": BETA, **sizes, "combinations": COMBINATIONS, "eval_points": n_eval,
        "train_points": split.num_observations, "held_out_points": split.test.num_observations,
        "data": "procedural dSprites; refvae.data.held_out", "architecture": f"MLP {sizes['hidden']}"})
    print(f"[{NAME}] mode={args.mode} seeds={args.seeds}: {split.test.num_observations} of "
          f"{full.num_observations} grid points held out", flush=True)
    result["runs"] = []
    for seed in args.seeds:
        spec = common.run_spec(args.mode, MODEL, BETA, seed)
        models, timings = {}, {}
        for label, train_data in (("pruned", split), ("full", full)):
            model = common.build_model(spec, train_data)
            _, timing = common.train_model(model, common.uniform_batches(train_data, seed, spec.batch_size),
                                           spec.steps, log_every=max(1, min(50, spec.steps)))
            models[label], timings[label] = model, timing["seconds"]
            print(f"  seed {seed}: trained on {label} data in {timing['seconds']:.0f} s", flush=True)
        evaluation, unseen_factors = evaluate(models, split, n_eval, seed=1000 + seed)
        result["runs"].append({"seed": seed, "spec": spec, "train_seconds": timings, **evaluation})
        if seed == args.seeds[0]:
            subtitle = f"{spec.steps} steps, {MODEL} β={BETA:g}, seed {seed} ({args.mode})"
            figure(models, split, unseen_factors, evaluation, args.out / f"{NAME}.png", subtitle)
        r = evaluation
        print(f"  seed {seed}: pruned unseen {r['pruned']['unseen_bce']:.4f} seen {r['pruned']['seen_bce']:.4f} | "
              f"full unseen {r['full']['unseen_bce']:.4f} seen {r['full']['seen_bce']:.4f} nats/pixel", flush=True)
    runs = result["runs"]
    result["summary"] = {
        key: common.summary([r[label][f"{which}_bce"] for r in runs])
        for key, label, which in (("pruned_unseen", "pruned", "unseen"), ("pruned_seen", "pruned", "seen"),
                                  ("full_unseen", "full", "unseen"), ("full_seen", "full", "seen"))}
    result["summary"]["pruned_minus_full_on_unseen"] = common.summary([r["pruned_minus_full_on_unseen"] for r in runs])
    result["seconds"] = watch.seconds()
    path = common.write_json(args.out / f"{NAME}.json", result)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
