"""Decoder likelihoods p(x | z): log-densities summed over pixels, one value per data point.

The decoder network outputs one tensor shaped like the observations (logits for a
Bernoulli, means for a Gaussian); a likelihood turns it into log p(x | z) [B] in nats and
into the mean image. Plain TensorFlow, so the layer graph stays tensors only.

Example::

    likelihood = refvae.models.likelihoods.get("bernoulli")
    log_px = likelihood.log_prob(x, decoder(z))      # [B]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeAlias

import tensorflow as tf

if TYPE_CHECKING:
    from tensorflow.types.experimental import TensorLike


def _sum_over_pixels(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def _check_shapes(x: tf.Tensor, output: tf.Tensor) -> None:
    if x.shape.rank is not None and output.shape.rank is not None and x.shape[1:] != output.shape[1:]:
        raise ValueError(f"x and the decoder output must have the same shape after the batch axis, "
                         f"got {x.shape} and {output.shape}")


class Bernoulli:
    """Independent Bernoulli pixels with logits l::

        log p(x | z) = Σ_pixels [x l − softplus(l)]          (x in [0, 1])

    For grey values in (0, 1) this is the usual "binary cross-entropy" reconstruction term,
    not a normalised density (as in 001 and disentanglement_lib).
    """

    name = "bernoulli"

    def log_prob(self, x: TensorLike, logits: TensorLike) -> tf.Tensor:
        """log p(x | z) [B] from observations x [B, ...] and logits [B, ...]."""
        logits = tf.convert_to_tensor(logits)
        x = tf.cast(x, logits.dtype)
        _check_shapes(x, logits)
        return -_sum_over_pixels(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))

    def mean(self, logits: TensorLike) -> tf.Tensor:
        """E[x | z] = sigmoid(l)."""
        return tf.sigmoid(logits)

    def get_config(self) -> dict[str, Any]:
        """The config :func:`get` rebuilds this likelihood from."""
        return {"name": self.name}


class Gaussian:
    """Independent Gaussian pixels with decoder means m and a fixed scale s::

        log p(x | z) = Σ_pixels [−(x − m)² / (2 s²) − log s − ½ log 2π]

    Args:
        scale: the pixel standard deviation s > 0.
    """

    name = "gaussian"

    def __init__(self, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0.0 < scale < math.inf):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        self.scale = float(scale)

    def log_prob(self, x: TensorLike, means: TensorLike) -> tf.Tensor:
        """log p(x | z) [B] from observations x [B, ...] and means [B, ...]."""
        means = tf.convert_to_tensor(means)
        x = tf.cast(x, means.dtype)
        _check_shapes(x, means)
        log_density = (-0.5 * tf.square((x - means) / self.scale)
                       - math.log(self.scale) - 0.5 * math.log(2.0 * math.pi))
        return _sum_over_pixels(log_density)

    def mean(self, means: TensorLike) -> tf.Tensor:
        """E[x | z] = m."""
        return tf.convert_to_tensor(means)

    def get_config(self) -> dict[str, Any]:
        """The config :func:`get` rebuilds this likelihood from."""
        return {"name": self.name, "scale": self.scale}


# A likelihood of this module (what ``get`` returns).
Likelihood: TypeAlias = Bernoulli | Gaussian

LIKELIHOODS: dict[str, type[Likelihood]] = {"bernoulli": Bernoulli, "gaussian": Gaussian}


def get(name: str | Likelihood | dict[str, Any], **kwargs: Any) -> Likelihood:
    """A likelihood by name ("bernoulli", "gaussian"), from a config dict, or passed through.

    Example::

        get("gaussian", scale=0.1); get({"name": "bernoulli"})
    """
    if isinstance(name, (Bernoulli, Gaussian)):
        return name
    if isinstance(name, dict):
        kwargs = {**{k: v for k, v in name.items() if k != "name"}, **kwargs}
        key = name.get("name")
    else:
        key = name
    if key not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {key!r}; known likelihoods: {sorted(LIKELIHOODS)}")
    return LIKELIHOODS[key](**kwargs)
