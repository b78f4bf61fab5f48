"""Claiming a run folder: run names, new folders, and the lock that keeps one trainer per run.

- A run name becomes a path, so it must be one plain folder name (`check_run_name`).
- A folder that holds only hidden leftovers (a lock, temp files) is what a run killed while it
  started leaves: `new_run_dir` claims it again and a failed start removes it
  (`discard_unused_folder`), so a name is never blocked by an empty folder.
- `RunLock`: an exclusive `flock` on `<run>/.lock` holding the owner's PID, taken by every
  trainer (new or resumed) until its `run()` returns.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option, RlrecError
from rlrec.data.files import check_folder_target, folder_write_error

CONFIG_FILE = "config.yaml"
LOCK_FILE = ".lock"  # held by the process training the run (see RunLock)


def default_runs_dir() -> Path:
    """`$RLREC_RUNS_DIR`, else `./runs`."""
    return Path(os.environ.get("RLREC_RUNS_DIR") or "runs")


def is_run(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def check_run_name(name: str, what: str = "run", option: str = "name") -> str:
    """`name` if it is one plain folder name; RlrecError otherwise (empty, `.`/`..`, a path
    separator, a leading dot — hidden names are rlrec's temp files — or a control character),
    calling it a `what` name (run, dataset, study) given as `option`."""
    bad = (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(sep in name for sep in ("/", "\\", "\0"))
        or any(ord(ch) < 32 for ch in name)
    )
    if bad:
        raise RlrecError(
            [
                f"{what} ",
                Option(option, repr(name)),
                ": must be one plain folder name (no '/', no '..', not empty, "
                "not starting with '.')",
            ],
            key=option,
            value=name,
            option=option,
        )
    return name


def is_unused_folder(path: Path) -> bool:
    """An existing folder that holds nothing but hidden leftovers (a lock, temp files): what a
    run killed while it started leaves. It may be claimed again."""
    return path.is_dir() and all(entry.name.startswith(".") for entry in path.iterdir())


def discard_unused_folder(path: Path) -> None:
    """Remove `path` if it holds only leftovers (see `is_unused_folder`) and no live trainer
    holds its lock: what a start that failed before writing its config leaves."""
    if not is_unused_folder(path):
        return
    try:
        lock = RunLock(path).acquire()
    except RlrecError:
        return  # another trainer is claiming it right now
    try:
        shutil.rmtree(path, ignore_errors=True)
    finally:
        lock.release()


# A folder this old that still holds nothing is no trainer's start in progress.
ABANDONED_AFTER_SECONDS = 60.0


def discard_abandoned_folders(runs_dir: Path) -> None:
    """Remove the folders in `runs_dir` that runs killed while starting left empty (see
    `is_unused_folder`), once they are older than a start takes and unlocked."""
    now = time.time()
    try:
        children = list(runs_dir.iterdir())
    except OSError:
        return
    for child in children:
        try:
            stale = now - child.stat().st_mtime > ABANDONED_AFTER_SECONDS
        except OSError:
            continue
        if stale and is_unused_folder(child):
            discard_unused_folder(child)


def new_run_dir(runs_dir: str | Path | None, preset: str, name: str | None = None) -> Path:
    """Create `<runs_dir>/<YYYYmmdd-HHMMSS>-<preset>` (or `name`), never reusing a run. A
    named folder left empty by a run killed at startup is claimed again. RlrecError: a bad
    name (see `check_run_name`), a folder of that name that is already used, or a `runs_dir`
    that is a file, lies below a file or cannot be created (option "out")."""
    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if name is not None:
        check_run_name(name)
    check_folder_target(parent, "out")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder_write_error(exc, parent, "out") from None
    discard_abandoned_folders(parent)
    base = name or f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{preset}"
    for attempt in range(1000):
        path = parent / (base if attempt == 0 else f"{base}-{attempt + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            if name is None:
                continue
            if is_unused_folder(path):
                return path
            if is_run(path):
                raise RlrecError(
                    f"{path}: already exists (use `rlrec resume {path}` to continue it)",
                    file=path,
                ) from None
            raise RlrecError(
                f"{path}: exists and is not a run folder; choose another name", file=path
            ) from None
    raise RlrecError(f"{parent}: cannot create a new run folder")


class RunLock:
    """One live trainer per run folder: an exclusive `flock` on `<run>/.lock`, which holds the
    owner's PID for the message another process shows. The kernel drops the lock when its
    process ends however it ends, so a lock left by a killed run is simply taken over.
    (Without `fcntl`, e.g. on Windows, runs are not locked.)"""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._handle: Any = None

    def acquire(self) -> RunLock:
        """Take the lock; RlrecError naming the run and the owner's PID if a live process
        holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover — not POSIX
            return self
        try:
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise RlrecError(
                f"{self.path.parent}: cannot write its lock file ({exc.strerror or exc})",
                file=self.path,
            ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip()[:20] or "?"
            handle.close()
            run_dir = self.path.parent
            raise RlrecError(
                f"{run_dir}: already being trained by process {owner}; wait for it to finish "
                "or stop it first",
                file=run_dir,
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None
