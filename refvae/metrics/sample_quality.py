r"""How real generated images look: a Fréchet distance and a classifier's confidence.

000 §6.3 samples a trained VAE from the product of the aggregate marginals Π_j q(z_j)
instead of N(0, I) and shows the effect on CelebA by eye (Fig 8). These scores measure it on
labelled images: a small classifier trained on real digits gives

* its mean confidence (the largest class probability) on generated images, and
* the Fréchet distance between its hidden features of generated and real images (the FID
  recipe of Heusel et al. 2017 with a small digits classifier in place of Inception).

Example::

    scorer = DigitsScorer().fit(x_train, y_train)
    compare_sampling(model, scorer, x_test)   # {"prior": {...}, "marginals": {...}, "reference": {...}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from refvae import checks

if TYPE_CHECKING:
    from sklearn.neural_network import MLPClassifier

__all__ = ["DigitsScorer", "compare_sampling", "frechet_distance"]


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017)::

        d² = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})

    Args:
        features_a, features_b: [N_a, F] and [N_b, F] (N >= 2).

    Returns:
        float d² >= 0.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(frechet_distance(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + [3, 0]), 1)
        9.0
    """
    features_a = np.asarray(features_a, dtype=np.float64)
    features_b = np.asarray(features_b, dtype=np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"features must be [N, F] arrays with the same F, got {features_a.shape} and {features_b.shape}")
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError("each feature set needs at least 2 rows")
    mean_a, mean_b = features_a.mean(0), features_b.mean(0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    # tr (Σ_a Σ_b)^{1/2} = Σ √λ(Σ_a^{1/2} Σ_b Σ_a^{1/2}): symmetric PSD, so eigh is stable even
    # when dead features make the covariances singular.
    eigenvalues, eigenvectors = np.linalg.eigh(cov_a)
    root_a = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root
    return float(max(distance, 0.0))


class DigitsScorer:
    """A small classifier of real images that scores generated ones (confidence, Fréchet).

    A one-hidden-layer ``sklearn.neural_network.MLPClassifier`` (ReLU) on flattened images;
    its hidden activations are the features of the Fréchet distance.

    Args:
        hidden: width of the hidden layer.
        seed: int seed of the classifier's initialisation.
    """

    def __init__(self, hidden: int = 64, seed: int = 0) -> None:
        self.hidden = checks.integer(hidden, "hidden")
        self.seed = seed
        self.classifier: MLPClassifier | None = None

    def fit(self, images: ArrayLike, labels: ArrayLike) -> DigitsScorer:
        """Train on real images [N, ...] in [0, 1] and integer labels [N]; returns self."""
        from sklearn.neural_network import MLPClassifier

        images = self._flat(images, check_fitted=False)
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        self.classifier = MLPClassifier((self.hidden,), max_iter=500, random_state=self.seed).fit(images, labels)
        return self

    def _fitted(self) -> MLPClassifier:
        if self.classifier is None:
            raise ValueError("the scorer is not fitted: call fit(images, labels) first")
        return self.classifier

    def _flat(self, images: ArrayLike, check_fitted: bool = True) -> np.ndarray:
        if check_fitted:
            self._fitted()
        images = np.asarray(images, dtype=np.float64)
        if images.ndim < 2 or len(images) < 1:
            raise ValueError(f"images must have shape [N, ...] with N >= 1, got {images.shape}")
        return images.reshape(len(images), -1)

    def accuracy(self, images: ArrayLike, labels: ArrayLike) -> float:
        """Classification accuracy on labelled images."""
        return float(self._fitted().score(self._flat(images), np.asarray(labels)))

    def confidence(self, images: ArrayLike) -> float:
        """Mean over images of the largest class probability (→ 1 for clear digits).

        A network classifier is over-confident off its data (uniform noise also scores
        > 0.8 on digits), so read it next to ``frechet_distance``, not alone.
        """
        return float(np.mean(np.max(self._fitted().predict_proba(self._flat(images)), axis=1)))

    def features(self, images: ArrayLike) -> np.ndarray:
        """Hidden-layer activations [N, hidden]."""
        flat = self._flat(images)
        classifier = self._fitted()
        return np.maximum(flat @ classifier.coefs_[0] + classifier.intercepts_[0], 0.0)

    def frechet_distance(self, images: ArrayLike, reference: ArrayLike) -> float:
        """Fréchet distance between the features of ``images`` and of real ``reference`` images."""
        return frechet_distance(self.features(images), self.features(reference))


def compare_sampling(model: Any, scorer: DigitsScorer, reference: np.ndarray, num_samples: int = 1000,
                     seed: int = 0) -> dict[str, dict[str, float]]:
    """Generated digits from N(0, I) vs Π_j q(z_j) (000 §6.3), scored against real images.

    Args:
        model: a generative model with ``sample(n, source=, seed=, reference=)`` (a trained
            :class:`refvae.models.VAE`, any latent).
        scorer: a fitted :class:`DigitsScorer`.
        reference: real images [N, ...]: they define q(z_j) = (1/N) Σ_n q(z_j | x_n) and are
            the real set of the Fréchet distance.
        num_samples: generated images per source.
        seed: int.

    Returns:
        dict: {"prior": {"confidence", "frechet_distance"}, "marginals": {...},
        "reference": {"confidence"}}.
    """
    num_samples = checks.integer(num_samples, "num_samples", 2)
    results: dict[str, dict[str, float]] = {"reference": {"confidence": scorer.confidence(reference)}}
    for source in ("prior", "marginals"):
        images = np.asarray(model.sample(num_samples, source=source, seed=seed, reference=reference))
        results[source] = {"confidence": scorer.confidence(images),
                           "frechet_distance": scorer.frechet_distance(images, reference)}
    return results
