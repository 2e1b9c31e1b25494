"""Scripts that reproduce the claims of the source papers, one module a claim.

Each is runnable as ``python -m experiments.claimN_name [--smoke | --full] [--seeds ...] [--out DIR]``
and writes ``claimN_name.json`` (its numbers) and ``claimN_name.png`` (its figure) to ``DIR``
(default ``experiments/results``). ``RESULTS.md`` at the top level puts them beside the
papers' numbers.

=================================  =====================================================
``claim1_estimator_bias``          004 Fig 1: MWS / MSS / HFVAE TC estimators vs the
                                   closed-form Gaussian TC, D = 2 … 32
``claim2_beta_tcvae_mig``          001 Figs 2-4: β-TCVAE vs β-VAE, MIG and ELBO over β
``claim3_tc_means_vs_samples``     004 Figs 3-4: TC of mean codes vs TC of samples
``claim4_infomax``                 003 §4.3.2, §4.4.2: InfoMax VAE's categorical code
                                   clusters digits better than the ELBO's
``claim5_anchor``                  000 §6.2-6.3: AnchorVAE's anchors carry the most
                                   I(x; z_j); sampling from Π_j q(z_j) beats N(0, I)
``claim6_hfvae``                   002 §2 Figs 1-2, §5.3-5.4: HFVAE's term removal and its
                                   Concrete variable capturing the class
``claim7_hierarchical``            000 §6.1 Fig 2: the top layer of the hierarchical
                                   CorEx VAE clusters the classes
``claim8_held_out``                002 §5.5: reconstruction of held-out factor combinations
=================================  =====================================================

``study_recipe`` is not a claim of the papers but a pre-registered study of this project:
which training settings make β-TCVAE disentangle dSprites fastest on 2 CPU cores (the
"recipe" preset of ``refvae.runs``; RESULTS.md, "A training recipe for CPU").
"""
