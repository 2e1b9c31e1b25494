"""Bad input, damaged files and interrupted runs: a clear error or a kept guarantee, never a traceback.

Each command-line case runs ``refvae.cli.main`` in-process on a copy of one tiny trained run
and asserts: exit status 2, a message naming the option or file, no traceback, and every
file under the working folder byte-identical to before (nothing written, nothing deleted).
Each API case asserts the exception type and that its message names the argument. A few
cases run as subprocesses to show that no traceback reaches stderr there either.
"""

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error

import numpy as np
import pytest

from refvae import cli, train

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow

RUN = dict(model="beta-vae", data="digits", steps=4, batch_size=16, checkpoint_every=2, log_every=1,
           latent_dim=4, seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-step run (checkpoints at steps 2 and 4, model.keras) and the same run
    trained uninterrupted to step 6, the reference of every resume."""
    root = tmp_path_factory.mktemp("trained")
    train.train(train.TrainConfig(**RUN, out=str(root / "run")), progress=False)
    reference = train.train(train.TrainConfig(**{**RUN, "steps": 6}, out=str(root / "reference")), progress=False)
    return root, reference


@pytest.fixture
def workspace(trained, tmp_path):
    """tmp_path holding a fresh copy of the trained run as ``run``."""
    shutil.copytree(trained[0] / "run", tmp_path / "run")
    return tmp_path


def snapshot(root):
    """{relative path: sha256 of the bytes (files) or "dir"} of everything under root."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = "dir"
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


# --- ways to damage a run --------------------------------------------------------------------

def _edit_config(root, **changes):
    path = root / "run" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _data_file(root, step):
    return next((root / "run" / "checkpoints").glob(f"ckpt-{step}.data-*"))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bytes(path):
    content = bytearray(path.read_bytes())
    for i in range(64, len(content), 97):
        content[i] ^= 0xFF
    path.write_bytes(bytes(content))


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(max(path.stat().st_size, 64)))


def _make_read_only(path, request):
    """chmod a-w, and for root (whom permission bits do not stop) the immutable attribute."""
    os.chmod(path, 0o555)
    request.addfinalizer(lambda: os.chmod(path, 0o755))
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        request.addfinalizer(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))


def _offline(monkeypatch):
    from refvae.data import cache

    def unreachable(url, timeout):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(cache, "_open_url", unreachable)


def _dsprites_cache(root, monkeypatch):
    monkeypatch.setenv("REFVAE_DATA", str(root / "cache"))
    (root / "cache").mkdir()
    _offline(monkeypatch)
    from refvae.data.dsprites import DSPRITES_FILENAME

    return root / "cache" / DSPRITES_FILENAME


def _write_small_dsprites(path):
    """Two rows in the official .npz layout (imgs, latents_classes, latents_values)."""
    classes = np.array([[0, 0, 0, 0, 0, 0], [0, 2, 5, 39, 31, 31]])
    values = np.array([[1, 1, 0.5, 0.0, 0.0, 0.0], [1, 3, 1.0, 2 * np.pi, 1.0, 1.0]])
    np.savez_compressed(path, imgs=np.zeros((2, 64, 64), np.uint8), latents_classes=classes, latents_values=values)


def _setup_small_dsprites(root, monkeypatch, request):
    dsprites_module = importlib.import_module("refvae.data.dsprites")  # the package exports a function of that name
    path = _dsprites_cache(root, monkeypatch)
    _write_small_dsprites(path)
    monkeypatch.setattr(dsprites_module, "DSPRITES_SHA1", hashlib.sha1(path.read_bytes()).hexdigest())


def _setup_damaged_fashion_cache(root, monkeypatch, request):
    import gzip

    from keras.src.backend import config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(root / "keras"))
    folder = root / "keras" / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        with gzip.open(folder / f"{stem}.gz", "wb") as handle:
            handle.write(bytes(16))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(40))  # a gzip header, then junk


def _setup_mnist_offline(root, monkeypatch, request):
    from refvae.data import images

    def unreachable(dataset):
        raise Exception("URL fetch failure on https://storage.googleapis.com: network is unreachable")

    monkeypatch.setattr(images, "_keras_load", unreachable)


def _write(name, text):
    def setup(root, monkeypatch, request):
        (root / name).write_text(text)
    return setup


# --- the command line ----------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    argv: str                      # {run}: the trained run; {tmp}: the working folder
    names: tuple                   # substrings the message must hold (the option or the file)
    setup: object = None           # setup(root, monkeypatch, request) before the snapshot


NEW = "--data digits --out {tmp}/new"
CLI_CASES = {
    # train: options refused before any work
    "steps-zero": Case(f"train --steps 0 {NEW}", ("--steps",)),
    "steps-negative": Case(f"train --steps -5 {NEW}", ("--steps",)),
    "steps-not-a-number": Case(f"train --steps ten {NEW}", ("--steps",)),
    "batch-size-one": Case(f"train --batch-size 1 {NEW}", ("--batch-size",)),
    "batch-size-larger-than-data": Case(f"train --batch-size 5000 {NEW}", ("--batch-size 5000",)),
    "latent-dim-zero": Case(f"train --latent-dim 0 {NEW}", ("--latent-dim",)),
    "learning-rate-zero": Case(f"train --learning-rate 0 {NEW}", ("--learning-rate",)),
    "learning-rate-above-one": Case(f"train --learning-rate 1.5 {NEW}", ("--learning-rate",)),
    "learning-rate-nan": Case(f"train --learning-rate nan {NEW}", ("--learning-rate",)),
    "seed-negative": Case(f"train --seed -1 {NEW}", ("--seed",)),
    "beta-negative": Case(f"train --model beta-vae --beta -1 {NEW}", ("--beta",)),
    "beta-inf": Case(f"train --model beta-vae --beta inf {NEW}", ("--beta",)),
    "beta-nan": Case(f"train --model beta-vae --beta nan {NEW}", ("--beta",)),
    "beta-not-taken": Case(f"train --model vae --beta 2 {NEW}", ("--beta does not apply",)),
    "capacity-negative": Case(f"train --model capacity --capacity -1 {NEW}", ("--capacity",)),
    "lam-nan": Case(f"train --model anchor-vae --lam nan {NEW}", ("--lam",)),
    "model-unknown": Case(f"train --model gan {NEW}", ("--model",)),
    "data-unknown": Case("train --data imagenet --out {tmp}/new", ("--data",)),
    "estimator-unknown": Case(f"train --estimator magic {NEW}", ("--estimator",)),
    "checkpoint-every-zero": Case(f"train --checkpoint-every 0 {NEW}", ("--checkpoint-every",)),
    "log-every-zero": Case(f"train --log-every 0 {NEW}", ("--log-every",)),
    "anchors-not-integers": Case(f"train --model anchor-vae --anchors 1,x {NEW}", ("--anchors",)),
    "anchors-out-of-range": Case(f"train --model anchor-vae --anchors 12 {NEW}", ("--anchors",)),
    "anchors-negative": Case(f"train --model anchor-vae --anchors=-1 {NEW}", ("--anchors",)),
    "hidden-zero": Case(f"train --hidden 64,0 {NEW}", ("--hidden",)),
    "hidden-not-integers": Case(f"train --hidden a,b {NEW}", ("--hidden",)),
    "filters-with-mlp": Case(f"train --architecture mlp --filters 8,8,16,16 {NEW}", ("--filters",)),
    "unknown-flag": Case(f"train --betaa 2 {NEW}", ("--betaa",)),
    # train: config files
    "config-missing": Case("train --config {tmp}/missing.toml", ("missing.toml",)),
    "config-bad-toml": Case("train --config {tmp}/bad.toml", ("bad.toml",), _write("bad.toml", "steps = = 3\n")),
    "config-bad-json": Case("train --config {tmp}/bad.json", ("bad.json",), _write("bad.json", "{steps: 3")),
    "config-not-a-table": Case("train --config {tmp}/list.json", ("list.json",), _write("list.json", "[1, 2]")),
    "config-unknown-key": Case("train --config {tmp}/extra.toml", ("extra.toml", "unknown config options"),
                               _write("extra.toml", "stepz = 3\n")),
    "config-anchors-string": Case("train --config {tmp}/a.toml --out {tmp}/new", ("--anchors",),
                                  _write("a.toml", 'model = "anchor-vae"\ndata = "digits"\nanchors = "12"\n')),
    "config-anchors-floats": Case("train --config {tmp}/a.toml --out {tmp}/new", ("--anchors",),
                                  _write("a.toml", 'model = "anchor-vae"\ndata = "digits"\nanchors = [0.7, 1.9]\n')),
    "config-steps-string": Case("train --config {tmp}/s.toml --out {tmp}/new", ("--steps",),
                                _write("s.toml", 'data = "digits"\nsteps = "10"\n')),
    # train: the run directory
    "out-is-a-file": Case("train --data digits --out {tmp}/file", ("--out", "is a file"), _write("file", "x")),
    "out-under-a-file": Case("train --data digits --out {tmp}/file/run", ("--out", "is a file"), _write("file", "x")),
    "out-read-only": Case("train --data digits --out {tmp}/locked/run", ("--out", "not writable"),
                          lambda root, mp, request: (root.joinpath("locked").mkdir(),
                                                     _make_read_only(root / "locked", request))),
    "out-holds-another-run": Case("train --data digits --model vae --out {run}", ("holds a different run",)),
    "out-holds-checkpoints-without-config": Case("train --data digits --out {run}", ("no config.json",),
                                                 lambda root, mp, request: (root / "run" / "config.json").unlink()),
    "out-holds-this-run": Case("train --model beta-vae --data digits --batch-size 16 --latent-dim 4 "
                               "--checkpoint-every 2 --log-every 1 --seed 3 --out {run}", ("--resume",)),
    # train: data that cannot be had
    "dsprites-official-offline": Case("train --data dsprites-official --out {tmp}/new", ("procedural",),
                                      lambda root, mp, request: _dsprites_cache(root, mp)),
    "dsprites-official-wrong-checksum": Case(
        "train --data dsprites-official --out {tmp}/new", ("dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", "sha1"),
        lambda root, mp, request: _write_small_dsprites(_dsprites_cache(root, mp))),
    "dsprites-official-incomplete-grid": Case(
        "train --data dsprites-official --out {tmp}/new", ("dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
                                                           "holds 2 images", "737,280"), _setup_small_dsprites),
    "fashion-mnist-damaged-keras-cache": Case("train --data fashion-mnist --out {tmp}/new",
                                              ("train-labels-idx1-ubyte.gz", "damaged"), _setup_damaged_fashion_cache),
    "mnist-offline": Case("train --data mnist --out {tmp}/new", ("MNIST", "digits()"), _setup_mnist_offline),
    # train --resume
    "resume-with-other-flags": Case("train --resume {run} --beta 50 --batch-size 8 --model vae --out {tmp}/elsewhere",
                                    ("--beta", "--batch-size", "--model", "--out", "only --steps")),
    "resume-with-config": Case("train --resume {run} --config {tmp}/c.toml", ("--config",),
                               _write("c.toml", "steps = 9\n")),
    "resume-steps-below-current": Case("train --resume {run} --steps 2", ("--steps 2", "current step 4")),
    "resume-steps-zero": Case("train --resume {run} --steps 0", ("--steps",)),
    "resume-missing-run": Case("train --resume {tmp}/nothing", ("--resume", "nothing")),
    "resume-a-file": Case("train --resume {tmp}/file", ("--resume", "file"), _write("file", "x")),
    "resume-without-checkpoints": Case(
        "train --resume {run} --steps 6", ("holds no checkpoint",),
        lambda root, mp, request: shutil.rmtree(root / "run" / "checkpoints")),
    "resume-every-checkpoint-damaged": Case(
        "train --resume {run} --steps 6", ("ckpt-4", "ckpt-2", "can be restored"),
        lambda root, mp, request: (_truncate(_data_file(root, 4)), _random_bytes(_data_file(root, 2)))),
    "resume-config-latent-dim-edited": Case(
        "train --resume {run} --steps 6", ("config.json", "ckpt-4"),
        lambda root, mp, request: _edit_config(root, latent_dim=6)),
    "resume-config-unreadable": Case("train --resume {run}", ("config.json",),
                                     lambda root, mp, request: (root / "run" / "config.json").write_text("{")),
    "resume-read-only-run": Case("train --resume {run} --steps 6", ("--resume", "not writable"),
                                 lambda root, mp, request: _make_read_only(root / "run", request)),
    # evaluate
    "evaluate-seed-negative": Case("evaluate {run} --seed -1", ("--seed",)),
    "evaluate-num-points-zero": Case("evaluate {run} --num-points 0", ("--num-points",)),
    "evaluate-metrics-unknown": Case("evaluate {run} --metrics mig,magic", ("--metrics",)),
    "evaluate-metrics-empty": Case("evaluate {run} --metrics ,", ("--metrics",)),
    "evaluate-subgrid-not-integers": Case("evaluate {run} --metrics mig-sampled --subgrid 1,x", ("--subgrid",)),
    "evaluate-subgrid-wrong-length": Case("evaluate {run} --metrics mig-sampled --subgrid 1,1", ("--subgrid",)),
    "evaluate-missing-run": Case("evaluate {tmp}/nothing", ("nothing",)),
    "evaluate-no-model": Case("evaluate {run}", ("model.keras",),
                              lambda root, mp, request: (root / "run" / "model.keras").unlink()),
    "evaluate-model-empty": Case("evaluate {run}", ("model.keras",),
                                 lambda root, mp, request: (root / "run" / "model.keras").write_bytes(b"")),
    "evaluate-model-truncated": Case("evaluate {run}", ("model.keras",),
                                     lambda root, mp, request: _truncate(root / "run" / "model.keras")),
    "evaluate-model-random-bytes": Case("evaluate {run}", ("model.keras",),
                                        lambda root, mp, request: _random_bytes(root / "run" / "model.keras")),
    "evaluate-model-flipped-bytes": Case("evaluate {run}", ("model.keras",),
                                         lambda root, mp, request: _flip_bytes(root / "run" / "model.keras")),
    "evaluate-read-only-run": Case("evaluate {run} --metrics mig --num-points 200", ("RUN_DIR", "not writable"),
                                   lambda root, mp, request: _make_read_only(root / "run", request)),
    "evaluate-config-data-edited": Case("evaluate {run} --metrics mig --num-points 200", ("config.json", "--data"),
                                        lambda root, mp, request: _edit_config(root, data="dsprites")),
    "evaluate-config-latent-dim-edited": Case("evaluate {run} --metrics mig --num-points 200",
                                              ("config.json", "--latent-dim"),
                                              lambda root, mp, request: _edit_config(root, latent_dim=6)),
    "evaluate-config-unreadable": Case("evaluate {run}", ("config.json",),
                                       lambda root, mp, request: (root / "run" / "config.json").write_text("[")),
    # demo: refused before training
    "demo-num-points-zero": Case("demo --num-points 0 --steps 2 --out {tmp}/demo", ("--num-points",)),
    "demo-steps-zero": Case("demo --steps 0 --out {tmp}/demo", ("--steps",)),
    "demo-beta-negative": Case("demo --beta -1 --steps 2 --out {tmp}/demo", ("--beta",)),
    "demo-out-is-a-file": Case("demo --steps 2 --num-points 100 --out {tmp}/file", ("--out",), _write("file", "x")),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_refuses_with_a_clear_message_and_changes_nothing(name, workspace, capsys, monkeypatch, request):
    case = CLI_CASES[name]
    if case.setup is not None:
        case.setup(workspace, monkeypatch, request)
    before = snapshot(workspace)
    argv = case.argv.format(run=workspace / "run", tmp=workspace).split()
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2, stderr
    for part in case.names:
        assert part in stderr, stderr
    assert "Traceback" not in stderr
    assert snapshot(workspace) == before


def _run_refvae(*argv):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "refvae", *argv], capture_output=True, text=True, env=env)


def test_no_traceback_reaches_stderr_of_the_command(workspace):
    _random_bytes(workspace / "run" / "model.keras")
    before = snapshot(workspace)
    for argv, names in (
        (["evaluate", str(workspace / "run")], ("model.keras", "not a zip archive")),
        (["train", "--resume", str(workspace / "run"), "--steps", "2"], ("--steps 2", "current step 4")),
    ):
        result = _run_refvae(*argv)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        for part in names:
            assert part in result.stderr
    assert snapshot(workspace) == before


def test_nan_abort_exits_2_and_leaves_the_run_directory_free_for_the_retry(tmp_path, capsys, monkeypatch):
    original = train.batch_at
    monkeypatch.setattr(train, "batch_at", lambda dataset, config, step: original(dataset, config, step) * np.nan)
    argv = ["train", "--model", "beta-vae", "--data", "digits", "--steps", "3", "--batch-size", "16",
            "--latent-dim", "4", "--checkpoint-every", "2", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as stopped:
        cli.main([*argv, "--learning-rate", "0.9"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "non-finite loss at step 1" in stderr and "Traceback" not in stderr
    # no checkpoint was written, so no config.json: the corrected retry is not "a different run"
    assert not (tmp_path / "run" / "config.json").exists()
    monkeypatch.setattr(train, "batch_at", original)
    assert cli.main(argv) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["learning_rate"] == 1e-3
    assert train.checkpoint_steps(tmp_path / "run" / "checkpoints") == [3, 2]


def test_toml_anchors_given_as_text_are_parsed_as_the_cli_parses_them(tmp_path):
    (tmp_path / "a.toml").write_text('model = "anchor-vae"\nanchors = "1,2"\n')
    args = cli.build_parser().parse_args(["train", "--config", str(tmp_path / "a.toml")])
    assert cli._train_config(args).anchors == (1, 2)


# --- the Python API ------------------------------------------------------------------------

def _decomposition_inputs(loc=0.0, scale=1.0, prior_loc=0.0, z_value=None, log_px=0.0):
    import tensorflow as tf
    import tensorflow_probability as tfp

    rng = np.random.default_rng(0)
    locs = rng.normal(size=(8, 3)).astype(np.float32)
    scales = np.full((8, 3), 0.5, np.float32)
    locs[2, 1] += loc
    scales[3, 0] *= scale
    posterior = tfp.distributions.Normal(tf.constant(locs), tf.constant(scales))
    prior = tfp.distributions.Normal(tf.constant([prior_loc, 0.0, 0.0], tf.float32), tf.ones(3))
    z = rng.normal(size=(8, 3)).astype(np.float32) if z_value is None else z_value
    log_px_given_z = np.full(8, -10.0, np.float32)
    log_px_given_z[5] += log_px
    return z, posterior, prior, log_px_given_z


def _tc(eager=True, **bad):
    import tensorflow as tf

    from refvae import decompositions

    z, posterior, prior, log_px_given_z = _decomposition_inputs(**bad)

    def terms(z, log_px_given_z):
        return decompositions.tc_decomposition(z, posterior, prior, 1000, "mss1", log_px_given_z=log_px_given_z)

    return (terms if eager else tf.function(terms))(z, log_px_given_z)


def _hj(**bad):
    from refvae import decompositions

    z, posterior, prior, _ = _decomposition_inputs(**bad)
    return decompositions.hoffman_johnson(z, posterior, prior, 1000, "mws")


def _graph_error():
    import tensorflow as tf

    return tf.errors.InvalidArgumentError


def _codes_and_factors(rows=200):
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(rows, 2))
    return factors + 0.1 * rng.normal(size=(rows, 2)), factors


def _sap(train_factors=None, test_factors=None):
    from refvae import metrics

    codes, factors = _codes_and_factors()
    train_f = factors[:100].astype(float) if train_factors is None else train_factors
    test_f = factors[100:].astype(float) if test_factors is None else test_factors
    return metrics.sap(codes[:100], train_f, codes[100:], test_f, continuous_factors=True)


def _with_nan(array, row=3, col=1, value=np.nan):
    array = np.array(array, dtype=float)
    array[row, col] = value
    return array


def _mig(codes=None, factors=None):
    from refvae import metrics

    default_codes, default_factors = _codes_and_factors()
    return metrics.mig(default_codes if codes is None else codes, default_factors if factors is None else factors)


def _evaluate(workspace, **kwargs):
    from refvae import evaluate

    return evaluate.evaluate(workspace / "run", ("mig",), **kwargs)


def _nan_z():
    z = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    z[0, 0] = np.nan
    return z


def _load_model_with_lambda_layer(workspace):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2.0)])
    path = workspace / "run" / "model.keras"
    path.unlink()
    model.save(path)
    return train.load_model(workspace / "run")


def _load_pickled_dsprites(workspace):
    from refvae.data import load_dsprites_npz

    path = workspace / "pickled.npz"
    np.savez(path, imgs=np.zeros((1, 64, 64), np.uint8), latents_values=np.zeros((1, 6)),
             latents_classes=np.array([[0, 0, 0, 0, 0, {"run": "code"}]], dtype=object))
    return load_dsprites_npz(path)


API_CASES = {
    # (call(workspace), exception, text the message must hold)
    "tc-nan-prior-loc": (lambda ws: _tc(prior_loc=np.nan), ValueError, "prior"),
    "tc-nan-log-px": (lambda ws: _tc(log_px=np.nan), ValueError, "log_px_given_z"),
    "tc-inf-posterior-scale": (lambda ws: _tc(scale=np.inf), ValueError, "posterior"),
    "tc-inf-posterior-loc": (lambda ws: _tc(loc=np.inf), ValueError, "posterior"),
    "tc-inf-prior-loc": (lambda ws: _tc(prior_loc=np.inf), ValueError, "prior"),
    "tc-nan-z": (lambda ws: _tc(z_value=_nan_z()), ValueError, "z holds NaN"),
    "tc-complex-z": (lambda ws: _tc(z_value=np.ones((8, 3), np.complex64)), TypeError, "z must be a real"),
    "tc-graph-nan-prior-loc": (lambda ws: _tc(eager=False, prior_loc=np.nan), _graph_error(), "prior log densities"),
    "tc-graph-nan-log-px": (lambda ws: _tc(eager=False, log_px=np.nan), _graph_error(), "log_px_given_z"),
    "tc-graph-inf-posterior-scale": (lambda ws: _tc(eager=False, scale=np.inf), _graph_error(), "posterior log"),
    "tc-graph-nan-z": (lambda ws: _tc(eager=False, z_value=_nan_z()), _graph_error(), "z holds NaN"),
    "hoffman-johnson-nan-prior-loc": (lambda ws: _hj(prior_loc=np.nan), ValueError, "prior"),
    "mig-complex-codes": (lambda ws: _mig(codes=_codes_and_factors()[0] + 1j), TypeError, "codes must be real"),
    "mig-nan-codes": (lambda ws: _mig(codes=_with_nan(_codes_and_factors()[0])), ValueError, "codes must be finite"),
    "mig-complex-factors": (lambda ws: _mig(factors=_codes_and_factors()[1] + 0j), TypeError, "factors"),
    "sap-continuous-nan-test-factors": (lambda ws: _sap(test_factors=_with_nan(_codes_and_factors()[1][100:])),
                                        ValueError, "test_factors"),
    "sap-continuous-inf-train-factors": (lambda ws: _sap(train_factors=_with_nan(_codes_and_factors()[1][:100],
                                                                                   value=np.inf)),
                                         ValueError, "train_factors"),
    "sap-complex-test-factors": (lambda ws: _sap(test_factors=_codes_and_factors()[1][100:] + 0j), TypeError,
                                 "test_factors"),
    "config-anchors-string": (lambda ws: train.TrainConfig(model="anchor-vae", anchors="12").validate(),
                              ValueError, "--anchors"),
    "config-anchors-floats": (lambda ws: train.TrainConfig(model="anchor-vae", anchors=(0.7, 1.9)).validate(),
                              ValueError, "--anchors"),
    "evaluate-seed-negative": (lambda ws: _evaluate(ws, seed=-1), ValueError, "--seed"),
    "evaluate-num-points-zero": (lambda ws: _evaluate(ws, num_points=0), ValueError, "--num-points"),
    "load-model-random-bytes": (lambda ws: (_random_bytes(ws / "run" / "model.keras"), train.load_model(ws / "run")),
                                ValueError, "model.keras"),
    "load-model-with-lambda-layer": (_load_model_with_lambda_layer, ValueError, "model.keras cannot be loaded"),
    "dsprites-npz-with-pickled-array": (_load_pickled_dsprites, ValueError, "pickled.npz: 'latents_classes'"),
}


@pytest.mark.parametrize("name", list(API_CASES))
def test_api_refuses_non_finite_complex_and_damaged_input(name, workspace):
    call, exception, text = API_CASES[name]
    with pytest.raises(exception) as raised:
        call(workspace)
    assert text in str(raised.value)


def test_the_finite_checks_accept_the_good_inputs_and_keep_the_identity():
    """The control of the API table: the same inputs without the bad value pass, and
    kl = index_code_mi + total_correlation + dimwise_kl (001 eq 2) holds, eager and in a graph."""
    for eager in (True, False):
        terms = {k: float(v) for k, v in _tc(eager=eager).items() if k != "kl_per_dim"}
        assert terms["kl"] == pytest.approx(
            terms["index_code_mi"] + terms["total_correlation"] + terms["dimwise_kl"], abs=1e-4)
        assert terms["reconstruction"] == pytest.approx(-10.0)


def test_two_runs_with_the_same_seed_log_the_same_terms(trained):
    """Determinism: the 4-step run and the first 4 steps of the 6-step run are two separate
    runs with seed 3; every logged term agrees (history.csv keeps 6 significant digits)."""
    root, _ = trained
    short, long = train.read_history(root / "run"), train.read_history(root / "reference")
    assert set(short) == set(long) and len(short["loss"]) == 4
    for name in short:
        np.testing.assert_allclose(short[name], long[name][:4], rtol=1e-5, err_msg=name)


# --- resuming a damaged run ----------------------------------------------------------------

DAMAGE = {
    # (damage the run, checkpoint the resume starts from)
    "truncated-data-file": (lambda root: _truncate(_data_file(root, 4)), 2),
    "random-index-file": (lambda root: _random_bytes(root / "run" / "checkpoints" / "ckpt-4.index"), 2),
    "flipped-bytes": (lambda root: _flip_bytes(_data_file(root, 4)), 2),
    "missing-data-file": (lambda root: _data_file(root, 4).unlink(), 2),
    "corrupt-state-file": (lambda root: _random_bytes(root / "run" / "checkpoints" / "checkpoint"), 4),
    "half-written-checkpoint": (lambda root: (root / "run" / "checkpoints" / "ckpt-6_temp").mkdir(), 4),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_survives_checkpoint_damage_and_ends_where_the_uninterrupted_run_ends(damage, workspace, trained):
    damage_run, start = DAMAGE[damage]
    damage_run(workspace)
    if damage == "half-written-checkpoint":
        (workspace / "run" / "checkpoints" / "ckpt-6_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    history_before = train.read_history(workspace / "run")
    config = train.TrainConfig(**{**RUN, "steps": 6}, out=str(workspace / "run"))
    if start == 4:
        resumed = train.train(config, resume=True, progress=False)
    else:
        with pytest.warns(RuntimeWarning, match=r"from ckpt-2: .*ckpt-4"):
            resumed = train.train(config, resume=True, progress=False)
        # nothing lost: the damaged files are kept aside, not deleted
        assert sorted(p.name.split(".")[0] for p in (workspace / "run" / "checkpoints" / "damaged").iterdir()) \
            == ["ckpt-4"] * len(list((workspace / "run" / "checkpoints" / "damaged").iterdir()))
    reference_root, reference = trained
    for got, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    history = train.read_history(workspace / "run")
    expected_history = train.read_history(reference_root / "reference")
    assert history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(history["loss"][:start], history_before["loss"][:start])  # rows kept
    np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=1e-5)
    checkpoints = workspace / "run" / "checkpoints"
    assert train.checkpoint_steps(checkpoints) == [6, 4]             # two kept, as in an undamaged run
    assert not list(checkpoints.glob("*_temp*"))
    assert json.loads((workspace / "run" / "config.json").read_text())["steps"] == 6
