"""Models: encoders and decoders (``networks``), likelihoods p(x|z) (``likelihoods``), the
:class:`VAE` Keras model that trains any objective of ``refvae.objectives``, and the models
with auxiliary networks or a second latent layer (:class:`FactorVAE`, :class:`InfoMaxVAE`,
:class:`HierarchicalVAE`). Every one follows the protocol of ``refvae.models.protocol``; the
plumbing their training steps share is ``refvae.models.steps``. The models a run trains by
name are listed in ``refvae.runs.registry``.

Importing this package registers the model classes with Keras, so ``keras.models.load_model``
can rebuild a saved model::

    import refvae.models
    model = keras.models.load_model("model.keras", safe_mode=True)
"""

from refvae._lazy import lazy_submodules
from refvae.models import likelihoods, networks, protocol, steps
from refvae.models.factor_vae import FactorVAE, build_discriminator, density_ratio_tc, permute_dims
from refvae.models.hierarchical import HierarchicalVAE
from refvae.models.infomax import InfoMaxVAE
from refvae.models.vae import VAE, TemperatureSchedule

__all__ = ["VAE", "FactorVAE", "HierarchicalVAE", "InfoMaxVAE", "TemperatureSchedule", "build_discriminator",
           "density_ratio_tc", "likelihoods", "networks", "permute_dims", "protocol", "steps"]

# ``refvae.models.anchor`` (AnchorVAE's measurements, now in refvae.metrics) is imported on use only.
__getattr__, __dir__ = lazy_submodules(__name__, ("anchor",))
