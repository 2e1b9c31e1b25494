"""dSprites: 2-D shapes with five known factors (Matthey et al. 2017; used by 001 §6, 002, 004).

The factor grid is that of the official release and of 001 Table 2:

=============  ====  ==========================================================
factor         size  values
=============  ====  ==========================================================
shape          3     square, ellipse, heart
scale          6     ``linspace(0.5, 1, 6)``
orientation    40    ``linspace(0, 2π, 40)`` radians (0 and 2π both present)
pos_x          32    ``linspace(0, 1, 32)``
pos_y          32    ``linspace(0, 1, 32)``
=============  ====  ==========================================================

3 · 6 · 40 · 32 · 32 = 737,280 binary 64 × 64 images, row-major (pos_y fastest), as the
official ``.npz`` stores them. (The official release has a sixth factor, colour, with a
single value; refvae drops it.)

Two sources share this grid and the :class:`~refvae.data.base.GroundTruthData` protocol:

- :class:`ProceduralDSprites` (``dsprites()``, the default): rendered on demand, offline,
  deterministic, no file.
- :class:`OfficialDSprites` (``dsprites(source="official")``): the published file,
  downloaded once into the cache.
"""

from __future__ import annotations

import functools
import os
import zipfile
import zlib
from typing import IO

import numpy as np
from numpy.typing import ArrayLike

from refvae.checks import RandomLike
from refvae.data import cache
from refvae.data.base import GroundTruthData, as_generator, check_count

__all__ = [
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DSPRITES_FILENAME",
    "DSPRITES_URL",
    "OfficialDSprites",
    "ProceduralDSprites",
    "dsprites",
    "load_dsprites_npz",
]

DSPRITES_FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
DSPRITES_FACTOR_SIZES = (3, 6, 40, 32, 32)
DSPRITES_SHAPES = ("square", "ellipse", "heart")
DSPRITES_FACTOR_VALUES = (
    np.arange(3, dtype=np.float64),
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2.0 * np.pi, 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
DSPRITES_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_URL = (
    "https://github.com/deepmind/dsprites-dataset/raw/master/" + DSPRITES_FILENAME
)
# Digests of the official file as several independent loaders record them; the cached file
# is checked against the SHA-1 every time it is loaded, then by its structure (keys, dtypes,
# shapes, zip CRCs, binary pixels, the factor table and the complete grid in row-major order).
DSPRITES_MD5 = "7da33b31b13a06f4b04a70402ce90c2e"
DSPRITES_SHA1 = "3e0a46a9238e425f46a6ef9e9bdfd7cedb35d50f"
DSPRITES_SHA256 = None  # not recorded; kept for code that reads it

_CANVAS = 64
_WINDOW = 32  # base sprites are drawn in a 32 x 32 window, then translated
_SUPERSAMPLE = 4  # 4 x 4 samples per pixel decide each pixel's coverage
# Size of each shape at scale 1, in pixels: half the side of the square, the semi-axes of
# the ellipse, the unit of the heart curve. Chosen so the largest sprite at any rotation
# stays inside the 32 x 32 window (nothing is ever clipped at the canvas border).
_SQUARE_HALF_SIDE = 10.3
_ELLIPSE_SEMI_AXES = (11.0, 5.5)
_HEART_UNIT = 9.0
_HEART_CENTRE_Y = 0.12  # the heart curve's vertical centre of mass, in curve units


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v) in the shape's own frame (pixels, y up) lie inside it.

    The heart is the sextic (u² + v² − 1)³ − u² v³ ≤ 0, shifted so its centre of mass is
    at the origin.
    """
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if shape == 1:
        a, b = _ELLIPSE_SEMI_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    x = u / _HEART_UNIT
    y = v / _HEART_UNIT + _HEART_CENTRE_Y
    return (x * x + y * y - 1.0) ** 3 - x * x * y ** 3 <= 0.0


def render_sprite(shape: int, scale: float, orientation: float) -> np.ndarray:
    """Renders one base sprite: a binary 32 × 32 window with the shape centred at (16, 16).

    Each pixel is set when at least half of its 4 × 4 sub-pixel samples fall inside the
    shape, scaled by ``scale`` and rotated counter-clockwise by ``orientation`` radians
    (image rows grow downwards; the shape's own frame has y up).

    Args:
        shape: 0 square, 1 ellipse, 2 heart.
        scale: scale factor (0.5 ... 1 on the dSprites grid).
        orientation: rotation angle in radians.

    Returns:
        uint8 array ``[32, 32]`` with values in {0, 1}.
    """
    offsets = (np.arange(_WINDOW * _SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - _WINDOW / 2
    x = offsets[None, :]
    y = -offsets[:, None]  # row index grows downwards, the shape frame's y grows upwards
    cos, sin = np.cos(orientation), np.sin(orientation)
    # Inverse rotation takes image points into the shape's own frame, then undo the scale.
    u = (cos * x + sin * y) / scale
    v = (-sin * x + cos * y) / scale
    inside = _inside(shape, u, v).astype(np.float32)
    coverage = inside.reshape(_WINDOW, _SUPERSAMPLE, _WINDOW, _SUPERSAMPLE).mean(axis=(1, 3))
    return (coverage >= 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def base_sprites() -> np.ndarray:
    """The 720 base sprites, one per (shape, scale, orientation), rendered once per process.

    Returns:
        read-only uint8 array ``[3, 6, 40, 32, 32]`` (720 KiB).
    """
    shapes, scales, orientations = DSPRITES_FACTOR_SIZES[:3]
    sprites = np.empty((shapes, scales, orientations, _WINDOW, _WINDOW), dtype=np.uint8)
    for shape in range(shapes):
        for s, scale in enumerate(DSPRITES_FACTOR_VALUES[1]):
            for o, orientation in enumerate(DSPRITES_FACTOR_VALUES[2]):
                sprites[shape, s, o] = render_sprite(shape, scale, orientation)
    sprites.setflags(write=False)
    return sprites


def _paste(windows: np.ndarray, rows: np.ndarray, cols: np.ndarray, canvas_size: int = _CANVAS) -> np.ndarray:
    """Pastes binary windows ``[n, w, w]`` into zero float32 canvases ``[n, 64, 64, 1]``.

    ``rows`` and ``cols`` are the top-left corners of the windows on the canvases. A plain
    loop of slice assignments: each copies one contiguous 32 x 32 block, which is faster
    than one fancy-indexed scatter over all n windows (measured 3-4x).
    """
    size = windows.shape[1]
    out = np.zeros((len(windows), canvas_size, canvas_size), dtype=np.float32)
    for i, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
        out[i, row:row + size, col:col + size] = windows[i]
    return out[..., None]


class ProceduralDSprites(GroundTruthData):
    """dSprites rendered on demand: exact factor grid, offline, deterministic.

    The 720 base sprites (shape × scale × orientation) are rasterised once per process
    (lazily, 720 KiB) and translated by whole pixels to their position; no image array
    of the 737,280 observations is ever built. Rendering measured 0.9-3 · 10⁵ images/s
    (batch 64-1024) on a busy 2-core machine (``benchmarks/bench_data.py``).

    Geometry (pixels, on the 64 × 64 canvas; pixel (r, c) covers [c, c + 1) × [r, r + 1)):

    - the object's centre is at x = 16 + i_x, y = 16 + i_y for the position indices
      i_x, i_y ∈ {0, ..., 31}: ``pos_x`` moves it right and ``pos_y`` moves it *down*,
      one pixel per step, over the central 32 × 32 region;
    - at scale 1 the square has side 20, the ellipse semi-axes 11 and 5.5 (major axis
      horizontal at orientation 0), the heart (the curve (x² + y² − 1)³ = x² y³ in units
      of 9 pixels, lobes up at orientation 0) is about 20 wide; other scales multiply these;
    - orientation θ rotates counter-clockwise (as seen on screen) about the centre.

    How it differs from the official release (``dsprites(source="official")``): the
    factor grid and its order are the same, but the pixels are not: the official sprites
    were drawn by DeepMind's own renderer, with its own shape sizes, heart outline and
    position range (the official objects sweep a wider part of the canvas), and its own
    anti-aliasing threshold. Here every pixel is 1 when at least half of its 4 × 4
    sub-pixel samples are inside the shape, positions are whole-pixel translations, and
    no object touches the border. Scores computed on the two sources are close in
    behaviour but not numerically interchangeable; name the source with a number.

    Example:
        >>> data = ProceduralDSprites()
        >>> data.observations_from_factors([[2, 5, 0, 0, 31]]).shape
        (1, 64, 64, 1)
    """

    factor_names = DSPRITES_FACTOR_NAMES
    factor_sizes = DSPRITES_FACTOR_SIZES
    factor_values = DSPRITES_FACTOR_VALUES
    observation_shape = (_CANVAS, _CANVAS, 1)

    @property
    def base_sprites(self) -> np.ndarray:
        """The 720 binary base sprites ``[3, 6, 40, 32, 32]`` (see :func:`base_sprites`)."""
        return base_sprites()

    def _render(self, factors: np.ndarray) -> np.ndarray:
        sprites = base_sprites()
        windows = sprites[factors[:, 0], factors[:, 1], factors[:, 2]]
        return _paste(windows, rows=factors[:, 4], cols=factors[:, 3])


# --- the official release ---------------------------------------------------------------

class OfficialDSprites(GroundTruthData):
    """The published dSprites images behind the ground-truth protocol.

    The images are held bit-packed (8 pixels a byte: 360 MiB for the full release instead
    of 2.8 GiB) and unpacked per batch. A file holding a subset of the grid (a test fixture)
    works too: ``sample_factors`` then draws uniformly among the rows present, and
    ``observations_from_factors`` raises for factor vectors that are not in the file.

    Attributes:
        latents_values: float64 ``[N, 5]``, the factor values of each row (colour dropped).
        complete: True when the file holds the whole 737,280-image grid in row-major order.
        path: where the file was read from.

    Build it with :func:`dsprites` (``source="official"``) or :func:`load_dsprites_npz`.
    """

    factor_names = DSPRITES_FACTOR_NAMES
    factor_sizes = DSPRITES_FACTOR_SIZES
    factor_values = DSPRITES_FACTOR_VALUES
    observation_shape = (_CANVAS, _CANVAS, 1)

    def __init__(self, packed_images: np.ndarray, latents_classes: np.ndarray, latents_values: np.ndarray,
                 path: str | None = None) -> None:
        self._packed = packed_images
        self._classes = latents_classes
        self.latents_values = latents_values
        self.path = path
        grid_index = np.ravel_multi_index(tuple(latents_classes.T), DSPRITES_FACTOR_SIZES)
        grid_size = int(np.prod(DSPRITES_FACTOR_SIZES))
        self.complete = (len(grid_index) == grid_size
                         and np.array_equal(grid_index, np.arange(grid_size)))
        self._row_of_grid: np.ndarray | None = None
        if not self.complete:
            self._row_of_grid = np.full(grid_size, -1, dtype=np.int64)
            self._row_of_grid[grid_index] = np.arange(len(grid_index))

    @property
    def num_observations(self) -> int:
        """Rows in the file (737,280 for the complete release)."""
        return len(self._classes)

    def factors_of(self, index: ArrayLike) -> np.ndarray:
        """Factor vectors of the file's rows ``index`` (int64 ``[n, 5]``)."""
        return self._classes[self.check_indices(index, "index")].copy()

    def index_of(self, factors: ArrayLike) -> np.ndarray:
        """Row of each factor vector in the file (equal to the grid index when complete)."""
        return self._rows(self.check_factors(factors))

    def _rows(self, factors: np.ndarray) -> np.ndarray:
        grid_index = np.ravel_multi_index(tuple(factors.T), DSPRITES_FACTOR_SIZES)
        if self._row_of_grid is None:
            return grid_index.astype(np.int64)
        rows = self._row_of_grid[grid_index]
        if (rows < 0).any():
            missing = factors[int(np.argmax(rows < 0))].tolist()
            raise ValueError(f"factors {missing} are not in the file {self.path}")
        return rows

    def sample_factors(self, n: int, rng: RandomLike) -> np.ndarray:
        """Uniform over the rows of the file (uniform over the grid when complete)."""
        if self.complete:
            return super().sample_factors(n, rng)
        rows = as_generator(rng).integers(0, self.num_observations, size=check_count(n))
        return self._classes[rows].copy()

    def observations_from_indices(self, indices: ArrayLike) -> np.ndarray:
        return self._unpack(self._packed[self.check_indices(indices)])

    def _render(self, factors: np.ndarray) -> np.ndarray:
        return self._unpack(self._packed[self._rows(factors)])

    @staticmethod
    def _unpack(packed: np.ndarray) -> np.ndarray:
        bits = np.unpackbits(packed, axis=1, count=_CANVAS * _CANVAS)
        return bits.reshape(-1, _CANVAS, _CANVAS, 1).astype(np.float32)


def _member(archive: zipfile.ZipFile, key: str, path: str) -> IO[bytes]:
    try:
        return archive.open(key + ".npy")
    except KeyError:
        raise ValueError(
            f"{path} is not a dSprites file: it has no '{key}' array "
            f"(found {sorted(n[:-4] for n in archive.namelist())})"
        ) from None


def _read_header(stream: IO[bytes], key: str, path: str) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        raise ValueError(f"{path}: '{key}' holds Python objects; refusing to unpickle it")
    if fortran:
        raise ValueError(f"{path}: '{key}' is stored in Fortran order, expected C order")
    return shape, dtype


def _read_small(archive: zipfile.ZipFile, key: str, path: str, dtype_kind: str, columns: int) -> np.ndarray:
    with _member(archive, key, path) as stream:
        try:
            array = np.load(stream, allow_pickle=False)
        except ValueError as error:  # an object array: reading it would run pickle
            raise ValueError(f"{path}: '{key}' cannot be read without unpickling it ({error}); refusing") from None
    if array.ndim != 2 or array.shape[1] != columns or array.dtype.kind not in dtype_kind:
        raise ValueError(
            f"{path}: '{key}' should be a [N, {columns}] array of kind {dtype_kind!r}, "
            f"got {array.dtype} {array.shape}"
        )
    return array


def load_dsprites_npz(path: str | os.PathLike[str], chunk_rows: int = 16384) -> OfficialDSprites:
    """Reads and verifies a dSprites ``.npz`` in the official layout.

    Expected members (the official file's; its pickled ``metadata`` is never read):
    ``imgs`` uint8 ``[N, 64, 64]`` with values in {0, 1}; ``latents_classes`` int
    ``[N, 6]`` and ``latents_values`` float ``[N, 6]``, columns (color, shape, scale,
    orientation, posX, posY), colour with the single class 0. Everything is read with
    ``allow_pickle=False``; the images are streamed in chunks and bit-packed, so peak
    memory stays near the packed size. The zip CRC of every member is checked while
    reading, so a corrupted or truncated file raises.

    Args:
        path: the ``.npz`` file.
        chunk_rows: images read per chunk.

    Returns:
        :class:`OfficialDSprites`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is truncated, corrupted or not in the dSprites layout.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no dSprites file at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            classes = _read_small(archive, "latents_classes", path, "iu", 6)
            values = _read_small(archive, "latents_values", path, "f", 6)
            packed = _read_images(archive, path, len(classes), chunk_rows)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise ValueError(
            f"{path} is corrupted or truncated ({type(error).__name__}: {error}); "
            "delete it so that it is downloaded again"
        ) from error
    if len(values) != len(classes):
        raise ValueError(f"{path}: latents_values has {len(values)} rows, "
                         f"latents_classes {len(classes)}")
    if (classes[:, 0] != 0).any():
        raise ValueError(f"{path}: the colour latent (column 0) should have one class, 0")
    classes = classes[:, 1:].astype(np.int64)
    sizes = np.asarray(DSPRITES_FACTOR_SIZES)
    if (classes < 0).any() or (classes >= sizes).any():
        raise ValueError(f"{path}: latents_classes outside the dSprites grid {sizes.tolist()}")
    expected = np.stack([DSPRITES_FACTOR_VALUES[k][classes[:, k]] for k in range(1, 5)], 1)
    if not np.allclose(values[:, 2:], expected, atol=1e-6):
        raise ValueError(f"{path}: latents_values do not match latents_classes on the "
                         "dSprites grid (scale, orientation, posX, posY)")
    return OfficialDSprites(packed, classes, values[:, 1:].copy(), path=path)


def _read_images(archive: zipfile.ZipFile, path: str, num_rows: int, chunk_rows: int) -> np.ndarray:
    with _member(archive, "imgs", path) as stream:
        shape, dtype = _read_header(stream, "imgs", path)
        if len(shape) != 3 or shape[1:] != (_CANVAS, _CANVAS) or dtype != np.uint8:
            raise ValueError(f"{path}: 'imgs' should be uint8 [N, 64, 64], "
                             f"got {dtype} {shape}")
        if shape[0] != num_rows:
            raise ValueError(f"{path}: 'imgs' has {shape[0]} rows, latents {num_rows}")
        pixels = _CANVAS * _CANVAS
        packed = np.empty((num_rows, pixels // 8), dtype=np.uint8)
        for start in range(0, num_rows, chunk_rows):
            rows = min(chunk_rows, num_rows - start)
            raw = stream.read(rows * pixels)
            if len(raw) != rows * pixels:
                raise ValueError(f"{path}: 'imgs' is truncated at row {start}")
            chunk = np.frombuffer(raw, dtype=np.uint8).reshape(rows, pixels)
            if chunk.max(initial=0) > 1:
                raise ValueError(f"{path}: 'imgs' should be binary (0/1), found "
                                 f"{int(chunk.max())}")
            packed[start:start + rows] = np.packbits(chunk, axis=1)
        if stream.read(1):
            raise ValueError(f"{path}: 'imgs' has trailing bytes")
    return packed


# --- the public entry point ---------------------------------------------------------------

def dsprites(source: str = "procedural", path: str | os.PathLike[str] | None = None, download: bool = True,
             progress: bool = True) -> ProceduralDSprites | OfficialDSprites:
    """The dSprites data set (factors shape, scale, orientation, pos_x, pos_y).

    Args:
        source: ``"procedural"`` (default; rendered on demand, no file, works offline) or
            ``"official"`` (the published file, downloaded once into :func:`data_dir`).
        path: for ``"official"``, read this file instead of the cache (checked by its
            structure only, so that a subset of the grid can be used; the cached file is
            also checked against the official SHA-1 and must hold the whole grid).
        download: for ``"official"``, download the file when it is not in the cache.
        progress: show a progress bar while downloading.

    Returns:
        :class:`ProceduralDSprites` or :class:`OfficialDSprites`; both follow the
        :class:`~refvae.data.base.GroundTruthData` protocol with ``factor_sizes``
        ``(3, 6, 40, 32, 32)`` and float32 ``[n, 64, 64, 1]`` observations in {0, 1}.

    Raises:
        ValueError: unknown ``source``, or a corrupted official file, or a cached file that
            does not hold the complete 737,280-image grid.
        DownloadError: a cached file whose SHA-1 is not the official one (the message
            names the file).
        RuntimeError: the official file is missing and cannot be downloaded (offline);
            the message names the procedural default.

    Example:
        >>> data = dsprites()
        >>> data.factor_sizes
        (3, 6, 40, 32, 32)
    """
    if source == "procedural":
        if path is not None:
            raise ValueError("path is only used with source='official'")
        return ProceduralDSprites()
    if source != "official":
        raise ValueError(f"source must be 'procedural' or 'official', got {source!r}")
    if path is not None:
        return load_dsprites_npz(path)
    path = cache.fetch(
        DSPRITES_URL, DSPRITES_FILENAME, sha256=DSPRITES_SHA256, sha1=DSPRITES_SHA1, download=download,
        progress=progress,
        offline_hint="refvae.data.dsprites() (source='procedural', the default) "
                     "renders the same factor grid without any file",
    )
    data = load_dsprites_npz(path)
    if not data.complete:
        raise ValueError(f"{path} holds {data.num_observations:,} images, not the official file's "
                         f"{int(np.prod(DSPRITES_FACTOR_SIZES)):,} (the whole grid {DSPRITES_FACTOR_SIZES} "
                         "in row-major order); delete it to download it again")
    return data
