"""The package as a user meets it: a light import, a version, the command line."""

import subprocess
import sys

import pytest

import refvae


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_version_is_a_release_string():
    major, minor, patch = refvae.__version__.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


def test_version_is_written_once_and_the_changelog_names_it():
    import pathlib
    import re

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    # pyproject.toml reads the version from refvae/__init__.py, its one place
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "refvae.__version__"}
    from importlib.metadata import version

    assert version("refvae") == refvae.__version__
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (root / "CHANGELOG.md").read_text(), flags=re.MULTILINE)
    assert releases[0] == refvae.__version__


def test_import_refvae_does_not_load_tensorflow():
    out = _python("import sys, refvae; print('tensorflow' in sys.modules)")
    assert out.strip() == "False"


def test_numpy_only_modules_do_not_load_tensorflow():
    out = _python(
        "import sys, refvae, refvae.info, refvae.metrics, refvae.data, refvae.course; "
        "print('tensorflow' in sys.modules)"
    )
    assert out.strip() == "False"


def test_compat_layer_does_not_load_tensorflow():
    out = _python(
        "import sys, refvae; refvae.compat.disentanglement_lib; import refvae.compat.disentanglement_lib; "
        "print('tensorflow' in sys.modules, 'refvae.compat.disentanglement_lib' in sys.modules)"
    )
    assert out.split() == ["False", "True"]


def test_submodules_load_on_first_attribute_access():
    out = _python("import sys, refvae; refvae.info; print('refvae.info' in sys.modules)")
    assert out.strip() == "True"


def test_unknown_attribute_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = refvae.nope


def test_cli_help_lists_the_subcommands_that_exist():
    out = subprocess.run(
        [sys.executable, "-m", "refvae", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "info" in out
    from refvae.cli import build_parser

    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    for name in names:
        assert name in out


def test_cli_info_prints_versions():
    out = subprocess.run(
        [sys.executable, "-m", "refvae", "info", "--no-tensorflow"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith(f"refvae {refvae.__version__}")


@pytest.mark.parametrize("old, new", [
    ("refvae.train:train", "refvae.runs.training:train"),
    ("refvae.train:read_history", "refvae.runs.directory:read_history"),
    ("refvae.train:MODELS", "refvae.runs.registry:MODELS"),
    ("refvae.metrics.utils:discretize", "refvae.metrics.discrete:discretize"),
    ("refvae.metrics.utils:sample_representation", "refvae.metrics.sampling:sample_representation"),
    ("refvae.models.anchor:anchor_ranking", "refvae.metrics.mutual_info:anchor_ranking"),
    ("refvae.evaluate:traversal_factor", "refvae.report:traversal_factor"),
])
def test_an_old_name_warns_naming_the_new_one_and_gives_it(old, new):
    import importlib

    old_module, old_name = old.split(":")
    new_module, new_name = new.split(":")
    expected = getattr(importlib.import_module(new_module), new_name)
    with pytest.warns(DeprecationWarning, match=f"{old_module}.{old_name} is deprecated .* use {new_module}.{new_name}"):
        assert getattr(importlib.import_module(old_module), old_name) is expected


def test_the_old_train_config_makes_a_run_config_and_warns():
    from refvae import runs, train

    with pytest.warns(DeprecationWarning, match="refvae.train.TrainConfig is deprecated .* use refvae.runs.RunConfig"):
        config = train.TrainConfig(model="beta-vae", beta=3.0, data="digits")
    assert config == runs.RunConfig.create(model="beta-vae", beta=3.0, data="digits")
    assert "train" not in refvae.__all__                 # an old path, not part of the API
