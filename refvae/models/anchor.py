r"""AnchorVAE's experiment (000 §6.2-6.3) under its first import path.

AnchorVAE is no model class of its own: it is the catalogue objective
``refvae.objectives.get("anchor-vae", lam=λ, anchors=[...])`` on a :class:`refvae.models.VAE`
(000 eq 21),

    loss = −rec + Σ_{d ∉ a} KL_d + (1 − λ) Σ_{d ∈ a} KL_d.

What its experiment measures lives with the metrics, and this module hands the names on:

* the information each unit carries, I(x; z_j), and whether the anchors are the top units:
  ``refvae.metrics.posterior_dimwise_mutual_information`` and ``refvae.metrics.anchor_ranking``
  (000 Fig 4);
* generation from Π_j q(z_j) instead of N(0, I), scored by a classifier of real digits:
  ``refvae.metrics.sample_quality`` (``DigitsScorer``, ``frechet_distance``,
  ``compare_sampling``; 000 §6.3).

Example::

    model = VAE(encoder, decoder, latents.DiagonalGaussian(8), "bernoulli",
                objectives.get("anchor-vae", lam=0.5, anchors=[0, 1]), dataset_size=len(x))
    model.fit(x, epochs=30)
    ranking = anchor_ranking(dimwise_mutual_information(model, x)["mutual_info"], [0, 1])
"""

from refvae import latents
from refvae.metrics import mutual_info, sampling
from refvae.metrics.mutual_info import anchor_ranking
from refvae.metrics.sample_quality import DigitsScorer, compare_sampling, frechet_distance

__all__ = ["DigitsScorer", "anchor_ranking", "compare_sampling", "dimwise_mutual_information", "frechet_distance",
           "posterior_moments"]


def posterior_moments(model, x, batch_size=256):
    """loc and scale [N, D] (float64 NumPy) of a Gaussian-latent VAE's q(z|x) over x."""
    if not isinstance(model.latent, latents.DiagonalGaussian):
        raise TypeError(f"posterior_moments needs a DiagonalGaussian latent, got {model.latent!r}")
    if len(x) < 1:
        raise ValueError("x must hold at least one observation")
    return sampling.posterior_moments(model.posterior, x, batch_size)


def dimwise_mutual_information(model, x, seed=0, batch_size=256):
    """I(x; z_j) of every unit of ``model`` over the data x (000 Fig 4), in nats.

    ``refvae.metrics.posterior_dimwise_mutual_information(model.posterior, x)`` with the
    latent checked; not to be confused with ``refvae.metrics.dimwise_mutual_information``,
    which takes the posterior parameters (loc, scale).
    """
    return mutual_info.dimwise_mutual_information(*posterior_moments(model, x, batch_size), seed=seed)
