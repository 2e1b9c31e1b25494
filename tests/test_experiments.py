"""The claim scripts of experiments/ run in their smallest setting (--smoke) and write a JSON
with the expected keys, finite numbers, and a figure under the size limit of RESULTS.md."""

import json
import math

import numpy as np
import pytest

from experiments import (
    claim1_estimator_bias,
    claim2_beta_tcvae_mig,
    claim3_tc_means_vs_samples,
    claim8_held_out,
    common,
)

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def _written(out, name):
    payload = json.loads((out / f"{name}.json").read_text())
    png = out / f"{name}.png"
    assert png.stat().st_size < 200 * 1024, f"{png} is {png.stat().st_size} bytes"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert common.non_finite(payload) == [], common.non_finite(payload)
    for key in ("claim", "paper", "mode", "seeds", "settings", "environment", "seconds"):
        assert key in payload, key
    assert payload["mode"] == "smoke"
    return payload


def test_common_parse_args_modes_and_seeds():
    assert common.parse_args("x", ["--smoke"], default_seeds=(4, 5)).seeds == [4]
    args = common.parse_args("x", ["--full"], default_seeds=(0,), full_seeds=(1, 2, 3))
    assert (args.mode, args.seeds) == ("full", [1, 2, 3])
    assert common.parse_args("x", ["--seeds", "7", "8"]).seeds == [7, 8]
    with pytest.raises(SystemExit):
        common.parse_args("x", ["--seeds", "1", "1"])
    with pytest.raises(SystemExit):
        common.parse_args("x", ["--smoke", "--full"])
    assert common.parse_args("x", ["--steps", "4000"], steps_option=True).steps == 4000
    assert common.parse_args("x", [], steps_option=True).steps is None
    assert common.dsprites_sizes(common.parse_args("x", ["--steps", "4000"], steps_option=True))["steps"] == 4000
    assert common.dsprites_sizes(common.parse_args("x", [], steps_option=True))["steps"] == 1000
    with pytest.raises(SystemExit):
        common.parse_args("x", ["--steps", "0"], steps_option=True)


def test_common_write_json_is_atomic_and_converts_numpy(tmp_path):
    path = common.write_json(tmp_path / "a.json", {"x": np.float32(1.5), "y": np.arange(3), "z": float("nan")})
    assert json.loads(path.read_text().replace("NaN", "null")) == {"x": 1.5, "y": [0, 1, 2], "z": None}
    assert not (tmp_path / "a.json.tmp").exists() and not (tmp_path / "tmp-a.json").exists()
    assert common.non_finite({"a": [1.0, {"b": math.inf}]}) == ["a[1].b"]


def test_common_image_data_options_default_to_digits_and_mnist_when_full(tmp_path):
    assert common.parse_args("x", [], image_data=True).data == "digits"
    assert common.parse_args("x", ["--full"], image_data=True).data == "mnist"
    args = common.parse_args("x", ["--full", "--data", "digits", "--data-dir", str(tmp_path)], image_data=True)
    assert (args.data, args.data_dir) == ("digits", tmp_path)
    with pytest.raises(SystemExit, match="--data-dir"):
        common.load_images("mnist", data_dir=tmp_path)        # an empty directory: no IDX files
    x_train, y_train, x_test, y_test = common.load_images("digits", binarise=True)
    assert set(np.unique(x_train)) <= {0.0, 1.0} and len(x_train) == len(y_train) == 1438 and len(x_test) == 359


def test_common_epoch_batches_visit_every_row_once_per_epoch():
    x = np.arange(10)
    batch = common.epoch_batches(x, seed=4, batch_size=3)        # 3 batches an epoch, one row dropped
    epoch = np.concatenate([batch(step) for step in range(3)])
    assert len(set(epoch.tolist())) == 9
    np.testing.assert_array_equal(batch(4), common.epoch_batches(x, seed=4, batch_size=3)(4))


def test_common_kmeans_accuracy_is_one_on_separated_clusters_and_scores_held_out_points():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    features = 10.0 * labels[:, None] + rng.normal(size=(90, 2))
    assert common.kmeans_accuracy(features, labels, seed=0, num_clusters=3) == 1.0
    held_out = 10.0 * labels[:, None] + rng.normal(size=(90, 2))
    assert common.kmeans_accuracy(features, labels, seed=0, test_features=held_out, num_clusters=3) == 1.0


def test_common_matched_contingency_puts_the_matched_cluster_of_each_label_on_the_diagonal():
    # clusters 2, 0 hold labels 0, 1; cluster 1 is empty and fills the remaining row
    table, order = common.matched_contingency([2, 2, 0, 0, 0], [0, 0, 1, 1, 0], num_classes=3)
    assert order == [2, 0, 1]
    assert table.tolist() == [[2, 0, 0], [1, 2, 0], [0, 0, 0]]
    assert np.trace(table) == 4                       # = unsupervised_accuracy 0.8 of 5 points


def test_claim1_smoke_writes_estimates_and_truths(out):
    claim1_estimator_bias.main(["--smoke", "--out", str(out)])
    payload = _written(out, claim1_estimator_bias.NAME)
    sizes = claim1_estimator_bias.SIZES["smoke"]
    assert len(payload["table"]) == len(sizes["dims"]) * len(sizes["rhos"])
    row = payload["table"][0]
    for key in ("gaussian_tc", "finite_tc", *claim1_estimator_bias.METHODS):
        assert key in row
    # the Gaussian truth at rho = 0 is the TC of N(0, (1 + sigma^2) I): exactly 0
    assert abs(row["gaussian_tc"]) < 1e-9 and row["rho"] == 0.0
    # MWS with its constant kept is above MWS with it dropped by exactly (D - 1) log(N B) in every batch
    n, b, d = sizes["dataset_size"], sizes["batch_size"], row["dim"]
    gap = row["mws"]["mean"] - row["mws_dropped"]["mean"]
    assert gap == pytest.approx((d - 1) * math.log(n * b), rel=1e-4)
    assert set(payload["checks"]) >= {"max_abs_error_dim_le_4", "fraction_underestimated", "mean_abs_error"}


def test_claim2_smoke_writes_mig_and_elbo_per_model(out):
    claim2_beta_tcvae_mig.main(["--smoke", "--out", str(out)])
    payload = _written(out, claim2_beta_tcvae_mig.NAME)
    models = {r["spec"]["model"] for r in payload["runs"]}
    assert models == {"beta-vae", "beta-tcvae"}
    for run in payload["runs"]:
        assert 0.0 <= run["mig"] <= 1.0 and 0.0 <= run["mig_sampled"] <= 1.0
        assert run["elbo"] < 0.0 and run["elbo"] == pytest.approx(run["reconstruction"] - run["kl"], rel=1e-5)
    assert payload["comparisons"][0]["num_pairs"] == 1


def test_claim3_smoke_writes_tc_of_means_and_samples(out):
    claim3_tc_means_vs_samples.main(["--smoke", "--out", str(out)])
    payload = _written(out, claim3_tc_means_vs_samples.NAME)
    assert set(payload["table"]) == {"beta-tcvae", "factor-vae", "rtc", "rtc-discriminator"}
    for run in payload["runs"]:
        assert run["tc_mean"] >= 0.0 and run["tc_sample_gaussian"] >= 0.0 and math.isfinite(run["tc_sample"])
        # adding the posterior noise diag E[σ²] to Cov(μ) can only lower the Gaussian TC
        assert run["tc_sample_gaussian"] <= run["tc_mean"] + 1e-9
        # 004's β (extra TC weight) gives the same total TC weight 1 + β for every model
        assert run["tc_weight"] == pytest.approx(1.0 + run["beta_004"])


def test_claim8_smoke_writes_seen_and_unseen_reconstruction(out):
    claim8_held_out.main(["--smoke", "--out", str(out)])
    payload = _written(out, claim8_held_out.NAME)
    run = payload["runs"][0]
    for label in ("pruned", "full"):
        for key in ("unseen_bce", "seen_bce"):
            assert 0.0 < run[label][key] < math.log(2.0) * 2, (label, key, run[label][key])
    assert payload["settings"]["train_points"] + payload["settings"]["held_out_points"] == 737_280
