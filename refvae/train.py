"""Old import path of the training run; each name warns and gives where it lives now.

Training moved to ``refvae.runs`` (0.3): the configuration (``RunConfig``, valid by
construction), the run directory (``RunDirectory``: one writer, checked resumes), the one
training loop (``fit``) and the function that trains one run (``train``). The models a run can
train are ``refvae.runs.registry.MODELS``. These names keep working until refvae 0.5, each with
a ``DeprecationWarning`` naming the new one.
"""

import warnings

from refvae._lazy import REMOVED_IN, moved_names

_MOVED = {
    "train": "refvae.runs.training:train",
    "build_model": "refvae.runs.training:build_model",
    "batch_at": "refvae.runs.training:batch_at",
    "load_model": "refvae.runs.training:load_model",
    "read_history": "refvae.runs.directory:read_history",
    "load_data": "refvae.data:load",
    "PRESETS": "refvae.runs.config:PRESETS",
    "ESTIMATORS": "refvae.runs.config:ESTIMATORS",
    "STRATEGIES": "refvae.runs.config:STRATEGIES",
    "ARCHITECTURES": "refvae.runs.config:ARCHITECTURES",
    "DATASETS": "refvae.data:NAMES",
    "MODELS": "refvae.runs.registry:MODELS",
    "EstimatorBiasMonitor": "refvae.runs.callbacks:EstimatorBiasMonitor",
    "EstimatorBiasWarning": "refvae.runs.callbacks:EstimatorBiasWarning",
    "NonFiniteLoss": "refvae.runs.loop:NonFiniteLoss",
    "make_strategy": "refvae.runs.loop:make_strategy",
    "distributed_step": "refvae.runs.loop:compiled_step",
}
__all__ = sorted([*_MOVED, "TrainConfig"])
_moved = moved_names(__name__, _MOVED)


def __getattr__(name):
    if name == "TrainConfig":
        return _train_config_class()
    return _moved(name)


def _train_config_class():
    from refvae.runs.config import RunConfig

    warnings.warn(f"refvae.train.TrainConfig is deprecated and will be removed in refvae {REMOVED_IN}: use "
                  "refvae.runs.RunConfig (RunConfig.create(**options) takes the same flat options)",
                  DeprecationWarning, stacklevel=3)

    class TrainConfig:
        """``TrainConfig(**options)`` gives ``refvae.runs.RunConfig.create(**options)``."""

        def __new__(cls, **options):
            return RunConfig.create(**options)

        from_dict = staticmethod(RunConfig.from_dict)
        from_preset = staticmethod(RunConfig.from_preset)
        load = staticmethod(RunConfig.load)

    return TrainConfig
