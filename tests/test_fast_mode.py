"""The sentinel of the course's fast mode: `make test` must run the notebooks with it."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_make_test_runs_notebooks_in_fast_mode():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    notebook_lines = [line for line in recipe.replace("\\\n", " ").splitlines() if "--nbval" in line]
    assert len(notebook_lines) == 1, recipe
    assert "REFVAE_FAST=1" in notebook_lines[0] and re.search(r"\bnotebooks/", notebook_lines[0])


def test_notebook_conftest_refuses_a_run_without_fast_or_full_mode(tmp_path, monkeypatch):
    import pytest

    source = (ROOT / "notebooks" / "conftest.py").read_text()
    namespace = {}
    exec(compile(source, "notebooks/conftest.py", "exec"), namespace)
    monkeypatch.delenv("REFVAE_FAST", raising=False)
    monkeypatch.delenv("REFVAE_FULL", raising=False)
    with pytest.raises(pytest.UsageError, match="REFVAE_FAST=1"):
        namespace["pytest_configure"](None)
    monkeypatch.setenv("REFVAE_FAST", "1")
    assert namespace["pytest_configure"](None) is None


def test_every_notebook_has_badge_install_cell_and_fast_switch_and_no_outputs():
    import json

    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    assert notebooks, "the course has no notebooks"
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells)
        name = path.relative_to(ROOT)
        assert "colab-badge.svg" in text, f"{name}: no Colab badge"
        assert "# NBVAL_SKIP" in text and "import refvae" in text, f"{name}: no guarded install cell"
        assert 'os.environ.get("REFVAE_FAST") == "1"' in text, f"{name}: no FAST switch"
        install = "".join(cells[1]["source"])
        assert "# %env REFVAE_FAST=1" in install, f"{name}: the install cell does not offer fast mode"
        after_pip = install.split("%pip install", 1)[1].split("\n", 1)[1]
        assert after_pip.strip() == "import refvae", f"{name}: a failed %pip would pass silently"
        assert all(not cell.get("outputs") for cell in cells if cell["cell_type"] == "code"), (
            f"{name}: committed with outputs"
        )
