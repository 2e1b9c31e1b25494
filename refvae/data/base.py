"""The ground-truth-data protocol every metric and experiment in refvae relies on.

A ground-truth data set is a generative process with K discrete factors of variation
v = (v_1, ..., v_K), factor k taking the values 0, ..., |V_k| - 1, and a deterministic map
from factors to an observation x. Disentanglement metrics (001 §5, eqs 5-6; the
BetaVAE, FactorVAE, DCI and SAP scores) sample factor vectors, render them, encode the
observations and compare codes with factors, so they need exactly four things:

- ``factor_names`` and ``factor_sizes`` (|V_1|, ..., |V_K|);
- ``sample_factors(n, rng)``: n factor vectors, uniform and independent by default;
- ``observations_from_factors(factors)``: the observations of given factor vectors.

The factor grid is ordered row-major (the last factor varies fastest), as the official
dSprites release stores its images, so the flat index of a factor vector is

    index(v) = sum_k v_k * prod_{l > k} |V_l|,

computed by :meth:`GroundTruthData.index_of` and inverted by :meth:`GroundTruthData.factors_of`.

Example:
    >>> import numpy as np, refvae
    >>> data = refvae.data.dsprites()
    >>> factors, images = data.sample(8, np.random.default_rng(0))
    >>> factors.shape, images.shape
    ((8, 5), (8, 64, 64, 1))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["FactorData", "GroundTruthData", "Representation", "as_generator", "check_count"]

# What the metrics score: observations (NumPy, [n, ...]) -> codes [n, D] (NumPy, or anything
# np.asarray reads: the metrics convert it).
Representation = Callable[[np.ndarray], ArrayLike]


class FactorData(Protocol):
    """What a disentanglement metric needs of a data set: any object with these three members.

    Every :class:`GroundTruthData` is one; so is an object written for another library once
    wrapped (``refvae.compat.disentanglement_lib.GroundTruthDataAdapter``). The metrics call
    the two methods with positional arguments only.
    """

    @property
    def factor_sizes(self) -> Sequence[int]:
        """(|V_1|, ..., |V_K|), the number of values of each factor."""
        ...

    def sample_factors(self, n: int, rng: np.random.Generator, /) -> np.ndarray:
        """n factor vectors, int array ``[n, K]``."""
        ...

    def observations_from_factors(self, factors: np.ndarray, /) -> np.ndarray:
        """The observations ``[n, ...]`` of factor vectors ``[n, K]``."""
        ...


# One rule each, in refvae.checks; the names below are this package's own for them.
as_generator = checks.rng


def check_count(n: object, name: str = "n") -> int:
    """Returns ``n`` as an int after checking it is a non-negative integer."""
    return checks.integer(n, name, 0)


def _integer_array(values: ArrayLike, name: str) -> np.ndarray:
    """Converts ``values`` to int64, accepting floats only when they are whole numbers."""
    array = np.asarray(values)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{name} must hold whole numbers (factor value indices)")
    return array.astype(np.int64, copy=False)


class GroundTruthData:
    """Base class: a data set whose observations are a function of known discrete factors.

    A subclass sets ``factor_names``, ``factor_sizes`` and ``observation_shape`` (in
    ``__init__`` or as class attributes) and implements :meth:`_render`, the map from a
    validated int64 factor array ``[n, K]`` to float32 observations ``[n, *observation_shape]``.
    Everything else (validation, sampling, indexing, the ``tf.data`` pipeline) is shared.

    Attributes:
        factor_names: tuple of K factor names.
        factor_sizes: tuple of K ints, the number of values of each factor.
        observation_shape: shape of one observation, ``(height, width, channels)``.
        factor_values: optional tuple of K arrays with the physical value of each factor
            index (for example the dSprites scales 0.5 ... 1); ``None`` where not meaningful.
    """

    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    observation_shape: tuple[int, ...] = ()
    factor_values: tuple[np.ndarray, ...] | None = None

    # --- size and indexing -------------------------------------------------------------

    @property
    def num_factors(self) -> int:
        """K, the number of factors."""
        return len(self.factor_sizes)

    @property
    def num_observations(self) -> int:
        """Number of observations: the size of the factor grid, prod_k |V_k|."""
        return int(np.prod(self.factor_sizes, dtype=np.int64))

    def check_factors(self, factors: ArrayLike, name: str = "factors") -> np.ndarray:
        """Validates a factor array and returns it as int64 ``[n, K]``.

        Raises:
            TypeError: non-integer values.
            ValueError: wrong shape, or a value outside ``0 .. factor_sizes[k] - 1``.
        """
        array = _integer_array(factors, name)
        if array.ndim != 2 or array.shape[1] != self.num_factors:
            raise ValueError(
                f"{name} must have shape [n, {self.num_factors}] (one column per factor "
                f"{self.factor_names}), got shape {array.shape}"
            )
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        bad = (array < 0) | (array >= sizes)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}[{row}, {column}] = {array[row, column]} is out of range for factor "
                f"'{self.factor_names[column]}' (values 0..{sizes[column] - 1})"
            )
        return array

    def check_indices(self, indices: ArrayLike, name: str = "indices") -> np.ndarray:
        """Validates flat observation indices and returns them as int64 ``[n]``."""
        array = _integer_array(indices, name)
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional [n], got shape {array.shape}")
        bad = (array < 0) | (array >= self.num_observations)
        if bad.any():
            position = int(np.argmax(bad))
            raise ValueError(
                f"{name}[{position}] = {array[position]} is out of range "
                f"(0..{self.num_observations - 1})"
            )
        return array

    def index_of(self, factors: ArrayLike) -> np.ndarray:
        """Flat row-major index of each factor vector: sum_k v_k prod_{l>k} |V_l|.

        Args:
            factors: int array ``[n, K]``.

        Returns:
            int64 array ``[n]``.
        """
        factors = self.check_factors(factors)
        return np.ravel_multi_index(tuple(factors.T), self.factor_sizes).astype(np.int64)

    def factors_of(self, index: ArrayLike) -> np.ndarray:
        """Factor vectors of flat row-major indices (inverse of :meth:`index_of`).

        Args:
            index: int array ``[n]`` with values in ``0 .. num_observations - 1``.

        Returns:
            int64 array ``[n, K]``.
        """
        index = self.check_indices(index, "index")
        return np.stack(np.unravel_index(index, self.factor_sizes), axis=1).astype(np.int64)

    # --- sampling and rendering --------------------------------------------------------

    def sample_factors(self, n: int, rng: checks.RandomLike) -> np.ndarray:
        """Samples n factor vectors, each factor uniform and independent of the others.

        Args:
            n: number of vectors (int >= 0).
            rng: ``numpy.random.Generator`` (or an int seed).

        Returns:
            int64 array ``[n, K]``.
        """
        n = check_count(n)
        rng = as_generator(rng)
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        return rng.integers(0, sizes, size=(n, self.num_factors), dtype=np.int64)

    def observations_from_factors(self, factors: ArrayLike) -> np.ndarray:
        """Renders the observations of the given factor vectors.

        Args:
            factors: int array ``[n, K]``, values within ``factor_sizes``.

        Returns:
            float32 array ``[n, *observation_shape]``; the same factors always give the
            same observations.
        """
        factors = self.check_factors(factors)
        return self._render(factors)

    def observations_from_indices(self, indices: ArrayLike) -> np.ndarray:
        """Observations of flat indices ``0 .. num_observations - 1`` (float32)."""
        return self._render(self.factors_of(indices))

    def sample_indices(self, n: int, rng: checks.RandomLike) -> np.ndarray:
        """Flat indices of n observations drawn as the data set's sampler draws them.

        What training uses to draw a batch: on a factor grid the indices of
        :meth:`sample_factors` (so correlated and held-out variants keep their sampling),
        on labelled images uniform training rows.

        Returns:
            int64 array ``[n]``, valid for :meth:`observations_from_indices`.
        """
        return self.index_of(self.sample_factors(n, rng))

    def sample(self, n: int, rng: checks.RandomLike) -> tuple[np.ndarray, np.ndarray]:
        """Samples n factor vectors and renders them.

        Returns:
            ``(factors, observations)``: int64 ``[n, K]`` and float32
            ``[n, *observation_shape]``.
        """
        factors = self.sample_factors(n, rng)
        return factors, self.observations_from_factors(factors)

    def _render(self, factors: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _render(factors)")

    # --- tf.data -----------------------------------------------------------------------

    def _epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Flat indices visited in one epoch: a permutation of all observations.

        Subclasses that sample non-uniformly (correlated factors, held-out splits)
        override this.
        """
        return rng.permutation(self.num_observations)

    def iterate_batches(self, batch_size: int, seed: int = 0, with_factors: bool = False, drop_remainder: bool = True,
                        repeat: bool = False) -> Iterator[np.ndarray | tuple[np.ndarray, np.ndarray]]:
        """Yields NumPy batches in shuffled order, rendering each batch on demand.

        One epoch is one pass over :meth:`_epoch_indices` (for a plain data set, every
        observation once, in a permutation drawn from ``seed``). Only the index permutation
        (8 bytes per observation) and one batch of observations are held in memory.

        Args:
            batch_size: observations per batch (int >= 1).
            seed: int seed of the shuffling; the same seed gives the same order.
            with_factors: also yield the factor vectors ``[batch, K]`` (int64).
            drop_remainder: drop the last incomplete batch of an epoch.
            repeat: start a new epoch (new permutation) after each one, forever.

        Yields:
            ``observations`` or ``(observations, factors)``.
        """
        batch_size = check_count(batch_size, "batch_size")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rng = as_generator(seed, "seed")
        while True:
            indices = self._epoch_indices(rng)
            if drop_remainder and len(indices) < batch_size:
                raise ValueError(
                    f"batch_size {batch_size} is larger than the {len(indices)} observations "
                    "of an epoch and drop_remainder=True"
                )
            stop = len(indices) - (len(indices) % batch_size if drop_remainder else 0)
            for start in range(0, stop, batch_size):
                batch = indices[start:start + batch_size]
                observations = self.observations_from_indices(batch)
                if with_factors:
                    yield observations, self.factors_of(batch)
                else:
                    yield observations
            if not repeat:
                return

    def as_tf_dataset(self, batch_size: int, seed: int = 0, with_factors: bool = False, drop_remainder: bool = True,
                      repeat: bool = False, prefetch: int | None = None) -> tf.data.Dataset:
        """A shuffled, prefetched ``tf.data.Dataset`` of batches rendered on demand.

        Built on :meth:`iterate_batches`: the data set is never materialised; each batch is
        rendered from sampled indices when TensorFlow asks for it. Iterating the returned
        data set twice gives the same order (the shuffling restarts from ``seed``).

        Args:
            batch_size: observations per batch.
            seed: int seed of the shuffling.
            with_factors: yield ``(observations, factors)`` instead of observations.
            drop_remainder: drop the last incomplete batch (gives a static batch size).
            repeat: repeat epochs forever, each with a new permutation.
            prefetch: number of batches to prefetch (default ``tf.data.AUTOTUNE``).

        Returns:
            ``tf.data.Dataset`` of float32 ``[batch, *observation_shape]`` (and int64
            ``[batch, K]`` factors when ``with_factors``).

        Example:
            >>> ds = refvae.data.dsprites().as_tf_dataset(64, seed=0)
            >>> images = next(iter(ds))   # [64, 64, 64, 1]
        """
        check_count(batch_size, "batch_size")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        as_generator(seed, "seed")
        if prefetch is not None:
            check_count(prefetch, "prefetch")
        import tensorflow as tf  # imported here so that refvae.data stays TensorFlow-free

        batch_dim = batch_size if drop_remainder else None
        observation_spec = tf.TensorSpec((batch_dim, *self.observation_shape), tf.float32)
        if with_factors:
            factor_spec = tf.TensorSpec((batch_dim, self.num_factors), tf.int64)
            signature = (observation_spec, factor_spec)
        else:
            signature = observation_spec

        def generator():
            return self.iterate_batches(batch_size, seed, with_factors, drop_remainder, repeat)

        dataset = tf.data.Dataset.from_generator(generator, output_signature=signature)
        return dataset.prefetch(tf.data.AUTOTUNE if prefetch is None else prefetch)

    def __repr__(self) -> str:
        factors = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return (f"{type(self).__name__}({factors}; {self.num_observations} observations of "
                f"shape {tuple(self.observation_shape)})")
