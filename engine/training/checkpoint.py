"""A run's checkpoint as files that only hold data: opening a run folder never runs code.

A checkpoint is three files in the run folder:
- `checkpoint.json` — the manifest: the format version, the names and sizes of the two data
  files, and every small value (counters, budget, numpy RNG states as integers, schedules).
  It is written last, atomically: while it names the old data files the old checkpoint is
  whole, and once it names the new ones they are whole.
- `checkpoint-<tag>.pt` — tensors (network and optimiser `state_dict`s, torch generator
  states), read with `torch.load(..., weights_only=True)`: tensors, numbers, strings, lists
  and dicts only, never an object that could run code.
- `checkpoint-<tag>.npz` — numpy arrays (the simulator's session state, the replay buffer,
  the current observations), read with `np.load(..., allow_pickle=False)`.

The writer takes one nested state (dicts with string keys) and splits it by leaf type: numpy
arrays go to the `.npz`, tensors and any subtree with tensors or non-string keys (an
optimiser's state) to the `.pt`, everything else to the JSON; the reader merges them back
into the same nested dict. The simulator itself is never stored: it is rebuilt from the run's
config and dataset and only its session state restored.

Each data file has a fresh tag, so a write never touches the files the current manifest names;
the next write, and the next start of a trainer on the run, remove what a killed write left
(temp files whose writer is gone, unreferenced data files).
Checkpoints of rlrec ≤ 0.1.0 (`checkpoint.pt`, a pickle) are refused, never unpickled.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.data.files import (
    atomic_write_bytes,
    atomic_write_text,
    leftover_owner,
    remove_stale_leftovers,
)

CHECKPOINT_VERSION = 2
MANIFEST_FILE = "checkpoint.json"
LEGACY_FILE = "checkpoint.pt"  # rlrec ≤ 0.1.0: a pickle of everything, never opened
_PREFIX = "checkpoint-"
_NON_FINITE = "__float__"  # JSON has no NaN or infinity: {"__float__": "inf"}


def older_rlrec_error(run_dir: str | Path, version: Any) -> RlrecError:
    return RlrecError(
        f"run {run_dir} was written by an older rlrec (checkpoint version {version}); "
        "retrain it, or use rlrec ≤ 0.1.0 to resume it",
        file=run_dir,
        key="version",
        value=version,
        allowed=CHECKPOINT_VERSION,
    )


def has_checkpoint(run_dir: str | Path) -> bool:
    """True when the run folder has a checkpoint of this format (its manifest)."""
    return (Path(run_dir) / MANIFEST_FILE).is_file()


# -- writing ---------------------------------------------------------------------------
def _split(
    tree: dict[str, Any], path: str, tensors: dict[str, Any], arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The JSON part of `tree`; tensors and arrays are moved into `tensors` / `arrays` under
    their '/'-joined key paths."""
    import torch

    plain: dict[str, Any] = {}
    for key, value in tree.items():
        where = f"{path}/{key}" if path else key
        if isinstance(value, np.ndarray):
            arrays[where] = value
        elif isinstance(value, torch.Tensor):
            tensors[where] = value
        elif isinstance(value, dict):
            if _is_torch_state(value):  # a state_dict, an optimiser's state: one piece
                tensors[where] = value
            else:
                plain[key] = _split(value, where, tensors, arrays)
        else:
            plain[key] = _encode_floats(value)
    return plain


def _is_torch_state(value: Any) -> bool:
    """A subtree that holds tensors or non-string keys and no numpy arrays: torch's own
    state (its keys and tuples matter), kept whole in the `.pt` file."""
    import torch

    found = {"torch": False, "numpy": False}

    def walk(node: Any) -> None:
        if isinstance(node, torch.Tensor):
            found["torch"] = True
        elif isinstance(node, np.ndarray):
            found["numpy"] = True
        elif isinstance(node, dict):
            if not all(isinstance(k, str) for k in node):
                found["torch"] = True
            for child in node.values():
                walk(child)
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child)

    walk(value)
    return found["torch"] and not found["numpy"]


def _encode_floats(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_NON_FINITE: repr(value)}
    if isinstance(value, (list, tuple)):
        return [_encode_floats(v) for v in value]
    if isinstance(value, np.generic):
        return _encode_floats(value.item())
    return value


def _decode_floats(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_NON_FINITE}:
            return float(value[_NON_FINITE])
        return {k: _decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_floats(v) for v in value]
    return value


def remove_leftovers(run_dir: Path, keep: Collection[str] = ()) -> None:
    """Remove what interrupted writes left in the run folder: temp files whose writer is gone
    (`data.files.remove_stale_leftovers`; a live writer's are kept), temp files of an older
    rlrec, which name no writer (only the holder of the run's lock writes here, so they are
    nobody's), and checkpoint data files other than `keep` (those the manifest names)."""
    remove_stale_leftovers(run_dir, unowned_stale_after=0.0)
    for path in run_dir.iterdir():
        name = path.name
        older_temp = name.startswith(".checkpoint") and leftover_owner(name)[1] is None
        unnamed = name.startswith(_PREFIX) and name.endswith((".pt", ".npz")) and name not in keep
        if (older_temp or unnamed) and path.is_file():
            path.unlink(missing_ok=True)


def save_checkpoint(run_dir: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` (a nested dict of JSON values, numpy arrays and torch tensors /
    state_dicts) as the run's checkpoint; returns the manifest's path. OSError as writing does.
    """
    import torch

    run_dir = Path(run_dir)
    remove_leftovers(run_dir, keep=referenced(run_dir))
    tensors: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    plain = _split(state, "", tensors, arrays)
    tag = secrets.token_hex(6)
    tensor_file, array_file = f"{_PREFIX}{tag}.pt", f"{_PREFIX}{tag}.npz"
    atomic_write_bytes(run_dir / tensor_file, lambda f: torch.save(tensors, f))
    plain_arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    atomic_write_bytes(run_dir / array_file, lambda f: np.savez(f, **plain_arrays))  # type: ignore[arg-type]
    manifest = {
        "version": CHECKPOINT_VERSION,
        "tensors": tensor_file,
        "arrays": array_file,
        "sizes": {
            tensor_file: (run_dir / tensor_file).stat().st_size,
            array_file: (run_dir / array_file).stat().st_size,
        },
        "state": plain,
    }
    path = run_dir / MANIFEST_FILE
    atomic_write_text(path, json.dumps(manifest, allow_nan=False, sort_keys=True) + "\n")
    remove_leftovers(run_dir, keep={tensor_file, array_file})
    return path


def checkpoint_bytes(run_dir: str | Path) -> int:
    """Bytes the run's checkpoint takes on disk: its manifest and the data files it names
    (0 when there is none)."""
    run_dir = Path(run_dir)
    total = 0
    for name in (MANIFEST_FILE, *referenced(run_dir)):
        try:
            total += (run_dir / name).stat().st_size
        except OSError:
            continue
    return total


def referenced(run_dir: Path) -> set[str]:
    """The data files the run's manifest names (none when it has no readable manifest)."""
    try:
        manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return {str(manifest["tensors"]), str(manifest["arrays"])}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


# -- reading ---------------------------------------------------------------------------
def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """The nested state `save_checkpoint` wrote (plus "version"). Loads no code: JSON, tensors
    with `weights_only=True`, arrays with `allow_pickle=False`. RlrecError (one line naming
    the run) for a missing, older, newer, damaged or inconsistent checkpoint."""
    run_dir = Path(run_dir)
    for attempt in range(3):
        try:
            return _load(run_dir)
        except FileNotFoundError:
            # A writer replaced the checkpoint between our reads of the manifest and the data:
            # read the new manifest.
            if attempt == 2 or not has_checkpoint(run_dir):
                break
    if (run_dir / LEGACY_FILE).is_file() and not has_checkpoint(run_dir):
        raise older_rlrec_error(run_dir, 1)
    raise RlrecError(
        f"{run_dir}: no {MANIFEST_FILE} yet (the run has not saved a checkpoint)",
        file=run_dir / MANIFEST_FILE,
    )


def _damaged(run_dir: Path, file: str, exc: BaseException | str) -> RlrecError:
    if isinstance(exc, BaseException):
        detail = str(exc).split("\n")[0].split(". ")[0][:120]  # torch's run to a paragraph
        detail = f"{exc.__class__.__name__}: {detail}"
    else:
        detail = exc
    return RlrecError(
        f"{run_dir}: cannot read the checkpoint's {file} ({detail}); it is damaged or was not "
        "written by rlrec — train the run again with `rlrec train`",
        file=run_dir / file,
    )


def _load(run_dir: Path) -> dict[str, Any]:
    import torch

    if not has_checkpoint(run_dir):
        raise FileNotFoundError(run_dir / MANIFEST_FILE)
    try:
        text = (run_dir / MANIFEST_FILE).read_text(encoding="utf-8")
        manifest = json.loads(text, parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise _damaged(run_dir, MANIFEST_FILE, exc) from None
    if not isinstance(manifest, dict):
        raise _damaged(run_dir, MANIFEST_FILE, "not a JSON object")
    version = manifest.get("version")
    if version != CHECKPOINT_VERSION:
        if isinstance(version, int) and version > CHECKPOINT_VERSION:
            raise RlrecError(
                f"run {run_dir} was written by a newer rlrec (checkpoint version {version}); "
                "update rlrec to open it",
                file=run_dir / MANIFEST_FILE,
                key="version",
                value=version,
            )
        raise older_rlrec_error(run_dir, version)
    names = {}
    for part in ("tensors", "arrays"):
        name = manifest.get(part)
        if not isinstance(name, str) or Path(name).name != name or not name.startswith(_PREFIX):
            raise _damaged(run_dir, MANIFEST_FILE, f"bad {part} file name {name!r}")
        names[part] = name
    sizes = manifest.get("sizes")
    for name in names.values():
        try:
            size = (run_dir / name).stat().st_size
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _damaged(run_dir, name, exc) from None
        if not isinstance(sizes, dict) or sizes.get(name) != size:
            raise _damaged(run_dir, name, "its size is not the one the manifest records")
    state = manifest.get("state")
    if not isinstance(state, dict):
        raise _damaged(run_dir, MANIFEST_FILE, "no state")
    state = _decode_floats(state)
    try:
        tensors = torch.load(run_dir / names["tensors"], map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 — weights_only refuses anything but data
        raise _damaged(run_dir, names["tensors"], exc) from None
    if not isinstance(tensors, dict):
        raise _damaged(run_dir, names["tensors"], "not a mapping")
    try:
        with np.load(run_dir / names["arrays"], allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 — zip, format and pickle refusals alike
        raise _damaged(run_dir, names["arrays"], exc) from None
    for key, value in (*tensors.items(), *arrays.items()):
        _place(state, str(key), value, run_dir)
    state["version"] = version
    return state


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _place(tree: dict[str, Any], path: str, value: Any, run_dir: Path) -> None:
    *parents, leaf = path.split("/")
    for key in parents:
        child = tree.setdefault(key, {})
        if not isinstance(child, dict):
            raise _damaged(run_dir, MANIFEST_FILE, f"{path!r} clashes with a value")
        tree = child
    tree[leaf] = value


def mismatch(run_dir: str | Path, exc: BaseException) -> RlrecError:
    """A checkpoint whose keys, types or shapes do not fit the run, as one line."""
    if isinstance(exc, RlrecError):
        detail = str(exc)
    else:
        first = str(exc).strip().split("\n")[0][:160]
        detail = f"{exc.__class__.__name__}: {first}"
    return RlrecError(
        f"{run_dir}: the checkpoint does not fit this run's config ({detail}); it is damaged "
        "or from another run — train the run again with `rlrec train`",
        file=Path(run_dir) / MANIFEST_FILE,
    )
