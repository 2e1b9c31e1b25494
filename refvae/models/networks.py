"""Encoders and decoders of the papers, as Keras 3 ``Sequential`` models built from a config.

Two architectures:

``"conv"``: the convolutional network used for dSprites-like 64×64 images (001, 004; the
    disentanglement_lib "conv" encoder)::

        encoder: x [B, 64, 64, C] -> 4 × Conv 4×4 stride 2 (32, 32, 64, 64 filters, ReLU)
                 -> flatten -> Dense 256 (ReLU) -> Dense param_size
        decoder: z [B, event_size] -> Dense 256 (ReLU) -> Dense 4·4·64 (ReLU) -> reshape
                 -> 4 × Conv2DTranspose 4×4 stride 2 (64, 32, 32, C filters; ReLU except the last)

    The image side must be divisible by 16 (64×64 gives a 4×4×64 bottleneck).

``"mlp"``: fully connected networks for small images (28×28: 784-512-512; 8×8: 64-128-128)::

        encoder: flatten -> Dense h_1 (ReLU) -> ... -> Dense param_size
        decoder: Dense h_k (ReLU) -> ... -> Dense prod(shape) -> reshape to the image shape

The decoder's last layer is linear: it outputs logits (Bernoulli) or means (Gaussian), see
``refvae.models.likelihoods``. Networks are built with their ``keras.Input``, so their weights
exist at once and they save and load with the model.

Example::

    encoder = build_encoder("conv", input_shape=(64, 64, 1), param_size=20)
    decoder = build_decoder("conv", output_shape=(64, 64, 1), event_size=10)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

from refvae import checks

if TYPE_CHECKING:
    from refvae.latents import Latent
    from refvae.runs.config import RunConfig

ARCHITECTURES = ("conv", "mlp")


def _check_shape(name: str, shape: Sequence[int], rank: int | None = None) -> tuple[int, ...]:
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
    if (not isinstance(shape, tuple) or not shape
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {shape!r}")
    if rank is not None and len(shape) != rank:
        raise ValueError(f"{name} must have {rank} entries, got {shape!r}")
    return shape


def _check_architecture(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known architectures: {list(ARCHITECTURES)}")
    return architecture


def _check_conv_image(name: str, shape: tuple[int, ...], filters: Sequence[int]) -> None:
    factor = 2 ** len(filters)
    if len(shape) != 3 or shape[0] % factor or shape[1] % factor:
        raise ValueError(f"{name} for the 'conv' architecture must be (H, W, C) with H and W divisible "
                         f"by {factor}, got {shape!r}")


def build_encoder(architecture: str, input_shape: Sequence[int], param_size: int, *,
                  filters: Sequence[int] = (32, 32, 64, 64), hidden: Sequence[int] | None = None,
                  name: str = "encoder") -> keras.Sequential:
    """An encoder x -> the parameters of q(z | x) (a flat [B, param_size] tensor).

    Args:
        architecture: "conv" or "mlp".
        input_shape: shape of one observation, e.g. (64, 64, 1).
        param_size: width of the output (``latent.param_size``).
        filters: conv filters per stride-2 layer ("conv" only).
        hidden: dense widths; default (256,) for "conv", (512, 512) for "mlp".
        name: model name.

    Returns:
        A built ``keras.Sequential``.
    """
    _check_architecture(architecture)
    input_shape = _check_shape("input_shape", input_shape)
    checks.integer(param_size, "param_size")
    layers = [keras.Input(shape=input_shape)]
    if architecture == "conv":
        _check_conv_image("input_shape", input_shape, filters)
        hidden = (256,) if hidden is None else tuple(hidden)
        layers += [keras.layers.Conv2D(f, 4, strides=2, padding="same", activation="relu") for f in filters]
    else:
        hidden = (512, 512) if hidden is None else tuple(hidden)
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(checks.integer(h, "hidden"), activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(param_size))
    return keras.Sequential(layers, name=name)


def build_decoder(architecture: str, output_shape: Sequence[int], event_size: int, *,
                  filters: Sequence[int] = (32, 32, 64, 64), hidden: Sequence[int] | None = None,
                  name: str = "decoder") -> keras.Sequential:
    """A decoder z -> logits or means shaped like the observations.

    Args:
        architecture: "conv" or "mlp".
        output_shape: shape of one observation, e.g. (64, 64, 1).
        event_size: width of z (``latent.event_size``).
        filters: the encoder's conv filters; the decoder mirrors them ("conv" only).
        hidden: dense widths from z; default (256,) for "conv", (512, 512) for "mlp" (the
            decoder applies them in reverse order, mirroring the encoder).
        name: model name.

    Returns:
        A built ``keras.Sequential``.
    """
    _check_architecture(architecture)
    output_shape = _check_shape("output_shape", output_shape)
    checks.integer(event_size, "event_size")
    layers = [keras.Input(shape=(event_size,))]
    if architecture == "conv":
        _check_conv_image("output_shape", output_shape, filters)
        hidden = (256,) if hidden is None else tuple(hidden)
        layers += [keras.layers.Dense(checks.integer(h, "hidden"), activation="relu") for h in reversed(hidden)]
        factor = 2 ** len(filters)
        bottleneck = (output_shape[0] // factor, output_shape[1] // factor, filters[-1])
        layers += [keras.layers.Dense(math.prod(bottleneck), activation="relu"),
                   keras.layers.Reshape(bottleneck)]
        mirrored = list(reversed(filters))[1:] + [output_shape[-1]]
        layers += [keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same",
                                                activation=None if i == len(mirrored) - 1 else "relu")
                   for i, f in enumerate(mirrored)]
    else:
        hidden = (512, 512) if hidden is None else tuple(hidden)
        layers += [keras.layers.Dense(checks.integer(h, "hidden"), activation="relu") for h in reversed(hidden)]
        layers += [keras.layers.Dense(math.prod(output_shape)), keras.layers.Reshape(output_shape)]
    return keras.Sequential(layers, name=name)


def build(architecture: str, input_shape: Sequence[int], latent: Latent,
          **options: Any) -> tuple[keras.Sequential, keras.Sequential]:
    """Encoder and decoder of one architecture for a latent family.

    Args:
        architecture: "conv" or "mlp".
        input_shape: shape of one observation.
        latent: a ``refvae.latents`` family (uses ``param_size`` and ``event_size``).
        **options: ``filters``, ``hidden`` (passed to both builders).

    Returns:
        (encoder, decoder).

    Example::

        encoder, decoder = build("mlp", (8, 8, 1), refvae.latents.DiagonalGaussian(4), hidden=(128, 128))
    """
    return (build_encoder(architecture, input_shape, latent.param_size, **options),
            build_decoder(architecture, input_shape, latent.event_size, **options))


def resolve_architecture(architecture: str, input_shape: Sequence[int]) -> str:
    """"auto" -> "conv" for 64×64 images (the conv net's input), "mlp" otherwise; others unchanged."""
    if architecture == "auto":
        return "conv" if tuple(input_shape[:2]) == (64, 64) else "mlp"
    return _check_architecture(architecture)


def for_run(config: RunConfig, input_shape: Sequence[int],
            latent: Latent) -> tuple[keras.Sequential, keras.Sequential]:
    """Encoder and decoder of a run's configuration (its ``architecture``, ``hidden`` and ``filters``)."""
    options = {} if config.filters is None else {"filters": tuple(config.filters)}
    return build(resolve_architecture(config.architecture, input_shape), input_shape, latent,
                 hidden=config.hidden, **options)

