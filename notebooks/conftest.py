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
