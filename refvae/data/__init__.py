"""Ground-truth-factor data sets, image loaders, and correlated / held-out variants.

Everything here works offline except the downloads of the official dSprites file and of
MNIST / Fashion-MNIST; importing this package never imports TensorFlow (only
``GroundTruthData.as_tf_dataset`` does, when called).

- :func:`dsprites` — dSprites (001 Table 2): procedural by default, ``source="official"``
  for the published file.
- :func:`shapes3d` — a 2-D colour data set on Shapes3D's factor grid (004).
- :func:`mnist`, :func:`fashion_mnist`, :func:`digits` — labelled images (000, 002, 003).
- :func:`correlated` (001 §6.1), :func:`held_out` (002 §5.5) — change how factors are sampled;
  :func:`factors_as_observations` — each observation is its factor vector (for codes built
  from the factors).
- :class:`GroundTruthData` — the protocol all of them follow; :func:`data_dir` — the cache.
- :func:`load` — a data set by the name a run's configuration gives it (:data:`NAMES`).

Example:
    >>> import numpy as np, refvae
    >>> data = refvae.data.dsprites()
    >>> factors = data.sample_factors(4, np.random.default_rng(0))
    >>> data.observations_from_factors(factors).shape
    (4, 64, 64, 1)
"""

from refvae.data.base import GroundTruthData, as_generator
from refvae.data.cache import DownloadError, data_dir, download, fetch, sha256_of
from refvae.data.dsprites import (
    DSPRITES_FACTOR_NAMES,
    DSPRITES_FACTOR_SIZES,
    DSPRITES_URL,
    OfficialDSprites,
    ProceduralDSprites,
    dsprites,
    load_dsprites_npz,
)
from refvae.data.images import LabelledImages, digits, fashion_mnist, mnist, read_idx
from refvae.data.shapes import SHAPES_FACTOR_NAMES, SHAPES_FACTOR_SIZES, Shapes2D, shapes3d
from refvae.data.variants import (
    CorrelatedFactors,
    FactorsAsObservations,
    HeldOutSplit,
    comonotone_coupling,
    correlated,
    factors_as_observations,
    held_out,
    index_correlation,
    joint_configuration,
)


def _official_dsprites() -> GroundTruthData:
    return dsprites(source="official")


# The data sets a run's configuration names (``refvae train --data``), each built by one call.
_BY_NAME = {
    "dsprites": dsprites,
    "dsprites-official": _official_dsprites,
    "shapes": shapes3d,
    "mnist": mnist,
    "fashion-mnist": fashion_mnist,
    "digits": digits,
}
NAMES = tuple(_BY_NAME)


def load(name: str) -> GroundTruthData:
    """The data set a run's configuration names (one of :data:`NAMES`)."""
    if name not in _BY_NAME:
        raise ValueError(f"data must be one of {', '.join(NAMES)}; got {name!r}")
    return _BY_NAME[name]()


__all__ = [
    "NAMES",
    "load",
    "CorrelatedFactors",
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DSPRITES_URL",
    "DownloadError",
    "FactorsAsObservations",
    "GroundTruthData",
    "HeldOutSplit",
    "LabelledImages",
    "OfficialDSprites",
    "ProceduralDSprites",
    "SHAPES_FACTOR_NAMES",
    "SHAPES_FACTOR_SIZES",
    "Shapes2D",
    "as_generator",
    "comonotone_coupling",
    "correlated",
    "data_dir",
    "digits",
    "download",
    "dsprites",
    "factors_as_observations",
    "fashion_mnist",
    "fetch",
    "held_out",
    "index_correlation",
    "joint_configuration",
    "load_dsprites_npz",
    "mnist",
    "read_idx",
    "sha256_of",
    "shapes3d",
]
