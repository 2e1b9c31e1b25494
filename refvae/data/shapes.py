"""A procedural colour data set with the factor grid of Shapes3D (used by 004).

Shapes3D (Burgess & Kim 2018) shows an object in a room: floor, wall and object hue,
object scale, object shape and camera orientation, 10 × 10 × 10 × 8 × 4 × 15 = 480,000
RGB 64 × 64 images. refvae cannot ship or render the 3-D scenes, so :class:`Shapes2D`
draws the same factor grid in 2-D, deterministically and on demand:

=============  ====  =============================================================
factor         size  values and what they change
=============  ====  =============================================================
floor_hue      10    hue k/10 of the floor band (the bottom 24 rows)
wall_hue       10    hue k/10 of the wall (the top 40 rows)
object_hue     10    hue k/10 of the object
scale          8     ``linspace(0.75, 1.25, 8)``: object height 16 · scale pixels
shape          4     cube (square), cylinder (upright rectangle), sphere (disc),
                     capsule (upright stadium)
orientation    15    ``linspace(-30, 30, 15)`` degrees: the object turns by this angle
                     and the room's corner (where the darker left wall meets the right
                     wall) moves across the image, as when the Shapes3D camera turns
=============  ====  =============================================================

Colours are HSV with full saturation and value; the left wall is drawn at 75 % value.
Object edges are anti-aliased (4 × 4 sub-pixel coverage), so pixels lie in [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from refvae.data.base import GroundTruthData

__all__ = ["SHAPES_FACTOR_NAMES", "SHAPES_FACTOR_SIZES", "Shapes2D", "shapes3d", "hue_to_rgb"]

SHAPES_FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
SHAPES_FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPES_NAMES = ("cube", "cylinder", "sphere", "capsule")
SHAPES_FACTOR_VALUES = (
    np.arange(10) / 10.0,
    np.arange(10) / 10.0,
    np.arange(10) / 10.0,
    np.linspace(0.75, 1.25, 8),
    np.arange(4, dtype=np.float64),
    np.linspace(-30.0, 30.0, 15),
)

_SIZE = 64
_HORIZON = 40  # rows above are wall, rows from here down are floor
_OBJECT_HEIGHT = 16.0  # pixels at scale 1
_OBJECT_BASE = 54.0  # the object stands on the floor with its bottom at this row
_LEFT_WALL_VALUE = 0.75
_SUPERSAMPLE = 4


def hue_to_rgb(hue: ArrayLike) -> np.ndarray:
    """RGB of fully saturated, full-value HSV colours.

    Args:
        hue: array of hues in [0, 1).

    Returns:
        float32 array ``[..., 3]``.
    """
    hue = np.asarray(hue, dtype=np.float64)
    # HSV -> RGB with s = v = 1: channel c is clip(|6h - offset_c mod 6 - 3| - 1, 0, 1).
    offsets = np.array([0.0, 4.0, 2.0])
    sector = np.mod(6.0 * hue[..., None] + offsets, 6.0)
    return np.clip(np.abs(sector - 3.0) - 1.0, 0.0, 1.0).astype(np.float32)


def _inside(shape: int, u: np.ndarray, v: np.ndarray, height: float) -> np.ndarray:
    """Whether points (u, v) in the object's frame (centre at 0, y up) are inside it."""
    half = height / 2.0
    if shape == 0:  # cube: a square
        return np.maximum(np.abs(u), np.abs(v)) <= half
    if shape == 1:  # cylinder: an upright rectangle 0.6 as wide as high
        return (np.abs(u) <= 0.3 * height) & (np.abs(v) <= half)
    if shape == 2:  # sphere: a disc
        return u * u + v * v <= half * half
    radius = 0.25 * height  # capsule: a rectangle with semicircular ends
    core = np.clip(v, -(half - radius), half - radius)
    return u * u + (v - core) ** 2 <= radius * radius


@functools.lru_cache(maxsize=1)
def object_masks() -> np.ndarray:
    """Anti-aliased object coverage for every (scale, shape, orientation).

    Returns:
        read-only float32 array ``[8, 4, 15, 64, 64]`` (7.5 MiB), values in [0, 1].
    """
    scales, shapes, orientations = SHAPES_FACTOR_SIZES[3:]
    axis = (np.arange(_SIZE * _SUPERSAMPLE) + 0.5) / _SUPERSAMPLE
    masks = np.empty((scales, shapes, orientations, _SIZE, _SIZE), dtype=np.float32)
    for s, scale in enumerate(SHAPES_FACTOR_VALUES[3]):
        height = _OBJECT_HEIGHT * scale
        x = axis[None, :] - _SIZE / 2.0
        y = (_OBJECT_BASE - height / 2.0) - axis[:, None]  # y up, origin at object centre
        for o, degrees in enumerate(SHAPES_FACTOR_VALUES[5]):
            angle = np.deg2rad(degrees)
            u = np.cos(angle) * x + np.sin(angle) * y
            v = -np.sin(angle) * x + np.cos(angle) * y
            for shape in range(shapes):
                inside = _inside(shape, u, v, height).astype(np.float32)
                masks[s, shape, o] = inside.reshape(
                    _SIZE, _SUPERSAMPLE, _SIZE, _SUPERSAMPLE).mean(axis=(1, 3))
    masks.setflags(write=False)
    return masks


def corner_columns() -> np.ndarray:
    """First column of the bright (right) wall for each orientation.

    The room's corner sits at x = 32 + 0.6 · orientation (degrees), between 14 and 50;
    column j (centre j + 0.5) is right of it when j + 0.5 >= x.

    Returns:
        int array ``[15]``.
    """
    corners = _SIZE / 2.0 + 0.6 * SHAPES_FACTOR_VALUES[5]
    return np.ceil(corners - 0.5).astype(np.int64)


@functools.lru_cache(maxsize=1)
def _object_box() -> tuple[tuple[slice, slice], np.ndarray]:
    """The smallest window holding every object, and the masks cropped to it."""
    masks = object_masks()
    covered = masks.reshape(-1, _SIZE, _SIZE).max(axis=0) > 0
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    cropped = np.ascontiguousarray(masks[..., box[0], box[1]])
    cropped.setflags(write=False)
    return box, cropped


class Shapes2D(GroundTruthData):
    """Shapes3D's factor grid drawn in 2-D: floor band, wall band, one object.

    480,000 RGB 64 × 64 images, rendered on demand from 480 cached object masks (7.5 MiB,
    built once per process); the same factors always give the same image. The factor grid, names and
    order are Shapes3D's; the pictures are not (no perspective, lighting or shadows), so
    scores on this set are not Shapes3D scores.

    Example:
        >>> data = Shapes2D()
        >>> data.observations_from_factors([[0, 3, 6, 7, 2, 14]]).shape
        (1, 64, 64, 3)
    """

    factor_names = SHAPES_FACTOR_NAMES
    factor_sizes = SHAPES_FACTOR_SIZES
    factor_values = SHAPES_FACTOR_VALUES
    observation_shape = (_SIZE, _SIZE, 3)

    def _render(self, factors: np.ndarray) -> np.ndarray:
        # Fill the floor and wall bands with their colours, darken the left wall, then blend
        # the object colour in with its coverage c, x <- x + c (object − x), inside the
        # small window that holds every object (28 x 28 pixels).
        palette = hue_to_rgb(np.arange(10) / 10.0)
        (rows, cols), masks = _object_box()
        out = np.empty((len(factors), _SIZE, _SIZE, 3), dtype=np.float32)
        out[:, _HORIZON:] = palette[factors[:, 0]][:, None, None, :]
        wall = palette[factors[:, 1]]
        out[:, :_HORIZON] = wall[:, None, None, :]
        corners = corner_columns()
        for orientation in np.unique(factors[:, 5]).tolist():
            same = np.flatnonzero(factors[:, 5] == orientation)
            left_wall = (_LEFT_WALL_VALUE * wall[same])[:, None, None, :]
            out[same, :_HORIZON, :corners[orientation]] = left_wall
        coverage = masks[factors[:, 3], factors[:, 4], factors[:, 5]][..., None]
        window = out[:, rows, cols]
        window += coverage * (palette[factors[:, 2]][:, None, None, :] - window)
        return out


def shapes3d() -> Shapes2D:
    """The procedural Shapes3D-like colour data set (:class:`Shapes2D`), offline.

    Returns:
        :class:`Shapes2D` with factors ``("floor_hue", "wall_hue", "object_hue", "scale",
        "shape", "orientation")`` of sizes ``(10, 10, 10, 8, 4, 15)`` and float32
        ``[n, 64, 64, 3]`` observations in [0, 1].
    """
    return Shapes2D()
