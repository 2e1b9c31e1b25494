"""Evaluate a trained run: disentanglement metrics and a report with figures.

``evaluate(run_dir)`` loads ``RUN_DIR/model.keras``, scores it with the metrics of
``refvae.metrics`` on fresh samples of the run's ground-truth data set (mean codes, as in
disentanglement_lib), writes ``RUN_DIR/metrics.json`` and ``RUN_DIR/report.html`` with the
figures in ``RUN_DIR/report/``: reconstructions, latent traversals, samples from the prior
and from Π_j q(z_j), per-dimension I(x; z_j), the code–factor MI matrix behind MIG, and the
ELBO decomposition over training.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from refvae import checks
from refvae import train as training
from refvae.io import jsonable, write_atomic

if TYPE_CHECKING:
    import keras

    from refvae.data.base import GroundTruthData

METRICS = ("mig", "mig-sampled", "beta-vae", "factor-vae", "dci", "sap", "modularity", "irs",
           "gaussian-correlation", "code-mi", "tc", "mi")
DEFAULT_METRICS = ("mig", "factor-vae", "tc", "mi")


def check_metrics(names):
    names = tuple(names)
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise ValueError(f"--metrics must be a comma-separated subset of {','.join(METRICS)}; got {','.join(names)}")
    return names


def check_num_points(num_points):
    """``--num-points`` as an int >= 10: fewer leaves the metrics' train/test splits and bins empty."""
    return checks.integer(num_points, "--num-points", 10)


def check_seed(seed):
    return checks.integer(seed, "--seed", 0)


def check_model_matches(model, dataset, config, run_dir):
    """Refuse a model.keras that config.json no longer describes (edited data or latent size)."""
    expected = (None, *dataset.observation_shape)
    encoder = getattr(model, "encoder", None) or getattr(model, "encoder1", None)
    found = tuple(encoder.inputs[0].shape) if getattr(encoder, "inputs", None) else None
    if found is not None and tuple(found[1:]) != tuple(expected[1:]):
        raise ValueError(f"{run_dir}/config.json names --data {config.data} (observations {tuple(expected[1:])}), "
                         f"but {run_dir}/model.keras takes {tuple(found[1:])}: config.json no longer matches the model")
    latent_dim = _gaussian_width(model)
    if latent_dim is not None and latent_dim != config.latent_dim:
        raise ValueError(f"{run_dir}/config.json has --latent-dim {config.latent_dim}, but {run_dir}/model.keras "
                         f"has {latent_dim} latent dimensions: config.json no longer matches the model")


def _gaussian_width(model):
    """Width of the model's Gaussian code (``--latent-dim``): the latent of a VAE, InfoMax's
    Gaussian part, the hierarchical model's z1; None when the model has none of these."""
    from refvae import latents

    latent = getattr(model, "latent", None) or getattr(model, "latent1", None)
    if isinstance(latent, latents.Grouped):
        latent = next((part for part in latent.parts if isinstance(part, latents.DiagonalGaussian)), None)
    return latent.event_size if isinstance(latent, latents.DiagonalGaussian) else None


def _gaussian_part(model):
    """(index of the Gaussian part of the model's latent, its first event coordinate);
    (None, 0) for a Gaussian latent."""
    from refvae import latents

    if not isinstance(model.latent, latents.Grouped):
        return None, 0
    offset = 0
    for index, part in enumerate(model.latent.parts):
        if isinstance(part, latents.DiagonalGaussian):
            return index, offset
        offset += part.event_size
    raise ValueError(f"the model's latent {model.latent!r} has no Gaussian part for the metrics to score")


def code_posterior(model, x):
    """q(z | x) of the Gaussian code the metrics score: a ``tfd.Normal`` with batch [B, D].

    The whole latent of a Gaussian VAE (FactorVAE's too); the Gaussian part of a grouped
    latent (InfoMax's, whose categorical code c is a cluster label:
    ``refvae.metrics.unsupervised_accuracy``); z1 of the hierarchical model (000 §6.1).
    """
    from refvae.models import HierarchicalVAE

    if isinstance(model, HierarchicalVAE):
        return model.posterior1(x)
    index, _ = _gaussian_part(model)
    posterior = model.posterior(x)
    return posterior if index is None else posterior.parts[index]


def _encoders(model, batch_size=256):
    """(representation: x -> mean codes, posterior: x -> (loc, scale)) as NumPy functions."""

    from refvae.metrics.sampling import posterior_moments

    def posterior(x):
        return posterior_moments(lambda batch: code_posterior(model, batch), x, batch_size, dtype=None)

    def representation(x):
        return posterior(x)[0]

    return representation, posterior


def _grid_posterior(dataset, posterior, subgrid=None, batch_size=2048):
    """Gaussian posteriors over the factor grid (or its ``subgrid``) in row-major order,
    with the grid's sizes."""
    from refvae import metrics

    factors, sizes = metrics.subgrid_factors(dataset.factor_sizes, subgrid or (1,) * len(dataset.factor_sizes))
    loc, scale = metrics.sampling.posterior_moments(posterior, factors, batch_size,
                                                    render=dataset.observations_from_factors, dtype=None)
    return loc, scale, sizes


def check_subgrid(dataset, subgrid):
    """``subgrid`` as a tuple of steps, one per factor of ``dataset``, each leaving >= 2 values."""
    if subgrid is None:
        return None
    from refvae import metrics

    sizes = tuple(dataset.factor_sizes)
    try:
        _, kept = metrics.subgrid_factors(sizes, subgrid)
    except (TypeError, ValueError) as error:
        raise ValueError(f"--subgrid must be one positive step per factor {sizes}: {error}") from None
    if min(kept) < 2:
        raise ValueError(f"--subgrid {tuple(subgrid)} leaves fewer than 2 values of a factor of {sizes}: {kept}")
    return tuple(subgrid)


def compute_metrics(model: keras.Model, dataset: GroundTruthData, names: Sequence[str], seed: int = 0,
                    num_points: int = 10000, subgrid: Sequence[int] | None = None) -> dict[str, Any]:
    """{metric: result dict} for the named metrics (``num_points`` scales every sample size).

    ``subgrid``: steps per factor for "mig-sampled" (every step-th value; default the whole
    grid, as 001), e.g. (1, 1, 4, 4, 4) keeps 11,520 of dSprites' 737,280 points.
    """
    from refvae import metrics

    names = check_metrics(names)
    subgrid = check_subgrid(dataset, subgrid)
    representation, posterior = _encoders(model)
    test_points = max(2, num_points // 2)
    results = {}
    for name in names:
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        if name == "mig":
            result = metrics.compute_mig(dataset, representation, rng, num_train=num_points)
        elif name == "mig-sampled":
            loc, scale, sizes = _grid_posterior(dataset, posterior, subgrid)
            result = metrics.mig_sampled(loc, scale, sizes, num_samples=min(num_points, len(loc)), seed=seed)
            result["grid_sizes"] = list(sizes)
        elif name == "beta-vae":
            result = metrics.beta_vae_score(dataset, representation, rng, num_train=num_points, num_eval=test_points)
        elif name == "factor-vae":
            result = metrics.factor_vae_score(dataset, representation, rng, num_train=num_points, num_eval=test_points,
                                              num_variance_estimate=num_points)
        elif name == "dci":
            result = metrics.compute_dci(dataset, representation, rng, num_train=num_points, num_test=test_points)
        elif name == "sap":
            result = metrics.compute_sap(dataset, representation, rng, num_train=num_points, num_test=test_points)
        elif name == "modularity":
            result = metrics.compute_modularity(dataset, representation, rng, num_train=num_points, num_test=test_points)
        elif name == "irs":
            result = metrics.compute_irs(dataset, representation, rng, num_train=num_points)
        elif name in ("gaussian-correlation", "code-mi"):
            codes, _ = metrics.utils.sample_representation(dataset, representation, num_points, rng)
            score = metrics.gaussian_correlation if name == "gaussian-correlation" else metrics.code_mutual_info
            result = score(codes)
        elif name == "tc":
            result = metrics.compute_tc_means_vs_samples(dataset, posterior, rng, num_points=min(num_points, 5000))
        else:
            factors = dataset.sample_factors(min(num_points, 5000), rng)
            loc, scale = posterior(dataset.observations_from_factors(factors))
            result = metrics.dimwise_mutual_information(loc, scale, seed=seed)
        results[name] = {key: jsonable(value) for key, value in result.items()}
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
    return results


def _headline(results):
    """The scalar scores of a metrics dict, e.g. {"mig": 0.21, "factor-vae": 0.74}."""
    keys = {"mig": "mig", "mig-sampled": "mig", "beta-vae": "eval_accuracy", "factor-vae": "eval_accuracy",
            "dci": "disentanglement", "sap": "sap", "modularity": "modularity", "irs": "irs",
            "gaussian-correlation": "gaussian_wasserstein_correlation_norm", "code-mi": "mutual_info_score",
            "tc": "tc_mean", "mi": "num_active_dims"}
    return {name: results[name][keys[name]] for name in results if keys[name] in results[name]}


LARGE_BATCH = 4096


def estimator_bias(model: keras.Model, dataset: GroundTruthData, batch_size: int, estimator: str = "mss1",
                   seed: int = 0, num_points: int = 8192) -> dict[str, Any]:
    """The batch estimate of the TC beside a large-batch one and an independent reference.

    On ``num_points`` fresh points (one posterior sample each, ``dataset_size`` = the data
    set's N, as in training): ``refvae.metrics.minibatch_tc_terms`` at the training
    ``batch_size`` and at B = min(4096, num_points), and the Gaussian fit of the sampled
    codes, TC of N(mean, Cov(μ) + diag E[σ²]) (004 eq 9), which no minibatch weighting
    enters. A batch estimate far below the other two is the bias that a TC weight β > 1
    rewards (see ``refvae.train.EstimatorBiasMonitor``).

    Returns:
        dict: "batch_size", "large_batch_size", "tc_batch", "tc_large_batch", "tc_gaussian_fit",
        "index_code_mi_batch", "index_code_mi_large_batch", "log_dataset_size" (nats).
    """
    from refvae import info, metrics

    num_points = min(num_points, int(dataset.num_observations))
    rng = np.random.default_rng(seed)
    _, posterior = _encoders(model)
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


def evaluate(run_dir: str | os.PathLike, metric_names: Sequence[str] = DEFAULT_METRICS, seed: int = 0,
             num_points: int = 10000, report: bool = True, subgrid: Sequence[int] | None = None) -> dict[str, Any]:
    """Score a run, write metrics.json (and report.html); returns the metrics dict.
    ``subgrid``: see :func:`compute_metrics`."""
    metric_names = check_metrics(metric_names)
    seed = check_seed(seed)
    num_points = check_num_points(num_points)
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"RUN_DIR {run_dir} is not a directory")
    config = training.TrainConfig.load(run_dir)
    # the metrics take minutes: find out first that they can be written
    training.check_writable(run_dir, "RUN_DIR")
    if report and (run_dir / "report").is_dir():
        training.check_writable(run_dir / "report", "RUN_DIR")
    model = training.load_model(run_dir)
    dataset = training.load_data(config.data)
    check_model_matches(model, dataset, config, run_dir)
    results = compute_metrics(model, dataset, metric_names, seed=seed, num_points=num_points, subgrid=subgrid)
    results["summary"] = _headline(results)
    results["estimator_bias"] = estimator_bias(model, dataset, config.batch_size, config.estimator, seed=seed)
    write_atomic(run_dir / "metrics.json", json.dumps(results, indent=2) + "\n")
    if report:
        write_report(run_dir, model, dataset, config, results, seed=seed)
    return results


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


def traversal_factor(mutual_info_row: np.ndarray, factor_entropy: np.ndarray, factor_names: Sequence[str],
                     share: float = 0.5) -> str:
    """The factor a latent dimension carries: the name of argmax_k I(z_j; v_k) / H(v_k), with a
    second name when another factor has at least ``share`` of the best normalised MI, and
    "inactive" when the best is below 0.05."""
    normalised = np.asarray(mutual_info_row, dtype=float) / np.maximum(np.asarray(factor_entropy, dtype=float), 1e-12)
    order = np.argsort(-normalised)
    if normalised[order[0]] < 0.05:
        return "inactive"
    names = [factor_names[order[0]]]
    if len(order) > 1 and normalised[order[1]] >= share * normalised[order[0]]:
        names.append(factor_names[order[1]])
    return " + ".join(names)


def _traversals(model, x, dims, values):
    """Images decoded from the code of one observation x [1, ...] with each Gaussian code
    dimension in ``dims`` set to each of ``values`` in turn; the rest of the code (InfoMax's
    categorical part) stays at x's mean."""
    from refvae import viz
    from refvae.models import HierarchicalVAE

    if isinstance(model, HierarchicalVAE):
        code, offset = model.posterior1(x).loc, 0
        decode = lambda z: model.likelihood.mean(model.decoder1(z))    # noqa: E731
    else:
        (_, offset), code, decode = _gaussian_part(model), model.latent.mean(model.posterior(x)), model.decode
    codes = viz.traversal_codes(np.asarray(code)[0], [offset + int(d) for d in dims], values)
    return np.asarray(decode(codes.astype(np.float32)))


def _samples(model, seed, reference):
    """(32 generated images, figure title, caption) for the report."""
    from refvae.models import HierarchicalVAE

    if isinstance(model, HierarchicalVAE):
        return (np.asarray(model.sample(32, seed=seed)), "Samples: z2 uniform over the classes, z1 ~ p(z1 | z2)",
                "Samples of the two-layer generative model of 000 eq 19: a uniform one-hot z2, z1 from p(z1|z2), "
                "x from p(x|z1).")
    prior_samples = np.asarray(model.sample(16, source="prior", seed=seed))
    marginal_samples = np.asarray(model.sample(16, source="marginals", seed=seed, reference=reference))
    return (np.concatenate([prior_samples, marginal_samples]),
            "Samples: prior (top two rows), Π_j q(z_j) (bottom two rows)",
            "Samples decoded from the prior and from the product of the aggregate marginals (000 §5).")


def write_report(run_dir, model, dataset, config, results, seed=0):
    """report.html and its PNG figures in RUN_DIR/report/."""
    from refvae import metrics, viz

    run_dir = pathlib.Path(run_dir)
    folder = run_dir / "report"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    representation, posterior = _encoders(model)
    figures = []

    def save(fig, name, caption):
        fig.savefig(folder / f"{name}.png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        figures.append((f"report/{name}.png", caption))

    x = dataset.observations_from_factors(dataset.sample_factors(8, rng))
    reconstruction = np.asarray(model(x))
    save(viz.image_grid(np.concatenate([x, reconstruction]), ncols=8, title="Data (top) and reconstructions (bottom)"),
         "reconstructions", "Eight data points and their reconstructions from the mean code.")

    observations = dataset.observations_from_factors(dataset.sample_factors(2000, rng))
    loc, scale = posterior(observations)
    mi = metrics.dimwise_mutual_information(loc, scale, seed=seed)
    order = np.argsort(-np.asarray(mi["mutual_info"]))
    save(viz.bars(mi["mutual_info"], title="Per-dimension I(x; z_j)", ylabel="nats"),
         "mutual_info", f"Information each latent dimension carries about x; {mi['num_active_dims']} active dimensions.")

    factors = dataset.sample_factors(5000, rng)
    codes = representation(dataset.observations_from_factors(factors))
    mig = metrics.mig(codes, factors)
    mig_matrix = np.asarray(mig["mutual_info"])
    factor_entropy = np.asarray(mig["factor_entropy"])
    save(viz.heatmap(np.asarray(mig["mutual_info"]), [f"z{j}" for j in range(codes.shape[1])],
                     list(dataset.factor_names), title="I(z_j; v_k): codes vs factors (histogram, 20 bins)",
                     xlabel="factor", ylabel="latent dimension"),
         "mutual_info_matrix", f"The MI matrix behind MIG; MIG on these 5,000 points = {mig['mig']:.3f}.")

    values = np.linspace(-2.5, 2.5, 8)
    rows = order[: min(6, len(order))]
    images = _traversals(model, observations[:1], rows, values)
    labels = [f"z{d} ({traversal_factor(mig_matrix[d], factor_entropy, dataset.factor_names)})" for d in rows]
    save(viz.image_grid(images, ncols=len(values), title="Latent traversals (most informative dimensions first)",
                        row_labels=labels),
         "traversals", "Each row changes one latent dimension from −2.5 to 2.5, the others fixed at a data point's "
                       "mean code. The label names the factor that dimension carries most of (largest I(z_j; v_k) / H(v_k) "
                       "in the MI matrix above), a second factor when it gets at least half as much, 'inactive' "
                       "when no factor gets 5%.")

    reference = dataset.observations_from_factors(dataset.sample_factors(1000, rng))
    samples, title, caption = _samples(model, seed, reference)
    save(viz.image_grid(samples, ncols=8, title=title), "samples", caption)

    history = training.read_history(run_dir)
    if history:
        references = {"index_code_mi": (float(np.log(dataset.num_observations)), "log N (the ceiling of I(x; z))"),
                      "total_correlation": (0.0, "0 (a true TC is >= 0)")}
        save(viz.history_plot(history, references=references), "history",
             "The ELBO and its decomposition over training, one panel per scale (batch estimates at the "
             f"training batch of {config.batch_size}).")

    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{value:.4g}</td></tr>" for name, value in results["summary"].items()
    )
    blocks = "".join(
        f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for src, caption in figures
    )
    settings = ", ".join(f"{k}={v}" for k, v in config.to_dict().items() if v is not None)
    bias = results.get("estimator_bias")
    bias_block = "" if bias is None else f"""<h2>Is the batch TC estimate trustworthy?</h2>
<table><tr><td><b>estimate</b></td><td><b>total correlation</b></td><td><b>index-code MI</b></td></tr>
<tr><td>{html.escape(config.estimator)} at the training batch B = {bias['batch_size']}</td>
<td>{bias['tc_batch']:.3f}</td><td>{bias['index_code_mi_batch']:.3f}</td></tr>
<tr><td>{html.escape(config.estimator)} at B = {bias['large_batch_size']}</td>
<td>{bias['tc_large_batch']:.3f}</td><td>{bias['index_code_mi_large_batch']:.3f}</td></tr>
<tr><td>Gaussian fit of the sampled codes (004 eq 9)</td><td>{bias['tc_gaussian_fit']:.3f}</td><td></td></tr></table>
<p>Nats, on fresh points with N = {dataset.num_observations} (log N = {bias['log_dataset_size']:.2f}, the ceiling of
the index-code MI). A batch TC below 0 or far below the large-batch value is the estimator's bias; a TC weight
above 1 then rewards it (train with a larger batch).</p>"""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>refvae report: {html.escape(run_dir.name)}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;}} img{{max-width:100%;}}
table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:4px 10px}} figure{{margin:1.5em 0}}</style></head>
<body><h1>refvae run: {html.escape(run_dir.name)}</h1>
<p>{html.escape(settings)}</p>
<h2>Metrics</h2><table><tr><td><b>metric</b></td><td><b>score</b></td></tr>{rows}</table>
<p>Full results in metrics.json (MIG here is the histogram MIG of disentanglement_lib; "tc" is the TC of the mean codes in nats).</p>
{bias_block}
<h2>Figures</h2>{blocks}
</body></html>
"""
    write_atomic(run_dir / "report.html", page)
    return run_dir / "report.html"
