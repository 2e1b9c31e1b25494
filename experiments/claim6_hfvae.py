"""Claim 6 (002 §2 Figs 1–2; §5.3–5.4, Fig 6 right): HFVAE's Concrete variable captures the
class, and removing each term of the ELBO has the effect 002 Fig 2 describes.

Part (a) — term removal (002 Fig 1, Fig 2 A–E). 002 writes the ELBO (up to log N) as
E[① − ②] − ③ − ④ with ② = I(x; z), ③ = KL(q(x) ‖ p(x)), ④ = KL(q(z) ‖ p(z)) and shows
(as drawings, no numbers) what happens when one term is removed: B without ① every x_n is
mapped to the prior; C without ② each x_n gets its own region of z (I(x; z) → log N);
D without ③ p(x) no longer has to match q(x); E without ④ q(z) no longer has to match p(z).
Here: a 2-D toy (4 Gaussian clusters of 50 points, a 2-D Gaussian latent, Gaussian decoder
of scale 0.3, MLPs 64-64, full-batch Adam 5e-3, q(z) exact over the N = 200 points), each
variant trained from the same initialisation. ① and ③ contain log p(x), which is computed
by quadrature over a 61 × 61 grid of z (a 2-D latent makes this exact enough; checked
against simple Monte Carlo with 20,000 draws z ~ p(z)). Note ③ is −log N − E log p(x): q(x) is
a sum of point masses and p(x) a density, so "③" can be negative; differences between
variants are what matters. Reported per variant and seed: I(x; z), mean posterior std,
④, ③, ①, E log p(x), E log p(x | z), and how much the decoder uses z (the variance of its
means under z ~ p(z), against the data's variance).

Part (b) — the Concrete variable (002 §5.3–5.4, Fig 6 right). A Grouped latent of a
10-d Normal and a 10-class Concrete (002 Table 2), the HFVAE objective (002 eq 4, α = 1,
γ = 3 on the TC within the Normal group, β on the TC between the two groups), q(z) by 002's
stratified estimator ("hfvae"), β ∈ {1, 2, 4, 8}. 002 Fig 6 right plots
MIG_c = I(y; c) − max_i I(y; z_i) against β and reports that it grows with β
(``refvae.metrics.concrete_mig``: c = argmax of the Concrete probabilities, each Normal mean
in 20 bins, nats). Also reported: the unsupervised accuracy of c (Hungarian matching,
``refvae.metrics.unsupervised_accuracy``), against chance and against k-means on the pixels.
CPU-sized runs use scikit-learn's 8 × 8 digits (1,438 training images, offline); MNIST
(``--data mnist``, implied by ``--full``) needs the files (``refvae.data.mnist``).

Settings (``SIZES``): --smoke: toy 10 steps, digits 20 steps of 64, β ∈ {1, 8}, one seed.
Default (CPU): toy 1,500 full-batch steps; digits MLP 256-256, Bernoulli decoder, Adam 1e-3,
1,000 steps of batch 256 (≈ 180 epochs of the 1,438 images), Concrete temperature 0.67,
seeds 0, 1, 2 for both parts. --full: toy 5,000 steps; MNIST, MLP 512-512, 30,000 steps of
batch 512 (002 §3.1: batches of 512-1024), seeds 0-4.

Run: ``python -m experiments.claim6_hfvae [--smoke | --full] [--data digits|mnist]
[--data-dir DIR_WITH_MNIST_IDX_FILES] [--seeds 0 1 2] [--out DIR]``
(default: the CPU-sized setting below, ~15 min on 2 shared cores; --full: MNIST, 5 seeds, for a GPU)
"""

import math
import sys

import numpy as np

from experiments import common

NAME = "claim6_hfvae"
VARIANTS = {  # weights (w1, w2, w3, w4) of ① ② ③ ④ in L = w1 ① − w2 ② − w3 ③ − w4 ④
    "A": (1, 1, 1, 1), "B": (0, 1, 1, 1), "C": (1, 0, 1, 1), "D": (1, 1, 0, 1), "E": (1, 1, 1, 0)}
VARIANT_LABELS = {"A": "A: all terms (ELBO)", "B": "B: without ①", "C": "C: without ②",
                  "D": "D: without ③", "E": "E: without ④"}
TOY = dict(per_cluster=50, cluster_std=0.25, pixel_scale=0.3, hidden=(64, 64), learning_rate=5e-3,
           grid_points=61, grid_limit=4.0, prior_samples=4000)
SIZES = {
    "smoke": dict(toy_steps=10, toy_eval_samples=2, steps=20, batch_size=64, hidden=(32,), betas=(1.0, 8.0),
                  learning_rate=1e-3),
    "cpu": dict(toy_steps=1500, toy_eval_samples=20, steps=1000, batch_size=256, hidden=(256, 256),
                betas=(1.0, 2.0, 4.0, 8.0), learning_rate=1e-3),
    "full": dict(toy_steps=5000, toy_eval_samples=50, steps=30000, batch_size=512, hidden=(512, 512),
                 betas=(1.0, 2.0, 4.0, 8.0), learning_rate=1e-3),
}
GAMMA, ALPHA, NORMAL_DIM, NUM_CLASSES, TEMPERATURE = 3.0, 1.0, 10, 10, 0.67
PAPER = {
    "source": "002 (Esmaeili et al. 2019) Fig 1, Fig 2 (term removal), §5.3-5.4 and Fig 6 right",
    "claims": [
        "Fig 2 B: removing ① maps each x_n to the prior (I(x; z) minimised)",
        "Fig 2 C: removing ② maps each x_n to a unique region of z (I(x; z) maximised, bounded by log N)",
        "Fig 2 D: removing ③ lets p(x) deviate from q(x)",
        "Fig 2 E: removing ④ lets q(z) deviate from p(z)",
        "Fig 6 right (MNIST, Concrete 10 + Normal 10, gamma = 3): MIG between the Concrete variable and the best "
        "continuous dimension, I(y; c) - max_i I(y; z_i), grows with beta; the Concrete variable captures the "
        "digit label (Fig 5 right)",
    ],
    "numbers": "none printed: Fig 2 is a drawing, Fig 6 right a plot (gap roughly 0 to positive over beta); "
               "§5.1: a clean discrete/continuous split 'is mostly influenced by the starting random seed'",
}


# --------------------------------------------------------------------------- part (a): the toy


def toy_data():
    """The 4-cluster toy of 002 Fig 2 (fixed, seed 0): x [200, 2] float32, cluster labels [200]."""
    centres = np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]])
    labels = np.repeat(np.arange(4), TOY["per_cluster"])
    rng = np.random.default_rng(0)
    x = centres[labels] + TOY["cluster_std"] * rng.standard_normal((len(labels), 2))
    return x.astype(np.float32), labels


class Quadrature:
    """log p(x_n) = log Σ_g N(z_g; 0, I) ΔA p(x_n | z_g) over a square grid of a 2-D latent
    (the workaround for ① and ③, which contain the intractable p(x) in a real model)."""

    def __init__(self):
        import tensorflow as tf

        axis = np.linspace(-TOY["grid_limit"], TOY["grid_limit"], TOY["grid_points"])
        grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
        self.z = tf.constant(grid, tf.float32)
        log_weight = np.sum(-0.5 * grid**2 - 0.5 * np.log(2 * np.pi), 1) + 2 * np.log(axis[1] - axis[0])
        self.log_weight = tf.constant(log_weight, tf.float32)

    def log_px(self, decoder, x):
        """log p(x_n) [N] (nats)."""
        return log_mixture(decoder(self.z), self.log_weight, x)


def log_mixture(means, log_weight, x):
    """log Σ_g w_g N(x_n; means_g, s² I) [N] for Gaussian pixels of scale s = TOY pixel_scale."""
    import tensorflow as tf

    s = TOY["pixel_scale"]
    diff = (tf.convert_to_tensor(x)[:, None, :] - means[None]) / s
    log_pxz = tf.reduce_sum(-0.5 * tf.square(diff) - math.log(s) - 0.5 * math.log(2 * math.pi), -1)
    return tf.reduce_logsumexp(log_pxz + log_weight[None], axis=1)


def toy_terms(encoder, decoder, latent, likelihood, x, seed):
    """refvae's named terms of the whole toy data set (B = N, so q(z) is exact)."""
    from refvae import decompositions

    posterior = latent.posterior(encoder(x))
    z = latent.sample(posterior, seed=seed)
    return decompositions.hfvae_decomposition(z, posterior, latent.prior(), len(x), "exact",
                                              log_px_given_z=likelihood.log_prob(x, decoder(z)))


def fig1_loss(terms, weights, log_n, log_px=None):
    """−(w1 ① − w2 ② − w3 ③ − w4 ④) with ① = rec − E log p(x), ③ = −log N − E log p(x);
    E log p(x) cancels when w1 = w3."""
    w1, w2, w3, w4 = weights
    value = w1 * terms["reconstruction"] + w3 * log_n - w2 * terms["index_code_mi"] - w4 * terms["marginal_kl"]
    if w1 != w3:
        value = value + (w3 - w1) * log_px
    return -value


def train_toy(weights, seed, steps, x, quadrature):
    """Full-batch training of one term-removal variant; returns (encoder, decoder, latent, likelihood)."""
    import keras
    import tensorflow as tf

    from refvae import latents, models

    keras.utils.set_random_seed(seed)
    latent = latents.DiagonalGaussian(2)
    likelihood = models.likelihoods.get("gaussian", scale=TOY["pixel_scale"])
    encoder, decoder = models.networks.build("mlp", (2,), latent, hidden=TOY["hidden"])
    optimizer = keras.optimizers.Adam(TOY["learning_rate"])
    seeds = keras.random.SeedGenerator(seed)
    variables = encoder.trainable_variables + decoder.trainable_variables
    x_t = tf.constant(x)
    log_n = math.log(len(x))

    def step():
        with tf.GradientTape() as tape:
            terms = toy_terms(encoder, decoder, latent, likelihood, x_t, seeds)
            log_px = tf.reduce_mean(quadrature.log_px(decoder, x_t)) if weights[0] != weights[2] else None
            loss = fig1_loss(terms, weights, log_n, log_px)
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    step = tf.function(step, autograph=False)
    for _ in range(steps):
        loss = step()
    if not math.isfinite(float(loss)):
        raise FloatingPointError(f"toy variant {weights}, seed {seed}: non-finite loss")
    return encoder, decoder, latent, likelihood


def evaluate_toy(encoder, decoder, latent, likelihood, x, quadrature, seed, samples):
    """The numbers of one trained toy model (nats; ②, ④ and E log p(x | z) averaged over ``samples``
    draws of z)."""
    import tensorflow as tf

    n = len(x)
    draws = [toy_terms(encoder, decoder, latent, likelihood, x, seed=1000 * seed + k)
             for k in range(samples)]
    mean = {k: float(np.mean([float(d[k]) for d in draws])) for k in ("index_code_mi", "marginal_kl", "reconstruction",
                                                                        "elbo")}
    log_px = float(tf.reduce_mean(quadrature.log_px(decoder, x)))
    q = latent.posterior(encoder(x))
    loc, scale = np.asarray(q.loc, np.float64), np.asarray(q.scale, np.float64)
    prior_z = np.random.default_rng(seed + 7).standard_normal((TOY["prior_samples"], 2)).astype(np.float32)
    decoded = np.asarray(decoder(prior_z), np.float64)
    term1 = mean["reconstruction"] - log_px
    term3 = -math.log(n) - log_px
    return {
        "index_code_mi": mean["index_code_mi"],                       # ②
        "marginal_kl": mean["marginal_kl"],                           # ④
        "kl_q_x_p_x": term3,                                          # ③
        "term1": term1,                                               # ①
        "log_px": log_px,
        "reconstruction": mean["reconstruction"],
        "elbo": mean["elbo"],
        "fig1_sum_minus_elbo_minus_log_n": term1 - mean["index_code_mi"] - term3 - mean["marginal_kl"]
                                           - (mean["elbo"] + math.log(n)),
        "posterior_std": float(scale.mean()),
        "aggregate_second_moment": float(np.mean(loc**2 + scale**2)),  # E_q(z)[z_d²], 1 under p(z)
        "decoder_spread": float(decoded.var(0).sum()),               # Σ_d Var_p(z)[mean(x | z)_d]
    }, (loc, scale, decoded)


def quadrature_error(decoder, x, quadrature, seed, draws):
    """Mean |log p(x) by quadrature − by simple Monte Carlo over ``draws`` z ~ p(z)| (nats)."""
    import tensorflow as tf

    z = np.random.default_rng(seed).standard_normal((draws, 2)).astype(np.float32)
    log_w = tf.fill([len(z)], -math.log(len(z)))
    sampled = log_mixture(decoder(z), log_w, x)
    return float(tf.reduce_mean(tf.abs(quadrature.log_px(decoder, x) - sampled)))


def toy_effects(r):
    """002 Fig 2's statements as comparisons of each removal with A (one seed's results r)."""
    a = r["A"]
    return {
        "B_maps_to_prior": r["B"]["index_code_mi"] < 0.1 * a["index_code_mi"] and r["B"]["posterior_std"] > 0.9,
        "C_more_information": r["C"]["index_code_mi"] > a["index_code_mi"]
                              and r["C"]["posterior_std"] < a["posterior_std"],
        "D_px_deviates": r["D"]["kl_q_x_p_x"] > a["kl_q_x_p_x"],
        "E_qz_deviates": r["E"]["marginal_kl"] > a["marginal_kl"],
    }


def run_toy(args, sizes, log=print):
    x, labels = toy_data()
    quadrature = Quadrature()
    runs, pictures = [], {}
    for seed in args.seeds:
        watch = common.Stopwatch()
        results = {}
        for key, weights in VARIANTS.items():
            encoder, decoder, latent, likelihood = train_toy(weights, seed, sizes["toy_steps"], x, quadrature)
            results[key], picture = evaluate_toy(encoder, decoder, latent, likelihood, x, quadrature, seed,
                                                      sizes["toy_eval_samples"])
            if key == "A":
                results[key]["quadrature_vs_sampling_error"] = quadrature_error(decoder, x, quadrature, seed, 20000)
            if seed == args.seeds[0]:
                pictures[key] = picture
        run = {"seed": seed, "variants": results, "effects": toy_effects(results), "seconds": watch.seconds()}
        runs.append(run)
        log(f"  toy seed {seed}: " + "; ".join(f"{k} I={v['index_code_mi']:.2f} sd={v['posterior_std']:.2f} "
                                               f"④={v['marginal_kl']:.2f} ③={v['kl_q_x_p_x']:.2f}"
                                               for k, v in results.items())
            + f" | effects {run['effects']} ({run['seconds']:.0f} s)", flush=True)
    keys = ("index_code_mi", "posterior_std", "marginal_kl", "kl_q_x_p_x", "term1", "log_px", "reconstruction",
            "decoder_spread", "aggregate_second_moment")
    table = {v: {k: common.summary([r["variants"][v][k] for r in runs]) for k in keys} for v in VARIANTS}
    effects = {e: sum(bool(r["effects"][e]) for r in runs) for e in runs[0]["effects"]}
    return {"num_points": len(x), "log_n": math.log(len(x)), "data_variance": float(x.var(0).sum()),
            "runs": runs, "table": table, "effects_seeds_holding": effects}, (x, labels, pictures)


# --------------------------------------------------------------------------- part (b): Concrete on digits


def build_hfvae(beta, seed, sizes, dataset_size, shape):
    import keras

    from refvae import latents, models, objectives

    keras.utils.set_random_seed(seed)
    latent = latents.Grouped([latents.DiagonalGaussian(NORMAL_DIM), latents.Concrete(NUM_CLASSES, TEMPERATURE)])
    encoder, decoder = models.networks.build("mlp", tuple(shape), latent, hidden=tuple(sizes["hidden"]))
    model = models.VAE(encoder, decoder, latent, "bernoulli",
                       objectives.get("hfvae", alpha=ALPHA, beta=beta, gamma=GAMMA),
                       dataset_size=int(dataset_size), estimator="hfvae", seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(sizes["learning_rate"]))
    return model


def image_batches(images, seed, batch_size):
    """step -> a batch drawn without replacement, a pure function of (seed, step)."""

    def batch(step):
        rng = np.random.default_rng([seed, step])
        return images[rng.choice(len(images), batch_size, replace=False)]

    return batch


def codes(model, images, batch_size=1024):
    """(Normal means [n, 10], Concrete probabilities [n, 10]) of q(z | x)."""
    locs, probs = [], []
    for start in range(0, len(images), batch_size):
        normal, concrete = model.posterior(images[start:start + batch_size]).parts
        locs.append(np.asarray(normal.loc, np.float64))
        probs.append(np.asarray(concrete.probs, np.float64))
    return np.concatenate(locs), np.concatenate(probs)


def concrete_scores(model, images, labels, seed):
    from refvae import metrics

    loc, probs = codes(model, images)
    result = metrics.concrete_mig(probs, loc, labels)
    ids = np.argmax(probs, 1)
    continuous = result.pop("continuous_mi")
    return {
        "mig": result["mig"], "normalized_mig": result["normalized_mig"], "concrete_mi": result["concrete_mi"],
        "best_continuous_mi": float(continuous.max()), "best_continuous_dim": int(np.argmax(continuous)),
        "continuous_mi": continuous, "label_entropy": result["label_entropy"],
        "accuracy": metrics.unsupervised_accuracy(ids, labels),
        "classes_used": int(np.unique(ids).size),
        "mean_max_probability": float(probs.max(1).mean()),
        "kmeans_on_normal_accuracy": common.kmeans_accuracy(loc, labels, seed, n_init=4),
    }


def run_digits(args, sizes, images, log=print):
    x_train, y_train, x_test, y_test = images
    runs = []
    for beta in sizes["betas"]:
        for seed in args.seeds:
            model = build_hfvae(beta, seed, sizes, len(x_train), x_train.shape[1:])
            history, timing = common.train_model(model, image_batches(x_train, seed, sizes["batch_size"]),
                                                 sizes["steps"], log_every=max(1, min(100, sizes["steps"])))
            run = {"beta": beta, "gamma": GAMMA, "seed": seed, "train_seconds": timing["seconds"],
                   "final_batch": {k: v[-1] for k, v in history.items() if k != "step"},
                   "train": concrete_scores(model, x_train, y_train, seed)}
            if len(x_test):
                run["test"] = concrete_scores(model, x_test, y_test, seed)
            runs.append(run)
            t = run["train"]
            log(f"  beta {beta:g} seed {seed}: MIG_c {t['mig']:+.3f} (I(y;c) {t['concrete_mi']:.3f}, "
                f"max I(y;z_i) {t['best_continuous_mi']:.3f}), accuracy {t['accuracy']:.3f}, classes used "
                f"{t['classes_used']}, between-group TC {run['final_batch']['between_group_tc']:.3f} "
                f"({timing['seconds']:.0f} s)", flush=True)
    by_beta = {}
    for beta in sizes["betas"]:
        rows = [r for r in runs if r["beta"] == beta]
        by_beta[f"{beta:g}"] = {f"{split}_{k}": common.summary([r[split][k] for r in rows])
                                for split in ("train", "test") if split in rows[0]
                                for k in ("mig", "normalized_mig", "concrete_mi", "best_continuous_mi", "accuracy",
                                          "classes_used", "mean_max_probability", "kmeans_on_normal_accuracy")}
    lo, hi = min(sizes["betas"]), max(sizes["betas"])
    change = {}
    for seed in args.seeds:
        pick = {r["beta"]: r["train"] for r in runs if r["seed"] == seed}
        change[str(seed)] = {"mig": pick[hi]["mig"] - pick[lo]["mig"],
                             "accuracy": pick[hi]["accuracy"] - pick[lo]["accuracy"]}
    counts = np.bincount(y_train, minlength=NUM_CLASSES)
    return {
        "num_train": len(x_train), "num_test": len(x_test), "runs": runs, "by_beta": by_beta,
        f"change_beta_{hi:g}_minus_{lo:g}": change,
        "seeds_where_mig_grows": int(sum(c["mig"] > 0 for c in change.values())),
        "chance_accuracy": float(counts.max() / counts.sum()),
        "kmeans_on_pixels_accuracy": common.kmeans_accuracy(x_train.reshape(len(x_train), -1), y_train, 0, n_init=4),
    }


# --------------------------------------------------------------------------- figure


def figure(toy, toy_pictures, digits, sizes, settings, path, subtitle):
    plt = common.pyplot()
    from matplotlib.collections import EllipseCollection

    x, labels, pictures = toy_pictures
    colours = np.array(["tab:blue", "tab:orange", "tab:green", "tab:red"])
    fig = plt.figure(figsize=(15, 12.5))
    grid = fig.add_gridspec(4, 15, hspace=0.45, wspace=1.8, height_ratios=(1, 1, 0.85, 1), top=0.86)
    for col, key in enumerate(VARIANTS):
        loc, scale, decoded = pictures[key]
        ax = fig.add_subplot(grid[0, 3 * col:3 * col + 3])
        ax.add_collection(EllipseCollection(2 * scale[:, 0], 2 * scale[:, 1], np.zeros(len(loc)), units="xy",
                                            offsets=loc, offset_transform=ax.transData,
                                            facecolors=colours[labels], alpha=0.06))
        ax.scatter(loc[:, 0], loc[:, 1], s=4, c=colours[labels])
        for radius in (1, 2):
            ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--", color="grey"))
        ax.set(xlim=(-4, 4), ylim=(-4, 4), xlabel="z₁", ylabel="z₂")
        ax.set_title(f"{VARIANT_LABELS[key]}\nq(z|xₙ): mean ± 1 sd", fontsize=9)
        ax.set_aspect("equal")
        ax = fig.add_subplot(grid[1, 3 * col:3 * col + 3])
        noise = np.random.default_rng(4).standard_normal(decoded[:400].shape) * TOY["pixel_scale"]
        ax.scatter(*(decoded[:400] + noise).T, s=3, color="grey", alpha=0.5, label="x ~ p(x)")
        ax.scatter(x[:, 0], x[:, 1], s=4, c=colours[labels], label="data")
        ax.set(xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), xlabel="x₁", ylabel="x₂")
        ax.set_title(f"{key}: data and samples of p(x)", fontsize=9)
        ax.set_aspect("equal")
        if col == 0:
            ax.legend(fontsize=7, loc="upper center", ncol=2, bbox_to_anchor=(0.5, 1.0), framealpha=0.9)
    keys = list(VARIANTS)
    panels = (("index_code_mi", "② I(x; z) (nats)"), ("posterior_std", "mean posterior sd"),
              ("marginal_kl", "④ KL(q(z)‖p(z)) (nats)"), ("kl_q_x_p_x", "③ = −log N − E log p(x) (nats)"),
              ("decoder_spread", "Σ Var_p(z) E[x|z]"))
    for col, (metric, label) in enumerate(panels):
        ax = fig.add_subplot(grid[2, 3 * col:3 * col + 3])
        means = [toy["table"][k][metric]["mean"] for k in keys]
        stds = [toy["table"][k][metric]["std"] for k in keys]
        ax.bar(keys, means, yerr=stds, capsize=3,
               color=["tab:grey", "tab:blue", "tab:orange", "tab:green", "tab:red"])
        for r in toy["runs"]:
            ax.plot(keys, [r["variants"][k][metric] for k in keys], "k.", ms=3)
        if metric == "index_code_mi":
            ax.axhline(toy["log_n"], ls="--", color="k", lw=0.8, label="log N")
            ax.set_ylim(0, 1.3 * toy["log_n"])
            ax.legend(fontsize=7, loc="upper right")
        if metric == "decoder_spread":
            ax.axhline(toy["data_variance"], ls="--", color="k", lw=0.8, label="data variance")
            ax.set_ylim(0, 1.35 * max(toy["data_variance"], max(means)))
            ax.legend(fontsize=7, loc="upper right")
        ax.set_xlabel("variant (002 Fig 2)")
        ax.set_ylabel(label, fontsize=8)
        ax.set_title(f"toy: {label.split(' (')[0]}" + ("\n(the decoder's use of z)" if metric == "decoder_spread"
                                                        else ""), fontsize=9)
    betas = list(sizes["betas"])
    seeds = sorted({r["seed"] for r in digits["runs"]})

    def per_seed(ax, key, style="o-", alpha=0.35, colour=None, name=None):
        for seed in seeds:
            ax.plot(betas, [next(r["train"][key] for r in digits["runs"] if r["beta"] == b and r["seed"] == seed)
                            for b in betas], style, alpha=alpha, color=colour, lw=1)
        mean = [digits["by_beta"][f"{b:g}"][f"train_{key}"]["mean"] for b in betas]
        std = [digits["by_beta"][f"{b:g}"][f"train_{key}"]["std"] for b in betas]
        ax.errorbar(betas, mean, yerr=std, fmt=style, color=colour, lw=2, capsize=3, label=name)

    ax = fig.add_subplot(grid[3, 0:5])
    per_seed(ax, "mig", colour="tab:purple", name=f"mean ± sd over {len(seeds)} seeds (thin: each seed)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="β (weight of the TC between groups), log scale",
           ylabel="I(y; c) − maxᵢ I(y; zᵢ) (nats)")
    ax.set_xticks(betas, [f"{b:g}" for b in betas])
    ax.set_title(f"002 Fig 6 right: Concrete MIG vs β (γ = {GAMMA:g})", fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[3, 5:10])
    per_seed(ax, "concrete_mi", colour="tab:purple", name="I(y; c), Concrete argmax")
    per_seed(ax, "best_continuous_mi", style="s--", colour="tab:cyan", name="maxᵢ I(y; zᵢ), best Normal dim")
    ax.axhline(digits["runs"][0]["train"]["label_entropy"], color="k", ls=":", lw=0.8, label="H(y)")
    ax.set(xscale="log", xlabel="β, log scale", ylabel="MI with the label y (nats)")
    ax.set_xticks(betas, [f"{b:g}" for b in betas])
    ax.set_title("the two terms of the gap", fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[3, 10:15])
    per_seed(ax, "accuracy", colour="tab:purple", name="Concrete argmax")
    per_seed(ax, "kmeans_on_normal_accuracy", style="s--", colour="tab:cyan", name="k-means on Normal means")
    ax.axhline(digits["kmeans_on_pixels_accuracy"], color="k", ls="--", lw=0.8, label="k-means on pixels")
    ax.axhline(digits["chance_accuracy"], color="grey", ls=":", lw=0.8, label="chance")
    ax.set(xscale="log", xlabel="β, log scale", ylabel="unsupervised accuracy", ylim=(0, 1))
    ax.set_xticks(betas, [f"{b:g}" for b in betas])
    ax.set_title(f"class recovered without labels ({settings['data']} train split)", fontsize=9)
    ax.legend(fontsize=7)
    seed = toy["runs"][0]["seed"]
    fig.suptitle(f"Claim 6 (002): term removal on a 2-D toy (rows 1–3, seed {seed} pictured) and the "
                 f"Concrete variable on {settings['data']} (row 4)\n{subtitle}", fontsize=11, y=0.95)
    for ax in fig.axes:
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
    return common.save_figure(fig, path, dpi=72)


# --------------------------------------------------------------------------- main


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], argv, default_seeds=(0, 1, 2), full_seeds=tuple(range(5)),
                             image_data=True)
    watch = common.Stopwatch()
    sizes = SIZES[args.mode]
    images = common.load_images(args.data, args.data_dir)
    settings = {"data": args.data, "toy": TOY, **sizes, "alpha": ALPHA, "gamma": GAMMA, "normal_dim": NORMAL_DIM,
                "num_classes": NUM_CLASSES, "temperature": TEMPERATURE, "estimator": "hfvae",
                "likelihood": "bernoulli", "architecture": f"MLP {sizes['hidden']}",
                "variants": {k: {"label": VARIANT_LABELS[k], "weights_1234": VARIANTS[k]} for k in VARIANTS},
                "metric": "concrete_mig on the posterior means / Concrete probabilities of every training image; "
                          "20 bins per Normal dim; nats"}
    result = common.header("6", args, PAPER, settings)
    print(f"[{NAME}] mode={args.mode} seeds={args.seeds} data={args.data} "
          f"({len(images[0])} train images)", flush=True)
    part = common.Stopwatch()
    result["toy"], toy_pictures = run_toy(args, sizes)
    result["toy_seconds"] = part.seconds()
    part = common.Stopwatch()
    result["digits"] = run_digits(args, sizes, images)
    result["digits_seconds"] = part.seconds()
    subtitle = (f"{args.mode}: toy {sizes['toy_steps']} steps, {args.data} {sizes['steps']} steps × "
                f"{sizes['batch_size']}")
    figure(result["toy"], toy_pictures, result["digits"], sizes, settings, args.out / f"{NAME}.png", subtitle)
    result["seconds"] = watch.seconds()
    path = common.write_json(args.out / f"{NAME}.json", result)
    print(f"[{NAME}] wrote {path} in {result['seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
