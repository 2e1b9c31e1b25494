r"""AnchorVAE's experiment (000 §6.2-6.3): where the information goes, and how to sample.

AnchorVAE is the catalogue objective ``refvae.objectives.get("anchor-vae", lam=λ,
anchors=[...])`` on a :class:`refvae.models.VAE` (000 eq 21):

    loss = −rec + Σ_{d ∉ a} KL_d + (1 − λ) Σ_{d ∈ a} KL_d,

the CorEx objective with the anchored units' compression I(z_a : x) rewarded by λ. This
module holds what its experiment measures:

* the information each unit carries, I(x; z_j) = E[log q(z_j|x) − log q(z_j)] over the data
  (``refvae.metrics.dimwise_mutual_information``; 000 Fig 4: the anchored units carry the
  most), and whether the anchors are the top units (``anchor_ranking``);
* generation from the product of the aggregate marginals Π_j q(z_j) instead of N(0, I)
  (000 §6.3: the upper bound I(x : z_j) ≤ E KL(q(z_j|x) ‖ r(z_j)) is tightest at
  r = q(z_j); VAE.sample(source="marginals")), scored by a classifier trained on real
  digits: its mean confidence (the largest class probability) and a Fréchet distance
  between its hidden features of generated and real images (the FID recipe of Heusel et
  al. 2017 with a small digits classifier in place of Inception). 000 shows the effect on
  CelebA by eye (Fig 8); these two numbers measure it.

Example::

    model = VAE(encoder, decoder, latents.DiagonalGaussian(8), "bernoulli",
                objectives.get("anchor-vae", lam=0.5, anchors=[0, 1]), dataset_size=len(x))
    model.fit(x, epochs=30)
    ranking = anchor_ranking(dimwise_mutual_information(model, x)["mutual_info"], [0, 1])
    scorer = DigitsScorer().fit(x_train, y_train)
    compare_sampling(model, scorer, x_test)   # {"prior": {...}, "marginals": {...}}
"""

import numpy as np

from refvae import latents, metrics


def posterior_moments(model, x, batch_size=256):
    """loc and scale [N, D] (float64 NumPy) of a Gaussian-latent VAE's q(z|x) over x."""
    if not isinstance(model.latent, latents.DiagonalGaussian):
        raise TypeError(f"posterior_moments needs a DiagonalGaussian latent, got {model.latent!r}")
    if len(x) < 1:
        raise ValueError("x must hold at least one observation")
    locs, scales = [], []
    for start in range(0, len(x), batch_size):
        posterior = model.posterior(x[start:start + batch_size])
        locs.append(posterior.loc.numpy())
        scales.append(posterior.scale.numpy())
    return np.concatenate(locs).astype(np.float64), np.concatenate(scales).astype(np.float64)


def dimwise_mutual_information(model, x, seed=0, batch_size=256):
    """I(x; z_j) of every unit over the data x (000 Fig 4), in nats.

    Returns:
        the dict of ``refvae.metrics.dimwise_mutual_information``: "mutual_info" [D],
        "marginal_variance" [D] (000 Fig 7), "active", "num_active_dims".
    """
    loc, scale = posterior_moments(model, x, batch_size)
    return metrics.dimwise_mutual_information(loc, scale, seed=seed)


def anchor_ranking(mutual_info, anchors):
    """Whether the anchored units carry the most information (000 Fig 4).

    Args:
        mutual_info: [D] I(x; z_j).
        anchors: indices of the anchored units.

    Returns:
        dict: "anchors_are_top" (the anchors are the |a| most informative units),
        "ranks" (rank of each anchor, 0 = most informative), "anchor_mi" [|a|],
        "best_other_mi" (largest I among the other units; 0 if there are none), "gap"
        (smallest anchor MI minus best_other_mi).

    Example:
        >>> anchor_ranking([2.0, 0.1, 3.0], [0, 2])["anchors_are_top"]
        True
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    if mutual_info.ndim != 1 or not np.all(np.isfinite(mutual_info)):
        raise ValueError(f"mutual_info must be a finite 1-D array [D], got shape {mutual_info.shape}")
    anchors = [int(a) for a in anchors]
    if not anchors or len(set(anchors)) != len(anchors) or min(anchors) < 0 or max(anchors) >= mutual_info.size:
        raise ValueError(f"anchors must be distinct indices in [0, {mutual_info.size}), got {anchors}")
    order = np.argsort(-mutual_info, kind="stable")
    ranks = [int(np.flatnonzero(order == a)[0]) for a in anchors]
    others = np.delete(mutual_info, anchors)
    best_other = float(others.max()) if others.size else 0.0
    return {
        "anchors_are_top": bool(max(ranks) < len(anchors)),
        "ranks": ranks,
        "anchor_mi": mutual_info[anchors],
        "best_other_mi": best_other,
        "gap": float(mutual_info[anchors].min() - best_other),
    }


def frechet_distance(features_a, features_b):
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

    def __init__(self, hidden=64, seed=0):
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        self.hidden = hidden
        self.seed = seed
        self.classifier = None

    def fit(self, images, labels):
        """Train on real images [N, ...] in [0, 1] and integer labels [N]; returns self."""
        from sklearn.neural_network import MLPClassifier

        images = self._flat(images, check_fitted=False)
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        self.classifier = MLPClassifier((self.hidden,), max_iter=500, random_state=self.seed).fit(images, labels)
        return self

    def _flat(self, images, check_fitted=True):
        if check_fitted and self.classifier is None:
            raise ValueError("the scorer is not fitted: call fit(images, labels) first")
        images = np.asarray(images, dtype=np.float64)
        if images.ndim < 2 or len(images) < 1:
            raise ValueError(f"images must have shape [N, ...] with N >= 1, got {images.shape}")
        return images.reshape(len(images), -1)

    def accuracy(self, images, labels):
        """Classification accuracy on labelled images."""
        return float(self.classifier.score(self._flat(images), np.asarray(labels)))

    def confidence(self, images):
        """Mean over images of the largest class probability (→ 1 for clear digits).

        A network classifier is over-confident off its data (uniform noise also scores
        > 0.8 on digits), so read it next to ``frechet_distance``, not alone.
        """
        return float(np.mean(np.max(self.classifier.predict_proba(self._flat(images)), axis=1)))

    def features(self, images):
        """Hidden-layer activations [N, hidden]."""
        flat = self._flat(images)
        return np.maximum(flat @ self.classifier.coefs_[0] + self.classifier.intercepts_[0], 0.0)

    def frechet_distance(self, images, reference):
        """Fréchet distance between the features of ``images`` and of real ``reference`` images."""
        return frechet_distance(self.features(images), self.features(reference))


def compare_sampling(model, scorer, reference, num_samples=1000, seed=0):
    """Generated digits from N(0, I) vs Π_j q(z_j) (000 §6.3), scored against real images.

    Args:
        model: a trained :class:`refvae.models.VAE` (any latent; its ``sample`` is used).
        scorer: a fitted :class:`DigitsScorer`.
        reference: real images [N, ...]: they define q(z_j) = (1/N) Σ_n q(z_j | x_n) and are
            the real set of the Fréchet distance.
        num_samples: generated images per source.
        seed: int.

    Returns:
        dict: {"prior": {"confidence", "frechet_distance"}, "marginals": {...},
        "reference": {"confidence"}}.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
    results = {"reference": {"confidence": scorer.confidence(reference)}}
    for source in ("prior", "marginals"):
        images = np.asarray(model.sample(num_samples, source=source, seed=seed, reference=reference))
        results[source] = {"confidence": scorer.confidence(images),
                           "frechet_distance": scorer.frechet_distance(images, reference)}
    return results
