"""What the command line prints on standard error: TensorFlow's C++ start-up lines are dropped,
everything else (refvae's messages, warnings, errors) arrives."""

import os
import re
import subprocess
import sys

import pytest

from refvae import cli

# Lines TensorFlow 2.18-2.20 writes from C++ at import and at the first op on a machine without
# a GPU (timestamps and process ids vary).
STARTUP = [
    "2026-11-28 22:40:01.123456: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find cuda "
    "drivers on your machine, GPU will not be used.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "E0000 00:00:1764369601.234567   12345 cuda_dnn.cc:8579] Unable to register cuDNN factory: Attempting to "
    "register factory for plugin cuDNN when one has already been registered",
    "E0000 00:00:1764369601.240000   12345 cuda_blas.cc:1407] Unable to register cuBLAS factory: Attempting to "
    "register factory for plugin cuBLAS when one has already been registered",
    "2026-11-28 22:40:01.300000: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "2026-11-28 22:40:02.000000: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] failed call "
    "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]


def _env(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env.update(extra)
    return env


def test_every_startup_line_matches_and_no_ordinary_message_does():
    for line in STARTUP:
        assert cli.TF_STARTUP_LINES.search(line), line
    for line in ("refvae train: error: --steps must be a positive integer, got 0",
                 "refvae: warning: at step 300, the batch estimate of the total correlation was negative",
                 "UserWarning: a CUDA-free warning from a library",
                 "Traceback (most recent call last):"):
        assert not cli.TF_STARTUP_LINES.search(line), line


def test_the_filter_drops_startup_lines_and_forwards_the_rest_in_order():
    lines = [STARTUP[0], "first real line", STARTUP[2], STARTUP[5], "second real line"]
    code = (
        "import os, sys\n"
        "from refvae import cli\n"
        "with cli._StartupLineFilter():\n"
        f"    os.write(2, {(chr(10).join(lines) + chr(10)).encode()!r})\n"
        "    print('from python', file=sys.stderr)\n"
        "    os.write(2, b'progress 1/2\\rprogress 2/2\\r')\n"
        "    os.write(2, b'no newline at the end')\n"
        "print('after the filter', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == ("first real line\nsecond real line\nfrom python\n"
                                      "progress 1/2\rprogress 2/2\rno newline at the end" "after the filter\n")


@pytest.mark.slow
def test_a_command_that_imports_tensorflow_prints_no_startup_line_but_its_error(tmp_path):
    # `refvae train` imports TensorFlow and Keras, then refuses a batch larger than the data set
    # (the 1,797 digits): its error message must arrive, TensorFlow's start-up lines must not.
    result = subprocess.run(
        [sys.executable, "-m", "refvae", "train", "--data", "digits", "--batch-size", "4096", "--out",
         str(tmp_path / "run")],
        capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(r"refvae train: error: --batch-size 4096 is larger than the data set \(\d+ observations\)",
                        lines[0])
    info = subprocess.run([sys.executable, "-m", "refvae", "info"], capture_output=True, text=True, env=_env(),
                          timeout=300)
    assert info.returncode == 0 and info.stdout.startswith("refvae ")
    assert [line for line in info.stderr.splitlines() if cli.TF_STARTUP_LINES.search(line)] == []


def test_a_refvae_warning_starts_a_line_of_its_own_after_a_progress_bar(capsys):
    from refvae import runs

    print("  7/100 ━━━ 2s 68ms/step - loss: 1.0", end="\r")         # a progress bar mid-line
    cli._show_warning("the batch TC is negative", runs.callbacks.EstimatorBiasWarning, "x.py", 1)
    captured = capsys.readouterr()
    assert captured.out.endswith("\r")
    assert captured.err == "\nrefvae: warning: the batch TC is negative\n"
