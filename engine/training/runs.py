"""A run is a folder: `config.yaml`, `metrics.jsonl`, `timing.jsonl`, the checkpoint
(`checkpoint.json` and the two data files it names) and `eval.json`.

- `metrics.jsonl` holds one event per line (see `engine.events`), appended and flushed as
  training goes so another process can follow it. It is a pure function of config and seed
  (one torch thread → byte-identical), so wall-clock fields live in `timing.jsonl`, one line
  per event that has them, keyed by event type and `env_steps`; `read_events` merges both.
- The checkpoint holds only data (JSON, tensors read with `weights_only=True`, arrays read
  with `allow_pickle=False`) and is written so that a crash mid-write leaves the previous one
  intact (`engine.training.checkpoint`).

Naming, creating and locking a run folder live in `engine.training.run_folder` (re-exported
here). Readers: `read_events`, `RunFollower` / `follow` (tail a run another process is
writing), `list_runs`, `load_run` (a trained policy ready to recommend); they skip, and
count, lines that are not events they can read.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from rlrec.data.errors import RlrecError
from rlrec.data.files import atomic_write_text
from rlrec.data.jsonsafe import json_safe
from rlrec.engine.training import checkpoint
from rlrec.engine.training.events import (
    EVENT_TYPES,
    Checkpointed,
    Evaluation,
    Event,
    FinishReason,
    RunFinished,
    RunStarted,
    from_record,
    to_record,
)
from rlrec.engine.training.run_folder import (  # noqa: F401 — part of this module's API
    ABANDONED_AFTER_SECONDS,
    CONFIG_FILE,
    LOCK_FILE,
    RunLock,
    check_run_name,
    default_runs_dir,
    discard_unused_folder,
    is_run,
    is_unused_folder,
    new_run_dir,
)

METRICS_FILE = "metrics.jsonl"
TIMING_FILE = "timing.jsonl"
CHECKPOINT_FILE = checkpoint.MANIFEST_FILE  # written last: a checkpoint exists once it does
EVAL_FILE = "eval.json"
# Wall-clock fields: never in metrics.jsonl (they would break run-to-run identity).
# Measurements of this machine rather than of the run (times, speeds, sizes on disk): kept in
# timing.jsonl, so metrics.jsonl is the same for the same run on any machine.
TIMING_FIELDS = ("seconds", "steps_per_second", "eta_seconds", "fraction_done", "bytes")
# Fields that name the folder: stored relative, resolved by the reader.
PATH_FIELDS = ("run_dir", "path")


def require_run(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise RlrecError(f"{path}: no such run folder")
    if is_unused_folder(path):
        raise RlrecError(
            f"{path}: not a run folder (empty; a run killed while it started leaves one, with "
            f"nothing to resume: start it again with `rlrec train --name {path.name}`)",
            file=path,
        )
    if path.exists() and not path.is_dir():
        what = "is a file" if path.is_file() else "is not a folder"
        raise RlrecError(f"{path}: {what}, not a run folder", file=path)
    if not is_run(path):
        raise RlrecError(f"{path}: not a run folder (no {CONFIG_FILE})")
    return path


def find_run(run: str | Path, runs_dir: str | Path | None = None) -> Path:
    """The run folder `run` names: a path to a run folder, or a bare run name (as given to
    `rlrec train --name`) under `runs_dir` (default `default_runs_dir()`: `$RLREC_RUNS_DIR`
    or ./runs). A bare name that is a run in the runs folder wins over a folder of that name
    here that is not one. RlrecError (`require_run`'s) for a folder that is not a run; for
    nothing of that name, one line saying where it looked and the nearest run names there."""
    import difflib

    path = Path(run)
    runs = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    bare = len(path.parts) == 1 and not path.is_absolute()
    in_runs = runs / path
    if bare and is_run(in_runs) and not is_run(path):
        return require_run(in_runs)
    if path.exists():
        return require_run(path)
    if bare and in_runs.exists():
        return require_run(in_runs)  # says what that folder is instead
    looked = f"{path} and {in_runs}" if bare else str(path)
    folder = runs if bare else path.parent
    names = [p.name for p in _children(folder) if is_run(p)]
    near = [n for n in names if path.name in n or n in path.name]
    near += difflib.get_close_matches(path.name, names, n=3, cutoff=0.5)
    nearest = list(dict.fromkeys(near))[:3]
    if nearest:
        hint = f"; nearest in {folder}: {', '.join(nearest)}"
    else:
        hint = f"; {folder} holds no runs" if not names else f"; no name near it in {folder}"
    raise RlrecError(f"{run}: no such run (looked for {looked}){hint}", file=path, value=str(run))


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


# -- writing ---------------------------------------------------------------------------
def write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(json_safe(data), indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text)


def write_config(run_dir: Path, config_dict: dict[str, Any]) -> None:
    text = yaml.safe_dump(config_dict, sort_keys=False)
    atomic_write_text(run_dir / CONFIG_FILE, text)


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write `state` as the run's checkpoint (see `engine.training.checkpoint`)."""
    return checkpoint.save_checkpoint(run_dir, state)


def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """The run's checkpoint as a nested dict, read without running any code (see
    `engine.training.checkpoint`). RlrecError: none yet, older or newer rlrec, damaged."""
    return checkpoint.load_checkpoint(run_dir)


class MetricsWriter:
    """Appends events to metrics.jsonl / timing.jsonl, flushing each line."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._metrics = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8")
        self._timing = open(self.run_dir / TIMING_FILE, "a", encoding="utf-8")

    def offsets(self) -> tuple[int, int]:
        return self._metrics.tell(), self._timing.tell()

    def write(self, event: Event) -> None:
        record = json_safe(to_record(event))
        timing = {k: record.pop(k) for k in TIMING_FIELDS if k in record}
        for key in PATH_FIELDS:
            if key in record and record[key]:
                record[key] = os.path.relpath(record[key], self.run_dir)
        # Timing first: a reader that sees the metrics line then also finds its timing line.
        if timing:
            line = {"type": record["type"], "env_steps": record.get("env_steps"), **timing}
            self._timing.write(json.dumps(line) + "\n")
            self._timing.flush()
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()

    def close(self) -> None:
        self._metrics.close()
        self._timing.close()


def truncate_logs(run_dir: Path, metrics_offset: int, timing_offset: int) -> None:
    """Drop what a crashed process wrote after its last checkpoint."""
    for name, offset in ((METRICS_FILE, metrics_offset), (TIMING_FILE, timing_offset)):
        path = Path(run_dir) / name
        if path.exists() and path.stat().st_size > offset:
            with open(path, "r+b") as handle:
                handle.truncate(offset)


# -- reading ---------------------------------------------------------------------------
def _parse_lines(text: str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of `text`'s lines and how many lines were skipped (torn by a crash,
    not JSON, or JSON but not an object)."""
    out, skipped = [], 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if isinstance(record, dict):
            out.append(record)
        else:
            skipped += 1
    return out, skipped


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _well_typed(cls: type, record: dict[str, Any]) -> bool:
    """Every field of event class `cls` is in `record` (or has a default) with a value of its
    type (numbers for numbers, and so on); enums are checked by `from_record`."""
    for field in dataclasses.fields(cls):
        if field.name not in record:
            if field.default is dataclasses.MISSING:
                return False
            continue
        value, hint = record[field.name], _field_types(cls)[field.name]
        kind = typing.get_origin(hint) or hint
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            return False
        if kind is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            return False
        if kind in (str, bool, dict) and not isinstance(value, kind):
            return False
    return True


def _restore(record: dict[str, Any], run_dir: Path, timing: dict | None) -> Event | None:
    """The event a metrics line (with its timing line) records; None when the line is not
    an event this version can read: unknown type, a missing field, a value of another type.
    """
    record = dict(record)
    if timing:
        record.update({k: v for k, v in timing.items() if k in TIMING_FIELDS})
    type_name = record.get("type")
    cls = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    # Timing lost (e.g. a torn last line): unknown, not an error (nan, or 0 bytes).
    lost = {k: 0 if k == "bytes" else math.nan for k in TIMING_FIELDS}
    record.update({k: v for k, v in lost.items() if k in names and k not in record})
    for key in PATH_FIELDS:
        if record.get(key) and isinstance(record[key], str):
            record[key] = str((run_dir / record[key]).resolve())
    for key, kind in _field_types(cls).items():
        if kind is float and key in record and record[key] is None:
            record[key] = math.nan  # strict JSON wrote an undefined number as null
    if not _well_typed(cls, record):
        return None
    try:
        return from_record(record)
    except (TypeError, ValueError):
        return None


def _timing_key(record: dict[str, Any]) -> tuple[str, Any]:
    """What pairs a metrics line with its timing line (its type and env steps, as text so a
    damaged line cannot make the key unhashable)."""
    return str(record.get("type")), str(record.get("env_steps"))


class RunFollower:
    """Non-blocking tail of a run's logs, possibly being written by another process.
    `poll()` returns the events completed since the last call; a partial last line waits."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._offsets = {METRICS_FILE: 0, TIMING_FILE: 0}
        self._partial = {METRICS_FILE: "", TIMING_FILE: ""}
        self._timing: dict[tuple[Any, Any], dict[str, Any]] = {}
        self._waiting: list[dict[str, Any]] = []
        # Lines that were not events this version can read (damaged, foreign or newer).
        self.skipped = 0

    def _read_new(self, name: str) -> list[dict[str, Any]]:
        path = self.run_dir / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self._offsets[name]:  # truncated by a resume: start over from there
            self._offsets[name] = size
            self._partial[name] = ""
        with open(path, "rb") as handle:
            handle.seek(self._offsets[name])
            chunk = handle.read()
        self._offsets[name] += len(chunk)
        text = self._partial[name] + chunk.decode("utf-8", errors="replace")
        complete, _, rest = text.rpartition("\n")
        self._partial[name] = rest
        records, skipped = _parse_lines(complete)
        self.skipped += skipped
        return records

    def poll(self) -> list[Event]:
        for line in self._read_new(TIMING_FILE):
            self._timing[_timing_key(line)] = line
        self._waiting.extend(self._read_new(METRICS_FILE))
        events = []
        for record in self._waiting:
            timing = self._timing.pop(_timing_key(record), None)
            event = _restore(record, self.run_dir, timing)
            if event is not None:
                events.append(event)
            else:
                self.skipped += 1
        self._waiting = []
        return events


def read_events(run_dir: str | Path) -> list[Event]:
    """All events of a run, wall-clock fields merged back in."""
    return RunFollower(require_run(run_dir)).poll()


def follow(
    run_dir: str | Path, poll: float = 0.25, stop_when_finished: bool = True
) -> Iterator[Event]:
    """Yield events as they are written (blocking); ends after RunFinished if asked."""
    follower = RunFollower(run_dir)
    while True:
        for event in follower.poll():
            yield event
            if stop_when_finished and isinstance(event, RunFinished):
                return
        time.sleep(poll)


class RunStatus(StrEnum):
    """A listed run, as its logs tell it."""

    FINISHED = "finished"  # its budget was spent
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"
    RUNNING = "running"  # no RunFinished yet, and its log moved in the last 30 s
    INTERRUPTED = "interrupted"  # no RunFinished and a quiet log: killed, or resumable

    @classmethod
    def of(cls, reason: FinishReason) -> RunStatus:
        return cls.FINISHED if reason is FinishReason.BUDGET else cls(str(reason))


@dataclass
class RunSummary:
    path: Path
    preset: str
    created: datetime
    env_steps: int
    status: RunStatus
    eval_return: float | None
    eval_normalised: float | None
    skipped_lines: int = 0  # metrics/timing lines that could not be read (damaged, foreign)
    checkpoint_bytes: int | None = None  # size on disk of the last checkpoint it logged


def read_config(run_dir: str | Path) -> dict[str, Any]:
    from rlrec.engine.config_base import load_yaml

    return load_yaml(Path(run_dir) / CONFIG_FILE)


def read_eval(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / EVAL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def summarise_run(run_dir: str | Path) -> RunSummary:
    run_dir = require_run(run_dir)
    try:
        preset = str(read_config(run_dir).get("preset", "?"))
    except (RlrecError, AttributeError):  # unreadable, or YAML that is not a mapping
        preset = "?"
    follower = RunFollower(run_dir)
    events = follower.poll()
    env_steps, status = 0, RunStatus.INTERRUPTED
    eval_return = eval_normalised = None
    checkpoint_bytes: int | None = None
    for event in events:
        env_steps = max(env_steps, int(getattr(event, "env_steps", 0) or 0))
        match event:
            case RunFinished():
                status = RunStatus.of(FinishReason(event.reason))
            case RunStarted():
                status = RunStatus.INTERRUPTED
            case Evaluation():
                eval_return, eval_normalised = event.return_mean, event.normalised
            case Checkpointed() if event.bytes > 0:
                checkpoint_bytes = event.bytes
    metrics = run_dir / METRICS_FILE
    recent = metrics.exists() and time.time() - metrics.stat().st_mtime < 30
    if status is RunStatus.INTERRUPTED and recent:
        status = RunStatus.RUNNING
    return RunSummary(
        path=run_dir,
        preset=preset,
        created=datetime.fromtimestamp((run_dir / CONFIG_FILE).stat().st_mtime, tz=UTC),
        env_steps=env_steps,
        status=status,
        eval_return=None if eval_return is None or not math.isfinite(eval_return) else eval_return,
        eval_normalised=None
        if eval_normalised is None or not math.isfinite(eval_normalised)
        else eval_normalised,
        skipped_lines=follower.skipped,
        checkpoint_bytes=checkpoint_bytes,
    )


def list_runs(runs_dir: str | Path | None = None) -> list[RunSummary]:
    """Runs under `runs_dir` (default `default_runs_dir()`), newest first."""
    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not parent.is_dir():
        return []
    runs = []
    for path in parent.iterdir():
        try:
            if path.is_dir() and is_run(path):
                runs.append(summarise_run(path))
        except (OSError, RlrecError):  # one unreadable folder must not hide the others
            continue
    return sorted(runs, key=lambda r: (r.created, r.path.name), reverse=True)


@dataclass
class LoadedRun:
    path: Path
    config: Any  # RunConfig
    policy: Any  # DQNAgent, greedy, on CPU
    sim: Any  # 1-session simulator (fresh_observation, item data)
    dataset: Any  # data.Dataset, or None for seed-classic


def load_run(run_dir: str | Path) -> LoadedRun:
    """A trained run ready to recommend: config, greedy policy, simulator, dataset."""
    from rlrec.engine.agents.dqn import DQNAgent, item_features_for
    from rlrec.engine.sim import make_simulator
    from rlrec.engine.training.run_config import RunConfig

    run_dir = require_run(run_dir)
    config = RunConfig.from_dict(read_config(run_dir), origin=str(run_dir / CONFIG_FILE))
    dataset = load_run_dataset(config)
    sim = make_simulator(config.env, n_envs=1, seed=0, dataset=dataset)
    state = load_checkpoint(run_dir)
    agent = DQNAgent(
        sim.obs_dim,
        sim.n_items,
        config.agent,
        seed=config.train.seed,
        with_replay=False,
        item_features=item_features_for(sim, config.agent),
    )
    try:
        agent.load_state_dict({k: v for k, v in state["agent"].items() if k != "replay"})
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise checkpoint.mismatch(run_dir, exc) from None
    agent.online.eval()
    return LoadedRun(path=run_dir, config=config, policy=agent, sim=sim, dataset=dataset)


def load_run_dataset(config: Any) -> Any:
    """The Dataset the run trained on (None for seed-classic); refuses a changed dataset."""
    if getattr(config.env, "kind", None) != "default":
        return None
    folder = config.dataset or getattr(config.env, "dataset", "") or None
    if folder is None:
        from rlrec import data

        return data.default_dataset()
    from rlrec.data.store import load_dataset
    from rlrec.engine.training.run_config import dataset_fingerprint

    if config.dataset_fingerprint and dataset_fingerprint(folder) != config.dataset_fingerprint:
        raise RlrecError(
            f"{folder}: not the dataset (or split) this run was trained on (fingerprint differs)"
        )
    return load_dataset(folder)
