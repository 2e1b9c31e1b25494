"""Labelled image data sets: MNIST, Fashion-MNIST (002, 003, 000) and scikit-learn's digits.

Each loader returns a :class:`LabelledImages`: the arrays a training loop wants
(``x_train``, ``y_train``, ``x_test``, ``y_test``; images float32 ``[n, H, W, 1]`` in
[0, 1]) and, for the training split, the ground-truth protocol with the label as the one
factor (``factor_names == ("label",)``, ``factor_sizes == (10,)``), which is what
unsupervised accuracy and label MIG (002 §5.3) need.

Protocol for a data set whose factor does not determine the image (many images share a
label):

- an *observation index* is an image's row in the training split
  (``num_observations == len(x_train)``); ``factors_of(index)`` gives the labels of rows;
  ``observations_from_indices`` the images; ``as_tf_dataset`` iterates all rows, shuffled;
- ``sample(n, rng)`` draws rows uniformly, so labels follow the data's label frequencies;
  ``sample_factors(n, rng)`` returns the labels of such rows;
- ``observations_from_factors(labels, rng=None)`` returns, for each requested label, an
  image with that label: with an ``rng``, one drawn uniformly among them; without, the
  j-th request of label y in the call gets the j-th image of label y (cycling), so the
  same labels always give the same images and repeated labels give different images.
- ``index_of`` raises: a label does not identify one image.

MNIST and Fashion-MNIST come from ``keras.datasets`` (downloaded by Keras into
``~/.keras/datasets``) or, with ``directory=``, from the four original IDX files, read by
:func:`read_idx`. :func:`digits` needs no download: scikit-learn ships its 1,797 8 × 8
images, so CPU-sized versions of the MNIST experiments run anywhere.
"""

from __future__ import annotations

import gzip
import math
import os
from typing import NoReturn

import numpy as np
from numpy.typing import ArrayLike

from refvae.checks import RandomLike
from refvae.data.base import GroundTruthData, as_generator, check_count

__all__ = ["LabelledImages", "digits", "fashion_mnist", "mnist", "read_idx"]

# IDX type codes (LeCun's format description) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_OFFLINE_HINT = ("refvae.data.digits() works offline (scikit-learn's 8x8 digits), or pass "
                 "directory= with the four IDX files")
# The most data bytes read from one IDX file: the largest MNIST file holds 47,040,000, and
# its float32 images take 4x that. A header that declares more is damaged or not MNIST-like,
# and is refused before anything is decompressed.
_MAX_IDX_BYTES = 2**30


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzip-compressed or not.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions d, d big-endian uint32 sizes, then
    the values big-endian in row-major order. A ``.gz`` suffix means gzip.

    The header is read first (from the decompressed stream) and sets what is read after it:
    exactly the data it declares, plus one byte to detect data it does not declare. Nothing
    more is decompressed, so a small gzip file that inflates to gigabytes costs no memory.

    Args:
        path: the file.

    Returns:
        the array, in native byte order.

    Raises:
        ValueError: bad magic number, unknown type, a header that declares more than
            ``_MAX_IDX_BYTES`` (1 GiB) of data, a data length that does not match the
            header (truncated or padded file), or a corrupted gzip stream.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            return _read_idx_stream(stream, path)
    except (OSError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path} is corrupted or truncated ({type(error).__name__}: "
                         f"{error})") from error


def _read_exactly(stream, count):
    """Up to ``count`` bytes of ``stream`` (fewer only at its end), in a buffer of that size."""
    buffer = bytearray(count)
    view, filled = memoryview(buffer), 0
    while filled < count:
        read = stream.readinto(view[filled:])
        if not read:
            break
        filled += read
    view.release()
    return buffer if filled == count else buffer[:filled]


def _read_idx_stream(stream, path):
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(sizes, ">u4"))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if expected > _MAX_IDX_BYTES:
        raise ValueError(f"{path}: its header declares {shape} ({expected:,} bytes of data), above the limit of "
                         f"{_MAX_IDX_BYTES:,} bytes refvae reads from an IDX file (MNIST's largest holds "
                         f"47,040,000): the header is damaged or the file is not an MNIST-like data set")
    content = _read_exactly(stream, expected)
    if len(content) != expected:
        raise ValueError(f"{path} is truncated or corrupted: header says {shape} "
                         f"({expected} bytes of data), file has {len(content)}")
    if stream.read(1):
        raise ValueError(f"{path} is corrupted: it holds more data than its header declares ({shape}, "
                         f"{expected:,} bytes); the rest was not read")
    array = np.frombuffer(content, dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


class LabelledImages(GroundTruthData):
    """Images with class labels, as arrays and as a one-factor ground truth (see module).

    Args:
        x_train, y_train: training images ``[n, H, W]`` or ``[n, H, W, C]`` (any numeric
            type; scaled by ``scale``) and integer labels ``[n]``.
        x_test, y_test: test split (may be empty).
        num_classes: number of label values.
        scale: divisor that maps pixel values to [0, 1] (255 for 8-bit images).
        name: shown in ``repr``.

    Attributes:
        x_train, x_test: float32 ``[n, H, W, C]`` in [0, 1].
        y_train, y_test: int64 ``[n]``.
        images, labels: aliases of ``x_train`` and ``y_train``.
    """

    factor_names = ("label",)

    def __init__(self, x_train: ArrayLike, y_train: ArrayLike, x_test: ArrayLike, y_test: ArrayLike,
                 num_classes: int = 10, scale: float = 255.0, name: str = "images") -> None:
        self.name = name
        self.x_train = self._images(x_train, scale, "x_train")
        self.x_test = self._images(x_test, scale, "x_test")
        self.y_train = self._labels(y_train, len(self.x_train), num_classes, "y_train")
        self.y_test = self._labels(y_test, len(self.x_test), num_classes, "y_test")
        if self.x_test.size and self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(f"x_test images {self.x_test.shape[1:]} differ from x_train "
                             f"images {self.x_train.shape[1:]}")
        self.factor_sizes = (int(num_classes),)
        self.observation_shape = tuple(self.x_train.shape[1:])
        self._rows_of_label = [np.flatnonzero(self.y_train == k) for k in range(num_classes)]

    @staticmethod
    def _images(images: ArrayLike, scale: float, name: str) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError(f"{name} must have shape [n, H, W] or [n, H, W, C], "
                             f"got {images.shape}")
        return (images.astype(np.float32) / np.float32(scale)).astype(np.float32)

    @staticmethod
    def _labels(labels: ArrayLike, count: int, num_classes: int, name: str) -> np.ndarray:
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if len(labels) != count:
            raise ValueError(f"{name} has {len(labels)} labels for {count} images")
        if count and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}")
        return labels

    @property
    def images(self) -> np.ndarray:
        return self.x_train

    @property
    def labels(self) -> np.ndarray:
        return self.y_train

    @property
    def num_observations(self) -> int:
        """Number of training images."""
        return len(self.x_train)

    def factors_of(self, index: ArrayLike) -> np.ndarray:
        """Labels ``[n, 1]`` of training rows ``index``."""
        return self.y_train[self.check_indices(index, "index")][:, None].copy()

    def index_of(self, factors: ArrayLike) -> NoReturn:
        raise TypeError(f"{self.name}: a label does not identify one image; use the row "
                        "index of x_train (observations_from_indices) instead")

    def sample_indices(self, n: int, rng: RandomLike) -> np.ndarray:
        """n training rows drawn uniformly (a label does not identify one image)."""
        n = check_count(n)
        return as_generator(rng).integers(0, self.num_observations, n).astype(np.int64)

    def observations_from_indices(self, indices: ArrayLike) -> np.ndarray:
        return self.x_train[self.check_indices(indices)]

    def sample(self, n: int, rng: RandomLike) -> tuple[np.ndarray, np.ndarray]:
        """n training rows drawn uniformly: ``(labels [n, 1], images [n, H, W, C])``."""
        rows = as_generator(rng).integers(0, self.num_observations, size=check_count(n))
        return self.y_train[rows][:, None].copy(), self.x_train[rows]

    def sample_factors(self, n: int, rng: RandomLike) -> np.ndarray:
        """Labels ``[n, 1]`` of n uniformly drawn rows (the data's label frequencies)."""
        return self.sample(n, rng)[0]

    def observations_from_factors(self, factors: ArrayLike, rng: RandomLike | None = None) -> np.ndarray:
        """One image per requested label (see the module docstring for which one)."""
        labels = self.check_factors(factors)[:, 0]
        rows = np.empty(len(labels), dtype=np.int64)
        generator = None if rng is None else as_generator(rng)
        for label in np.unique(labels):
            where = np.flatnonzero(labels == label)
            candidates = self._rows_of_label[label]
            if len(candidates) == 0:
                raise ValueError(f"{self.name} has no training image with label {label}")
            if generator is None:
                rows[where] = candidates[np.arange(len(where)) % len(candidates)]
            else:
                rows[where] = candidates[generator.integers(0, len(candidates), len(where))]
        return self.x_train[rows]


def _from_idx_directory(directory: str, name: str) -> LabelledImages:
    arrays = {}
    for key, stem in _IDX_FILES.items():
        candidates = [os.path.join(directory, stem + suffix) for suffix in (".gz", "")]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            raise FileNotFoundError(f"{name}: neither {candidates[0]} nor {candidates[1]} "
                                    "exists")
        arrays[key] = read_idx(found)
    return LabelledImages(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], name=name)


def _keras_load(dataset: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``keras.datasets.<dataset>.load_data()`` (a seam that tests replace)."""
    import keras

    return getattr(keras.datasets, dataset).load_data()


# Files keras.datasets keeps in its cache (KERAS_HOME/datasets), by data set.
_KERAS_CACHE_FILES = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": tuple(os.path.join("fashion-mnist", stem + ".gz") for stem in _IDX_FILES.values()),
}


def _keras_cache_dir() -> str:
    from keras.src.backend import config

    return os.path.join(os.path.expanduser(config.keras_home()), "datasets")


def _unreadable(path: str) -> bool:
    """Whether a cached file fails to read back whole (a damaged zip or gzip stream)."""
    import zipfile
    import zlib

    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                while stream.read(1 << 20):
                    pass
        else:
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is not None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        return True
    return False


def _keras_or_idx(dataset: str, name: str, directory: str | os.PathLike[str] | None) -> LabelledImages:
    if directory is not None:
        return _from_idx_directory(os.fspath(directory), name)
    try:
        (x_train, y_train), (x_test, y_test) = _keras_load(dataset)
    except Exception as error:  # Keras wraps network failures in a bare Exception
        cached = [os.path.join(_keras_cache_dir(), file) for file in _KERAS_CACHE_FILES.get(dataset, ())]
        damaged = [path for path in cached if os.path.isfile(path) and _unreadable(path)]
        if damaged:
            raise ValueError(
                f"could not load {name}: the cached file {', '.join(damaged)} is damaged "
                f"({type(error).__name__}: {error}); delete it so that keras.datasets downloads it again"
            ) from error
        from refvae.data.cache import DownloadError

        raise DownloadError(
            f"could not load {name} through keras.datasets.{dataset} (offline?): {error}. "
            f"Offline alternative: {_OFFLINE_HINT}."
        ) from error
    return LabelledImages(x_train, y_train, x_test, y_test, name=name)


def mnist(directory: str | os.PathLike[str] | None = None) -> LabelledImages:
    """MNIST: 60,000 + 10,000 handwritten digits, 28 × 28, labels 0-9.

    Args:
        directory: read the four IDX files (``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
            ``t10k-labels-idx1-ubyte[.gz]``) from here instead of ``keras.datasets``.

    Returns:
        :class:`LabelledImages` (float32 ``[n, 28, 28, 1]`` in [0, 1]).

    Raises:
        DownloadError (a RuntimeError): offline and not cached by Keras; the message names
            :func:`digits`.
        ValueError: a damaged file in Keras' cache; the message names it.
    """
    return _keras_or_idx("mnist", "MNIST", directory)


def fashion_mnist(directory: str | os.PathLike[str] | None = None) -> LabelledImages:
    """Fashion-MNIST: 60,000 + 10,000 clothing images, 28 × 28, 10 classes.

    Same arguments, return value and errors as :func:`mnist` (same IDX file names).
    """
    return _keras_or_idx("fashion_mnist", "Fashion-MNIST", directory)


def digits(test_size: float = 0.2, seed: int = 0) -> LabelledImages:
    """scikit-learn's 1,797 handwritten digits, 8 × 8, values scaled to [0, 1]; offline.

    Args:
        test_size: fraction of images put in the test split (0 <= test_size < 1),
            stratified by label.
        seed: int seed of the split.

    Returns:
        :class:`LabelledImages` (float32 ``[n, 8, 8, 1]``).

    Example:
        >>> data = digits()
        >>> data.x_train.shape[1:], data.factor_sizes
        ((8, 8, 1), (10,))
    """
    if not 0.0 <= float(test_size) < 1.0:
        raise ValueError(f"test_size must be in [0, 1), got {test_size}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = bunch.images, bunch.target
    rng = as_generator(seed, "seed")
    test = np.zeros(len(labels), dtype=bool)
    for label in range(10):
        rows = rng.permutation(np.flatnonzero(labels == label))
        test[rows[:int(round(test_size * len(rows)))]] = True
    return LabelledImages(images[~test], labels[~test], images[test], labels[test],
                          scale=16.0, name="digits")
