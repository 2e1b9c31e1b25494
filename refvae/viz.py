"""Figures a reader would rather look at than read: image grids, latent traversals, MI bars,
code–factor heat maps and the ELBO decomposition over training.

Every function returns a ``matplotlib.figure.Figure`` with a title and labelled axes; the
caller saves or shows it. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg", force=False)
        except Exception:  # an interactive backend already in use stays in use
            pass
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: ArrayLike, ncols: int = 8, title: str = "", row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, cell_size: float = 1.0) -> Figure:
    """Images [n, H, W, C] (values in [0, 1]) on a grid of ``ncols`` columns."""
    plt = _pyplot()
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape [n, H, W, C], got {images.shape}")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell_size * ncols, cell_size * nrows + 0.5), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if index < n:
            image = np.clip(images[index], 0.0, 1.0)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
    if row_labels is not None:
        for row, label in enumerate(row_labels[:nrows]):
            axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if col_labels is not None:
        for col, label in enumerate(col_labels[:ncols]):
            axes[0, col].set_title(label, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def traversal_codes(code: ArrayLike, dims: Sequence[int], values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Codes [len(dims) · len(values), D]: ``code`` with dimension d set to each value in turn."""
    code = np.asarray(code, dtype=np.float32)
    rows = []
    for d in dims:
        for value in values:
            changed = code.copy()
            changed[d] = value
            rows.append(changed)
    return np.stack(rows)


def bars(values: ArrayLike, labels: Sequence[str] | None = None, title: str = "", ylabel: str = "",
         xlabel: str = "latent dimension", highlight: Sequence[int] | None = None) -> Figure:
    """A bar chart, e.g. per-dimension I(x; z_j) in nats; ``highlight``: indices drawn darker."""
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    labels = [str(i) for i in range(len(values))] if labels is None else [str(label) for label in labels]
    colours = ["tab:blue"] * len(values)
    for index in highlight or ():
        colours[index] = "tab:red"
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(values) + 1.5), 3.2))
    ax.bar(labels, values, color=colours)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def heatmap(matrix: ArrayLike, row_labels: Sequence[str], col_labels: Sequence[str], title: str = "",
            xlabel: str = "", ylabel: str = "", unit: str = "nats") -> Figure:
    """A matrix with its values written in the cells, e.g. I(z_j; v_k)."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(0.8 * matrix.shape[1] + 2.5, 0.4 * matrix.shape[0] + 1.5))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), col_labels, rotation=30, ha="right")
    ax.set_yticks(range(matrix.shape[0]), row_labels)
    peak = matrix.max() if matrix.size else 0.0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="black" if value > 0.6 * peak else "white")
    fig.colorbar(image, ax=ax, label=unit)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


# The default panels of ``history_plot``: terms of similar size share an axis, so a TC of a
# few nats is not flattened against an ELBO of hundreds.
HISTORY_PANELS = (
    ("ELBO and reconstruction", ("elbo", "reconstruction")),
    ("KL and its parts", ("kl", "index_code_mi", "marginal_kl")),
    ("Total correlation and dimension-wise KL", ("total_correlation", "dimwise_kl")),
)


def history_plot(history: Mapping[str, ArrayLike], terms: Sequence[str] | None = None,
                 title: str = "ELBO decomposition over training", ylabel: str = "nats per data point",
                 panels: Sequence[tuple[str, Sequence[str]]] = HISTORY_PANELS,
                 references: Mapping[str, tuple[float, str]] | None = None) -> Figure:
    """Curves of the logged terms against the training step, one panel per group of terms.

    Args:
        history: {column: array} with a "step" column (``refvae.runs.read_history``).
        terms: if given, only these terms are drawn (each stays in its panel; a term of no
            panel gets a panel of its own).
        title: the figure's title.
        ylabel: the unit of every panel.
        panels: (panel title, term names) pairs; panels with no logged term are left out.
        references: {term: (value, label)} horizontal reference lines, drawn in the panel
            of the term, e.g. {"index_code_mi": (math.log(N), "log N")}.

    Returns:
        A figure with one row of panels.
    """
    plt = _pyplot()
    wanted = [t for t in (terms if terms is not None else history) if t != "step" and t in history]
    groups = [(name, [t for t in names if t in wanted]) for name, names in panels]
    placed = {t for _, names in groups for t in names}
    groups += [(t, [t]) for t in wanted if t not in placed and terms is not None]
    groups = [(name, names) for name, names in groups if names]
    if not groups:
        raise ValueError(f"history has none of the terms to plot; it has {sorted(history)}")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False)
    for ax, (panel, names) in zip(axes[0], groups):
        for name in names:
            ax.plot(history["step"], history[name], label=name)
            if references and name in references:
                value, label = references[name]
                ax.axhline(value, color="grey", ls="--", lw=0.8, label=label)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
