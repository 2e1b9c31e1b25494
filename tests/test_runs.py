"""refvae.runs and `refvae train` / `evaluate`: validation before work, resumable runs, reports."""

import json
import subprocess
import sys

import numpy as np
import pytest

from refvae import data, runs


def _config(tmp_path, **overrides):
    values = dict(model="beta-tcvae", data="digits", steps=30, batch_size=32, out=str(tmp_path / "run"),
                  checkpoint_every=10, log_every=5, latent_dim=4, seed=3)
    values.update(overrides)
    return runs.RunConfig.create(**values)


@pytest.mark.parametrize(
    "overrides, option",
    [
        (dict(steps=-5), "steps must be a positive integer"),
        (dict(beta=-1.0), "beta must be a number >= 0"),
        (dict(estimator="magic"), "estimator must be one of"),
        (dict(model="vae", beta=2.0), "beta does not apply to model vae"),
        (dict(batch_size=1), "batch_size must be an integer >= 2"),
        (dict(model="gan"), "model must be one of"),
        (dict(model="anchor-vae", anchors=(7,)), r"anchors must be distinct latent dimensions in \[0, 4\)"),
        (dict(architecture="resnet"), "architecture must be one of"),
        (dict(hidden=(256, 0)), "hidden must be positive integers"),
        (dict(filters=(16, -1, 32, 32)), "filters must be positive integers"),
    ],
)
def test_bad_options_are_refused_when_the_config_is_made(tmp_path, overrides, option):
    with pytest.raises(runs.ConfigError, match=option):
        _config(tmp_path, **overrides)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_architecture_and_hidden_widths_reach_the_networks_and_the_saved_config(tmp_path):
    from refvae import cli

    parser = cli.build_parser()
    args = parser.parse_args(["train", "--data", "dsprites", "--architecture", "mlp", "--hidden", "48,24",
                              "--out", str(tmp_path / "run")])
    config = cli._train_config(args)
    assert (config.architecture, config.hidden) == ("mlp", (48, 24))
    model = runs.build_model(config, data.load("dsprites"))
    dense = [layer.units for layer in model.encoder.layers if hasattr(layer, "units")]
    assert dense == [48, 24, 2 * config.latent_dim]            # 4096 -> 48 -> 24 -> (mu, sigma) of 10 latents
    assert runs.RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))).hidden == (48, 24)
    auto = runs.build_model(_config(tmp_path, data="dsprites", latent_dim=10), data.load("dsprites"))
    assert any("conv" in layer.name for layer in auto.encoder.layers)    # auto: 64 x 64 images get the conv net


@pytest.mark.slow
def test_filters_reach_the_conv_networks_and_the_saved_config(tmp_path):
    from refvae import cli

    args = cli.build_parser().parse_args(["train", "--data", "dsprites", "--filters", "8,8,16,16",
                                          "--out", str(tmp_path / "run")])
    config = cli._train_config(args)
    model = runs.build_model(config, data.load("dsprites"))
    assert [layer.filters for layer in model.encoder.layers if hasattr(layer, "filters")] == [8, 8, 16, 16]
    # the decoder mirrors them and ends in one channel of logits
    assert [layer.filters for layer in model.decoder.layers if hasattr(layer, "filters")] == [16, 8, 8, 1]
    assert runs.RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))).filters == (8, 8, 16, 16)


@pytest.mark.slow
def test_on_checkpoint_is_called_after_every_checkpoint(tmp_path):
    calls = []
    runs.train(_config(tmp_path, steps=25), progress=False,
                on_checkpoint=lambda step, model: calls.append((step, int(model.optimizer.iterations.numpy()))))
    assert calls == [(10, 10), (20, 20), (25, 25)]


def test_batch_larger_than_the_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="batch_size 5000 is larger than the data set"):
        runs.train(_config(tmp_path, batch_size=5000), progress=False)


@pytest.mark.slow
def test_run_dir_holding_a_different_model_is_refused(tmp_path):
    runs.train(_config(tmp_path, steps=2, checkpoint_every=1), progress=False)
    with pytest.raises(ValueError, match="holds a different run"):
        runs.train(_config(tmp_path, model="beta-vae", steps=2), resume=True, progress=False)


@pytest.mark.slow
def test_interrupted_then_resumed_run_ends_where_the_uninterrupted_run_ends(tmp_path):
    whole = runs.train(_config(tmp_path, out=str(tmp_path / "whole")), progress=False)
    runs.train(_config(tmp_path, out=str(tmp_path / "split"), steps=20), progress=False)
    resumed = runs.train(_config(tmp_path, out=str(tmp_path / "split")), resume=True, progress=False)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    history_whole = runs.read_history(tmp_path / "whole")
    history_split = runs.read_history(tmp_path / "split")
    np.testing.assert_array_equal(history_whole["step"], [5, 10, 15, 20, 25, 30])
    np.testing.assert_allclose(history_whole["loss"], history_split["loss"], rtol=1e-5)


def test_history_rows_are_appended_and_a_resume_keeps_the_rows_up_to_its_checkpoint(tmp_path):
    history = runs.callbacks.History(every=5, path=tmp_path / "history.csv")
    history.on_train_begin(None, 0, 15)
    for step in range(1, 16):
        history.on_step_end(step, {"loss": 100.0 / step, "kl": step / 4})
    expected = "step,loss,kl\n5,20,1.25\n10,10,2.5\n15,6.66667,3.75\n"
    assert (tmp_path / "history.csv").read_bytes() == expected.encode()
    assert history.as_arrays()["loss"].tolist() == [20.0, 10.0, 100.0 / 15]
    directory = runs.RunDirectory(tmp_path)
    with (tmp_path / "history.csv").open("ab") as handle:  # an append cut short by an interruption
        handle.write(b"2")  # the first byte of "20,...": its terms are missing
    rows = directory.checked_history(["step", "loss", "kl"], upto=15)
    assert [row["step"] for row in rows] == ["5", "10", "15"]
    directory.rewrite_history(directory.checked_history(["step", "loss", "kl"], upto=10))
    assert (tmp_path / "history.csv").read_bytes() == expected.rsplit("15,", 1)[0].encode()
    assert runs.read_history(tmp_path)["loss"].tolist() == [20.0, 10.0]


@pytest.mark.slow
def test_saved_model_loads_safely_and_encodes_like_the_trained_one(tmp_path):
    model = runs.train(_config(tmp_path, steps=5), progress=False)
    loaded = runs.load_model(tmp_path / "run")
    x = data.load("digits").observations_from_factors(np.arange(10)[:, None])
    np.testing.assert_allclose(np.asarray(model.posterior(x).loc), np.asarray(loaded.posterior(x).loc), atol=1e-6)
    assert not list((tmp_path / "run").glob("*.tmp")) and not list((tmp_path / "run").glob("tmp-*"))


@pytest.mark.slow
def test_cli_train_interrupt_resume_evaluate(tmp_path):
    run = tmp_path / "cli"
    base = [sys.executable, "-m", "refvae"]
    common = ["--model", "beta-vae", "--data", "digits", "--batch-size", "32", "--latent-dim", "4",
              "--checkpoint-every", "5", "--log-every", "5", "--out", str(run)]
    subprocess.run(base + ["train", "--steps", "10", *common], check=True, capture_output=True)
    subprocess.run(base + ["train", "--resume", str(run), "--steps", "20"], check=True, capture_output=True)
    assert runs.read_history(run)["step"].tolist() == [5, 10, 15, 20]
    out = subprocess.run(base + ["evaluate", str(run), "--metrics", "mig,mi", "--num-points", "300"],
                         check=True, capture_output=True, text=True).stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["mig"]["mig"] <= 1.0
    assert f"mig: {metrics['mig']['mig']:.4f}" in out
    page = (run / "report.html").read_text()
    for figure in ("reconstructions", "traversals", "samples", "mutual_info", "mutual_info_matrix", "history"):
        assert f"report/{figure}.png" in page
        assert (run / "report" / f"{figure}.png").stat().st_size > 1000
    # The batch TC beside a large batch: the digits training split has N = 1,438 images (80% of
    # sklearn's 1,797), so the large batch is all 1,438 points as one batch; the training batch 32. MSS1 weighs a sample's own
    # posterior by 1/N, so log q(z) >= log q(z|x) - log N and I(x; z) <= log N for both.
    bias = metrics["estimator_bias"]
    assert (bias["batch_size"], bias["large_batch_size"]) == (32, 1438)
    assert bias["log_dataset_size"] == pytest.approx(np.log(1438))
    assert max(bias["index_code_mi_batch"], bias["index_code_mi_large_batch"]) <= np.log(1438) + 1e-6
    assert "Is the batch TC estimate trustworthy?" in page and f"{bias['tc_batch']:.3f}" in page


@pytest.mark.slow
def test_sampled_mig_on_a_subgrid_equals_mig_sampled_of_the_subgrid_posteriors(tmp_path):
    from refvae import evaluate, metrics

    dataset = data.load("dsprites")
    config = _config(tmp_path, data="dsprites", architecture="mlp", hidden=(8,), latent_dim=3)
    model = runs.build_model(config, dataset)
    steps = (1, 3, 20, 16, 16)                                   # 3 x 2 x 2 x 2 x 2 = 48 grid points
    result = evaluate.compute_metrics(model, dataset, ["mig-sampled"], num_points=48, subgrid=steps)["mig-sampled"]
    assert result["grid_sizes"] == [3, 2, 2, 2, 2]
    factors, sizes = metrics.subgrid_factors(dataset.factor_sizes, steps)
    assert factors[1].tolist() == [0, 0, 0, 0, 16] and factors[-1].tolist() == [2, 3, 20, 16, 16]
    posterior = model.posterior(dataset.observations_from_factors(factors))
    direct = metrics.mig_sampled(np.asarray(posterior.loc), np.asarray(posterior.scale), sizes, num_samples=48)
    assert result["mig"] == pytest.approx(direct["mig"], abs=1e-6)
    for bad, message in (((1, 1, 4), "one positive step per factor"), ((1, 6, 1, 1, 1), "fewer than 2 values")):
        with pytest.raises(ValueError, match=message):
            evaluate.compute_metrics(model, dataset, ["mig-sampled"], subgrid=bad)


def test_cli_refuses_a_bad_flag_with_a_message_naming_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "refvae", "train", "--steps", "0", "--out", str(tmp_path / "x")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "--steps must be a positive integer" in result.stderr


def test_every_subcommand_has_complete_help():
    for command in ("train", "evaluate", "demo"):
        out = subprocess.run([sys.executable, "-m", "refvae", command, "--help"], capture_output=True, text=True,
                             check=True).stdout
        assert "usage: refvae " + command in out
    out = subprocess.run([sys.executable, "-m", "refvae", "train", "--help"], capture_output=True, text=True).stdout
    for flag in ("--model", "--data", "--steps", "--batch-size", "--estimator", "--seed", "--out", "--resume",
                 "--beta", "--gamma", "--alpha", "--eta", "--lam", "--capacity", "--config"):
        assert flag in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        dict(model="beta-tcvae", beta=100.0, estimator="mss1", latent_dim=64, batch_size=512),
        dict(model="rtc", beta=100.0, eta=100.0, estimator="mss1", latent_dim=64, batch_size=512),
        dict(model="beta-vae", beta=100.0, estimator="mws", latent_dim=64, batch_size=512),
    ],
    ids=["beta-tcvae-b100-d64-mss", "rtc-b100-eta100", "beta-vae-b100"],
)
def test_extreme_settings_stay_finite(tmp_path, overrides):
    config = _config(tmp_path, steps=3, checkpoint_every=3, log_every=1, learning_rate=1e-3, **overrides)
    runs.train(config, progress=False)
    history = runs.read_history(tmp_path / "run")
    assert history["step"].tolist() == [1, 2, 3]
    for name, values in history.items():
        assert np.all(np.isfinite(values)), name


@pytest.mark.slow
def test_non_finite_loss_stops_the_run_naming_step_terms_and_checkpoint(tmp_path, monkeypatch):
    original = runs.training.batch_at

    def poisoned(dataset, config, step):
        batch = original(dataset, config, step)
        return batch * np.nan if step == 4 else batch

    monkeypatch.setattr(runs.training, "batch_at", poisoned)
    with pytest.raises(runs.NonFiniteLoss, match=r"non-finite loss at step 5: loss=nan.*last good checkpoint: .*ckpt-4"):
        runs.train(_config(tmp_path, steps=10, checkpoint_every=2), progress=False)


@pytest.mark.slow
def test_mss_objective_at_batch_2048_and_64_dims_has_finite_gradients():
    """The TC machinery at the largest setting: B = 2048, D = 64, beta = 100, scales from 1e-3 to 10."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from refvae import decompositions

    rng = np.random.default_rng(0)
    loc = tf.Variable(rng.normal(size=(2048, 64)).astype(np.float32) * 3.0)
    log_scale = tf.Variable(rng.uniform(np.log(1e-3), np.log(10.0), size=(2048, 64)).astype(np.float32))
    prior = tfp.distributions.Normal(tf.zeros(64), tf.ones(64))
    with tf.GradientTape() as tape:
        posterior = tfp.distributions.Normal(loc, tf.exp(log_scale))
        z = loc + tf.exp(log_scale) * tf.constant(rng.normal(size=(2048, 64)).astype(np.float32))
        terms = decompositions.tc_decomposition(z, posterior, prior, dataset_size=737_280, method="mss1")
        loss = terms["index_code_mi"] + 100.0 * terms["total_correlation"] + terms["dimwise_kl"]
    gradients = tape.gradient(loss, [loc, log_scale])
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def _monitor(**overrides):
    values = dict(dataset_size=737_280, batch_size=64, estimator="mss1", tc_weight=6.0, total_steps=100)
    values.update(overrides)
    return runs.callbacks.EstimatorBiasMonitor(**values)


def test_bias_monitor_warns_once_when_the_batch_tc_is_mostly_negative():
    monitor = _monitor()
    messages = [monitor.update(5 * row, {"total_correlation": -1.0 if row % 5 else 0.5, "index_code_mi": 5.0})
                for row in range(1, 21)]
    # rows at steps 5..100; 4 of every 5 negative. The first row that may warn is the 10th
    # (min_rows) at step 50 (>= 25% of 100 steps); 8 of its 10 rows are negative.
    assert [i for i, m in enumerate(messages) if m] == [9]
    assert "negative in 80% of the logged steps" in messages[9]
    assert "weighted by 6 > 1 the objective rewards the estimator's bias" in messages[9]
    assert "A larger batch size (at least 1024) shrinks the bias" in messages[9]
    # the remedy never suggests the batch the run already has: four times it, when that is above 1024
    big = _monitor(batch_size=512)
    message = [big.update(5 * row, {"total_correlation": -1.0, "index_code_mi": 5.0}) for row in range(1, 21)][9]
    assert "at batch 512" in message and "at least 2048" in message


def test_bias_monitor_warns_when_index_code_mi_sits_at_log_n():
    monitor = _monitor(tc_weight=0.0, dataset_size=1000)        # log 1000 = 6.91
    messages = [monitor.update(step, {"total_correlation": 0.3, "index_code_mi": 6.5}) for step in range(10, 101, 10)]
    assert messages[-1] is not None and messages[:-1] == [None] * 9
    assert "within 1 nat of log N = 6.91 in 100%" in messages[-1]
    assert "rewards" not in messages[-1]                        # no TC weight, nothing rewarded


def test_bias_monitor_stays_silent_on_a_sound_estimate():
    monitor = _monitor()
    assert all(monitor.update(step, {"total_correlation": 0.4, "index_code_mi": 9.0}) is None
               for step in range(1, 101))


def test_traversal_rows_are_labelled_with_the_factor_they_carry():
    from refvae.report import traversal_factor

    names = ("shape", "scale", "pos_x")
    entropy = np.log([3.0, 6.0, 32.0])
    # I / H = (0.1, 0.8, 0.05): scale alone; (0.0, 0.3, 0.2): scale and pos_x (0.2 >= 0.5 * 0.3); all < 0.05: inactive
    assert traversal_factor(np.array([0.1, 0.8, 0.05]) * entropy, entropy, names) == "scale"
    assert traversal_factor(np.array([0.0, 0.3, 0.2]) * entropy, entropy, names) == "scale + pos_x"
    assert traversal_factor(np.array([0.01, 0.04, 0.0]) * entropy, entropy, names) == "inactive"


def test_the_printed_comparison_counts_seeds_and_calls_a_winner_only_with_two_thirds():
    from refvae.evaluate import comparison_sentence

    # differences +0.11, +0.12, -0.13: 2/3 above by more than 0.02 -> beta-TCVAE called ahead
    two_of_three = comparison_sentence([0.31, 0.30, 0.12], [0.20, 0.18, 0.25])
    assert "above beta-VAE's by more than 0.02 in 2/3 seeds, below in 1/3" in two_of_three
    assert "mean difference +0.033" in two_of_three and two_of_three.endswith("beta-TCVAE's MIG is the higher one.")
    # 5 seeds within the tie: no winner
    assert comparison_sentence([0.2] * 5, [0.21] * 5).endswith("the two MIGs are not distinguishable.")
    # 3 of 5 below is less than two thirds: no winner either
    assert comparison_sentence([0.1, 0.1, 0.1, 0.4, 0.4], [0.2, 0.2, 0.2, 0.2, 0.2]).endswith("not distinguishable.")
    assert comparison_sentence([0.5], [0.1]).endswith("One seed does not settle the comparison.")
    with pytest.raises(ValueError, match="one length"):
        comparison_sentence([0.1, 0.2], [0.1])


def test_every_error_of_a_run_survives_pickling_with_its_message_and_fields():
    """Ray sends a failed trial's exception to the driver by pickling it; an exception whose
    ``__init__`` takes more than the message used to turn into a TypeError on the way."""
    import errno
    import pickle

    from refvae.runs import directory, loop, registry

    errors = [loop.NonFiniteLoss(3, {"loss": float("nan"), "kl": 1.5}, "lower beta"),
              loop.Interrupted(7),
              registry.ConfigError("beta", "must be a number >= 0, got -1.0"),
              directory.RunDirectoryError("/runs/a", "holds no checkpoint"),
              directory.RunInUse("/runs/a", "is being trained by process 12"),
              directory.WriteError("/runs/a/metrics.json", OSError(errno.ENOSPC, "No space left on device"),
                                   "free space and run again")]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        fields = {key for key in vars(error) if key not in ("error", "logs")}  # nan != nan; OSError by message
        assert fields and all(getattr(copy, key) == getattr(error, key) for key in fields), type(error)
    assert str(errors[0]) == "non-finite loss at step 3: loss=nan, kl=1.5; lower beta"
    assert str(errors[-1]) == ("cannot write /runs/a/metrics.json (no space left on the device): "
                               "free space and run again")
