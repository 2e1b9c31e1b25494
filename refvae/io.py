"""Files that a crash never leaves half-written, and results as JSON types.

A run directory, an experiment's JSON and a report are read by later commands and by
readers; each is written to a temporary file beside its destination and renamed over it
(``os.replace`` is atomic on one file system), so a reader sees the old file or the new
one, never a partial one.

Example::

    write_atomic(run_dir / "metrics.json", json.dumps(jsonable(results), indent=2) + "\\n")
    with atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["atomic_path", "jsonable", "write_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[pathlib.Path]:
    """A temporary path beside ``path`` (``tmp-<name>``, same suffix) renamed over it on success.

    The parent directory is created. If the block raises, the temporary file is removed
    and ``path`` is left as it was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp-" + path.name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a partial file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return pathlib.Path(path)


def jsonable(value: Any) -> Any:
    """NumPy scalars and arrays, tuples, Paths and dataclasses turned into JSON types (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, pathlib.Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return value
