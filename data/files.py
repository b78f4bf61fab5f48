"""Atomic writes: a file or a folder appears whole or not at all.

Every writer in rlrec (dataset folders, split files, run configs, summaries, checkpoints) goes
through here: write into a temporary file or folder beside the target, flush it to disk, then
`os.replace` it into place, so a crash or an error never leaves a half-written file that a later
reader would trust.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
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
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
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
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        fill(temp)
        os.chmod(temp, FOLDER_MODE)
        if target.exists():
            if _exchange(temp, target):  # one atomic step: no moment without a dataset
                shutil.rmtree(temp, ignore_errors=True)  # now the old folder
                return target
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
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
