"""The table of a study: one row a trial (``results.csv``), read back as a pandas DataFrame.

A row holds the trial's id, its status ("done" or "failed") and error, every field of its run's
configuration, its seed, each metric's headline value and per-factor values (``mig.shape``), the
final logged terms (``final_elbo``, ...), and the seconds it trained and was scored. The rows
are kept one file a trial (``results/<id>.json``, written by the study's driver as Ray reports
them); results.csv is made from them, in the order of the grid.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING, Any

from refvae.io import atomic_path

if TYPE_CHECKING:
    import pandas

    from refvae.studies.spec import StudySpec

__all__ = ["load", "rows", "write_csv"]


def rows(study_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """{trial id: row} of the rows written so far."""
    folder = pathlib.Path(study_dir) / "results"
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        row = json.loads(path.read_text())
        found[row["trial"]] = row
    return found


def write_csv(study_dir: str | os.PathLike, study: StudySpec) -> pandas.DataFrame:
    """results.csv from the rows, in the grid's order; returns the table."""
    import pandas

    written = rows(study_dir)
    frame = pandas.DataFrame([written[trial.id] for trial in study.trials if trial.id in written])
    with atomic_path(pathlib.Path(study_dir) / "results.csv") as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def load(study_dir: str | os.PathLike) -> pandas.DataFrame:
    """The table of a study as a pandas DataFrame: results.csv, or the rows written so far when the
    study is still running (in the grid's order)."""
    import pandas

    study_dir = pathlib.Path(study_dir)
    if not study_dir.is_dir():
        raise FileNotFoundError(f"{study_dir} is not a study directory")
    written = rows(study_dir)
    path = study_dir / "results.csv"
    if path.exists():
        frame = pandas.read_csv(path)
        if "error" in frame:  # a finished trial's error is "" in the rows; read_csv makes it NaN
            frame["error"] = ["" if pandas.isna(error) else str(error) for error in frame["error"]]
        if len(frame) == len(written) or not written:
            return frame
    grid = json.loads((study_dir / "grid.json").read_text()) if (study_dir / "grid.json").exists() else {}
    order = [trial["id"] for trial in grid.get("trials", [])] or sorted(written)
    return pandas.DataFrame([written[trial_id] for trial_id in order if trial_id in written])
