"""Claim 7 (000 §6.1, Fig 2): the top layer of the hierarchical CorEx VAE clusters the classes.

000 stacks CorEx twice on MNIST (§5 eqs 13-19 = a two-layer hierarchical VAE): x -> z1 by a
784-512-512-64 MLP (z1 continuous, 64 dims), z1 -> z2 by a 64-32-32-16-16-10 MLP (z2 one-hot
over 10 classes, uniform prior), mirrored decoders, "decode based on each one-hot
representation and weight the results according to their softmax probabilities". It reports
that "the learned discrete variable z2 on the top layer gives us an unsupervised
classification accuracy of 85%". 000 gives no batch size, epochs, optimiser or seeds.

Model: ``refvae.models.HierarchicalVAE`` (exact sum over the 10 classes, analytic top KL,
MSS1 estimator for the aggregate q(z1_j)), trained on the ELBO of 000 eq 19 (λ = 0) and on
the variant with the top layer's KL weighted by 1 − λ (the AnchorVAE reweighting of 000 eq 21
applied to z2; λ ∈ {0.5, 0.9, 1}), which rewards I(z2 : z1). Per run:

- the unsupervised accuracy of z2 (argmax_k q(z2 = k | z1 = mean of q(z1|x)), Hungarian-matched
  to the labels, ``refvae.metrics.unsupervised_accuracy``) on the held-out (test) images, and on
  the training images;
- the per-layer CorEx bounds B_1, B_2 (B_l >= 0 certifies L_l = TC(z_{l-1}; z_l) − TC(z_l) >= 0,
  000 §5) and every logged term, on the training and the held-out images
  (``HierarchicalVAE.layer_bounds``);
- the usage of the top variable: E KL(q(z2|z1) ‖ U) (``kl_2``, 0 = collapsed, log 10 = one-hot),
  I(z2 : z1), KL(q(z2) ‖ U), the number of clusters holding >= 1% of the held-out images and the
  entropy of their sizes;
- references: k-means (10 clusters) on the pixels and on the z1 means of the same model, both
  fitted on the training images and scored on the held-out ones (does z1 carry the class even
  when z2 does not?).

Settings: CPU-sized (default) — scikit-learn's 8×8 digits (binarised at 0.5; 1,438 training /
359 held-out images, stratified split of ``refvae.data.digits``), z1 of 16 dims, MLP 128-128
between x and z1, 000's 32-32-16-16 between z1 and z2, Adam 1e-3, batch 64, 80 epochs (the
settings of notebook 09), λ ∈ {0, 0.5, 0.9, 1}, seeds 0, 1, 2. ``--full``: MNIST (binarised),
000's sizes (z1 64, 512-512), batch 100, 50 epochs, seeds 0-4 (needs MNIST through Keras or
``--data-dir`` with the four IDX files; a GPU). ``--smoke``: tiny networks, 20 steps.

Run: ``python -m experiments.claim7_hierarchical [--smoke | --full] [--data {digits,mnist}]
[--data-dir DIR] [--seeds 0 1 2] [--out DIR]``
"""

import math
import sys

import numpy as np

from experiments import common

NAME = "claim7_hierarchical"
PAPER_ACCURACY = 0.85
PAPER = {
    "source": "000 (Gao et al. 2019) §6.1 'Disentangling latent codes via hierarchical VAE / stacking CorEx on "
              "MNIST', Fig 2; stacking: §5 eqs 13-19",
    "claims": ["the discrete top-layer variable z2 (one-hot, 10 classes) of a two-layer hierarchical VAE / stacked "
               "CorEx trained on MNIST gives an unsupervised classification accuracy of 85%"],
    "settings": "MNIST; x -> z1: 784-512-512-64 (continuous), z1 -> z2: 64-32-32-16-16-10 (one-hot), ReLU, "
                "mirrored decoders, decoding each one-hot code weighted by its softmax probability; r(z2) fixed; "
                "batch size, epochs, optimiser, seeds and train/test split not stated",
    "accuracy": PAPER_ACCURACY,
}
SIZES = {
    "smoke": dict(data="digits", z1_dim=4, hidden1=(16,), hidden2=(8,), batch_size=64, epochs=None, steps=20,
                  learning_rate=1e-3, lams=(0.0, 0.9)),
    "cpu": dict(data="digits", z1_dim=16, hidden1=(128, 128), hidden2=(32, 32, 16, 16), batch_size=64, epochs=80,
                steps=None, learning_rate=1e-3, lams=(0.0, 0.5, 0.9, 1.0)),
    "full": dict(data="mnist", z1_dim=64, hidden1=(512, 512), hidden2=(32, 32, 16, 16), batch_size=100, epochs=50,
                 steps=None, learning_rate=1e-3, lams=(0.0, 0.5, 0.9, 1.0)),
}
NUM_CLASSES = 10
ESTIMATOR = "mss1"
BOUND_BATCH = 2048          # batch of the per-layer terms (the whole digits training set in one batch)
USED_FRACTION = 0.01        # a cluster is "used" when it holds at least 1% of the held-out images


def build(sizes, lam, seed, x_train, data_entropy):
    import keras

    from refvae.models.hierarchical import HierarchicalVAE, build_networks

    keras.utils.set_random_seed(seed)
    nets = build_networks(x_train.shape[1:], sizes["z1_dim"], NUM_CLASSES, hidden1=tuple(sizes["hidden1"]),
                          hidden2=tuple(sizes["hidden2"]))
    model = HierarchicalVAE(*nets, z1_dim=sizes["z1_dim"], num_classes=NUM_CLASSES, dataset_size=len(x_train),
                            estimator=ESTIMATOR, data_entropy=data_entropy, lam=float(lam), seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(sizes["learning_rate"]))
    return model


def z1_means(model, x, batch_size=1024):
    return np.concatenate([np.asarray(model.posterior1(x[s:s + batch_size]).loc, dtype=np.float64)
                           for s in range(0, len(x), batch_size)])


def usage(ids):
    counts = np.bincount(ids, minlength=NUM_CLASSES)
    p = counts / counts.sum()
    entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
    return {"cluster_sizes": counts, "clusters_used": int(np.sum(p >= USED_FRACTION)),
            "cluster_size_entropy": entropy}


def run_one(sizes, lam, seed, split, data_entropy, steps):
    from refvae import metrics

    x_train, y_train, x_test, y_test = split
    watch = common.Stopwatch()
    model = build(sizes, lam, seed, x_train, data_entropy)
    history, timing = common.train_model(model, common.epoch_batches(x_train, seed, sizes["batch_size"]), steps,
                                         log_every=max(1, min(100, steps)))
    ids_test, ids_train = model.predict_clusters(x_test), model.predict_clusters(x_train)
    bound_batch = min(len(x_train), BOUND_BATCH)
    train_terms = model.layer_bounds(x_train, batch_size=bound_batch, seed=0)
    test_terms = model.layer_bounds(x_test, batch_size=min(len(x_test), BOUND_BATCH), seed=0)
    table, order = common.matched_contingency(ids_test, y_test, NUM_CLASSES)
    result = {
        "lam": float(lam), "seed": seed, "steps": steps,
        "accuracy_test": metrics.unsupervised_accuracy(ids_test, y_test),
        "accuracy_train": metrics.unsupervised_accuracy(ids_train, y_train),
        "kmeans_z1_accuracy_test": common.kmeans_accuracy(z1_means(model, x_train), y_test, seed, test_features=z1_means(model, x_test)),
        "usage_test": usage(ids_test),
        "train_terms": train_terms, "test_terms": test_terms,
        "contingency_test": table, "contingency_cluster_order": order,
        "history": history, "train_seconds": timing["seconds"],
    }
    result["seconds"] = watch.seconds()
    return result


def aggregate(runs, lams):
    """Per λ: summaries over seeds of the accuracies, per-layer bounds and top-layer usage."""
    rows = []
    for lam in lams:
        chosen = [r for r in runs if r["lam"] == lam]
        row = {"lam": lam, "seeds": [r["seed"] for r in chosen]}
        for key in ("accuracy_test", "accuracy_train", "kmeans_z1_accuracy_test"):
            row[key] = common.summary([r[key] for r in chosen])
        for key in ("elbo", "layer_1_bound", "layer_2_bound", "kl_2", "sum_mi_z2_z1", "top_marginal_kl",
                    "total_correlation_1", "reconstruction", "reconstruction_2"):
            row[f"train_{key}"] = common.summary([r["train_terms"][key] for r in chosen])
            row[f"test_{key}"] = common.summary([r["test_terms"][key] for r in chosen])
        row["clusters_used_test"] = common.summary([r["usage_test"]["clusters_used"] for r in chosen])
        row["layer_1_certified"] = sum(bool(r["train_terms"]["layer_1_nonnegative"]) for r in chosen)
        row["layer_2_certified"] = sum(bool(r["train_terms"]["layer_2_nonnegative"]) for r in chosen)
        rows.append(row)
    return rows


def figure(result, path, subtitle):
    plt = common.pyplot()
    runs, table, lams = result["runs"], result["table"], result["settings"]["lams"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), gridspec_kw={"width_ratios": [1.1, 1.1, 1.0]})
    seeds = sorted({r["seed"] for r in runs})
    markers = "osD^v<>p*h"

    ax = axes[0]
    for i, seed in enumerate(seeds):
        mine = sorted((r for r in runs if r["seed"] == seed), key=lambda r: r["lam"])
        ax.plot([r["lam"] for r in mine], [r["accuracy_test"] for r in mine], marker=markers[i % len(markers)],
                linestyle="-", alpha=0.7, label=f"z2, seed {seed}")
    ax.plot(lams, [row["kmeans_z1_accuracy_test"]["mean"] for row in table], "k--", marker="x",
            label="k-means on z1 means (mean)")
    ax.axhline(result["baselines"]["kmeans_pixels_accuracy_test"]["mean"], color="tab:gray", linestyle="-.",
               label="k-means on pixels")
    ax.axhline(PAPER_ACCURACY, color="tab:red", linewidth=2, label="000: 85% (MNIST)")
    ax.axhline(1.0 / NUM_CLASSES, color="grey", linestyle=":", label="chance (10%)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("λ (top-layer KL weighted by 1 − λ; λ = 0 is the ELBO)")
    ax.set_ylabel("unsupervised accuracy on held-out images")
    ax.set_title("top layer z2 as a classifier", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[1]
    for key, label, colour in (("train_kl_2", "E KL(q(z2|z1) ‖ U)", "tab:blue"),
                               ("train_sum_mi_z2_z1", "I(z2 : z1)", "tab:orange"),
                               ("train_layer_2_bound", "B_2 (layer-2 bound)", "tab:green"),
                               ("train_layer_1_bound", "B_1 / 10 (layer-1 bound)", "tab:purple")):
        scale = 0.1 if key == "train_layer_1_bound" else 1.0
        means = np.array([row[key]["mean"] for row in table]) * scale
        lows = np.array([row[key]["min"] for row in table]) * scale
        highs = np.array([row[key]["max"] for row in table]) * scale
        ax.plot(lams, means, "o-", color=colour, label=label)
        ax.fill_between(lams, lows, highs, color=colour, alpha=0.2)
    ax.axhline(math.log(NUM_CLASSES), color="grey", linestyle=":", label="log 10 (one-hot z2)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("λ")
    ax.set_ylabel("nats per image (training images)")
    ax.set_title("top-layer usage and per-layer CorEx bounds\nline: mean, band: min-max over seeds", fontsize=10)
    ax.legend(fontsize=7)

    best = max(runs, key=lambda r: (r["accuracy_test"], -r["lam"]))
    ax = axes[2]
    counts = np.asarray(best["contingency_test"])
    ax.imshow(counts, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=6,
                    color="white" if value > counts.max() / 2 else "black")
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_yticks(range(NUM_CLASSES))
    ax.set_yticklabels(best["contingency_cluster_order"], fontsize=7)
    ax.set_xlabel("true digit")
    ax.set_ylabel("z2 cluster (ordered by matched digit)")
    ax.set_title(f"best run (λ = {best['lam']:g}, seed {best['seed']}): "
                 f"accuracy {best['accuracy_test']:.2f}\nheld-out images, cluster × digit counts", fontsize=10)
    fig.suptitle(f"Claim 7 (000 §6.1): hierarchical CorEx VAE, top-layer clustering — {subtitle}", fontsize=11)
    fig.tight_layout()
    return common.save_figure(fig, path)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2), full_seeds=tuple(range(5)),
                             image_data=True)
    from refvae import decompositions

    watch = common.Stopwatch()
    sizes = dict(SIZES[args.mode])
    split = common.load_images(args.data, args.data_dir, binarise=True)
    x_train, y_train, x_test, y_test = split
    per_epoch = len(x_train) // sizes["batch_size"]
    steps = sizes["steps"] if sizes["steps"] is not None else sizes["epochs"] * per_epoch
    data_entropy = decompositions.data_marginal_entropy(x_train)
    lams = tuple(float(lam) for lam in sizes["lams"])
    settings = {**sizes, "lams": lams, "steps": steps, "steps_per_epoch": per_epoch, "num_classes": NUM_CLASSES,
                "estimator": ESTIMATOR, "data": args.data, "binarised_at": 0.5, "train_points": len(x_train),
                "test_points": len(x_test), "image_shape": x_train.shape[1:], "data_entropy": data_entropy,
                "bound_batch": min(len(x_train), BOUND_BATCH), "used_fraction": USED_FRACTION,
                "architecture": f"x -> z1: MLP {sizes['hidden1']} -> {sizes['z1_dim']} (Gaussian); z1 -> z2: MLP "
                                f"{sizes['hidden2']} -> {NUM_CLASSES} (softmax); mirrored decoders; Bernoulli p(x|z1)"}
    result = common.header("7", args, PAPER, settings)
    print(f"[{NAME}] mode={args.mode} data={args.data} seeds={args.seeds} lams={lams} steps={steps}", flush=True)
    pixels_train, pixels_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    result["baselines"] = {"kmeans_pixels_accuracy_test": common.summary(
        [common.kmeans_accuracy(pixels_train, y_test, seed, test_features=pixels_test) for seed in args.seeds]),
        "majority_class_test": float(np.bincount(y_test).max() / len(y_test))}
    runs = []
    for seed in args.seeds:
        for lam in lams:
            run = run_one(sizes, lam, seed, split, data_entropy, steps)
            runs.append(run)
            t = run["train_terms"]
            print(f"  λ={lam:g} seed {seed}: accuracy test {run['accuracy_test']:.3f} train "
                  f"{run['accuracy_train']:.3f} | kl_2 {t['kl_2']:.3f} I(z2:z1) {t['sum_mi_z2_z1']:.3f} "
                  f"B_1 {t['layer_1_bound']:.1f} B_2 {t['layer_2_bound']:.2f} elbo {t['elbo']:.2f} | "
                  f"k-means(z1) {run['kmeans_z1_accuracy_test']:.3f} | {run['usage_test']['clusters_used']} "
                  f"clusters used ({run['seconds']:.0f} s)", flush=True)
    result["runs"] = runs
    result["table"] = aggregate(runs, lams)
    result["seconds"] = watch.seconds()
    result["train_seconds_total"] = round(sum(r["train_seconds"] for r in runs), 1)
    epochs = f"{sizes['epochs']} epochs" if sizes["epochs"] else f"{steps} steps"
    subtitle = f"{args.data}, {epochs}, batch {sizes['batch_size']}, seeds {list(args.seeds)} ({args.mode})"
    figure(result, args.out / f"{NAME}.png", subtitle)
    path = common.write_json(args.out / f"{NAME}.json", result)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
