"""The report of an evaluated run: report.html and its figures in RUN_DIR/report/.

Every number the report shows is a value of metrics.json (the results it is given): the metric
table, the MI matrix behind MIG, the per-dimension I(x; z_j). Figures that need data besides
those (reconstructions, traversals, samples) are drawn from the model; a metric the run was not
scored with is left out, not computed again on other points. Figures are written through a
temporary file and a rename, so a failed write leaves no empty picture.
"""

from __future__ import annotations

import html
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from refvae.io import atomic_path
from refvae.runs.directory import RunDirectory, WriteError

if TYPE_CHECKING:
    import keras

    from refvae.data.base import GroundTruthData
    from refvae.runs import RunConfig

__all__ = ["traversal_factor", "write_report"]

# What each sampling source of the model protocol draws z from.
SOURCE_TEXT = {
    "prior": "the model's prior (the two-layer model: z2 uniform over the classes, z1 ~ p(z1 | z2), 000 eq 19)",
    "marginals": "Π_j q(z_j), the product of the aggregate marginals (000 §5)",
}


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


def traversal_images(model: keras.Model, x: np.ndarray, dims: Sequence[int], values: np.ndarray) -> np.ndarray:
    """Images decoded from the mean code of one observation x [1, ...] with each code dimension in
    ``dims`` set to each of ``values`` in turn (the model's ``decode_code``; the rest of the
    latent stays at x's mean)."""
    from refvae import viz

    code = np.asarray(model.code_posterior(x).loc)[0]
    codes = viz.traversal_codes(code, [int(d) for d in dims], values)
    return np.asarray(model.decode_code(codes.astype(np.float32), like=x))


def write_report(run_dir: str | RunDirectory, model: keras.Model, dataset: GroundTruthData, config: RunConfig,
                 results: dict[str, Any], seed: int = 0) -> pathlib.Path:
    """report.html and its PNG figures in RUN_DIR/report/; returns the page's path."""
    import matplotlib.pyplot as plt

    from refvae import viz

    directory = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    folder = directory.figures
    rng = np.random.default_rng(seed)
    figures = []

    def save(fig, name, caption):
        path = folder / f"{name}.png"
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=110)
        except OSError as error:
            raise WriteError(path, error, "free space, then run `refvae evaluate` again") from None
        finally:
            plt.close(fig)
        figures.append((f"report/{name}.png", caption))

    x = dataset.observations_from_factors(dataset.sample_factors(8, rng))
    reconstruction = np.asarray(model(x))
    save(viz.image_grid(np.concatenate([x, reconstruction]), ncols=8, title="Data (top) and reconstructions (bottom)"),
         "reconstructions", "Eight data points and their reconstructions from the mean code.")

    mi = results.get("mi")
    order = np.argsort(-np.asarray(mi["mutual_info"])) if mi else np.arange(model.code_size)
    if mi:
        save(viz.bars(mi["mutual_info"], title="Per-dimension I(x; z_j)", ylabel="nats"), "mutual_info",
             f"Information each latent dimension carries about x (metrics.json, \"mi\"); "
             f"{mi['num_active_dims']} active dimensions.")

    mig = results.get("mig")
    labels = [f"z{d}" for d in order[:6]]
    if mig:
        matrix, entropy = np.asarray(mig["mutual_info"]), np.asarray(mig["factor_entropy"])
        save(viz.heatmap(matrix, [f"z{j}" for j in range(matrix.shape[0])], list(dataset.factor_names),
                         title="I(z_j; v_k): codes vs factors (histogram, 20 bins)", xlabel="factor",
                         ylabel="latent dimension"),
             "mutual_info_matrix", f"The MI matrix behind MIG (metrics.json, \"mig\"); MIG = {mig['mig']:.3f} on "
                                   f"{mig['settings']['num_points']:,} points.")
        labels = [f"z{d} ({traversal_factor(matrix[d], entropy, dataset.factor_names)})" for d in order[:6]]

    values = np.linspace(-2.5, 2.5, 8)
    images = traversal_images(model, x[:1], [int(d) for d in order[:6]], values)
    save(viz.image_grid(images, ncols=len(values), title="Latent traversals" + (
        " (most informative dimensions first)" if mi else ""), row_labels=labels),
         "traversals", "Each row changes one latent dimension from −2.5 to 2.5, the others fixed at a data point's "
                       "mean code. The label names the factor that dimension carries most of (largest "
                       "I(z_j; v_k) / H(v_k) in the MI matrix above), a second factor when it gets at least half as "
                       "much, 'inactive' when no factor gets 5%.")

    reference = dataset.observations_from_factors(dataset.sample_factors(1000, rng))
    per_source = 32 // len(model.SAMPLE_SOURCES)
    samples = [np.asarray(model.sample(per_source, source=source, seed=seed, reference=reference))
               for source in model.SAMPLE_SOURCES]
    save(viz.image_grid(np.concatenate(samples), ncols=8, title="Samples: " + ", then ".join(model.SAMPLE_SOURCES)),
         "samples", "Images decoded from codes drawn from " + "; then from ".join(
             f"{SOURCE_TEXT[source]} ({per_source // 8} rows)" for source in model.SAMPLE_SOURCES) + ".")

    history = directory.read_history()
    if history:
        references = {"index_code_mi": (float(np.log(dataset.num_observations)), "log N (the ceiling of I(x; z))"),
                      "total_correlation": (0.0, "0 (a true TC is >= 0)")}
        save(viz.history_plot(history, references=references), "history",
             "The ELBO and its decomposition over training, one panel per scale (batch estimates at the "
             f"training batch of {config.batch_size}).")

    directory.write_text(directory.report_path, _page(directory, config, results, figures, dataset))
    return directory.report_path


def _page(directory, config, results, figures, dataset):
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{value:.4g}</td></tr>"
                   for name, value in results["summary"].items())
    blocks = "".join(
        f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for src, caption in figures)
    settings = ", ".join(f"{key}={value}" for key, value in config.to_dict().items() if value is not None)
    scored = results.get("scored", {})
    scored_line = "" if not scored else (
        f"<p>Scored: step {scored['step']} of model.keras (sha256 {scored['model_sha256'][:12]}…), metric seed "
        f"{scored['seed']}, {scored['num_points']:,} points, profile {html.escape(scored['profile'])}, "
        f"refvae {html.escape(scored['refvae'])}.</p>")
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
    name = html.escape(directory.path.name)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>refvae report: {name}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;}} img{{max-width:100%;}}
table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:4px 10px}} figure{{margin:1.5em 0}}</style></head>
<body><h1>refvae run: {name}</h1>
<p>{html.escape(settings)}</p>
<h2>Metrics</h2><table><tr><td><b>metric</b></td><td><b>score</b></td></tr>{rows}</table>
{scored_line}
<p>Full results in metrics.json (MIG here is the histogram MIG of disentanglement_lib; "tc" is the TC of the mean codes in nats).</p>
{bias_block}
<h2>Figures</h2>{blocks}
</body></html>
"""
