"""disentanglement_lib's metric API over refvae's metrics, for code written against it.

disentanglement_lib (Locatello et al., ICML 2019) needs TensorFlow 1 and gin. A script that
calls its metrics runs here unchanged after one import change::

    # from disentanglement_lib.evaluation.metrics import mig
    # score = mig.compute_mig(ground_truth_data, representation_function, random_state, num_train=10000)
    from refvae.compat import disentanglement_lib as dlib
    score = dlib.compute_mig(ground_truth_data, representation_function, random_state, num_train=10000)
    score["discrete_mig"]

The conventions accepted are disentanglement_lib's:

- ``ground_truth_data``: an object with ``num_factors``, ``factors_num_values`` and
  ``sample_factors(num, random_state)`` → int [num, K],
  ``sample_observations_from_factors(factors, random_state)`` → observations [num, ...];
- ``representation_function``: observations (NumPy) → codes [num, D] (NumPy);
- ``random_state``: a ``numpy.random.RandomState`` (an int seed is accepted too);
- the function names, argument names and order, and the result keys below; ``artifact_dir``
  is accepted and unused, as in most of disentanglement_lib's metrics. Sample sizes default
  to the ``unsupervised_study_v1`` configuration (disentanglement_lib's own functions
  require them through gin).

Migration table (disentanglement_lib → this module → refvae.metrics):

==========================================  ===================================  ===========================================
disentanglement_lib                         result keys                          refvae.metrics
==========================================  ===================================  ===========================================
``mig.compute_mig``                         ``discrete_mig``                     ``compute_mig`` → ``mig``
``beta_vae.compute_beta_vae_sklearn``       ``train_accuracy``,                  ``beta_vae_score``
                                            ``eval_accuracy``
``factor_vae.compute_factor_vae``           ``train_accuracy``,                  ``factor_vae_score``
                                            ``eval_accuracy``, ``num_active_dims``
``dci.compute_dci``                         ``informativeness_train``,           ``compute_dci`` → ``informativeness_train``,
                                            ``informativeness_test``,            ``informativeness``, ``disentanglement``,
                                            ``disentanglement``, ``completeness``  ``completeness``
``sap_score.compute_sap``                   ``SAP_score``                        ``compute_sap`` → ``sap``
``modularity_explicitness.``                ``modularity_score``,                ``compute_modularity`` → ``modularity``,
``compute_modularity_explicitness``         ``explicitness_score_train``,        ``explicitness_train``, ``explicitness``
                                            ``explicitness_score_test``
``irs.compute_irs``                         ``IRS``, ``num_active_dims``         ``compute_irs`` → ``irs``
``unsupervised_metrics.``                   ``gaussian_total_correlation``,      ``compute_unsupervised_scores`` (same keys)
``unsupervised_metrics``                    ``gaussian_wasserstein_correlation``,
                                            ``gaussian_wasserstein_correlation_norm``,
                                            ``mutual_info_score``
``utils.generate_batch_factor_code``        (codes [D, N], factors [K, N])       ``utils.sample_representation`` (batch-first)
``utils.split_train_test``                  (train, test), columns are points    ``split_train_test`` (rows are points)
``utils.make_discretizer``                  bins [D, N], labels 1 … num_bins     ``utils.discretize`` (labels 0 … num_bins − 1)
``utils.discrete_mutual_info``              [D, K] nats                          ``utils.discrete_mutual_info_matrix``
``utils.discrete_entropy``                  [K] nats                             ``utils.discrete_entropy``
==========================================  ===================================  ===========================================

refvae's definitions follow the papers and disentanglement_lib; where a default differs the
number can differ, and the reason is:

- **FactorVAE**: codes whose global standard deviation is below ``prune_threshold = 0.05``
  are ignored, as Kim & Mnih (ICML 2018) and the ``unsupervised_study_v1`` configuration do;
  disentanglement_lib's function default is 0, which keeps an exactly constant code, whose
  normalised variance 0/0 = NaN then wins every ``argmin`` and collects every vote.
  ``num_active_dims`` is the number of codes kept; disentanglement_lib reports
  the length of its boolean mask, i.e. always D. Pass ``prune_threshold=0.0`` for the old
  function default.
- **SAP**: ``continuous_factors`` defaults to False (the study's setting;
  disentanglement_lib requires it) and may also be one bool per factor.
- **DCI**: the gradient-boosting classifiers are built with a fixed ``random_state=0``, so
  the same codes give the same importances on every run; disentanglement_lib leaves them
  unseeded (tie-breaking between equally good splits then varies from run to run).
- **IRS**: the groups are the factors' own values, as in Suter et al. (ICML 2019, §4);
  disentanglement_lib first bins each factor into 20 equal-width bins, which merges values
  of factors with more than 20 of them (dSprites' orientation and positions).
  ``num_active_dims`` is the number of non-constant codes (disentanglement_lib returns the
  sum of those codes' values).
- **Gaussian total correlation**: taken over the non-constant codes (a constant code is
  independent of the others); disentanglement_lib returns NaN or inf when a code is
  constant.
- **Explicitness** standardises a constant code with a deviation of 1 instead of 0, so a
  dead code does not turn the classifier's input into NaN (disentanglement_lib raises there).
- **Randomness**: MIG, DCI, SAP, modularity/explicitness, IRS and the unsupervised scores
  draw their points as disentanglement_lib does (batch by batch: factors, then their
  observations, from ``random_state``), so the same ``RandomState`` gives the same codes and
  the numbers agree with disentanglement_lib's to rounding (DCI and SAP up to their
  classifiers' own seeds). BetaVAE and FactorVAE draw their points with refvae's procedure
  from a ``numpy.random.Generator`` seeded from ``random_state``: same seed, same numbers,
  but not disentanglement_lib's draws, so those two agree with it up to sampling noise.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import numbers
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks, metrics
from refvae.metrics import discrete, inputs, sampling
from refvae.metrics.beta_vae import check_defined as _beta_vae_defined
from refvae.metrics.dci import check_defined as _dci_defined
from refvae.metrics.irs import check_defined as _irs_defined
from refvae.metrics.majority_vote import check_defined as _factor_vae_defined
from refvae.metrics.mig import check_defined as _mig_defined
from refvae.metrics.modularity import check_defined as _modularity_defined
from refvae.metrics.sap import check_defined as _sap_defined

__all__ = [
    "GroundTruthData",
    "GroundTruthDataAdapter",
    "compute_beta_vae_sklearn",
    "compute_dci",
    "compute_factor_vae",
    "compute_irs",
    "compute_mig",
    "compute_modularity_explicitness",
    "compute_sap",
    "discrete_entropy",
    "discrete_mutual_info",
    "generate_batch_factor_code",
    "install",
    "make_discretizer",
    "split_train_test",
    "unsupervised_metrics",
]

# disentanglement_lib's representation_function: observations [num, ...] -> codes [num, D].
RepresentationFunction: TypeAlias = Callable[[np.ndarray], ArrayLike]
# disentanglement_lib's random_state: a RandomState (an int seed is accepted too).
RandomState: TypeAlias = np.random.RandomState | int
# Codes [N, D] and factors [N, K] of sampled points.
_Points: TypeAlias = tuple[np.ndarray, np.ndarray]

_DATA_ATTRIBUTES = ("num_factors", "factors_num_values", "sample_factors", "sample_observations_from_factors")


def _as_random_state(random_state: RandomState) -> np.random.RandomState:
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        f"random_state must be a numpy.random.RandomState (or an int seed), got {type(random_state).__name__}"
    )


class GroundTruthData:
    """Base class of a ground-truth data set with disentanglement_lib's interface.

    Subclasses define ``num_factors``, ``factors_num_values``, ``observation_shape``,
    ``sample_factors(num, random_state)`` and ``sample_observations_from_factors(factors,
    random_state)``; ``sample`` and ``sample_observations`` follow from them.
    """

    @property
    def num_factors(self) -> int:
        """K, the number of factors."""
        raise NotImplementedError(f"{type(self).__name__} must define num_factors")

    @property
    def factors_num_values(self) -> Sequence[int]:
        """The number of values of each factor."""
        raise NotImplementedError(f"{type(self).__name__} must define factors_num_values")

    @property
    def observation_shape(self) -> Sequence[int]:
        """The shape of one observation."""
        raise NotImplementedError(f"{type(self).__name__} must define observation_shape")

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """``num`` factor vectors, int [num, K]."""
        raise NotImplementedError(f"{type(self).__name__} must define sample_factors(num, random_state)")

    def sample_observations_from_factors(self, factors: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        """The observations [num, ...] of ``factors`` [num, K]."""
        raise NotImplementedError(
            f"{type(self).__name__} must define sample_observations_from_factors(factors, random_state)"
        )

    def sample(self, num: int, random_state: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        """(factors [num, K], observations [num, ...])."""
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Observations [num, ...] of ``num`` sampled factor vectors."""
        return self.sample(num, random_state)[1]


class GroundTruthDataAdapter:
    """refvae's data protocol over a disentanglement_lib ground-truth data object.

    ``factor_sizes`` is ``factors_num_values``; ``sample_factors(n, rng)`` and
    ``observations_from_factors(factors)`` call the object's ``sample_factors`` and
    ``sample_observations_from_factors`` with the ``random_state`` given here (the ``rng``
    that refvae passes is not used for the data's draws).

    Args:
        ground_truth_data: object with ``num_factors``, ``factors_num_values``,
            ``sample_factors(num, random_state)``, ``sample_observations_from_factors``.
        random_state: ``numpy.random.RandomState`` or int seed.
    """

    def __init__(self, ground_truth_data: Any, random_state: RandomState) -> None:
        for attribute in _DATA_ATTRIBUTES:
            if not hasattr(ground_truth_data, attribute):
                raise TypeError(
                    "ground_truth_data must have num_factors, factors_num_values, sample_factors(num, "
                    f"random_state) and sample_observations_from_factors(factors, random_state); "
                    f"it has no {attribute!r}"
                )
        sizes = inputs.check_factor_sizes(ground_truth_data.factors_num_values, "ground_truth_data.factors_num_values")
        if len(sizes) != int(ground_truth_data.num_factors):
            raise ValueError(
                f"ground_truth_data.factors_num_values has {len(sizes)} entries but num_factors is "
                f"{ground_truth_data.num_factors}"
            )
        self.ground_truth_data = ground_truth_data
        self.random_state = _as_random_state(random_state)
        self.factor_sizes = sizes
        self.name = inputs.data_name(ground_truth_data)

    def sample_factors(self, num: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``ground_truth_data.sample_factors(num, random_state)`` (``rng`` is not used)."""
        return self.ground_truth_data.sample_factors(num, self.random_state)

    def observations_from_factors(self, factors: np.ndarray) -> np.ndarray:
        """``ground_truth_data.sample_observations_from_factors(factors, random_state)``."""
        return self.ground_truth_data.sample_observations_from_factors(factors, self.random_state)

    def generator(self) -> np.random.Generator:
        """A ``numpy.random.Generator`` seeded from the random state, for refvae's own draws."""
        return np.random.default_rng(self.random_state.randint(0, 2**31 - 1))


def _prepare(ground_truth_data: Any, representation_function: RepresentationFunction, random_state: RandomState,
             check_defined: Callable[..., None] | None = None) -> GroundTruthDataAdapter:
    """The adapted data, checked before any work (with ``check_defined``, a metric's: that the
    metric is defined on its factors)."""
    data = GroundTruthDataAdapter(ground_truth_data, random_state)
    if not callable(representation_function):
        raise TypeError("representation_function must be a callable: observations -> codes [num, D]")
    if check_defined is not None:
        check_defined(data.factor_sizes, data.name)
    return data


def _sample_points(data: GroundTruthDataAdapter, representation_function: RepresentationFunction, num_points: int,
                   batch_size: int, name: str = "num_points") -> _Points:
    """(codes [N, D], factors [N, K]) drawn batch by batch as disentanglement_lib draws them.

    Each batch samples its factors and then their observations from the random state (the
    data object's ``sample`` if it has one), so the same ``RandomState`` gives the same
    points, and hence the same codes, as disentanglement_lib's metrics.
    """
    num_points = sampling.check_num_points(num_points, name)
    batch_size = checks.integer(batch_size, "batch_size")
    source, random_state = data.ground_truth_data, data.random_state
    code_batches, factor_batches = [], []
    for start in range(0, num_points, batch_size):
        count = min(batch_size, num_points - start)
        if hasattr(source, "sample"):
            batch_factors, observations = source.sample(count, random_state)
        else:
            batch_factors = source.sample_factors(count, random_state)
            observations = source.sample_observations_from_factors(batch_factors, random_state)
        batch_codes = np.asarray(representation_function(observations), dtype=np.float64)
        if batch_codes.ndim != 2 or batch_codes.shape[0] != count:
            raise ValueError(
                f"representation_function must map {count} observations to codes [{count}, D], "
                f"got shape {batch_codes.shape}"
            )
        code_batches.append(batch_codes)
        factor_batches.append(inputs.check_factors(batch_factors, "ground_truth_data.sample_factors(...)"))
    codes, factors = np.concatenate(code_batches), np.concatenate(factor_batches)
    if factors.shape[1] != len(data.factor_sizes):
        raise ValueError(
            f"ground_truth_data.sample_factors must return {len(data.factor_sizes)} factors a point, "
            f"got {factors.shape[1]}"
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError("representation_function returned non-finite codes")
    return codes, factors


def _sample_representation(ground_truth_data: Any, representation_function: RepresentationFunction,
                           random_state: RandomState, num_points: int, batch_size: int,
                           check_defined: Callable[..., None] | None = None, name: str = "num_train") -> _Points:
    """(codes [N, D], factors [N, K]) of ``num_points`` fresh points of ``ground_truth_data``."""
    data = _prepare(ground_truth_data, representation_function, random_state, check_defined)
    return _sample_points(data, representation_function, num_points, batch_size, name)


def _train_test_points(ground_truth_data: Any, representation_function: RepresentationFunction,
                       random_state: RandomState, num_train: int, num_test: int, batch_size: int,
                       check_defined: Callable[..., None] | None) -> tuple[_Points, _Points]:
    data = _prepare(ground_truth_data, representation_function, random_state, check_defined)
    sampling.check_num_points(num_test, "num_test")
    train = _sample_points(data, representation_function, num_train, batch_size, "num_train")
    test = _sample_points(data, representation_function, num_test, batch_size, "num_test")
    return train, test


def compute_mig(ground_truth_data: Any, representation_function: RepresentationFunction, random_state: RandomState,
                artifact_dir: str | None = None, num_train: int = 10000, batch_size: int = 16) -> dict[str, float]:
    """Histogram MIG (``refvae.metrics.mig``) → {"discrete_mig"}."""
    del artifact_dir  # unused, as in disentanglement_lib
    codes, factors = _sample_representation(ground_truth_data, representation_function, random_state, num_train,
                                            batch_size, _mig_defined)
    return {"discrete_mig": metrics.mig(codes, factors)["mig"]}


def compute_beta_vae_sklearn(ground_truth_data: Any, representation_function: RepresentationFunction,
                             random_state: RandomState, artifact_dir: str | None = None, batch_size: int = 64,
                             num_train: int = 10000, num_eval: int = 5000) -> dict[str, float]:
    """BetaVAE score (``refvae.metrics.beta_vae_score``) → {"train_accuracy", "eval_accuracy"}."""
    del artifact_dir
    data = _prepare(ground_truth_data, representation_function, random_state, _beta_vae_defined)
    rng = data.generator()
    result = metrics.beta_vae_score(data, representation_function, rng, batch_size=batch_size, num_train=num_train,
                                    num_eval=num_eval)
    return {"train_accuracy": result["train_accuracy"], "eval_accuracy": result["eval_accuracy"]}


def compute_factor_vae(ground_truth_data: Any, representation_function: RepresentationFunction,
                       random_state: RandomState, artifact_dir: str | None = None, batch_size: int = 64,
                       num_train: int = 10000, num_eval: int = 5000, num_variance_estimate: int = 10000,
                       prune_threshold: float = 0.05) -> dict[str, float]:
    """FactorVAE score (``refvae.metrics.factor_vae_score``).

    Returns {"train_accuracy", "eval_accuracy", "num_active_dims"}; see the module notes on
    ``prune_threshold`` (0.05) and ``num_active_dims`` (codes kept).
    """
    del artifact_dir
    data = _prepare(ground_truth_data, representation_function, random_state, _factor_vae_defined)
    rng = data.generator()
    result = metrics.factor_vae_score(data, representation_function, rng, batch_size=batch_size, num_train=num_train,
                                      num_eval=num_eval, num_variance_estimate=num_variance_estimate,
                                      prune_threshold=prune_threshold)
    return {key: result[key] for key in ("train_accuracy", "eval_accuracy", "num_active_dims")}


def compute_dci(ground_truth_data: Any, representation_function: RepresentationFunction, random_state: RandomState,
                artifact_dir: str | None = None, num_train: int = 10000, num_test: int = 5000,
                batch_size: int = 16) -> dict[str, float]:
    """DCI (``refvae.metrics.dci``, gradient boosting with a fixed random_state).

    Returns {"informativeness_train", "informativeness_test", "disentanglement", "completeness"}.
    """
    del artifact_dir
    train, test = _train_test_points(ground_truth_data, representation_function, random_state, num_train, num_test,
                                     batch_size, _dci_defined)
    result = metrics.dci(*train, *test)
    return {
        "informativeness_train": result["informativeness_train"],
        "informativeness_test": result["informativeness"],
        "disentanglement": result["disentanglement"],
        "completeness": result["completeness"],
    }


def compute_sap(ground_truth_data: Any, representation_function: RepresentationFunction, random_state: RandomState,
                artifact_dir: str | None = None, num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                continuous_factors: bool | Sequence[bool] = False) -> dict[str, float]:
    """SAP (``refvae.metrics.sap``) → {"SAP_score"}."""
    del artifact_dir
    train, test = _train_test_points(ground_truth_data, representation_function, random_state, num_train, num_test,
                                     batch_size, _sap_defined)
    return {"SAP_score": metrics.sap(*train, *test, continuous_factors=continuous_factors)["sap"]}


def compute_modularity_explicitness(ground_truth_data: Any, representation_function: RepresentationFunction,
                                    random_state: RandomState, artifact_dir: str | None = None,
                                    num_train: int = 10000, num_test: int = 5000,
                                    batch_size: int = 16) -> dict[str, float]:
    """Modularity and explicitness (``refvae.metrics.modularity``).

    Returns {"modularity_score", "explicitness_score_train", "explicitness_score_test"}.
    """
    del artifact_dir
    (train_codes, train_factors), (test_codes, test_factors) = _train_test_points(
        ground_truth_data, representation_function, random_state, num_train, num_test, batch_size, _modularity_defined
    )
    result = metrics.modularity(train_codes, train_factors, test_codes=test_codes, test_factors=test_factors)
    return {
        "modularity_score": result["modularity"],
        "explicitness_score_train": result["explicitness_train"],
        "explicitness_score_test": result["explicitness"],
    }


def compute_irs(ground_truth_data: Any, representation_function: RepresentationFunction, random_state: RandomState,
                artifact_dir: str | None = None, diff_quantile: float = 0.99, num_train: int = 10000,
                batch_size: int = 16) -> dict[str, float]:
    """Interventional robustness score (``refvae.metrics.irs``) → {"IRS", "num_active_dims"}."""
    del artifact_dir
    codes, factors = _sample_representation(ground_truth_data, representation_function, random_state, num_train,
                                            batch_size, _irs_defined)
    result = metrics.irs(codes, factors, diff_quantile=diff_quantile)
    return {"IRS": result["irs"], "num_active_dims": result["num_active_dims"]}


def unsupervised_metrics(ground_truth_data: Any, representation_function: RepresentationFunction,
                         random_state: RandomState, artifact_dir: str | None = None, num_train: int = 10000,
                         batch_size: int = 16) -> dict[str, float]:
    """Unsupervised scores (``refvae.metrics.unsupervised_scores``).

    Returns {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "gaussian_wasserstein_correlation_norm", "mutual_info_score"}.
    """
    del artifact_dir
    codes, _ = _sample_representation(ground_truth_data, representation_function, random_state, num_train,
                                      batch_size)
    result = metrics.unsupervised_scores(codes)
    keys = ("gaussian_total_correlation", "gaussian_wasserstein_correlation", "gaussian_wasserstein_correlation_norm",
            "mutual_info_score")
    return {key: result[key] for key in keys}


# ----------------------------------------------------------------------------- utils (codes as columns)


def generate_batch_factor_code(ground_truth_data: Any, representation_function: RepresentationFunction, num_points: int,
                               random_state: RandomState, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes [D, num_points], factors [K, num_points]) of freshly sampled points.

    disentanglement_lib's layout (one column a point) and draw order (factors, then
    observations, batch by batch); refvae's functions are batch-first.
    """
    codes, factors = _sample_representation(ground_truth_data, representation_function, random_state, num_points,
                                            batch_size, name="num_points")
    return codes.T, factors.T


def split_train_test(observations: ArrayLike, train_percentage: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) columns of ``observations`` [D, N]: the first ceil(N · train_percentage).

    ``refvae.metrics.split_train_test`` on the transposed array.
    """
    observations = np.asarray(observations)
    if observations.ndim != 2:
        raise ValueError(f"observations must have shape [D, N] (one column a point), got {observations.shape}")
    train, test = metrics.split_train_test(observations.T, train_fraction=train_percentage)
    return train.T, test.T


def make_discretizer(target: ArrayLike, num_bins: int = 20) -> np.ndarray:
    """Histogram bins of each row of ``target`` [D, N], labels 1 … num_bins as disentanglement_lib's."""
    target = np.asarray(target)
    if target.ndim != 2:
        raise ValueError(f"target must have shape [D, N] (one row a code), got {target.shape}")
    return discrete.discretize(target.T, num_bins).T + 1


def discrete_mutual_info(mus: ArrayLike, ys: ArrayLike) -> np.ndarray:
    """Plug-in I(mus_j; ys_k) in nats of discrete rows mus [D, N] and ys [K, N] → [D, K]."""
    mus, ys = np.asarray(mus), np.asarray(ys)
    if mus.ndim != 2 or ys.ndim != 2 or mus.shape[1] != ys.shape[1]:
        raise ValueError(f"mus and ys must have shapes [D, N] and [K, N] with one N, got {mus.shape} and {ys.shape}")
    return discrete.discrete_mutual_info_matrix(mus.T, ys.T)


def discrete_entropy(ys: ArrayLike) -> np.ndarray:
    """Plug-in entropy in nats of each row of discrete ys [K, N] → [K]."""
    ys = np.asarray(ys)
    if ys.ndim != 2:
        raise ValueError(f"ys must have shape [K, N] (one row a factor), got {ys.shape}")
    return discrete.discrete_entropy(ys.T)


# ----------------------------------------------------------------------------- import paths


_MODULES = {
    "evaluation.metrics.mig": ("compute_mig",),
    "evaluation.metrics.beta_vae": ("compute_beta_vae_sklearn",),
    "evaluation.metrics.factor_vae": ("compute_factor_vae",),
    "evaluation.metrics.dci": ("compute_dci",),
    "evaluation.metrics.sap_score": ("compute_sap",),
    "evaluation.metrics.modularity_explicitness": ("compute_modularity_explicitness",),
    "evaluation.metrics.irs": ("compute_irs",),
    "evaluation.metrics.unsupervised_metrics": ("unsupervised_metrics",),
    "evaluation.metrics.utils": (
        "generate_batch_factor_code",
        "split_train_test",
        "make_discretizer",
        "discrete_mutual_info",
        "discrete_entropy",
    ),
    "data.ground_truth.ground_truth_data": ("GroundTruthData",),
}


def install() -> None:
    """Make ``import disentanglement_lib.evaluation.metrics.mig`` (etc.) resolve to this module.

    After ``install()`` a script written for disentanglement_lib imports and runs unchanged:
    ``from disentanglement_lib.evaluation.metrics import mig`` gives a module whose
    ``compute_mig`` is this module's, likewise ``beta_vae``, ``factor_vae``, ``dci``,
    ``sap_score``, ``modularity_explicitness``, ``irs``, ``unsupervised_metrics``, ``utils``
    and ``disentanglement_lib.data.ground_truth.ground_truth_data.GroundTruthData``. Nothing
    else of disentanglement_lib (models, data sets, gin) is provided.

    Raises:
        RuntimeError: if the real disentanglement_lib is already imported.
    """
    existing = sys.modules.get("disentanglement_lib")
    if existing is not None and not getattr(existing, "__refvae_compat__", False):
        raise RuntimeError("disentanglement_lib is already imported; install() would shadow the real package")
    this = sys.modules[__name__]
    root = types.ModuleType("disentanglement_lib", "refvae.compat.disentanglement_lib under disentanglement_lib's names")
    # a marker on a module made here (read by getattr above); ModuleType declares no such attribute
    root.__refvae_compat__ = True  # type: ignore[attr-defined]
    root.__path__ = []
    sys.modules["disentanglement_lib"] = root
    for path, names in _MODULES.items():
        parent, parent_name = root, "disentanglement_lib"
        for part in path.split("."):
            full_name = f"{parent_name}.{part}"
            module = sys.modules.get(full_name)
            if module is None:
                module = types.ModuleType(full_name)
                module.__path__ = []
                sys.modules[full_name] = module
            setattr(parent, part, module)
            parent, parent_name = module, full_name
        for name in names:
            setattr(parent, name, getattr(this, name))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m refvae.compat.disentanglement_lib SCRIPT [ARGS]``: run a script written
    for disentanglement_lib's metrics, unchanged, after ``install()``."""
    import runpy

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        summary = (main.__doc__ or "").split("\n")[0]  # no docstring under python -OO
        print("usage: python -m refvae.compat.disentanglement_lib SCRIPT [ARGS]\n\n" + summary)
        return 0 if argv else 2
    from refvae.compat import disentanglement_lib as compat

    compat.install()
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
