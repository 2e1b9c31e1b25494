"""Shared pieces of the disentanglement metrics.

- input checks that every metric runs before any work (shapes, lengths, finiteness);
- the histogram discretisation of codes used by MIG and modularity (disentanglement_lib
  convention: ``num_bins`` equal-width bins over each code's own observed range);
- a vectorised plug-in mutual information between every discretised code and every factor,
  built from one ``np.bincount`` joint histogram per factor (the same numbers as looping
  ``sklearn.metrics.mutual_info_score`` over (code, factor) pairs, at a fraction of the cost);
- the data protocol: sampling factors from a ground-truth data set and encoding the
  observations through a ``representation`` callable;
- the chunked log-mean-exp of one-dimensional Gaussian mixtures behind the sampled MIG
  (001 eqs 5-6) and the per-dimension I(x; z_j).

A ground-truth data set is any object with ``factor_sizes`` (a sequence of ints),
``sample_factors(n, rng)`` (int array [n, K]) and ``observations_from_factors(factors)``
(array [n, ...]). A representation is a callable from observations (NumPy) to codes [n, D].

Example:
    >>> import numpy as np
    >>> from refvae.metrics import utils
    >>> codes = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> utils.discretize(codes, num_bins=2)[:, 0].tolist()
    [0, 0, 1, 1]
"""

import math
import numbers

import numpy as np

__all__ = [
    "as_rng",
    "check_codes",
    "check_factors",
    "check_data",
    "check_same_length",
    "discretize",
    "as_labels",
    "discrete_entropy",
    "discrete_mutual_info_matrix",
    "sample_representation",
    "split_train_test",
    "gaussian_mixture_log_means",
]


# ----------------------------------------------------------------------------- checks


def as_rng(rng, name="rng"):
    """A ``numpy.random.Generator`` from a Generator or an int seed (same seed, same numbers)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def check_positive_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum``; TypeError/ValueError naming ``name`` otherwise."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_codes(codes, name="codes", min_dims=1):
    """Codes as a finite float64 array [N, D] with N >= 1 and D >= ``min_dims``."""
    if np.iscomplexobj(codes):
        # a float64 cast would drop the imaginary part with only a ComplexWarning
        raise TypeError(f"{name} must be real, got complex values")
    try:
        array = np.asarray(codes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array [N, D]: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D] (2-D), got shape {array.shape}")
    if array.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one row, got shape {array.shape}")
    if array.shape[1] < min_dims:
        raise ValueError(f"{name} must have at least {min_dims} columns (codes), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return array


def check_factors(factors, name="factors"):
    """Discrete factors as an int64 array [N, K] (integer-valued floats accepted)."""
    array = np.asarray(factors)
    if array.ndim == 1:
        raise ValueError(f"{name} must have shape [N, K] (2-D); for one factor pass {name}[:, None]")
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [N, K] (2-D), got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one row and one factor, got shape {array.shape}")
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind != "f":
        raise TypeError(f"{name} must hold integer factor values, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
        raise ValueError(f"{name} must hold integer factor values (discrete factors)")
    return array.astype(np.int64)


def check_same_length(**arrays):
    """Raise ValueError unless all given arrays have the same number of rows."""
    lengths = {name: np.shape(array)[0] for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"the inputs must have the same number of rows (N): {described}")


def check_data(data, name="data"):
    """Check the ground-truth data protocol; return the factor sizes as a tuple of ints."""
    for attribute in ("factor_sizes", "sample_factors", "observations_from_factors"):
        if not hasattr(data, attribute):
            raise TypeError(
                f"{name} must have factor_sizes, sample_factors(n, rng) and "
                f"observations_from_factors(factors); it has no {attribute!r}"
            )
    sizes = tuple(int(size) for size in data.factor_sizes)
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{name}.factor_sizes must be a non-empty sequence of positive ints, got {sizes}")
    return sizes


def check_representation(representation, name="representation"):
    if not callable(representation):
        raise TypeError(f"{name} must be a callable: observations -> codes [n, D]")


# ----------------------------------------------------------------------------- data protocol


def encode(data, representation, factors, batch_size=64, name="representation"):
    """Codes [n, D] of the observations of ``factors`` [n, K], encoded in batches."""
    codes = []
    for start in range(0, factors.shape[0], batch_size):
        observations = data.observations_from_factors(factors[start : start + batch_size])
        batch_codes = np.asarray(representation(observations), dtype=np.float64)
        expected = min(batch_size, factors.shape[0] - start)
        if batch_codes.ndim != 2 or batch_codes.shape[0] != expected:
            raise ValueError(
                f"{name} must map {expected} observations to codes [{expected}, D], "
                f"got shape {batch_codes.shape}"
            )
        codes.append(batch_codes)
    codes = np.concatenate(codes, axis=0)
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{name} returned non-finite codes")
    return codes


def sample_factors(data, num_points, rng, name="data"):
    """``data.sample_factors(num_points, rng)`` checked to be an int array [num_points, K]."""
    sizes = check_data(data, name)
    factors = check_factors(data.sample_factors(num_points, rng), name=f"{name}.sample_factors(...)")
    if factors.shape != (num_points, len(sizes)):
        raise ValueError(
            f"{name}.sample_factors({num_points}, rng) must return shape {(num_points, len(sizes))}, "
            f"got {factors.shape}"
        )
    return factors


def sample_representation(data, representation, num_points, rng, batch_size=64):
    """Sample ``num_points`` factor vectors uniformly and encode their observations.

    Args:
        data: ground-truth data set (``factor_sizes``, ``sample_factors``,
            ``observations_from_factors``).
        representation: callable, observations -> codes [n, D] (NumPy).
        num_points: number of points.
        rng: ``numpy.random.Generator`` or int seed.
        batch_size: observations encoded per call of ``representation``.

    Returns:
        (codes float64 [num_points, D], factors int64 [num_points, K]).
    """
    check_data(data)
    check_representation(representation)
    num_points = check_positive_int(num_points, "num_points")
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = as_rng(rng)
    factors = sample_factors(data, num_points, rng)
    return encode(data, representation, factors, batch_size), factors


def split_train_test(*arrays, train_fraction=0.8):
    """Split arrays by rows: the first ceil(N · train_fraction) rows train, the rest test.

    The points a metric samples are independent draws, so the first rows are as good a
    training set as any random subset (disentanglement_lib's convention, batch-first here).

    Args:
        *arrays: one or more arrays with the same number of rows N >= 2.
        train_fraction: float in (0, 1); both parts must be non-empty.

    Returns:
        list (a_train, a_test, b_train, b_test, ...), as ``sklearn``'s ``train_test_split``.

    Example:
        >>> import numpy as np
        >>> codes_train, codes_test = split_train_test(np.arange(10)[:, None], train_fraction=0.75)
        >>> codes_train.shape, codes_test.shape
        ((8, 1), (2, 1))
    """
    if not arrays:
        raise ValueError("split_train_test needs at least one array")
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, numbers.Real):
        raise TypeError(f"train_fraction must be a float in (0, 1), got {type(train_fraction).__name__}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    arrays = [np.asarray(array) for array in arrays]
    if any(array.ndim < 1 for array in arrays):
        raise ValueError("every array to split must have at least one dimension (rows)")
    check_same_length(**{f"arrays[{i}]": array for i, array in enumerate(arrays)})
    num_points = arrays[0].shape[0]
    # round first so that e.g. 10 × 0.7 = 7.000000000000001 keeps 7 rows, not 8
    num_train = int(math.ceil(round(num_points * train_fraction, 9)))
    if num_train >= num_points:
        raise ValueError(
            f"train_fraction={train_fraction} of {num_points} rows leaves no test rows; "
            f"pass more rows or a smaller fraction"
        )
    split = []
    for array in arrays:
        split.extend([array[:num_train], array[num_train:]])
    return split


# ----------------------------------------------------------------------------- discrete MI


# Rows of one block of ``discretize``: a [block, D] slice of float64 codes stays in cache.
_DISCRETIZE_ROWS = 1 << 13


def discretize(codes, num_bins=20):
    """Histogram discretisation of each code into ``num_bins`` equal-width bins.

    The disentanglement_lib convention: the edges are ``np.histogram``'s over the code's own
    observed range; the last edge is dropped and ``np.digitize`` assigns bins, so the maximum
    falls in the last bin. Labels here are 0 … num_bins − 1 (disentanglement_lib's 1 … num_bins
    shifted by one, which changes no mutual information).

    Args:
        codes: array [N, D].
        num_bins: number of bins per code (>= 1).

    Returns:
        int64 array [N, D] of bin indices.
    """
    codes = check_codes(codes)
    num_bins = check_positive_int(num_bins, "num_bins")
    # np.histogram_bin_edges(column, bins) is np.linspace(min, max, bins + 1) (widened by
    # ±0.5 for a constant column), whose edge b is exactly b * step + min (the last one
    # exactly max). The arithmetic guess, then a one-step correction against those exact
    # edges, gives the bins of np.digitize(column, edges[:-1]) without its binary search.
    # The work runs over blocks of _DISCRETIZE_ROWS rows (each column of a block in turn), so
    # every temporary is small and reused: no array of the codes' size is allocated but the
    # labels, and a first call does not pay for touching fresh memory (page faults) that a
    # transposed copy and whole-column temporaries cost (benchmarks/bench_mig_first_call.py).
    lows, highs = codes.min(axis=0), codes.max(axis=0)
    labels = np.empty(codes.shape, dtype=np.int64)
    for start in range(0, codes.shape[0], _DISCRETIZE_ROWS):
        block = codes[start:start + _DISCRETIZE_ROWS]
        for j in range(codes.shape[1]):
            column, low, high = block[:, j], lows[j], highs[j]
            if low == high:
                low, high = low - 0.5, high + 0.5
            step = (high - low) / num_bins
            bins = np.floor((column - low) / step)
            np.clip(bins, 0, num_bins - 1, out=bins)
            upper_edge = np.where(bins + 1 < num_bins, (bins + 1) * step + low, high)
            bins -= (bins > 0) & (column < bins * step + low)
            bins += (bins < num_bins - 1) & (column >= upper_edge)
            labels[start:start + _DISCRETIZE_ROWS, j] = bins
    return labels


def as_labels(values):
    """Column-wise compact labels 0 … n_k − 1 of a discrete array [N, K] and their counts n_k.

    Non-negative integer columns with a small maximum are used as they are (empty values
    contribute nothing to a histogram); other columns are re-indexed with ``np.unique``.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu" and values.shape[0] > 0:
        low, high = values.min(axis=0), values.max(axis=0)
        if np.all(low >= 0) and np.all(high < 4 * values.shape[0] + 64):
            return values.astype(np.int64, copy=False), [int(size) + 1 for size in high]
    labels = np.empty(values.shape, dtype=np.int64)
    sizes = []
    for k in range(values.shape[1]):
        uniques, inverse = np.unique(values[:, k], return_inverse=True)
        labels[:, k] = inverse.reshape(-1)
        sizes.append(len(uniques))
    return labels, sizes


def _entropy_from_counts(counts, total, axis=None):
    """Σ_b (n_b/N) log(N/n_b) of histogram counts (over ``axis``).

    Written per cell, not as log N − (1/N) Σ n_b log n_b: a value that holds all N points
    contributes log(N/N) = 0 exactly, so a constant column has entropy exactly 0 (the
    difference form leaves round-off of order 1e-16 there).
    """
    counts = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore"):
        terms = np.where(counts > 0, counts * np.log(total / np.maximum(counts, 1.0)), 0.0)
    return np.sum(terms, axis=axis) / total


def discrete_entropy(labels):
    """Plug-in entropy (nats) of each column of a discrete array [N, K] -> [K]."""
    labels, sizes = as_labels(np.asarray(labels).reshape(len(labels), -1))
    total = labels.shape[0]
    return np.array(
        [float(_entropy_from_counts(np.bincount(labels[:, k], minlength=sizes[k]), total)) for k in range(labels.shape[1])]
    )


# Largest number of joint factor values histogrammed together (see discrete_mutual_info_matrix).
_GROUP_VALUES = 2048


def discrete_mutual_info_matrix(code_labels, factor_labels, num_code_labels=None, return_factor_entropy=False):
    """Plug-in I(code_j; factor_k) in nats for every pair: [D, K].

    For a group of factors one joint histogram of all D codes is built with a single
    ``np.bincount`` over (code index, code label, factor labels), then

        I(a; b) = Σ_ab p̂(a, b) log[p̂(a, b) / (p̂(a) p̂(b))] = (1/N) Σ_ab n_ab log[(n_ab N) / (n_a n_b)],

    the same quantity as ``sklearn.metrics.mutual_info_score(a, b)``. Each cell's ratio is
    formed from integer counts (exact in float64 while n_ab N < 2⁵³), so wherever the counts
    factorise exactly the log is exactly 0: a code or factor that takes a single value
    (n_a = N, n_ab = n_b) has I = 0 exactly, not the 1e-16 of round-off that the
    equivalent form log N + (1/N)(Σ n_ab log n_ab − Σ n_a log n_a − Σ n_b log n_b) leaves
    and that a ratio of mutual informations (modularity) would read as information.

    Args:
        code_labels: discrete array [N, D] (e.g. from ``discretize``).
        factor_labels: discrete array [N, K].
        num_code_labels: if given, the code labels are known to be int64 in
            0 … num_code_labels − 1 (as ``discretize`` returns them) and are used as they are.
        return_factor_entropy: also return the plug-in entropy of each factor [K], read
            off the same histograms.

    Returns:
        float64 array [D, K] (and [K] with ``return_factor_entropy``).
    """
    if num_code_labels is None:
        code_labels, code_sizes = as_labels(code_labels)
    else:
        code_sizes = [int(num_code_labels)] * code_labels.shape[1]
    factor_labels, factor_sizes = as_labels(factor_labels)
    num_points, num_codes = code_labels.shape
    if factor_labels.shape[0] != num_points:
        raise ValueError(
            f"code_labels and factor_labels must have the same number of rows, "
            f"got {num_points} and {factor_labels.shape[0]}"
        )
    width = max(code_sizes)

    def mutual_info_from_joint(pair, code_counts, factor_counts):
        # (1/N) Σ_ab n_ab log[(n_ab N) / (n_a n_b)] for each code: pair [D, width, V].
        expected = code_counts[:, :, None] * factor_counts[None, None, :]
        occupied = pair > 0
        ratio = np.where(occupied, pair * float(num_points), 1.0) / np.where(occupied, expected, 1.0)
        return np.sum(pair * np.log(ratio), axis=(1, 2)) / num_points

    mutual_info = np.empty((num_codes, factor_labels.shape[1]))
    factor_entropy = np.empty(factor_labels.shape[1])
    # Factors are histogrammed in groups whose joint value count stays small (mixed radix,
    # at most _GROUP_VALUES values), so one bincount over the D codes of a point serves
    # several factors and each histogram still lives in cache. Code j occupies the labels
    # j*width ... (j+1)*width - 1 of the flat histogram.
    groups, current, values = [], [], 1
    for k, size in enumerate(factor_sizes):
        if current and values * size > _GROUP_VALUES:
            groups.append(current)
            current, values = [], 1
        current.append(k)
        values *= size
    groups.append(current)
    code_offsets = np.arange(num_codes, dtype=np.int64) * width
    joint_index = np.empty(code_labels.shape, dtype=np.int64)
    for group in groups:
        sizes = [factor_sizes[k] for k in group]
        stride = int(np.prod(sizes))
        combined = np.zeros(num_points, dtype=np.int64)
        for k, size in zip(group, sizes):
            combined = combined * size + factor_labels[:, k]
        np.add(code_labels, code_offsets, out=joint_index)
        joint_index *= stride
        joint_index += combined[:, None]
        joint = np.bincount(joint_index.reshape(-1), minlength=num_codes * width * stride)
        joint = joint.reshape(num_codes, width, *sizes).astype(np.float64)
        code_counts = joint.reshape(num_codes, width, -1).sum(axis=2)  # [D, width]
        for position, k in enumerate(group):
            others = tuple(2 + i for i in range(len(group)) if i != position)
            pair = joint.sum(axis=others) if others else joint  # [D, width, |V_k|]
            factor_counts = pair[0].sum(axis=0)  # [|V_k|]
            mutual_info[:, k] = mutual_info_from_joint(pair, code_counts, factor_counts)
            factor_entropy[k] = _entropy_from_counts(factor_counts, num_points)
    # A sum of positive and negative cell terms can still round to -1e-17 where the counts
    # are independent only up to rounding; mutual information is >= 0.
    mutual_info = np.maximum(mutual_info, 0.0)
    return (mutual_info, factor_entropy) if return_factor_entropy else mutual_info


# ----------------------------------------------------------------------------- Gaussian mixtures

_LOG_2PI = math.log(2.0 * math.pi)
_TINY_SUM = 1e-30  # float32 sums below this are recomputed in float64


def gaussian_mixture_log_means(z, sample_index, loc, scale, grid_shape=None, factors=(), chunk_elements=2**23):
    """Chunked log-mean-exp of 1-D Gaussian mixtures over all N components, per dimension.

    For each sample z[i, j] and dimension j this returns

        log q(z_ij)            = log (1/N)   Σ_{n}        N(z_ij; loc[n, j], scale[n, j]²)
        log q(z_ij | v_k = v)  = log (1/N_v) Σ_{n: v_k(n)=v} N(z_ij; loc[n, j], scale[n, j]²)

    where the N components are the points of a factor grid in row-major order
    (``grid_shape``) and v is the value of factor k at the sample's own data point
    ``sample_index[i]`` (001 eq 5: the subset X_{v_k} of the grid that shares it).

    The densities are evaluated with TensorFlow in float32 against a per-dimension shift
    (the largest log normaliser), ``chunk_elements`` at a time, so memory is
    O(chunk_elements) whatever N; logs and means are taken in float64. A sum that underflows
    in float32 (extreme scale ratios) is recomputed exactly in float64 with NumPy.

    Args:
        z: samples [S, D].
        sample_index: int [S], the grid point each sample was drawn from.
        loc, scale: posterior parameters [N, D] (scale > 0).
        grid_shape: factor sizes with prod == N (default (N,): no factor subsets).
        factors: indices of the factors whose conditional densities are wanted.
        chunk_elements: samples × N evaluated per step.

    Returns:
        (log_marginal [S, D], log_conditional [len(factors), S, D]) float64.
    """
    import tensorflow as tf

    num_samples, num_dims = z.shape
    num_components = loc.shape[0]
    grid_shape = tuple(grid_shape) if grid_shape is not None else (num_components,)
    factors = tuple(int(k) for k in factors)
    values = np.stack(np.unravel_index(sample_index, grid_shape), axis=1) if factors else None
    chunk = max(1, min(num_samples, chunk_elements // num_components))

    log_normaliser = -np.log(scale) - 0.5 * _LOG_2PI  # [N, D] float64
    shift = log_normaliser.max(axis=0)  # [D]
    last = len(grid_shape) - 1

    @tf.function(reduce_retracing=True)
    def subset_sums(z_chunk, loc_j, inv_scale_j, log_norm_j, value_chunk):
        # Float32 density ratios exp(log N(z; loc, scale) - shift) in [0, 1]: [s, N].
        standardised = (z_chunk[:, None] - loc_j[None, :]) * inv_scale_j[None, :]
        ratios = tf.exp(log_norm_j[None, :] - 0.5 * standardised * standardised)
        grid = tf.reshape(ratios, [-1, *grid_shape])
        # One pass reduces the last factor; every other factor's subset sums come from it.
        if last > 0:
            partial = tf.reduce_sum(grid, axis=-1)  # [s, V_0, ..., V_{K-2}]
            total = tf.reduce_sum(partial, axis=list(range(1, last + 1)))
        else:
            total = tf.reduce_sum(grid, axis=1)
        conditional = []
        for k in factors:
            if k == last:
                sums = tf.reduce_sum(tf.reshape(grid, [-1, num_components // grid_shape[-1], grid_shape[-1]]), axis=1)
            else:
                sums = tf.reduce_sum(partial, axis=[a for a in range(1, last + 1) if a != k + 1])
            conditional.append(tf.gather(sums, value_chunk[:, len(conditional)], batch_dims=1))
        return total, tf.stack(conditional, axis=0) if factors else tf.zeros([0, tf.shape(z_chunk)[0]])

    log_marginal = np.empty((num_samples, num_dims))
    log_conditional = np.empty((len(factors), num_samples, num_dims))
    value_columns = values[:, list(factors)] if factors else np.zeros((num_samples, 0), dtype=np.int64)
    subset_sizes = np.array([num_components // grid_shape[k] for k in factors], dtype=np.float64)
    for j in range(num_dims):
        loc_j = tf.constant(loc[:, j], tf.float32)
        inv_scale_j = tf.constant(1.0 / scale[:, j], tf.float32)
        log_norm_j = tf.constant(log_normaliser[:, j] - shift[j], tf.float32)
        for start in range(0, num_samples, chunk):
            stop = min(start + chunk, num_samples)
            total, conditional = subset_sums(
                tf.constant(z[start:stop, j], tf.float32),
                loc_j,
                inv_scale_j,
                log_norm_j,
                tf.constant(value_columns[start:stop], tf.int32),
            )
            total = total.numpy().astype(np.float64)
            conditional = conditional.numpy().astype(np.float64)
            with np.errstate(divide="ignore"):
                log_marginal[start:stop, j] = np.log(total) + shift[j] - math.log(num_components)
                log_conditional[:, start:stop, j] = (
                    np.log(conditional) + shift[j] - np.log(subset_sizes)[:, None]
                )
            underflow = (total < _TINY_SUM) | np.any(conditional < _TINY_SUM, axis=0)
            for i in np.flatnonzero(underflow) + start:
                log_marginal[i, j], log_conditional[:, i, j] = _exact_log_means(
                    z[i, j], loc[:, j], scale[:, j], grid_shape, factors, value_columns[i]
                )
    return log_marginal, log_conditional


def _exact_log_means(z_value, loc_j, scale_j, grid_shape, factors, sample_values):
    """Float64 log-mean-exp for one sample (the underflow fallback)."""
    from scipy.special import logsumexp

    log_density = -0.5 * ((z_value - loc_j) / scale_j) ** 2 - np.log(scale_j) - 0.5 * _LOG_2PI
    marginal = logsumexp(log_density) - math.log(log_density.shape[0])
    grid = log_density.reshape(grid_shape)
    conditional = np.empty(len(factors))
    for position, k in enumerate(factors):
        subset = np.take(grid, sample_values[position], axis=k)
        conditional[position] = logsumexp(subset) - math.log(subset.size)
    return marginal, conditional
