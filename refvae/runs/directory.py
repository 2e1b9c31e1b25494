"""A run directory: what it holds, who may write it, and what a resume may trust.

::

    RUN_DIR/config.json       the configuration (``RunConfig.to_dict``), written when the run starts
    RUN_DIR/checkpoints/      weights, optimiser and sampling state, and the configuration, per checkpoint
    RUN_DIR/history.csv       every logged term, every ``log_every`` steps
    RUN_DIR/tensorboard/      the same scalars for TensorBoard
    RUN_DIR/model.keras       the final model (loaded with ``safe_mode=True``)
    RUN_DIR/metrics.json      ``refvae evaluate``'s results, with what they scored
    RUN_DIR/report.html       and its figures in RUN_DIR/report/

The rules a :class:`RunDirectory` keeps:

- **One writer at a time.** Training, resuming and evaluating hold an exclusive lock on the
  folder (``flock`` on the directory itself, so taking it writes nothing) for their whole
  life; a second writer is refused at once, naming the process that holds it. The operating
  system drops the lock of a process that dies, so a crashed run never blocks the next one.
- **A folder knows whether it is a run.** A new run goes only into a new or empty folder (or
  one whose earlier start ended before its first checkpoint); a folder of other files, or a
  finished run whose checkpoints are gone, is refused and left as it was.
- **A resume trusts only what it wrote.** Each checkpoint stores the configuration it was
  trained with; a config.json that differs from it is refused, naming the keys. The history is
  checked against its header and its steps before anything is rewritten.

Errors are :class:`RunDirectoryError` (a ``ValueError``) naming the path; a second writer gets
:class:`RunInUse`.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import pathlib
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from refvae.io import atomic_path, write_atomic
from refvae.runs.config import ConfigError, RunConfig

if TYPE_CHECKING:
    import keras

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer is then the user's to keep
    fcntl = None

__all__ = ["RunDirectory", "RunDirectoryError", "RunInUse", "WriteError", "read_history"]

CONFIG_KEY = "run_config"   # the name of the configuration inside a checkpoint
_PATH_ERRORS = {errno.ENAMETOOLONG: "the path is too long for the file system",
                errno.ELOOP: "the path runs through a loop of symbolic links",
                errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
                errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded"}


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked; the message names the path and what to do."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.path, self.reason)


class RunInUse(RunDirectoryError):
    """Another process is writing the run (training, resuming or evaluating it)."""


class WriteError(OSError):
    """A file of the run could not be written (a full disk, a read-only or vanished folder);
    the message names the file, why, and how to continue."""

    def __init__(self, path: str | os.PathLike, error: BaseException, advice: str = "") -> None:
        why = _describe(error)
        super().__init__(f"cannot write {path} ({why})" + (f": {advice}" if advice else ""))
        self.path = str(path)
        self.error, self.advice = error, advice

    def __reduce__(self):
        return type(self), (self.path, self.error, self.advice)


def _describe(error: BaseException) -> str:
    number = getattr(error, "errno", None)
    if number in _PATH_ERRORS:
        return _PATH_ERRORS[number]
    lines = str(getattr(error, "message", None) or error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if "No space left" in text or "ENOSPC" in text:
        return _PATH_ERRORS[errno.ENOSPC]
    return text


class RunDirectory:
    """The folder of one run (see the module docstring)."""

    SUBFOLDERS = ("checkpoints", "tensorboard", "report")

    def __init__(self, path: str | os.PathLike) -> None:
        if not str(path).strip():
            raise RunDirectoryError(repr(str(path)), "a run directory must be named (an empty path would be the "
                                                     "working folder)")
        self.path = pathlib.Path(path)
        self._lock_fd: int | None = None

    def __repr__(self):
        return f"RunDirectory({str(self.path)!r})"

    @property
    def config_path(self) -> pathlib.Path:
        return self.path / "config.json"

    @property
    def checkpoints(self) -> pathlib.Path:
        return self.path / "checkpoints"

    @property
    def history_path(self) -> pathlib.Path:
        return self.path / "history.csv"

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.path / "tensorboard"

    @property
    def model_path(self) -> pathlib.Path:
        return self.path / "model.keras"

    @property
    def metrics_path(self) -> pathlib.Path:
        return self.path / "metrics.json"

    @property
    def report_path(self) -> pathlib.Path:
        return self.path / "report.html"

    @property
    def figures(self) -> pathlib.Path:
        """The report's figures (``report/``)."""
        return self.path / "report"

    # ------------------------------------------------------------------ where it is

    def check_location(self) -> None:
        """Refuse a path that cannot become (or is not) a writable folder, before any work.

        Writability is probed by creating an anonymous temporary file in the nearest existing
        folder: unlike permission bits it also answers for read-only file systems, immutable
        folders and root.
        """
        existing = self.path
        try:
            while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
                existing = existing.parent
            if existing.is_symlink() and not existing.exists():
                existing.stat()      # a dangling link or a loop: the OSError names why
        except OSError as error:
            raise RunDirectoryError(self.path, f"cannot be used: {_describe(error)}") from None
        if not existing.is_dir():
            raise RunDirectoryError(self.path, f"{existing} is a file, not a directory")
        probe_writable(existing, self.path)
        if len(os.fsencode(self.path.resolve().name)) > 255 or len(os.fsencode(str(self.path.resolve()))) > 4095:
            raise RunDirectoryError(self.path, f"cannot be used: {_PATH_ERRORS[errno.ENAMETOOLONG]}")

    def create(self) -> None:
        """Create the folder (and its parents); a path the file system refuses is named."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirectoryError(self.path, f"cannot be created: {_describe(error)}") from None

    # ------------------------------------------------------------------ one writer

    @contextlib.contextmanager
    def lock(self) -> Iterator[RunDirectory]:
        """Hold the run's exclusive lock for the block; :class:`RunInUse` if another process holds it.

        The lock is ``flock`` on the folder itself: taking it writes nothing, and the
        operating system drops it when the holder exits, however it exits. A lock left by a
        dead process therefore does not exist; the next writer takes it.
        """
        if fcntl is None:
            yield self
            return
        try:
            descriptor = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as error:
            raise RunDirectoryError(self.path, f"cannot be opened: {_describe(error)}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise RunInUse(self.path, f"another process is writing this run ({_lock_holder(self.path)}); "
                                      "wait for it to end or stop it, then try again") from None
        self._lock_fd = descriptor
        try:
            yield self
        finally:
            self._lock_fd = None
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)

    # ------------------------------------------------------------------ what the folder is

    def is_run(self) -> bool:
        """Whether the folder holds a run's config.json."""
        return self.config_path.is_file()

    def entries(self) -> list[str]:
        return sorted(entry.name for entry in self.path.iterdir()) if self.path.is_dir() else []

    def check_subfolders(self) -> None:
        """Refuse a run whose checkpoints/, tensorboard/ or report/ is something else than a folder."""
        for name in self.SUBFOLDERS:
            path = self.path / name
            if (path.exists() or path.is_symlink()) and not path.is_dir():
                raise RunDirectoryError(self.path, f"{name} is a file, not a folder: this is not a run refvae "
                                                   f"wrote; move {path} away")

    def prepare_new(self, config: RunConfig) -> None:
        """Make the folder ready for a new run of ``config`` (call it holding the lock).

        Accepted: a new or empty folder, and a folder whose earlier start ended before its first
        checkpoint (a refused or diverged start: its config.json, history and TensorBoard files
        are replaced). Refused, with nothing changed: a folder of other files; a run with
        checkpoints (resume it); a finished run whose checkpoints are gone.
        """
        entries = self.entries()
        if not entries:
            return
        steps = self.checkpoint_steps() if self.checkpoints.is_dir() else []
        if not self.is_run():
            if steps:
                raise RunDirectoryError(self.path, "holds checkpoints but no config.json, so it cannot be "
                                                   "resumed or checked; choose another folder")
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise RunDirectoryError(self.path, f"is not empty ({shown}) and is not a refvae run (no config.json); "
                                               "choose a new or empty folder")
        saved = self.read_config()
        if steps:
            differing = config.differences(saved)
            if differing:
                raise RunDirectoryError(self.path, f"holds a different run (options {differing} differ); "
                                                   "choose another folder")
            raise RunDirectoryError(self.path, f"already holds this run (checkpoint at step {steps[0]}); continue "
                                               f"it with `refvae train --resume {self.path}` or choose another "
                                               "folder")
        finished = [name for name in ("model.keras", "metrics.json", "report.html") if (self.path / name).exists()]
        if finished:
            raise RunDirectoryError(self.path, f"holds a finished run whose checkpoints are gone ({', '.join(finished)} "
                                               "describe a model that cannot be continued); remove the folder or "
                                               "choose another")
        self.check_subfolders()
        # an earlier start that ended before its first checkpoint: nothing of it can be resumed
        self.history_path.unlink(missing_ok=True)
        _remove_tree(self.tensorboard)

    def prepare_resume(self) -> RunConfig:
        """The configuration of the run to resume (call it holding the lock), after checking the
        folder is a run with checkpoints, its subfolders are folders and its config.json reads."""
        if not self.path.exists():
            raise RunDirectoryError(self.path, "holds no run (the folder does not exist)")
        if not self.path.is_dir():
            raise RunDirectoryError(self.path, "is a file, not a run directory")
        if not self.is_run():
            raise RunDirectoryError(self.path, "holds no run (no config.json)")
        self.check_subfolders()
        config = self.read_config()
        if not self.checkpoint_steps():
            raise RunDirectoryError(self.path, f"holds no checkpoint to resume from; start the run again in a new "
                                               f"folder, or remove {self.path} and start it there")
        return config

    # ------------------------------------------------------------------ the configuration

    def read_config(self) -> RunConfig:
        try:
            return RunConfig.load(self.config_path)
        except ConfigError as error:
            raise RunDirectoryError(self.config_path, f"{error}") from None

    def write_config(self, config: RunConfig) -> None:
        self.write_text(self.config_path, json.dumps(config.to_dict(), indent=2) + "\n")

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_steps(self) -> list[int]:
        """Steps of the checkpoints (from their files, not the state file), newest first."""
        steps = []
        for index in self.checkpoints.glob("ckpt-*.index"):
            number = index.name[len("ckpt-"):-len(".index")]
            if number.isdigit():
                steps.append(int(number))
        return sorted(steps, reverse=True)

    def remove_partial_checkpoints(self) -> None:
        """Remove the ``ckpt-N_temp`` folders a checkpoint write stopped half-way leaves."""
        for partial in self.checkpoints.glob("ckpt-*_temp*"):
            if partial.is_dir():
                _remove_tree(partial)

    def check_stored_config(self, config: RunConfig) -> None:
        """Refuse ``config`` (config.json) unless it equals the configuration stored in the newest
        checkpoint that reads, except ``steps`` and ``out``; nothing is written."""
        for number in self.checkpoint_steps():
            try:
                stored = stored_config(self.checkpoints / f"ckpt-{number}")
            except Exception:  # a damaged checkpoint: ``restore`` reports it and uses an older one
                continue
            if stored is None:
                raise RunDirectoryError(self.path, f"checkpoints/ckpt-{number} holds no configuration (written by "
                                                   "refvae < 0.3), so a resume cannot check config.json against it; "
                                                   "start the run again in a new folder")
            differing = config.differences(stored)
            if differing:
                shown = "; ".join(f"{key}: {stored.to_dict().get(key)!r} there, {config.to_dict().get(key)!r} in "
                                  "config.json" for key in differing)
                raise RunDirectoryError(self.config_path, f"differs from the configuration stored in "
                                                          f"checkpoints/ckpt-{number} ({shown}); put the old values "
                                                          "back, or start a new run in another folder")
            return

    def restore(self, checkpoint: Any, model: keras.Model, config: RunConfig) -> int:
        """Restore the newest checkpoint that reads back whole and was trained with ``config``;
        returns its step.

        The configuration stored with the newest readable checkpoint must equal ``config``
        except ``steps`` and ``out`` (``check_stored_config``): a difference (config.json edited
        since) is refused, naming the keys. Checkpoints are tried newest first; a damaged one
        (truncated data, a corrupt index, flipped bytes: TensorFlow's CRCs catch them) is moved to
        ``checkpoints/damaged/`` with a warning and the previous one is used; the state file is
        rewritten to list the checkpoints kept.

        Raises:
            RunDirectoryError: no checkpoint can be restored (each named with its error;
                nothing changed), config.json differs from the checkpoint, or
                ``config.steps`` is below the restored step.
        """
        self.check_stored_config(config)
        problems = []
        for number in self.checkpoint_steps():
            prefix = self.checkpoints / f"ckpt-{number}"
            try:
                checkpoint.restore(str(prefix)).assert_existing_objects_matched()
                restored = int(model.optimizer.iterations.numpy())
                if restored != number:
                    raise ValueError(f"it holds step {restored}")
            except Exception as error:  # every way a damaged file fails to read; reported below
                problems.append((number, _first_line(error)))
                continue
            if config.steps < number:
                raise ConfigError("steps", f"{config.steps} is below the run's current step {number}; "
                                           f"give {number} or more")
            if problems:
                described = "; ".join(f"ckpt-{n}: {why}" for n, why in problems)
                warnings.warn(f"resuming {self.path} from ckpt-{number}: newer checkpoints could not be read "
                              f"({described}); moved to {self.checkpoints / 'damaged'}", RuntimeWarning,
                              stacklevel=3)
                (self.checkpoints / "damaged").mkdir(exist_ok=True)
                for damaged, _ in problems:
                    for path in self.checkpoints.glob(f"ckpt-{damaged}.*"):
                        os.replace(path, self.checkpoints / "damaged" / path.name)
            self.remove_partial_checkpoints()
            self._write_checkpoint_state(number)
            return number
        described = "; ".join(f"ckpt-{n}: {why}" for n, why in problems)
        raise RunDirectoryError(self.checkpoints, f"no checkpoint can be restored into the model config.json "
                                                  f"describes ({described}); the checkpoints are damaged: start the "
                                                  "run again in a new folder")

    def _write_checkpoint_state(self, latest: int) -> None:
        """Rewrite ``checkpoints/checkpoint`` (the CheckpointState text ``tf.train.CheckpointManager``
        reads) to list the checkpoint files present up to ``latest``, so that the manager keeps
        deleting the oldest ones even after the state file was damaged."""
        now = time.time()
        kept = [step for step in sorted(self.checkpoint_steps()) if step <= latest]
        lines = [f'model_checkpoint_path: "ckpt-{latest}"']
        lines += [f'all_model_checkpoint_paths: "ckpt-{step}"' for step in kept]
        lines += [f"all_model_checkpoint_timestamps: {now:.6f}" for _ in kept]
        lines.append(f"last_preserved_timestamp: {now - 1:.6f}")
        self.write_text(self.checkpoints / "checkpoint", "\n".join(lines) + "\n")

    # ------------------------------------------------------------------ history

    def read_history(self) -> dict[str, np.ndarray]:
        return read_history(self.path)

    def checked_history(self, columns: Sequence[str], upto: int) -> list[dict[str, str]]:
        """The rows of history.csv with step <= ``upto``, after checking the whole file.

        The header must be ``columns``; every step an integer, increasing; every value a number.
        A last line without its newline is an append a crash interrupted: it is dropped. Any
        other damage is refused (naming the line) before anything is rewritten.
        """
        path = self.history_path
        if not path.exists():
            return []
        if not path.is_file():
            raise RunDirectoryError(path, "is not a file")
        text = path.read_text(errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] != "":
            lines = lines[:-1]      # an interrupted append
        lines = [line for line in lines if line]
        if not lines:
            return []
        reader = csv.reader(io.StringIO("\n".join(lines)))
        header = next(reader)
        if header != list(columns):
            raise RunDirectoryError(path, f"has the columns {header}, not the terms this model logs "
                                          f"{list(columns)}; it was edited or belongs to another run: move it away "
                                          "to resume without it")
        rows, previous = [], 0
        for number, values in enumerate(reader, start=2):
            problem = _row_problem(values, header, previous)
            if problem:
                raise RunDirectoryError(path, f"line {number} {problem}; it was edited or damaged: move the file "
                                              "away to resume without it")
            previous = int(values[0])
            if previous <= upto:
                rows.append(dict(zip(header, values)))
        return rows

    def rewrite_history(self, rows: list[dict[str, str]]) -> None:
        if not rows:
            self.history_path.unlink(missing_ok=True)
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        self.write_text(self.history_path, buffer.getvalue())

    # ------------------------------------------------------------------ the model file

    def save_model(self, model: keras.Model) -> None:
        """model.keras through a temporary file and a rename."""
        try:
            with atomic_path(self.model_path) as tmp:
                model.save(tmp)
        except Exception as error:
            if isinstance(error, OSError) or type(error).__module__.startswith(("tensorflow", "h5py")):
                raise WriteError(self.model_path, error, f"free space, then `refvae train --resume {self.path}` "
                                                         "writes it again") from None
            raise

    def load_model(self) -> keras.Model:
        """The final model, loaded with ``safe_mode=True``; refused unless it is a refvae model."""
        import keras

        import refvae.models
        from refvae.models.protocol import RunModel

        path = self.model_path
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: has `refvae train` finished for this run?")
        if not zipfile.is_zipfile(path):
            raise RunDirectoryError(path, f"is not a Keras model file (not a zip archive: empty, truncated or "
                                          f"overwritten); `refvae train --resume {self.path}` rewrites it from the "
                                          "newest checkpoint")
        try:
            model = keras.models.load_model(path, safe_mode=True)
        except Exception as error:  # Keras reports a damaged archive as BadZipFile, "File not found", ...
            raise RunDirectoryError(path, f"cannot be loaded with safe_mode=True: it is damaged, not a refvae model, "
                                          f"or holds code ({type(error).__name__}: {_first_line(error)}); "
                                          f"`refvae train --resume {self.path}` rewrites it from the newest "
                                          "checkpoint") from None
        if not isinstance(model, RunModel):
            known = ", ".join(refvae.models.__all__[:4])
            raise RunDirectoryError(path, f"holds a {type(model).__name__}, not a refvae model ({known}, ...)")
        return model

    def model_checksum(self) -> str:
        """sha256 of model.keras (what metrics.json records it scored)."""
        digest = hashlib.sha256()
        with self.model_path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    # ------------------------------------------------------------------ writing

    def write_text(self, path: pathlib.Path, text: str) -> None:
        """``text`` to ``path`` atomically; a failed write is a :class:`WriteError` naming it."""
        try:
            write_atomic(path, text)
        except OSError as error:
            raise WriteError(path, error, "free space or make the folder writable, then try again") from None


def probe_writable(directory: pathlib.Path, named: pathlib.Path | None = None, size: int = 1 << 16) -> None:
    """Refuse ``directory`` unless ``size`` bytes can be written there (a full disk fails this;
    an empty file would not)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory) as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise RunDirectoryError(named or directory, f"{directory} is not writable ({_describe(error)})") from None


def stored_config(prefix: str | os.PathLike) -> RunConfig | None:
    """The configuration stored in the checkpoint ``prefix`` (None when it stores none)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    key = f"{CONFIG_KEY}/.ATTRIBUTES/VARIABLE_VALUE"
    if not reader.has_tensor(key):
        return None
    return RunConfig.from_dict(json.loads(reader.get_tensor(key).decode()))


def read_history(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The history of a run as {column: float array} (complete rows only)."""
    path = pathlib.Path(run_dir) / "history.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if None not in row.values() and None not in row]
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]} if rows else {}


def _row_problem(values: list[str], header: list[str], previous: int) -> str:
    if len(values) != len(header):
        return f"has {len(values)} fields, not {len(header)}"
    if not values[0].isdigit() or int(values[0]) <= previous:
        return f"has the step {values[0]!r}, not an integer above the previous step {previous}"
    for name, value in zip(header[1:], values[1:]):
        try:
            float(value)
        except ValueError:
            return f"has {name} = {value!r}, not a number"
    return ""


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _remove_tree(path: pathlib.Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)


def _lock_holder(path: pathlib.Path) -> str:
    """"process 1234 (refvae train ...)" for the process holding the flock of ``path``, from
    /proc/locks (Linux); "another process" where that cannot be read."""
    try:
        status = path.stat()
        wanted = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
        with open("/proc/locks") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
                    pid = fields[4]
                    return f"process {pid}" + _command_of(pid)
    except OSError:
        pass
    return "another process"


def _command_of(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            parts = [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return ""
    command = " ".join(parts)
    return f": {command[:120]}" if command else ""

