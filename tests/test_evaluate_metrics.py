"""`refvae evaluate --metrics`: the IRS and the unsupervised scores from a trained model."""

import numpy as np
import pytest

from refvae import data, evaluate, metrics, runs


def test_new_metric_names_are_accepted_and_unknown_ones_refused():
    assert evaluate.check_metrics(["irs", "gaussian-correlation", "code-mi"]) == ("irs", "gaussian-correlation", "code-mi")
    with pytest.raises(ValueError, match="metrics must be a subset of mig,mig-sampled,beta-vae,factor-vae,dci,sap"):
        evaluate.check_metrics(["interventional"])


@pytest.mark.slow
def test_evaluate_scores_irs_and_unsupervised_metrics_as_the_library_functions_do(tmp_path):
    dataset = data.load("dsprites")
    config = runs.RunConfig.create(model="vae", data="dsprites", architecture="mlp", hidden=(8,), latent_dim=3,
                               steps=1, batch_size=8, out=str(tmp_path / "run"), seed=3)
    model = runs.build_model(config, dataset)
    names = ["irs", "gaussian-correlation", "code-mi"]
    results = evaluate.compute_metrics(model, dataset, names, seed=5, num_points=200, profile="disentanglement-lib")
    representation = lambda x: np.asarray(model.posterior(x).loc)  # noqa: E731
    irs = metrics.compute_irs(dataset, representation, np.random.default_rng(5), num_train=200)
    codes, _ = metrics.sampling.sample_representation(dataset, representation, 200, np.random.default_rng(5))
    assert results["irs"]["irs"] == pytest.approx(irs["irs"], abs=1e-6)
    assert results["gaussian-correlation"]["gaussian_wasserstein_correlation"] == pytest.approx(
        metrics.gaussian_correlation(codes)["gaussian_wasserstein_correlation"], rel=1e-5
    )
    assert results["code-mi"]["mutual_info_score"] == pytest.approx(
        metrics.code_mutual_info(codes)["mutual_info_score"], abs=1e-6
    )
    summary = evaluate.headline(results)
    assert set(summary) == set(names) and 0.0 <= summary["irs"] <= 1.0
