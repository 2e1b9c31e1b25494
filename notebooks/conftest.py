"""nbval configuration for the course notebooks.

- stderr is not compared (TensorFlow and Keras print there);
- the course runs in fast mode under test: a run that sets neither REFVAE_FAST=1 nor
  REFVAE_FULL=1 (the full-size `make notebooks`) stops at once with a message, so a slow
  full-size run is never started by accident and CI cannot silently skip fast mode.
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    if os.environ.get("REFVAE_FAST") != "1" and os.environ.get("REFVAE_FULL") != "1":
        raise pytest.UsageError(
            "the notebooks run in fast mode under test: set REFVAE_FAST=1 (as `make test` does), "
            "or REFVAE_FULL=1 for the full-size course (`make notebooks`)"
        )


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


# --- run times per chapter -------------------------------------------------------------
# With REFVAE_RECORD_TIMES=1 (`make notebooks`, `make course-times`) the wall time of every
# notebook is summed over its cells and written into notebooks/README.md between the
# markers below, with the mode (fast/full) and the device it ran on.

_TIMES = {}
_START, _END = "<!-- timings:start -->", "<!-- timings:end -->"


def pytest_runtest_logreport(report):
    if report.nodeid.endswith(".ipynb") or ".ipynb::" in report.nodeid:
        path = report.nodeid.split("::", 1)[0]
        _TIMES[path] = _TIMES.get(path, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("REFVAE_FAST") == "1":
        _store_executed_chapters()
    if os.environ.get("REFVAE_RECORD_TIMES") != "1" or not _TIMES:
        return
    import datetime
    import pathlib
    import platform

    mode = "fast" if os.environ.get("REFVAE_FAST") == "1" else "full"
    try:
        import tensorflow as tf

        device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    except ImportError:
        device = "CPU"
    rows = [f"Measured {datetime.date.today()} on {platform.machine()} {device}, {mode} mode:", "",
            "| notebook | seconds |", "|---|---|"]
    rows += [f"| {path} | {seconds:.0f} |" for path, seconds in sorted(_TIMES.items())]
    rows.append(f"| **all** | **{sum(_TIMES.values()):.0f}** |")
    readme = pathlib.Path(__file__).with_name("README.md")
    text = readme.read_text()
    table = _START + "\n" + "\n".join(rows) + "\n" + _END
    if _START in text and _END in text:
        text = text.split(_START)[0] + table + text.split(_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Measured run times\n\n" + table + "\n"
    readme.write_text(text)


# --- executed chapters for the course site ----------------------------------------------
# In fast mode, a chapter whose cells all passed is written with the outputs of this run
# where `make site` looks for it (tools/build_site.py, keyed by the notebook's and the
# package's content), so the site built after `make test` executes no chapter again.

_RUNS = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or not hasattr(item, "cell") or not hasattr(item.parent, "nb"):
        return
    run = _RUNS.setdefault(str(item.parent.fspath), {"nb": item.parent.nb, "cells": 0, "failed": False})
    run["cells"] += 1
    run["failed"] |= report.failed
    if report.passed and outputs is not None:
        item.cell.outputs = outputs


def _store_executed_chapters():
    import importlib.util
    import pathlib
    import sys

    here = pathlib.Path(__file__).parent
    spec = importlib.util.spec_from_file_location("refvae_build_site", here.parent / "tools" / "build_site.py")
    build_site = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_site)
    for path, run in _RUNS.items():
        path = pathlib.Path(path)
        code_cells = sum(cell.cell_type == "code" for cell in run["nb"].cells)
        if path.parent == here and path.name[:2].isdigit() and not run["failed"] and run["cells"] == code_cells:
            build_site.store_executed(run["nb"], path)
