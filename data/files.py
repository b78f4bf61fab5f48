"""Atomic writes: a file or a folder appears whole or not at all.

Every writer in rlrec (dataset folders, split files, run configs, summaries, checkpoints) goes
through here: write into a temporary file or folder beside the target, flush it to disk, then
`os.replace` it into place, so a crash or an error never leaves a half-written file that a later
reader would trust.

A writer killed with SIGKILL cannot remove its temporary; its name carries the writer's PID
(`.<name>.tmp-<pid>-<random>`, `.<name>.partial-<pid>-<random>`, `.<name>.old-<pid>-<random>`),
so the next write into the same folder removes it once it is stale — its writer is no longer
alive, or the live process with that PID started after it was last written (a reused PID).
A live writer's temporaries are never touched.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rlrec.data.errors import Option, RlrecError


def _process_umask() -> int:
    # Read once, at import (single-threaded): setting it to read it back would briefly give
    # other threads' new files the wrong mode.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# `mkstemp`/`mkdtemp` create owner-only (0600/0700) temporaries; what we publish gets the
# modes a plain `open`/`mkdir` would give, so a shared dataset or run stays readable.
_UMASK = _process_umask()
FILE_MODE = 0o666 & ~_UMASK
FOLDER_MODE = 0o777 & ~_UMASK


def atomic_write_bytes(path: str | os.PathLike, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write `data` (bytes, or a function writing to a binary file) to `path` atomically.

    The temporary file sits beside `path` (same filesystem, so the rename is atomic), is
    fsynced before the rename, and is removed if anything fails. Raises OSError as `open` does.
    """
    target = Path(path)
    remove_stale_leftovers(target.parent)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target, "tmp"))
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as file:
            if callable(data):
                data(file)
            else:
                file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_with(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Atomically write `path` with a writer that wants a file name (e.g. `to_parquet`)."""
    target = Path(path)
    remove_stale_leftovers(target.parent)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target, "tmp"))
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_folder(target: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Create or replace the folder `target` atomically: `fill(temp)` writes its files into a
    hidden temporary folder beside it, which is then renamed into place (an existing `target`
    is moved aside first and removed after). Parent folders this call creates are removed again
    if it fails. Raises OSError from `mkdtemp` when the parent cannot be written."""
    target = Path(target)
    created_parents = [p for p in reversed(target.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(target.parent)
    temp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target, "partial"), dir=target.parent))
    try:
        fill(temp)
        os.chmod(temp, FOLDER_MODE)
        if target.exists():
            if _exchange(temp, target):  # one atomic step: no moment without a dataset
                shutil.rmtree(temp, ignore_errors=True)  # now the old folder
                return target
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(target, "old"), dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(temp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        for parent in reversed(created_parents):  # only the folders this call made, if empty
            try:
                parent.rmdir()
            except OSError:
                break
        raise
    return target


def check_folder_target(path: str | os.PathLike, option: str, reason: str = "") -> Path:
    """`path` as a Path, if a folder can be (or already is) there; else RlrecError
    (option=`option`, file = the culprit) saying what is in the way: `path` itself is a file
    ("--out afile: is a file, expected a folder"), or a file stands where one of its parent
    folders would be ("--out afile/ds: afile is a file, so no folder can be made inside it").
    `reason` replaces "expected a folder" (e.g. "not a dataset folder")."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        what = "is a file" if target.is_file() else "is not a folder"
        raise RlrecError(
            [Option(option, str(target)), f": {what}, {reason or 'expected a folder'}"],
            file=target,
            option=option,
        )
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RlrecError(
                    [
                        Option(option, str(target)),
                        f": {parent} is a file, so no folder can be made inside it",
                    ],
                    file=parent,
                    option=option,
                )
            break
    return target


def folder_write_error(exc: OSError, target: str | os.PathLike, option: str) -> RlrecError:
    """The one line for an OSError met while creating the folder `target` (option
    `option`): "--out /proc/x: cannot create a folder in /proc (No such file or
    directory)", naming the nearest existing parent where the write was refused."""
    target = Path(target)
    where = next((p for p in target.parents if p.exists()), target.parent)
    reason = exc.strerror or type(exc).__name__
    return RlrecError(
        [Option(option, str(target)), f": cannot create a folder in {where} ({reason})"],
        file=where,
        option=option,
    )


# -- leftovers of killed writers ----------------------------------------------------------------
# `tempfile` names end in 8 characters of [a-z0-9_]. Older rlrec wrote `.<name>.<random>.tmp`,
# `.<name>.partial-<random>` (no PID), and `.<name>.tmp-<pid>` (no random part).
_RANDOM = r"[a-z0-9_]{8}"
_LEFTOVER = re.compile(
    rf"^\.(?P<name>.+)\.(?P<kind>tmp|partial|old)-(?:(?P<pid>\d+)(?:-{_RANDOM})?|{_RANDOM})$"
)
_LEGACY_TEMP = re.compile(rf"^\.(?P<name>.+)\.{_RANDOM}\.tmp$")
UNOWNED_STALE_AFTER = 24 * 3600.0  # a leftover naming no PID is stale once this old (s)
_CLOCK_SLACK = 2.0  # s: the boot time /proc gives is whole seconds


def _temp_prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-{os.getpid()}-"


def leftover_owner(name: str) -> tuple[bool, int | None]:
    """(is this a temporary of an atomic write?, the PID of its writer or None when the name
    carries none)."""
    match = _LEFTOVER.match(name)
    if match is None:
        return _LEGACY_TEMP.match(name) is not None, None
    return True, int(match["pid"]) if match["pid"] else None


def remove_stale_leftovers(
    folder: str | os.PathLike, unowned_stale_after: float = UNOWNED_STALE_AFTER
) -> list[Path]:
    """Remove the temporaries killed writers left in `folder` (files and folders named as in
    this module's docstring) whose writer is gone; returns what was removed. A leftover naming
    no PID (written by an older rlrec) is removed once `unowned_stale_after` seconds old. An
    `.old-*` folder whose dataset never got back to its place (a kill between the two renames
    of a replacement) is renamed back first. Never raises for a folder it cannot read."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        is_temp, pid = leftover_owner(entry.name)
        if not is_temp:
            continue
        path = Path(entry.path)
        if not _stale(path, pid, now, unowned_stale_after):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                _restore_old_copy(path)
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # another process cleaned it first, or it cannot be removed: harmless
        removed.append(path)
    return removed


def _restore_old_copy(leftover: Path) -> None:
    match = _LEFTOVER.match(leftover.name)
    if match is None or match["kind"] != "old":
        return
    saved, target = leftover / match["name"], leftover.parent / match["name"]
    if saved.is_dir() and not os.path.lexists(target):
        os.replace(saved, target)


def _stale(path: Path, pid: int | None, now: float, unowned_stale_after: float) -> bool:
    try:
        written = path.lstat().st_mtime
    except OSError:
        return False
    if pid is None:
        return now - written > unowned_stale_after
    started = process_start_time(pid)
    if started is None:
        return True  # no such process: its writer is gone
    return written < started - _CLOCK_SLACK  # that PID now names a later process


def process_start_time(pid: int) -> float | None:
    """When the process `pid` started (Unix seconds; -inf when it is alive but the system
    cannot tell when it started), or None when no live process has that PID (a zombie is not
    live: it writes nothing more)."""
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _alive_elsewhere(pid)
    except (OSError, StopIteration, ValueError, IndexError):
        return _alive_elsewhere(pid)
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (command) "
    if fields[0] in ("Z", "X"):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _alive_elsewhere(pid: int) -> float | None:
    """Without /proc: whether `pid` is alive, start time unknown (-inf)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:  # alive, owned by another user
        pass
    return float("-inf")


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`, glibc ≥ 2.28); False
    where the system or filesystem cannot, and the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return done == 0


def _sync_folder(folder: Path) -> None:
    """Make a rename durable; some filesystems cannot open folders, which is fine."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
