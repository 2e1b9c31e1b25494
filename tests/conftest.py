"""Shared test configuration: quiet TensorFlow, deterministic seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

SEED = 20261124


@pytest.fixture
def seed():
    """The suite's fixed seed, for functions that take an int seed."""
    return SEED


@pytest.fixture
def rng():
    """A fresh NumPy Generator with the fixed seed: the same numbers in every test run."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="module")
def sprites():
    """Procedural dSprites, built once per test module (its 720 base sprites are cached)."""
    from refvae.data import dsprites

    return dsprites()
