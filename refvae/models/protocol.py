"""What every refvae model offers to the code that trains, scores and reports it.

A run (``refvae.runs``), ``refvae evaluate`` and the report never ask a model for its type or
for the names of its sub-networks; they use this protocol, which every model of the registry
(``refvae.runs.registry``) provides, the two-layer ``HierarchicalVAE`` included:

=========================  ==============================================================
``code_posterior(x)``      q(z | x) of the Gaussian code the metrics score: a
                           ``tfd.Normal`` with batch shape [B, code_size]
``code_size``              D, the width of that code
``decode_code(z, like)``   E[x | z] for Gaussian codes z [n, D]; the rest of the latent (a
                           categorical part) is the mean code of the observation ``like``
``sample(n, source, ...)`` generated observations; ``source`` one of ``SAMPLE_SOURCES``
``observation_shape``      the shape of one observation the encoder takes
``logged_terms``           the names ``train_step`` reports
``estimated_tc_weight``    the weight of the minibatch estimate of the total correlation in
                           the loss (0 when the loss has none: a TC from a discriminator, or
                           no TC term at all)
``checkpoint_objects()``   what a training checkpoint must hold besides the weights: every
                           optimiser and the state of the model's random numbers
=========================  ==============================================================

:class:`ModelMixin` holds the parts that are the same for every model (the metric trackers,
compiling with the optimiser built, the checkpoint objects); the model classes add the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import keras

if TYPE_CHECKING:
    import tensorflow as tf


@runtime_checkable
class RunModel(Protocol):
    """The protocol (see the module docstring); ``isinstance(model, RunModel)`` checks it."""

    SAMPLE_SOURCES: tuple[str, ...]
    logged_terms: list[str]

    def code_posterior(self, x: Any) -> Any: ...

    @property
    def code_size(self) -> int: ...

    def decode_code(self, codes: Any, like: Any = None) -> Any: ...

    def sample(self, n: int, source: str = "prior", seed: int | None = None, reference: Any = None) -> Any: ...

    @property
    def observation_shape(self) -> tuple[int, ...]: ...

    @property
    def estimated_tc_weight(self) -> float: ...

    def checkpoint_objects(self) -> dict[str, Any]: ...


class ModelMixin:
    """The protocol's parts common to every refvae model (mixed into a ``keras.Model``).

    A subclass sets ``self.trackers`` ({term name: ``keras.metrics.Mean``}), ``self.seed_generator``
    and ``optimized_variables`` (what ``self.optimizer`` updates), and lists in ``OPTIMIZERS`` the
    attribute names of its optimisers.
    """

    OPTIMIZERS: tuple[str, ...] = ("optimizer",)   # every optimiser a training checkpoint must hold
    SAMPLE_SOURCES: tuple[str, ...] = ("prior",)

    trackers: dict[str, keras.metrics.Mean]
    seed_generator: keras.random.SeedGenerator
    optimizer: Any

    @property
    def metrics(self) -> list[keras.metrics.Mean]:
        return list(self.trackers.values())

    def _update_metrics(self, terms: Mapping[str, tf.Tensor], loss: tf.Tensor) -> dict[str, tf.Tensor]:
        for name, tracker in self.trackers.items():
            tracker.update_state(loss if name == "loss" else terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    @property
    def optimized_variables(self) -> list[Any]:
        raise NotImplementedError

    def compile(self, optimizer: str | keras.optimizers.Optimizer = "adam", **kwargs: Any) -> None:
        """``keras.Model.compile`` (``kwargs`` are its other arguments), then the optimiser built."""
        super().compile(optimizer=optimizer, **kwargs)   # type: ignore[misc]
        # Built on the variables this optimiser updates, now: a checkpoint restores into it, and
        # models with auxiliary networks (FactorVAE's discriminator, InfoMax's Q) give those
        # their own optimisers.
        self.optimizer.build(self.optimized_variables)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from the config Keras saved with the model (:meth:`compile`'s arguments)."""
        # Keras skips a custom compile when loading; this one is safe to replay.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def checkpoint_objects(self) -> dict[str, Any]:
        """The model, every optimiser (moments and step counts) and the state of the model's
        SeedGenerator: a resumed run must draw the noise the uninterrupted run would have drawn."""
        optimizers = {name: getattr(self, name) for name in self.OPTIMIZERS}
        return {"model": self, **optimizers, "sampling_state": self.seed_generator.state}

    @property
    def estimated_tc_weight(self) -> float:
        return 0.0
