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
``claim8_held_out``                002 §5.5: reconstruction of held-out factor combinations
=================================  =====================================================
"""
