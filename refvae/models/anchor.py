"""Old import path of AnchorVAE's measurements (000 §6.2-6.3); each name warns and gives the new one.

AnchorVAE is the catalogue objective ``refvae.objectives.get("anchor-vae", lam=λ, anchors=[...])``
on a :class:`refvae.models.VAE` (000 eq 21); what its experiment measures lives with the
metrics: ``refvae.metrics.posterior_dimwise_mutual_information`` and
``refvae.metrics.anchor_ranking`` (000 Fig 4), ``refvae.metrics.sample_quality`` (000 §6.3).
These names keep working until refvae 0.5, with a ``DeprecationWarning``; the models package
does not import the metrics for them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from refvae._lazy import REMOVED_IN, moved_names

_MOVED = {
    "anchor_ranking": "refvae.metrics.mutual_info:anchor_ranking",
    "DigitsScorer": "refvae.metrics.sample_quality:DigitsScorer",
    "compare_sampling": "refvae.metrics.sample_quality:compare_sampling",
    "frechet_distance": "refvae.metrics.sample_quality:frechet_distance",
}
__all__ = sorted([*_MOVED, "dimwise_mutual_information", "posterior_moments"])
__getattr__ = moved_names(__name__, _MOVED)


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{__name__}.{old}(model, x) is deprecated and will be removed in refvae {REMOVED_IN}: "
                  f"use {new}", DeprecationWarning, stacklevel=3)


def posterior_moments(model: Any, x: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """loc and scale [N, D] of a Gaussian-latent VAE's q(z|x) over x (deprecated)."""
    _warn("posterior_moments", "refvae.metrics.sampling.posterior_moments(model.posterior, x)")
    from refvae.metrics import sampling

    return sampling.posterior_moments(model.posterior, x, batch_size)


def dimwise_mutual_information(model: Any, x: np.ndarray, seed: np.random.Generator | int = 0,
                               batch_size: int = 256) -> dict[str, Any]:
    """I(x; z_j) of every unit of ``model`` over the data x, in nats (deprecated)."""
    _warn("dimwise_mutual_information", "refvae.metrics.posterior_dimwise_mutual_information(model.posterior, x)")
    from refvae.metrics import mutual_info

    return mutual_info.posterior_dimwise_mutual_information(model.posterior, x, seed=seed, batch_size=batch_size)
