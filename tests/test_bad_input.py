"""Bad input, damaged files and interrupted runs: a clear error or a kept guarantee, never a traceback.

Each command-line case runs ``refvae.cli.main`` in-process on a copy of one tiny trained run
and asserts: exit status 2, a message naming the option or file, no traceback, and every
file under the working folder byte-identical to before (nothing written, nothing deleted).
Each API case asserts the exception type and that its message names the argument. A few
cases run as subprocesses to show that no traceback reaches stderr there either.
"""

import dataclasses
import errno
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error

import numpy as np
import pytest

from refvae import cli, runs

# Every test here trains models, runs experiments or starts processes that import TensorFlow.
pytestmark = pytest.mark.slow

RUN = dict(model="beta-vae", data="digits", steps=4, batch_size=16, checkpoint_every=2, log_every=1,
           latent_dim=4, seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-step run (checkpoints at steps 2 and 4, model.keras) and the same run
    trained uninterrupted to step 6, the reference of every resume."""
    root = tmp_path_factory.mktemp("trained")
    runs.train(runs.RunConfig.create(**RUN, out=str(root / "run")), progress=False)
    reference = runs.train(runs.RunConfig.create(**{**RUN, "steps": 6}, out=str(root / "reference")), progress=False)
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
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = "link to " + os.readlink(path)
                continue
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


def _hold_lock(root, monkeypatch, request):
    """Another writer holds the run's lock (an flock on the folder, as refvae.runs takes it)."""
    import fcntl

    descriptor = os.open(root / "run", os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    request.addfinalizer(lambda: (fcntl.flock(descriptor, fcntl.LOCK_UN), os.close(descriptor)))


def _user_folder(root, monkeypatch, request):
    (root / "mine").mkdir()
    (root / "mine" / "history.csv").write_text("my,own,numbers\n1,2,3\n")
    (root / "mine" / "model.keras").write_bytes(b"my model")


def _symlink_loop(root, monkeypatch, request):
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")


def _replace_by_file(name):
    def setup(root, monkeypatch, request):
        shutil.rmtree(root / "run" / name, ignore_errors=True)
        (root / "run" / name).write_text("not a folder")
    return setup


def _edit_history(transform):
    def setup(root, monkeypatch, request):
        path = root / "run" / "history.csv"
        path.write_text(transform(path.read_text()))
    return setup


def _plain_keras_model(root, monkeypatch, request):
    import keras

    path = root / "run" / "model.keras"
    path.unlink()
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)


# --- the command line ----------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    argv: str | list               # {run}: the trained run; {tmp}: the working folder (a list: kept as given)
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
    "config-unknown-key": Case("train --config {tmp}/extra.toml", ("extra.toml", "config has unknown options ['stepz']"),
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
    "evaluate-config-data-edited": Case("evaluate {run} --metrics mig --num-points 200", ("config.json", "data dsprites"),
                                        lambda root, mp, request: _edit_config(root, data="dsprites")),
    "evaluate-config-latent-dim-edited": Case("evaluate {run} --metrics mig --num-points 200",
                                              ("config.json", "latent_dim 6"),
                                              lambda root, mp, request: _edit_config(root, latent_dim=6)),
    "evaluate-config-unreadable": Case("evaluate {run}", ("config.json",),
                                       lambda root, mp, request: (root / "run" / "config.json").write_text("[")),
    # demo: refused before training
    "demo-num-points-zero": Case("demo --num-points 0 --steps 2 --out {tmp}/demo", ("--num-points",)),
    "demo-steps-zero": Case("demo --steps 0 --out {tmp}/demo", ("--steps",)),
    "demo-beta-negative": Case("demo --beta -1 --steps 2 --out {tmp}/demo", ("--beta",)),
    "demo-out-is-a-file": Case("demo --steps 2 --num-points 100 --out {tmp}/file", ("--out",), _write("file", "x")),
    # one writer at a time: a second one is refused at once, naming the run and the process
    "second-writer-resume": Case("train --resume {run} --steps 6", ("--resume", "another process is writing this run",
                                                                   "process"), _hold_lock),
    "second-writer-evaluate": Case("evaluate {run} --metrics mig --num-points 200",
                                   ("RUN_DIR", "another process is writing this run"), _hold_lock),
    "second-writer-out": Case("train --model vae --data digits --out {run}", ("--out", "another process"), _hold_lock),
    # folders that are not runs
    "out-user-folder": Case("train --data digits --out {tmp}/mine", ("--out", "mine", "not a refvae run"),
                            _user_folder),
    "out-empty-string": Case(["train", "--data", "digits", "--out", ""], ("--out must name a run directory",)),
    "out-finished-run-without-checkpoints": Case(
        "train --model beta-vae --data digits --steps 4 --batch-size 16 --latent-dim 4 --checkpoint-every 2 "
        "--log-every 1 --seed 3 --out {run}", ("--out", "finished run whose checkpoints are gone", "model.keras"),
        lambda root, mp, request: shutil.rmtree(root / "run" / "checkpoints")),
    "out-symlink-loop": Case("train --data digits --out {tmp}/loop1/run", ("--out", "loop of symbolic links"),
                             _symlink_loop),
    "out-path-too-long": Case("train --data digits --out {tmp}/" + "x" * 300, ("--out", "too long")),
    # run files edited by hand: the resume trusts only what it wrote
    "resume-config-model-edited": Case("train --resume {run} --steps 6", ("config.json", "model: 'beta-vae' there",
                                                                         "ckpt-4"),
                                       lambda root, mp, request: _edit_config(root, model="vae")),
    "resume-config-beta-edited": Case("train --resume {run} --steps 6", ("config.json", "beta"),
                                      lambda root, mp, request: _edit_config(root, beta=9.0)),
    "resume-config-seed-edited": Case("train --resume {run} --steps 6", ("config.json", "seed"),
                                      lambda root, mp, request: _edit_config(root, seed=4)),
    "resume-config-learning-rate-edited": Case("train --resume {run} --steps 6", ("config.json", "learning_rate"),
                                               lambda root, mp, request: _edit_config(root, learning_rate=0.01)),
    "resume-history-value-damaged": Case("train --resume {run} --steps 6", ("history.csv", "line 3", "not a number"),
                                         _edit_history(lambda text: text.replace("\n2,", "\n2,abc", 1))),
    "resume-history-header-edited": Case("train --resume {run} --steps 6", ("history.csv", "columns"),
                                         _edit_history(lambda text: "when," + text.split(",", 1)[1])),
    "resume-history-steps-out-of-order": Case("train --resume {run} --steps 6", ("history.csv", "line 3", "step"),
                                              _edit_history(lambda text: text.replace("\n2,", "\n1,", 1))),
    "resume-tensorboard-is-a-file": Case("train --resume {run} --steps 6", ("tensorboard is a file",),
                                         _replace_by_file("tensorboard")),
    "resume-checkpoints-is-a-file": Case("train --resume {run} --steps 6", ("checkpoints is a file",),
                                         _replace_by_file("checkpoints")),
    "evaluate-report-is-a-file": Case("evaluate {run} --metrics mig --num-points 200", ("report is a file",),
                                      _replace_by_file("report")),
    "evaluate-model-not-refvae": Case("evaluate {run} --metrics mig --num-points 200",
                                      ("model.keras", "not a refvae model"), _plain_keras_model),
    # numbers that mean nothing in float32, and seeds out of range
    "learning-rate-below-float32": Case(f"train --learning-rate 1e-300 {NEW}", ("--learning-rate", "0 in float32")),
    "beta-above-float32": Case(f"train --model beta-vae --beta 1e39 {NEW}", ("--beta", "float32")),
    "gamma-below-float32": Case(f"train --model factor-vae --gamma 1e-50 {NEW}", ("--gamma", "0 in float32")),
    "seed-above-32-bits": Case(f"train --seed 4294967296 {NEW}", ("--seed", "4294967295")),
    "evaluate-seed-above-32-bits": Case("evaluate {run} --seed 4294967296", ("--seed", "4294967295")),
    # config values of the wrong type
    "config-model-a-table": Case("train --config {tmp}/t.toml --out {tmp}/new", ("--model must be a string",),
                                 _write("t.toml", 'data = "digits"\nmodel = {a = 1}\n')),
    "config-hidden-a-table": Case("train --config {tmp}/t.toml --out {tmp}/new", ("--hidden",),
                                  _write("t.toml", 'data = "digits"\nhidden = {x = 1}\n')),
    "config-data-a-number": Case("train --config {tmp}/t.toml --out {tmp}/new", ("--data",),
                                 _write("t.toml", "data = 3\n")),
    "config-beta-a-string": Case("train --config {tmp}/t.toml --out {tmp}/new", ("--beta", "str"),
                                 _write("t.toml", 'data = "digits"\nmodel = "beta-vae"\nbeta = "6"\n')),
    # metrics undefined on the data: digits has one factor
    "evaluate-factor-vae-on-one-factor": Case("evaluate {run} --metrics factor-vae",
                                              ("--metrics factor-vae", "undefined on data digits")),
    "evaluate-beta-vae-on-one-factor": Case("evaluate {run} --metrics beta-vae",
                                            ("--metrics beta-vae", "undefined on data digits")),
    "evaluate-dci-on-one-factor": Case("evaluate {run} --metrics mig,dci", ("--metrics dci", "undefined on data digits")),
    "evaluate-modularity-on-one-factor": Case("evaluate {run} --metrics modularity",
                                              ("--metrics modularity", "undefined on data digits")),
    "evaluate-profile-unknown": Case("evaluate {run} --metrics-profile quick", ("--metrics-profile",)),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_refuses_with_a_clear_message_and_changes_nothing(name, workspace, capsys, monkeypatch, request):
    case = CLI_CASES[name]
    if case.setup is not None:
        case.setup(workspace, monkeypatch, request)
    before = snapshot(workspace)
    argv = ([part.format(run=workspace / "run", tmp=workspace) for part in case.argv] if isinstance(case.argv, list)
            else case.argv.format(run=workspace / "run", tmp=workspace).split())
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
    original = runs.training.batch_at
    monkeypatch.setattr(runs.training, "batch_at", lambda dataset, config, step: original(dataset, config, step) * np.nan)
    argv = ["train", "--model", "beta-vae", "--data", "digits", "--steps", "3", "--batch-size", "16",
            "--latent-dim", "4", "--checkpoint-every", "2", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as stopped:
        cli.main([*argv, "--learning-rate", "0.9"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "non-finite loss at step 1" in stderr and "Traceback" not in stderr
    # config.json is written when the run starts, but no checkpoint was: the corrected retry
    # replaces that start (nothing of it can be resumed) instead of being refused as "a different run"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["learning_rate"] == 0.9
    assert runs.RunDirectory(tmp_path / "run").checkpoint_steps() == []
    monkeypatch.setattr(runs.training, "batch_at", original)
    assert cli.main(argv) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["learning_rate"] == 1e-3
    assert runs.RunDirectory(tmp_path / "run").checkpoint_steps() == [3, 2]
    assert runs.read_history(tmp_path / "run")["step"].tolist() == [3]


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
    return runs.load_model(workspace / "run")


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
    "config-anchors-string": (lambda ws: runs.RunConfig.create(model="anchor-vae", anchors="12"),
                              ValueError, "anchors must be latent dimensions"),
    "config-anchors-floats": (lambda ws: runs.RunConfig.create(model="anchor-vae", anchors=(0.7, 1.9)),
                              ValueError, "anchors must be latent dimensions"),
    "evaluate-seed-negative": (lambda ws: _evaluate(ws, seed=-1), ValueError, "seed must be an integer"),
    "evaluate-num-points-zero": (lambda ws: _evaluate(ws, num_points=0), ValueError, "num_points must be"),
    "load-model-random-bytes": (lambda ws: (_random_bytes(ws / "run" / "model.keras"), runs.load_model(ws / "run")),
                                ValueError, "model.keras"),
    "load-model-with-lambda-layer": (_load_model_with_lambda_layer, ValueError, "model.keras: cannot be loaded"),
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
    short, long = runs.read_history(root / "run"), runs.read_history(root / "reference")
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
    history_before = runs.read_history(workspace / "run")
    config = runs.RunConfig.create(**{**RUN, "steps": 6}, out=str(workspace / "run"))
    if start == 4:
        resumed = runs.train(config, resume=True, progress=False)
    else:
        with pytest.warns(RuntimeWarning, match=r"from ckpt-2: .*ckpt-4"):
            resumed = runs.train(config, resume=True, progress=False)
        # nothing lost: the damaged files are kept aside, not deleted
        assert sorted(p.name.split(".")[0] for p in (workspace / "run" / "checkpoints" / "damaged").iterdir()) \
            == ["ckpt-4"] * len(list((workspace / "run" / "checkpoints" / "damaged").iterdir()))
    reference_root, reference = trained
    for got, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    history = runs.read_history(workspace / "run")
    expected_history = runs.read_history(reference_root / "reference")
    assert history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(history["loss"][:start], history_before["loss"][:start])  # rows kept
    np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=1e-5)
    checkpoints = workspace / "run" / "checkpoints"
    assert runs.RunDirectory(workspace / "run").checkpoint_steps() == [6, 4]    # two kept, as in an undamaged run
    assert not list(checkpoints.glob("*_temp*"))
    assert json.loads((workspace / "run" / "config.json").read_text())["steps"] == 6


# --- one writer, full disks, interruptions ---------------------------------------------------

def test_a_lock_left_by_a_dead_process_is_taken_over(workspace):
    """The lock is an flock on the run folder: the operating system drops it when its holder
    dies, however it dies (here SIGKILL), so the next writer goes ahead."""
    import signal

    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        descriptor = os.open({str(workspace / "run")!r}, os.O_RDONLY)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(runs.RunInUse, match=f"process {holder.pid}"):
        with runs.RunDirectory(workspace / "run").lock():
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert cli.main(["train", "--resume", str(workspace / "run"), "--steps", "6"]) == 0
    assert runs.read_history(workspace / "run")["step"].tolist() == [1, 2, 3, 4, 5, 6]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["history", "checkpoint", "tensorboard", "checkpoint-state"])
def test_a_full_disk_during_training_is_one_line_naming_the_file_and_the_resume(writer, workspace, capsys,
                                                                                monkeypatch):
    import tensorflow as tf

    if writer == "history":
        monkeypatch.setattr(runs.callbacks.History, "_open", _no_space)
    elif writer == "checkpoint":
        def full(*args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    elif writer == "tensorboard":
        def full(*args, **kwargs):
            raise tf.errors.UnknownError(None, None, "No space left on device")
        monkeypatch.setattr(tf.summary, "scalar", full)
    else:
        monkeypatch.setattr("refvae.runs.directory.write_atomic", _no_space)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--resume", str(workspace / "run"), "--steps", "6"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2, stderr
    assert "Traceback" not in stderr and "no space left on the device" in stderr
    named = {"history": "history.csv", "checkpoint": "checkpoints", "tensorboard": "tensorboard",
             "checkpoint-state": "checkpoints/checkpoint"}[writer]
    assert named in stderr
    monkeypatch.undo()
    # nothing half-written that a later step trusts: the resume ends where the uninterrupted run ends
    assert cli.main(["train", "--resume", str(workspace / "run"), "--steps", "6"]) == 0
    assert runs.read_history(workspace / "run")["step"].tolist() == [1, 2, 3, 4, 5, 6]


def test_a_full_disk_stops_evaluate_before_any_metric_and_leaves_no_empty_figure(workspace, capsys, monkeypatch):
    import tempfile

    import matplotlib.figure

    class FullFile:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        write = flush = fileno = _no_space

    before = snapshot(workspace)
    monkeypatch.setattr(tempfile, "TemporaryFile", FullFile)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["evaluate", str(workspace / "run"), "--metrics", "mig", "--num-points", "200"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2 and "no space left on the device" in stderr and "Traceback" not in stderr
    assert snapshot(workspace) == before                       # checked before any metric ran
    monkeypatch.undo()
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _no_space)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["evaluate", str(workspace / "run"), "--metrics", "mig", "--num-points", "200"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2 and "reconstructions.png" in stderr and "Traceback" not in stderr
    assert not [path for path in (workspace / "run" / "report").glob("*") if path.stat().st_size == 0]


def test_ctrl_c_is_one_line_with_the_step_and_the_resume_that_ends_where_the_whole_run_ends(workspace, capsys,
                                                                                            monkeypatch, trained):
    original = runs.training.batch_at

    def interrupted(dataset, config, step):
        if step == 5:
            raise KeyboardInterrupt
        return original(dataset, config, step)

    monkeypatch.setattr(runs.training, "batch_at", interrupted)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--resume", str(workspace / "run"), "--steps", "6"])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 130 and "Traceback" not in stderr
    assert f"interrupted at step 5 (checkpoint written); continue with `refvae train --resume {workspace / 'run'}`" \
        in stderr
    assert runs.RunDirectory(workspace / "run").checkpoint_steps()[0] == 5
    monkeypatch.undo()
    resumed = runs.train(runs.RunConfig.load(workspace / "run").replace(steps=6), resume=True, progress=False)
    for got, expected in zip(resumed.get_weights(), trained[1].get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(runs.read_history(workspace / "run")["loss"],
                               runs.read_history(trained[0] / "reference")["loss"], rtol=1e-5)


def test_metrics_json_records_what_it_scored(workspace):
    import hashlib as hashes

    import refvae
    from refvae import evaluate

    results = evaluate.evaluate(workspace / "run", ("mig",), seed=7, num_points=200, report=False)
    scored = json.loads((workspace / "run" / "metrics.json").read_text())["scored"]
    assert scored == results["scored"]
    assert (scored["step"], scored["steps"], scored["seed"], scored["num_points"]) == (4, 4, 7, 200)
    assert scored["model_sha256"] == hashes.sha256((workspace / "run" / "model.keras").read_bytes()).hexdigest()
    assert scored["refvae"] == refvae.__version__ and scored["profile"] == "fast"
    assert results["mig"]["settings"] == {"profile": "fast", "seed": 7, "num_points": 200, "test_points": 100}


def test_the_default_metrics_of_a_one_factor_data_set_are_those_defined_on_it(workspace):
    from refvae import evaluate

    results = evaluate.evaluate(workspace / "run", num_points=200, report=False)
    assert "factor-vae" not in results and "beta-vae" not in results and "dci" not in results
    assert {"mig", "sap", "irs", "tc", "mi", "gaussian-correlation", "code-mi"} <= set(results["summary"])
