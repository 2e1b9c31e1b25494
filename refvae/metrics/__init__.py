"""Disentanglement metrics: one module a metric, each a pure core on arrays plus a wrapper.

The core functions take codes and factors (NumPy arrays) and are easy to test; the
``compute_*`` / ``*_score`` wrappers sample fresh factor vectors from a ground-truth data set
(``factor_sizes``, ``sample_factors(n, rng)``, ``observations_from_factors(f)``) and encode
them through a ``representation`` callable (observations -> codes [n, D]), with the sample
sizes of the literature (disentanglement_lib, ``unsupervised_study_v1``) as defaults.

=======================  ===================================================================
``mig``                  histogram MIG (disentanglement_lib; 001 eq 6) — ``compute_mig``
``mig_sampled``          sampled MIG over the whole factor grid (001 eqs 5-6)
``beta_vae_score``       Higgins et al. 2017 (001 Table 1)
``factor_vae_score``     Kim & Mnih 2018 (002 Table 3, "Kim")
``dci``                  Eastwood & Williams 2018 (002 Table 3) — ``compute_dci``
``sap``                  Kumar et al. 2018 — ``compute_sap``
``modularity``           Ridgeway & Mozer 2018, with explicitness — ``compute_modularity``
``dimwise_mutual_information``  I(x; z_j), Var q(z_j), active dimensions (000, 002); of a
                         posterior callable: ``posterior_dimwise_mutual_information``;
                         ``anchor_ranking`` (000 Fig 4)
``sample_quality``       Fréchet distance and confidence of a digits classifier on generated images (000 §6.3)
``tc_means_vs_samples``  TC of mean codes vs TC of sampled codes (004)
``unsupervised_accuracy``  Hungarian-matched cluster accuracy (000, 003)
``concrete_mig``         MIG between a Concrete group and the best continuous code (002 §6)
``irs``                  interventional robustness, Suter et al. 2019 — ``compute_irs``
``gaussian_correlation``  Gaussian total and Wasserstein correlation of the codes (no factors)
``code_mutual_info``     mean MI between pairs of discretised codes (no factors)
``unsupervised_scores``  the last two together (Locatello et al. 2019) — ``compute_unsupervised_scores``
``split_train_test``     first ceil(N · fraction) rows train, the rest test
=======================  ===================================================================

Importing this package does not import TensorFlow; the functions that need it
(``mig_sampled``, ``dimwise_mutual_information``, ``tc_of_samples``) import it when called.
"""

import importlib

# The metric modules register themselves (refvae.metrics.registry) in this order, the order in
# which `refvae evaluate` lists and computes them.
for _module in ("mig", "beta_vae", "majority_vote", "dci", "sap", "modularity", "irs", "gaussian_correlation",
                "code_mutual_info", "tc", "mutual_info"):
    importlib.import_module(f"refvae.metrics.{_module}")

# Modules whose names are used as refvae.metrics.<module>.<name>.
from refvae.metrics import registry, sample_quality, sampling, utils  # noqa: F401
from refvae.metrics.beta_vae import beta_vae_features, beta_vae_score, beta_vae_score_from_features
from refvae.metrics.clustering import cluster_assignment, compute_concrete_mig, concrete_mig, unsupervised_accuracy
from refvae.metrics.code_mutual_info import code_mutual_info
from refvae.metrics.dci import IMPORTANCE_METHODS, compute_dci, dci, dci_from_importance, importance_matrix
from refvae.metrics.gaussian_correlation import gaussian_correlation, gaussian_wasserstein_correlation
from refvae.metrics.irs import compute_irs, irs
from refvae.metrics.majority_vote import factor_vae_score, factor_vae_votes, majority_vote_accuracy, prune_dims
from refvae.metrics.mig import compute_mig, mig, mig_from_mutual_info, mig_sampled, subgrid_factors
from refvae.metrics.modularity import compute_modularity, explicitness, modularity, modularity_from_mutual_info
from refvae.metrics.mutual_info import (
    active_dimensions,
    aggregate_marginal_variance,
    anchor_ranking,
    compute_dimwise_mutual_information,
    dimwise_mutual_information,
    posterior_dimwise_mutual_information,
)
from refvae.metrics.sampling import split_train_test
from refvae.metrics.sap import compute_sap, sap, sap_from_scores, sap_score_matrix
from refvae.metrics.tc import (
    compute_tc_means_vs_samples,
    minibatch_tc_terms,
    tc_means_vs_samples,
    tc_of_means,
    tc_of_samples,
)
from refvae.metrics.unsupervised import compute_unsupervised_scores, unsupervised_scores

__all__ = [
    "active_dimensions",
    "aggregate_marginal_variance",
    "anchor_ranking",
    "beta_vae_features",
    "beta_vae_score",
    "beta_vae_score_from_features",
    "cluster_assignment",
    "code_mutual_info",
    "compute_concrete_mig",
    "compute_dci",
    "compute_dimwise_mutual_information",
    "compute_irs",
    "compute_mig",
    "compute_modularity",
    "compute_sap",
    "compute_tc_means_vs_samples",
    "compute_unsupervised_scores",
    "concrete_mig",
    "dci",
    "dci_from_importance",
    "dimwise_mutual_information",
    "explicitness",
    "factor_vae_score",
    "factor_vae_votes",
    "gaussian_correlation",
    "gaussian_wasserstein_correlation",
    "importance_matrix",
    "IMPORTANCE_METHODS",
    "irs",
    "majority_vote_accuracy",
    "mig",
    "mig_from_mutual_info",
    "mig_sampled",
    "minibatch_tc_terms",
    "modularity",
    "modularity_from_mutual_info",
    "posterior_dimwise_mutual_information",
    "prune_dims",
    "sap",
    "sap_from_scores",
    "sap_score_matrix",
    "split_train_test",
    "subgrid_factors",
    "tc_means_vs_samples",
    "tc_of_means",
    "tc_of_samples",
    "unsupervised_accuracy",
    "unsupervised_scores",
]
