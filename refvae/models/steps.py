"""The plumbing every refvae model's training step shares: the global batch under
``tf.distribute``, one gradient path, calls of an auxiliary network without weight gradients,
and the (de)serialisation of the Keras sub-networks.

The model files (``vae``, ``factor_vae``, ``infomax``, ``hierarchical``) import these pieces
from here; none imports another model file for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf


def serialize_networks(model: keras.Model, names: Iterable[str]) -> dict[str, Any]:
    """{name: serialised sub-network} for the Keras networks ``model.<name>`` (for get_config)."""
    return {name: keras.saving.serialize_keras_object(getattr(model, name)) for name in names}


def deserialize_networks(config: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A copy of ``config`` with the serialised networks ``names`` rebuilt (for from_config)."""
    config = dict(config)
    for name in names:
        config[name] = keras.saving.deserialize_keras_object(config[name])
    return config


def gather_replicas(*tensors: tf.Tensor) -> tf.Tensor | tuple[tf.Tensor, ...]:
    """The tensors of the global batch: under a ``tf.distribute`` strategy with R > 1 replicas
    each replica holds a slice of the batch, and these are the slices concatenated in replica
    order (``all_gather`` on axis 0); with one replica the tensors themselves.

    Every quantity that looks across the batch (a q(z) estimator, a permutation of the codes,
    a batch mean of class probabilities) is computed on gathered tensors, so every replica
    computes the value a single device computes on the whole batch.
    """
    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return tensors if len(tensors) != 1 else tensors[0]
    gathered = tuple(tf.ensure_shape(replica.all_gather(t, axis=0), [None, *t.shape[1:]]) for t in tensors)
    return gathered if len(gathered) != 1 else gathered[0]


def gradient_step(tape: tf.GradientTape, loss: tf.Tensor, variables: Sequence[tf.Variable],
                  optimizer: keras.optimizers.Optimizer) -> None:
    """One step of ``optimizer`` on ``loss`` with respect to ``variables``; the one gradient
    path of every refvae model, one call per optimiser.

    With R replicas every replica computes the same global-batch loss (``gather_replicas``);
    the gradient of ``all_gather`` sums the R identical upstream gradients onto the local
    slice, and the optimiser sums the replicas' gradients, so each gradient is R times the
    single-device one and the loss is scaled by 1/R. (A loss that is a mean over the local
    slice only comes out the same way: the R local means of the gradient sum to R times the
    global mean.) ``tape`` has recorded ``loss``; the 1/R enters as the gradient seed, so
    the caller's tape need not record it.
    """
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    seed = tf.constant(1.0 / replicas, loss.dtype) if replicas > 1 else None
    optimizer.apply(tape.gradient(loss, variables, output_gradients=seed), variables)


def observations_of(data: Any) -> Any:
    """x from what ``fit`` passes: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def call_without_weight_gradients(network: keras.Model, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
    """``network(inputs)`` with the network's weights held constant (no gradient to them).

    The weights enter through ``stop_gradient`` in a ``stateless_call``; the gradient with
    respect to ``inputs`` flows as usual. Used for the VAE's side of an auxiliary network
    (FactorVAE's discriminator, InfoMax's Q), so the VAE loss cannot update it.
    """
    trainable = [tf.stop_gradient(v.value) for v in network.trainable_variables]
    non_trainable = [v.value for v in network.non_trainable_variables]
    outputs, _ = network.stateless_call(trainable, non_trainable, inputs, training=training)
    return outputs
