"""Models: encoders and decoders (``networks``), likelihoods p(x|z) (``likelihoods``) and the
:class:`VAE` Keras model that trains any objective of ``refvae.objectives``.

Importing this package registers ``VAE`` with Keras, so ``keras.models.load_model`` can
rebuild a saved model::

    import refvae.models
    model = keras.models.load_model("model.keras")
"""

from refvae.models import likelihoods, networks
from refvae.models.vae import VAE, TemperatureSchedule

__all__ = ["VAE", "TemperatureSchedule", "likelihoods", "networks"]

# Models with auxiliary networks or a second latent layer.
from refvae.models import anchor  # noqa: E402
from refvae.models.factor_vae import FactorVAE, build_discriminator, density_ratio_tc, permute_dims  # noqa: E402
from refvae.models.hierarchical import HierarchicalVAE  # noqa: E402
from refvae.models.infomax import InfoMaxVAE  # noqa: E402

__all__ += ["FactorVAE", "HierarchicalVAE", "InfoMaxVAE", "anchor", "build_discriminator", "density_ratio_tc",
            "permute_dims"]
