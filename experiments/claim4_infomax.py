"""Claim 4 (003 §4.3.2 and §4.4.2): InfoMax VAE's categorical latent clusters digits far better than the ELBO's.

003 (the InfoMax VAE thesis) trains two identically initialised VAEs on MNIST with a latent of
16 Gaussian units and one Concrete (Gumbel-softmax, 003 eq 4.20) unit with K = 10 classes:
one on the ELBO (003 eq 4.19), one on the ELBO plus λ times the variational lower bound on
I(x; c) (003 eqs 4.21-4.22), trained by Algorithm 1 (a step of the auxiliary network Q, then a
step of the VAE). Used as a classifier, the argmax of the encoder's categorical q(c | x) gives

  * 82% accuracy with the MI term, 21% without (003 §4.4.2, "classification accuracy");
  * a categorical KL E_x KL(q(c | x) ‖ U_K) of 2.27 nats with the MI term, close to its
    largest value log 10 = 2.30 (003 Fig 4.9; eq 4.23: it bounds I(x; c) from above).

003 gives neither λ, the networks, the epochs, the batch size nor the temperature. Here:

  * ``refvae.models.InfoMaxVAE`` with ``Grouped([DiagonalGaussian(16), Concrete(10)])``,
    MLP encoder / decoder, Bernoulli likelihood on binarised images (pixel > 0.5), the
    Monte Carlo KL of the whole latent (``decomposition="kl"``), Concrete temperature 0.67,
    Adam 1e-3, Q an MLP on the decoder's mean output with its own Adam 1e-3;
  * λ = 0 (the ELBO; Q is still trained, as an MI meter) against λ = 30 (the course
    chapter's value, notebooks/10_infomax.ipynb; chosen before these runs, not tuned on
    them), same seed, hence the same initial weights and the same batches for both; the
    CPU-sized and full runs add λ = 1, 3, 10, 100 (every seed) to show how the gap
    depends on λ;
  * the accuracy is ``refvae.metrics.unsupervised_accuracy`` (Hungarian one-to-one matching of
    the 10 categories to the 10 labels) of ``model.predict_categories`` on the held-out test
    images (the training images' accuracy is reported as well);
  * every ``eval_every`` epochs: test accuracy, the categorical KL (mean over the test images), and
    I(x; c) = H(q̄) − E_x H(q(c | x)) of the encoder over the test images (exact for the
    empirical distribution; q̄ the mean class probabilities), with
    categorical KL = I(x; c) + KL(q̄ ‖ U_K) (003 eq 4.23).

Data: ``--data digits`` (default; scikit-learn's 1,797 8 × 8 digits, offline; 1,438 train /
359 test, stratified) or ``--data mnist`` (60,000 / 10,000; through ``keras.datasets`` or
``--data-dir`` with the four IDX files). ``--full`` implies MNIST.

Run: ``python -m experiments.claim4_infomax [--smoke | --full] [--data digits|mnist]
[--data-dir DIR] [--seeds 0 1 2] [--out DIR]``
"""

import math
import sys

import numpy as np

from experiments import common

NAME = "claim4_infomax"
NUM_CLASSES, GAUSSIAN_DIM = 10, 16
LAM = 30.0                                   # the headline InfoMax weight (the course chapter's)
LAMS = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)     # the sweep around it (CPU-sized and full runs)
PAPER = {
    "source": "003 (InfoMax VAE thesis) §4.3.2 (setting), §4.4.2 (results), Figs 4.8-4.11",
    "claims": ["argmax of the categorical latent as a classifier on MNIST: 82% with the MI term vs 21% "
               "with the ELBO only",
               "categorical KL E_x KL(q(c|x) || U_10) = 2.27 nats with the MI term, near log 10 = 2.30 "
               "(eq 4.23: an upper bound on I(x; c))"],
    "accuracy": {"infomax": 0.82, "elbo": 0.21},
    "categorical_kl_infomax": 2.27,
    "settings": "MNIST; latent 16 Gaussian + 1 Concrete with K = 10; two identically initialised models; "
                "lambda, networks, epochs, batch size and temperature not given",
}
# Per mode: data, epochs, MLP widths, batch, Q's widths, evaluation interval (epochs), λ values.
SIZES = {
    "smoke": dict(data="digits", epochs=2, hidden=(32,), batch_size=64, q_hidden=(16,), eval_every=1,
                  lams=(0.0, LAM)),
    "cpu": dict(data="digits", epochs=60, hidden=(256, 256), batch_size=64, q_hidden=(128,), eval_every=2,
                lams=LAMS),
    "full": dict(data="mnist", epochs=30, hidden=(512, 512), batch_size=100, q_hidden=(128,), eval_every=1,
                 lams=LAMS),
}
LEARNING_RATE, Q_LEARNING_RATE, TEMPERATURE = 1e-3, 1e-3, 0.67


def build(lam, seed, sizes, dataset_size, shape):
    """An InfoMaxVAE; the same seed gives the same initial weights whatever λ."""
    import keras

    from refvae import latents, models

    keras.utils.set_random_seed(seed)
    latent = latents.Grouped([latents.DiagonalGaussian(GAUSSIAN_DIM), latents.Concrete(NUM_CLASSES, TEMPERATURE)])
    encoder, decoder = models.networks.build("mlp", tuple(shape), latent, hidden=tuple(sizes["hidden"]))
    model = models.InfoMaxVAE(encoder, decoder, latent, lam=lam, info_units=[GAUSSIAN_DIM], dataset_size=dataset_size,
                              q_hidden=tuple(sizes["q_hidden"]), q_learning_rate=Q_LEARNING_RATE,
                              decomposition="kl", seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    return model


def weights_checksum(model):
    """Sum of |w| over the encoder, decoder and Q (equal for identically initialised models)."""
    variables = list(model.vae_variables) + list(model.q_network.trainable_variables)
    return float(sum(np.abs(v.numpy()).astype(np.float64).sum() for v in variables))


def category_probabilities(model, x, batch_size=1000):
    """softmax(α(x)) of the Concrete unit, float64 [n, K]."""
    part = model.concrete_parts[0][1]
    out = []
    for start in range(0, len(x), batch_size):
        posterior = model.posterior(x[start:start + batch_size])
        for index in part:
            posterior = posterior.parts[index]
        out.append(np.asarray(posterior.probs, dtype=np.float64))
    return np.concatenate(out)


def categorical_scores(model, x, labels):
    """Accuracy, categorical KL, I(x; c) and KL(q̄ ‖ U) of the encoder on images x.

    categorical_kl comes from the latent family (``Concrete.categorical_kl``, TensorFlow);
    I(x; c) = H(q̄) − mean_x H(q(c|x)) and KL(q̄ ‖ U) = log K − H(q̄) are computed here from the
    class probabilities, so categorical_kl = I + KL(q̄ ‖ U) (003 eq 4.23) is a check.
    """
    from refvae import metrics

    clusters = model.predict_categories(x)
    probs = category_probabilities(model, x)
    family, path = model.concrete_parts[0]
    kls = []
    for start in range(0, len(x), 1000):
        posterior = model.posterior(x[start:start + 1000])
        for index in path:
            posterior = posterior.parts[index]
        kls.append(np.asarray(family.categorical_kl(posterior), dtype=np.float64))
    mean_probs = probs.mean(axis=0)
    entropy_mean = float(-np.sum(mean_probs * np.log(np.maximum(mean_probs, 1e-300))))
    entropy_each = float(np.mean(-np.sum(probs * np.log(np.maximum(probs, 1e-300)), axis=1)))
    return {
        "accuracy": metrics.unsupervised_accuracy(clusters, labels),
        "categorical_kl": float(np.concatenate(kls).mean()),
        "mutual_information": entropy_mean - entropy_each,
        "kl_marginal_uniform": math.log(NUM_CLASSES) - entropy_mean,
        "aggregate_entropy": entropy_mean,
        "clusters_used": int(np.unique(clusters).size),
        "largest_probability_mean": float(probs.max(axis=1).mean()),
    }, clusters


def test_terms(model, x, seed, batch_size=1000):
    """ELBO, reconstruction and MI lower bound E log Q(c|x̂) + H(c) (003 eq 4.21) on images x.

    One posterior sample per image (fixed seeds); H(c) is the entropy of the mean class
    probabilities over all of x (not per batch).
    """
    totals = {"elbo": 0.0, "reconstruction": 0.0, "log_q_info": 0.0}
    for i, start in enumerate(range(0, len(x), batch_size)):
        chunk = x[start:start + batch_size]
        terms, _ = model.compute_terms(chunk, seed=seed * 1000 + i)
        for key in totals:
            totals[key] += float(terms[key]) * len(chunk)
    out = {k: v / len(x) for k, v in totals.items()}
    probs = category_probabilities(model, x).mean(axis=0)
    out["mi_lower_bound"] = out["log_q_info"] + float(-np.sum(probs * np.log(np.maximum(probs, 1e-300))))
    return out


def train(model, x_train, x_test, y_test, seed, sizes):
    """Epochs of Algorithm 1 (``model.train_step``: Q's step, then the VAE's) on shuffled batches.

    Batch order is a pure function of (seed, epoch), the same for every λ. Returns the
    history: epoch means of the logged terms and, every ``eval_every`` epochs, the test scores.
    """
    import tensorflow as tf

    step_fn = tf.function(model.train_step)
    batch = sizes["batch_size"]
    history = {"epoch": [], "loss": [], "elbo": [], "mi_lower_bound": [], "categorical_kl": [],
               "eval_epoch": [], "test_accuracy": [], "test_categorical_kl": [], "test_mutual_information": []}
    for epoch in range(1, sizes["epochs"] + 1):
        for tracker in model.metrics:
            tracker.reset_state()
        order = np.random.default_rng([seed, epoch]).permutation(len(x_train))
        for start in range(0, len(order) - batch + 1, batch):
            logs = step_fn(x_train[order[start:start + batch]])
        logs = {k: float(v) for k, v in logs.items()}
        if not math.isfinite(logs["loss"]):
            raise FloatingPointError(f"non-finite loss in epoch {epoch}: {logs}")
        history["epoch"].append(epoch)
        for key in ("loss", "elbo", "mi_lower_bound", "categorical_kl"):
            history[key].append(logs[key])
        if epoch % sizes["eval_every"] == 0 or epoch == sizes["epochs"]:
            scores, _ = categorical_scores(model, x_test, y_test)
            history["eval_epoch"].append(epoch)
            history["test_accuracy"].append(scores["accuracy"])
            history["test_categorical_kl"].append(scores["categorical_kl"])
            history["test_mutual_information"].append(scores["mutual_information"])
    return history


def figure(result, tables, path):
    plt = common.pyplot()
    runs = result["runs"]
    seeds = result["seeds"]
    labels = {0.0: "ELBO (λ = 0)", LAM: f"InfoMax (λ = {LAM:g})"}
    colours = {0.0: "tab:blue", LAM: "tab:red"}
    fig = plt.figure(figsize=(15, 8.4))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.05])

    ax = fig.add_subplot(grid[0, 0])
    for i, lam in enumerate((0.0, LAM)):
        values = [r["test"]["accuracy"] for r in runs if r["lam"] == lam]
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), values, color=colours[lam], zorder=3,
                   label=f"refvae, seeds {', '.join(map(str, seeds))}" if i == 0 else None)
        ax.hlines(np.mean(values), i - 0.25, i + 0.25, color=colours[lam], linewidth=2)
        paper = PAPER["accuracy"]["infomax" if lam else "elbo"]
        ax.scatter([i + 0.35], [paper], marker="*", s=160, color="black", zorder=3,
                   label="003 (MNIST)" if i == 0 else None)
        ax.annotate(f"{paper:.0%}", (i + 0.35, paper), textcoords="offset points", xytext=(8, -4), fontsize=8)
        ax.annotate(f"{np.mean(values):.0%}", (i - 0.25, np.mean(values)), textcoords="offset points",
                    xytext=(-30, -4), fontsize=8, color=colours[lam])
    ax.axhline(0.1, color="grey", linestyle=":", label="chance (1/10)")
    ax.set_xticks([0, 1])
    ax.set_xticklabels([labels[0.0], labels[LAM]])
    ax.set_xlim(-0.6, 1.8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("unsupervised accuracy on test images")
    ax.set_title("argmax q(c|x) as a classifier (Hungarian-matched)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")

    for column, (key, ylabel, title) in enumerate((
            ("test_accuracy", "unsupervised accuracy (test)", "accuracy during training"),
            ("test_categorical_kl", "nats (test images)", "categorical KL (solid) and I(x; c) (dashed)"))):
        ax = fig.add_subplot(grid[0, 1 + column])
        for r in (r for r in runs if r["lam"] in labels):
            h = r["history"]
            ax.plot(h["eval_epoch"], h[key], color=colours[r["lam"]], alpha=0.8,
                    label=f"{labels[r['lam']]}" if r["seed"] == seeds[0] else None)
            if key == "test_categorical_kl":
                ax.plot(h["eval_epoch"], h["test_mutual_information"], color=colours[r["lam"]], alpha=0.8,
                        linestyle="--")
        if key == "test_categorical_kl":
            ax.axhline(math.log(NUM_CLASSES), color="grey", linestyle=":", label="log 10 = 2.30")
            ax.axhline(PAPER["categorical_kl_infomax"], color="black", linestyle="-.", linewidth=1,
                       label="003 InfoMax: 2.27")
            ax.set_ylim(bottom=0)
        else:
            ax.axhline(0.1, color="grey", linestyle=":", label="chance")
            ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}, every seed", fontsize=9)
        ax.legend(fontsize=7)

    for column, lam in enumerate((0.0, LAM)):
        ax = fig.add_subplot(grid[1, column])
        table = tables[lam]
        ax.imshow(table, cmap="viridis", aspect="auto")
        for (i, j), count in np.ndenumerate(table):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=6,
                        color="white" if count < table.max() / 2 else "black")
        ax.set_xticks(range(NUM_CLASSES))
        ax.set_yticks(range(NUM_CLASSES))
        ax.set_xlabel("category, ordered by its matched digit")
        ax.set_ylabel("true digit")
        accuracy = next(r["test"]["accuracy"] for r in runs if r["lam"] == lam and r["seed"] == seeds[0])
        ax.set_title(f"{labels[lam]}, seed {seeds[0]}: test images per category (accuracy {accuracy:.0%})",
                     fontsize=9)
    ax = fig.add_subplot(grid[1, 2])
    lams = result["settings"]["lams"]
    kl_axis = ax.twinx()
    for i, lam in enumerate(lams):
        accuracies = [r["test"]["accuracy"] for r in runs if r["lam"] == lam]
        kls = [r["test"]["categorical_kl"] for r in runs if r["lam"] == lam]
        ax.scatter([i] * len(accuracies), accuracies, color="tab:red" if lam else "tab:blue", s=18, zorder=3)
        kl_axis.scatter([i + 0.15] * len(kls), kls, color="grey", marker="x", s=18)
    means = [np.mean([r["test"]["accuracy"] for r in runs if r["lam"] == lam]) for lam in lams]
    ax.plot(range(len(lams)), means, color="black", linewidth=1, label="accuracy, mean over seeds (dots: seeds)")
    kl_axis.plot([i + 0.15 for i in range(len(lams))],
                 [np.mean([r["test"]["categorical_kl"] for r in runs if r["lam"] == lam]) for lam in lams],
                 color="grey", linestyle="--", linewidth=1)
    kl_axis.plot([], [], color="grey", linestyle="--", marker="x", label="categorical KL (right axis)")
    kl_axis.axhline(math.log(NUM_CLASSES), color="grey", linestyle=":", linewidth=1, label="log 10 (right axis)")
    kl_axis.set_ylim(0, 2.5)
    kl_axis.set_ylabel("categorical KL, test images (nats)")
    ax.axhline(0.1, color="grey", linestyle=":")
    ax.set_xticks(range(len(lams)))
    ax.set_xticklabels([f"{lam:g}" for lam in lams])
    ax.set_xlabel("λ, weight of the MI bound (0 = ELBO)")
    ax.set_ylabel("unsupervised accuracy (test)")
    ax.set_ylim(0, 1)
    ax.set_title("the λ sweep (every seed)", fontsize=9)
    handles = ax.get_legend_handles_labels()
    extra = kl_axis.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="upper left")
    s = result["settings"]
    fig.suptitle(f"Claim 4 (003 §4.4.2): InfoMax VAE vs ELBO, categorical latent K = 10 — {s['data']}, "
                 f"{s['epochs']} epochs, MLP {s['hidden']}, {result['mode']}", fontsize=11)
    fig.tight_layout()
    return common.save_figure(fig, path)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2), full_seeds=tuple(range(5)),
                             image_data=True)
    watch = common.Stopwatch()
    sizes = dict(SIZES[args.mode])
    sizes["data"] = args.data
    x_train, y_train, x_test, y_test = common.load_images(args.data, args.data_dir, binarise=True)
    settings = {**sizes, "lams": list(sizes["lams"]), "headline_lam": LAM,
                "latent": f"Gaussian {GAUSSIAN_DIM} + Concrete K = {NUM_CLASSES}",
                "temperature": TEMPERATURE, "learning_rate": LEARNING_RATE, "q_learning_rate": Q_LEARNING_RATE,
                "likelihood": "bernoulli (images binarised at 0.5)", "decomposition": "kl (Monte Carlo KL)",
                "train_points": len(x_train), "test_points": len(x_test),
                "image_shape": list(x_train.shape[1:]),
                "data_source": ("refvae.data.digits() (scikit-learn 8x8, stratified 80/20 split, seed 0)"
                                if args.data == "digits" else f"refvae.data.mnist(directory={args.data_dir!r})")}
    result = common.header("4", args, PAPER, settings)
    print(f"[{NAME}] mode={args.mode} data={args.data} seeds={args.seeds}: {len(x_train)} train / "
          f"{len(x_test)} test images, {sizes['epochs']} epochs", flush=True)
    result["runs"] = []
    tables = {}
    for seed in args.seeds:
        for lam in sizes["lams"]:
            run_watch = common.Stopwatch()
            model = build(lam, seed, sizes, len(x_train), x_train.shape[1:])
            checksum = weights_checksum(model)
            history = train(model, x_train, x_test, y_test, seed, sizes)
            train_seconds = run_watch.seconds()
            test, clusters = categorical_scores(model, x_test, y_test)
            test.update(test_terms(model, x_test, seed))
            train_scores, _ = categorical_scores(model, x_train, y_train)
            if seed == args.seeds[0] and lam in (0.0, LAM):
                tables[lam] = common.matched_contingency(clusters, y_test, NUM_CLASSES)[0].T   # [labels, categories]
            result["runs"].append({"seed": seed, "lam": lam, "initial_weights_abs_sum": checksum,
                                   "train_seconds": train_seconds, "test": test,
                                   "train": {k: train_scores[k] for k in ("accuracy", "categorical_kl",
                                                                           "mutual_information")},
                                   "history": history, "seconds": run_watch.seconds()})
            print(f"  seed {seed} λ={lam:g}: test accuracy {test['accuracy']:.3f} "
                  f"(train {train_scores['accuracy']:.3f}), "
                  f"categorical KL {test['categorical_kl']:.3f}, I(x;c) {test['mutual_information']:.3f}, "
                  f"MI bound {test['mi_lower_bound']:.3f}, ELBO {test['elbo']:.2f} ({run_watch.seconds():.0f} s)",
                  flush=True)
    runs = result["runs"]
    result["contingency_first_seed"] = {("infomax" if lam else "elbo"): table for lam, table in tables.items()}
    result["summary"] = {}
    for lam in sizes["lams"]:
        key = {0.0: "elbo", LAM: "infomax"}.get(lam, f"lam_{lam:g}")
        chosen = [r for r in runs if r["lam"] == lam]
        result["summary"][key] = {
            "lam": lam,
            **{name: common.summary([r["test"][name] for r in chosen])
               for name in ("accuracy", "categorical_kl", "mutual_information", "kl_marginal_uniform",
                            "mi_lower_bound", "elbo", "clusters_used")},
            "train_accuracy": common.summary([r["train"]["accuracy"] for r in chosen]),
        }
    pairs = [(a["test"]["accuracy"], b["test"]["accuracy"]) for a in runs for b in runs
             if a["seed"] == b["seed"] and a["lam"] == 0.0 and b["lam"] == LAM]
    result["summary"]["accuracy_gain"] = common.summary([b - a for a, b in pairs])
    result["summary"]["seeds_infomax_better"] = sum(b > a for a, b in pairs)
    result["seconds"] = watch.seconds()
    figure(result, tables, args.out / f"{NAME}.png")
    result["seconds"] = watch.seconds()
    path = common.write_json(args.out / f"{NAME}.json", result)
    s = result["summary"]
    print(f"[{NAME}] test accuracy ELBO {s['elbo']['accuracy']['mean']:.3f} vs InfoMax "
          f"{s['infomax']['accuracy']['mean']:.3f} (003: 0.21 vs 0.82); wrote {path} in {result['seconds']:.0f} s",
          flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
