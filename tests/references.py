"""Independent references shared by the tests: NumPy formulas written from the papers and a
toy ground-truth data set. Nothing here calls the refvae code it is used to check."""

import math

import numpy as np
import scipy.special

from refvae.data import GroundTruthData


def exp_concrete_log_density(y, logits, temperature):
    """log density of the ExpConcrete distribution (Maddison et al. 2017, appendix C) at y:

    log p(y) = log (K−1)! + (K−1) log λ + Σ_k (log α_k − λ y_k) − K logsumexp_k(log α_k − λ y_k)

    with log α the (unnormalised) logits; y = log z for a relaxed one-hot z.
    """
    k = logits.shape[-1]
    shifted = logits - temperature * y
    return (
        scipy.special.gammaln(k)
        + (k - 1) * math.log(temperature)
        + shifted.sum(-1)
        - k * scipy.special.logsumexp(shifted, axis=-1)
    )


class Grid(GroundTruthData):
    """A 3 x 4 x 5 toy grid whose 1-pixel observation is its own flat index."""

    factor_names = ("a", "b", "c")
    factor_sizes = (3, 4, 5)
    observation_shape = (1, 1, 1)

    def _render(self, factors):
        return self.index_of(factors).astype(np.float32).reshape(-1, 1, 1, 1)
