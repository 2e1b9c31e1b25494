"""`refvae study`: a grid declared in TOML, run on Ray Tune (locally and on a simulated 2-node
cluster), resumed after the driver was killed, failed trials reported, changed grids refused."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from refvae.studies import StudyError, read_study, runner
from refvae.studies.spec import grid_differences, study_from_table

TINY = textwrap.dedent("""
    [study]
    name = "tiny"
    data = "digits"
    seeds = [0, 1]
    metrics = ["mig", "sap", "mi"]
    retries = 1

    [trial]
    cpus = 1

    [run]
    steps = 12
    batch_size = 32
    latent_dim = 3
    architecture = "mlp"
    hidden = [16]
    checkpoint_every = 6
    log_every = 6

    [models.vae]
    [models.beta-vae]
    beta = [4.0]
""")


def _write(tmp_path, text=TINY, name="tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_grid_is_models_times_swept_values_times_seeds_seed_by_seed(tmp_path):
    study = read_study(_write(tmp_path, TINY.replace("beta = [4.0]", "beta = [4.0, 8.0]\n")))
    assert [trial.id for trial in study.trials] == ["vae-s0", "beta-vae-beta4-s0", "beta-vae-beta8-s0",
                                                    "vae-s1", "beta-vae-beta4-s1", "beta-vae-beta8-s1"]
    trial = study.trial("beta-vae-beta8-s1")
    assert (trial.config["beta"], trial.config["seed"], trial.config["steps"], trial.config["hidden"]) == (8.0, 1, 12,
                                                                                                         [16])
    # the recipe preset fills what [run] leaves out
    assert (trial.config["batch_size"], trial.config["learning_rate"], trial.config["estimator"]) == (32, 1e-3, "mss1")
    assert study.metrics == ("mig", "sap", "mi") and (study.cpus, study.retries) == (1.0, 1)


def test_an_option_that_is_itself_a_list_is_swept_by_a_list_of_lists(tmp_path):
    text = TINY.replace("[models.vae]\n[models.beta-vae]\nbeta = [4.0]",
                        "[models.factor-vae]\ndiscriminator_hidden = [[8], [8, 8]]\ngamma = 20.0")
    study = read_study(_write(tmp_path, text))
    assert [trial.id for trial in study.trials][:2] == ["factor-vae-discriminatorhidden8-s0",
                                                        "factor-vae-discriminatorhidden8x8-s0"]
    fixed = read_study(_write(tmp_path, text.replace("[[8], [8, 8]]", "[8, 8]"), "fixed.toml"))
    assert [trial.config["discriminator_hidden"] for trial in fixed.trials] == [[8, 8], [8, 8]]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("[models.vae]", "[models.gan]"), "models.gan: must be one of vae, beta-vae"),
    (lambda t: t.replace("beta = [4.0]", "gamma = [1.0]"), "models.beta-vae.gamma is not an option of beta-vae"),
    (lambda t: t.replace("beta = [4.0]", "beta = [-1.0]"), "beta must be a number >= 0"),
    (lambda t: t.replace('metrics = ["mig", "sap", "mi"]', 'metrics = ["mig", "factor-vae"]'),
     "factor-vae is undefined on data digits"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = [0, 0]"), "study.seeds must be a list of distinct integers"),
    (lambda t: t.replace("steps = 12", "steps = 12\nseed = 3"), "run.seed"),
    (lambda t: t + "\n[extra]\nx = 1\n", "unknown tables ['extra']"),
    (lambda t: t.replace("cpus = 1", "cpus = 0"), "trial.cpus must be > 0"),
    (lambda t: t.replace('name = "tiny"', 'name = "tiny"\nbudget = 3'), "unknown keys ['study.budget']"),
])
def test_a_study_that_cannot_run_is_refused_naming_the_key(tmp_path, edit, message):
    with pytest.raises(StudyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_study(_write(tmp_path, edit(TINY)))


def test_a_changed_grid_is_refused_on_resume_naming_what_changed(tmp_path):
    study_dir = tmp_path / "study"
    runner.prepare(_write(tmp_path), study_dir, resume=False)
    assert json.loads((study_dir / "grid.json").read_text()) == read_study(study_dir / "study.toml").settings()
    with pytest.raises(StudyError, match="is not empty"):
        runner.prepare(_write(tmp_path), study_dir, resume=False)
    (study_dir / "study.toml").write_text(TINY.replace("beta = [4.0]", "beta = [4.0, 6.0]").replace("steps = 12",
                                                                                                     "steps = 14"))
    with pytest.raises(StudyError, match=r"trials added: beta-vae-beta6-s0, beta-vae-beta6-s1; trial beta-vae-beta4-s0: "
                                         r"steps changed"):
        runner.prepare(None, study_dir, resume=True)


def test_grid_differences_name_settings_trials_and_keys():
    before = study_from_table({"study": {"seeds": [0]}, "models": {"vae": {}}, "run": {"steps": 10}}).settings()
    after = study_from_table({"study": {"seeds": [0, 1]}, "models": {"vae": {}}, "run": {"steps": 12}}).settings()
    assert grid_differences(before, before) == []
    assert grid_differences(before, after) == ["seeds: [0] then, [0, 1] now", "trials added: vae-s1",
                                               "trial vae-s0: steps changed"]


def _table(study_dir):
    from refvae import studies

    return studies.load(study_dir).set_index("trial")


@pytest.mark.slow
@pytest.mark.ray
def test_a_study_of_four_trials_runs_on_local_ray_and_on_a_two_node_cluster_to_the_same_table(tmp_path):
    """End to end: the local default, then the same study on ray.cluster_utils.Cluster (a head and a
    worker node, one CPU each) joined by address with no other change; the two tables agree."""
    import ray
    from ray.cluster_utils import Cluster

    study_file = _write(tmp_path)
    local = tmp_path / "local"
    frame = runner.run_study(runner.prepare(study_file, local, resume=False), local, log=lambda line: None)
    assert list(frame["trial"]) == ["vae-s0", "beta-vae-beta4-s0", "vae-s1", "beta-vae-beta4-s1"]
    assert (frame["status"] == "done").all() and (frame["error"] == "").all()
    assert {"mig", "sap", "mi", "mig.label", "final_elbo", "train_seconds", "eval_seconds", "beta"} <= set(frame)
    assert frame["mig"].between(0, 1).all() and (frame["train_seconds"] > 0).all()
    for trial in frame["trial"]:
        scored = json.loads((local / "trials" / trial / "metrics.json").read_text())
        assert scored["mig"]["mig"] == pytest.approx(frame.set_index("trial").loc[trial, "mig"])
    assert not ray.is_initialized()                                  # the local Ray was the study's own

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        remote = tmp_path / "cluster"
        runner.run_study(runner.prepare(study_file, remote, resume=False), remote, address=cluster.address,
                         log=lambda line: None)
    finally:
        ray.shutdown()
        cluster.shutdown()
    a, b = _table(local), _table(remote)
    for column in ("mig", "sap", "mi", "final_elbo", "final_loss"):
        np.testing.assert_allclose(b.loc[a.index, column].to_numpy(float), a[column].to_numpy(float), rtol=1e-5,
                                   err_msg=column)


@pytest.mark.slow
@pytest.mark.ray
def test_a_failing_trial_is_retried_then_reported_and_the_others_complete(tmp_path):
    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace("beta = [4.0]", "beta = [4.0, 1e30]")
    study_dir = tmp_path / "study"
    lines = []
    frame = runner.run_study(runner.prepare(_write(tmp_path, text), study_dir, resume=False), study_dir,
                             log=lines.append)
    rows = frame.set_index("trial")
    assert rows.loc["vae-s0", "status"] == "done" and rows.loc["beta-vae-beta4-s0", "status"] == "done"
    assert rows.loc["beta-vae-beta1e+30-s0", "status"] == "failed"
    error = rows.loc["beta-vae-beta1e+30-s0", "error"]
    assert "NonFiniteLoss: non-finite loss at step " in error and "{'beta': 1e+30}" in error, error
    assert any(line.startswith("trial beta-vae-beta1e+30-s0 failed: ") for line in lines)
    assert lines[-1].endswith("; 1 failed")


@pytest.mark.slow
@pytest.mark.ray
def test_a_driver_killed_mid_study_resumes_to_the_uninterrupted_table_without_retraining_from_scratch(tmp_path):
    """The driver is killed (SIGKILL) once the first trial's row is written; `--resume` finishes the
    study. Every trial ends with the numbers of an uninterrupted study, and no trial started twice
    from step 0 (each attempt that trained records the step it started from)."""
    study_file = _write(tmp_path, TINY.replace("steps = 12", "steps = 60").replace("checkpoint_every = 6",
                                                                                   "checkpoint_every = 10"))
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    command = [sys.executable, "-m", "refvae", "study", "run", str(study_file), "--out", str(killed)]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.time() + 900
    while not list((killed / "results").glob("*.json")) and time.time() < deadline and driver.poll() is None:
        time.sleep(1)
    os.killpg(driver.pid, signal.SIGKILL)             # the driver and the Ray processes it started
    driver.wait()
    finished_before = {path.stem for path in (killed / "results").glob("*.json")}
    done_before = len(finished_before)
    assert 1 <= done_before < 4
    resumed = subprocess.run([sys.executable, "-m", "refvae", "study", "run", "--resume", str(killed)],
                             capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{done_before} done before" in resumed.stdout
    runner.run_study(runner.prepare(study_file, whole, resume=False), whole, log=lambda line: None)
    a, b = _table(whole), _table(killed)
    assert list(b.index) == list(a.index) and (b["status"] == "done").all()
    for column in ("mig", "sap", "mi", "final_elbo", "final_loss"):
        np.testing.assert_allclose(b.loc[a.index, column].to_numpy(float), a[column].to_numpy(float), rtol=1e-5,
                                   err_msg=column)
    for trial in a.index:
        starts = [attempt["from_step"] for attempt in
                  json.loads((killed / "trials" / f"{trial}.attempts.json").read_text())]
        if trial in finished_before:
            assert len(starts) == 1, (trial, starts)      # a finished trial is not trained again
        assert starts == sorted(starts), (trial, starts)  # an attempt starts where the last checkpoint is


def _hand_table():
    """Two objectives, two values of beta each, two seeds a setting; MIG values chosen so that the
    sums of squares are whole numbers (worked out in the test below)."""
    import pandas

    return pandas.DataFrame({
        "trial": [f"t{i}" for i in range(9)], "status": ["done"] * 8 + ["failed"],
        "error": [""] * 8 + ["NonFiniteLoss: non-finite loss at step 3"],
        "model": ["beta-vae"] * 4 + ["beta-tcvae"] * 4 + ["beta-vae"],
        "beta": [1.0, 1.0, 4.0, 4.0, 1.0, 1.0, 4.0, 4.0, 8.0], "seed": [0, 1] * 4 + [0],
        "mig": [1.0, 3.0, 5.0, 7.0, 0.0, 0.0, 0.0, 2.0, np.nan],
        "sap": [4.0, 3.0, 2.0, 1.0, 8.0, 7.0, 6.0, 5.0, np.nan],
        "dci": [1.0, 3.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, np.nan],
        "modularity": [0.5] * 8 + [np.nan]})


def test_variance_shares_match_the_sums_of_squares_worked_by_hand():
    """All eight MIGs: mean 2.25, total sum of squares 47.5. Objective means 4 and 0.5:
    4(1.75²) + 4(1.75²) = 24.5. Setting means 2, 6 (beta-VAE) and 0, 1 (beta-TCVAE):
    2·4 + 2·4 + 2·0.25 + 2·0.25 = 17. Within settings: 1+1+1+1+0+0+1+1 = 6. The failed trial is out."""
    from refvae.studies import report

    shares = report.variance_shares(_hand_table(), ["mig", "modularity"])
    assert shares["mig"] == pytest.approx({"objective": 24.5 / 47.5, "hyperparameter": 17 / 47.5, "seed": 6 / 47.5})
    assert "modularity" not in shares                     # a metric with no spread has no shares


def test_rank_correlations_match_spearmans_formula_by_hand():
    """rho = 1 - 6 sum d^2 / (n (n^2 - 1)) over the eight finished trials, no ties: the ranks of
    mig against sap, and of dci against sap, worked out in the comments; modularity is constant
    and left out."""
    from refvae.studies import report

    names, matrix = report.rank_correlations(_hand_table(), ["mig", "sap", "dci", "modularity"])
    assert names == ["mig", "sap", "dci"]
    # dci ranks 1 3 2 4 5 6 7 8, sap ranks 4 3 2 1 8 7 6 5: d = -3 0 0 3 -3 -1 1 3, sum d^2 = 38
    assert matrix[2, 1] == pytest.approx(1 - 6 * 38 / (8 * 63))
    # mig has ties (three zeros share rank 2): compared with the Pearson correlation of the ranks
    ranks_mig = np.array([4, 6, 7, 8, 2, 2, 2, 5], float)
    ranks_sap = np.array([4, 3, 2, 1, 8, 7, 6, 5], float)
    assert matrix[0, 1] == pytest.approx(np.corrcoef(ranks_mig, ranks_sap)[0, 1])
    assert np.allclose(np.diag(matrix), 1) and np.allclose(matrix, matrix.T)


def test_mig_against_beta_gives_mean_sd_and_count_per_beta_of_the_finished_trials():
    from refvae.studies import report

    cells = report.mig_against_beta(_hand_table())
    assert cells["beta-vae"] == {1.0: {"mean": 2.0, "sd": pytest.approx(2 ** 0.5), "n": 2},
                                 4.0: {"mean": 6.0, "sd": pytest.approx(2 ** 0.5), "n": 2}}
    assert cells["beta-tcvae"][4.0] == {"mean": 1.0, "sd": pytest.approx(2 ** 0.5), "n": 2}
    by_beta = report.metric_by_hyperparameter(_hand_table(), "sap")["beta-tcvae"]
    assert by_beta == {"hyperparameter": "beta", "values": [1.0, 1.0, 4.0, 4.0], "scores": [8.0, 7.0, 6.0, 5.0],
                       "seeds": [0, 1, 0, 1]}


def test_load_reads_results_csv_with_an_empty_error_for_every_finished_trial(tmp_path):
    """read_csv turns the empty errors of finished trials into NaN (a float column when none
    failed); `load` gives them back as "" so `frame.error == ""` selects the finished trials."""
    from refvae import studies

    for table in (_hand_table(), _hand_table().iloc[:8]):
        (tmp_path / "results").mkdir(exist_ok=True)
        table.to_csv(tmp_path / "results.csv", index=False)
        frame = studies.load(tmp_path)
        assert list(frame["error"][:8]) == [""] * 8 and len(frame) == len(table)
        assert frame["error"].iloc[-1] == table["error"].iloc[-1]
