"""A run is a folder: `config.yaml`, `metrics.jsonl`, `timing.jsonl`, `checkpoint.pt`,
`eval.json`.

- `metrics.jsonl` holds one event per line (see `engine.events`), appended and flushed as
  training goes so another process can follow it. It is a pure function of config and seed
  (one torch thread → byte-identical), so wall-clock fields live in `timing.jsonl`, one line
  per event that has them, keyed by event type and `env_steps`; `read_events` merges both.
- `checkpoint.pt` is written atomically (temp file, fsync, rename): a crash mid-write leaves
  the previous checkpoint intact.

Readers: `read_events`, `RunFollower` / `follow` (tail a run another process is writing),
`list_runs`, `load_run` (a trained policy ready to recommend).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from rlrec.data.errors import RlrecError
from rlrec.data.files import atomic_write_bytes, atomic_write_text
from rlrec.data.jsonsafe import json_safe
from rlrec.engine.training.events import (
    EVENT_TYPES,
    Evaluation,
    Event,
    FinishReason,
    RunFinished,
    RunStarted,
    from_record,
    to_record,
)
from rlrec.engine.training.legacy_names import LegacyPickleModule

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
TIMING_FILE = "timing.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
EVAL_FILE = "eval.json"
# Wall-clock fields: never in metrics.jsonl (they would break run-to-run identity).
TIMING_FIELDS = ("seconds", "steps_per_second", "eta_seconds", "fraction_done")
# Fields that name the folder: stored relative, resolved by the reader.
PATH_FIELDS = ("run_dir", "path")


def default_runs_dir() -> Path:
    """`$RLREC_RUNS_DIR`, else `./runs`."""
    return Path(os.environ.get("RLREC_RUNS_DIR") or "runs")


def new_run_dir(runs_dir: str | Path | None, preset: str, name: str | None = None) -> Path:
    """Create `<runs_dir>/<YYYYmmdd-HHMMSS>-<preset>` (or `name`), never reusing a folder."""
    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    parent.mkdir(parents=True, exist_ok=True)
    base = name or f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{preset}"
    for attempt in range(1000):
        path = parent / (base if attempt == 0 else f"{base}-{attempt + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            if name is not None:
                raise RlrecError(
                    f"{path}: already exists (use `rlrec resume {path}` to continue it)"
                ) from None
    raise RlrecError(f"{parent}: cannot create a new run folder")


def is_run(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def require_run(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise RlrecError(f"{path}: no such run folder")
    if not path.is_dir() or not is_run(path):
        raise RlrecError(f"{path}: not a run folder (no {CONFIG_FILE})")
    return path


# -- writing ---------------------------------------------------------------------------
def write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(json_safe(data), indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text)


def write_config(run_dir: Path, config_dict: dict[str, Any]) -> None:
    text = yaml.safe_dump(config_dict, sort_keys=False)
    atomic_write_text(run_dir / CONFIG_FILE, text)


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    import torch

    path = Path(run_dir) / CHECKPOINT_FILE
    atomic_write_bytes(path, lambda f: torch.save(state, f))
    return path


def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    import torch

    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise RlrecError(
            f"{run_dir}: no {CHECKPOINT_FILE} yet (the run has not saved a checkpoint)"
        )
    try:
        # Our own file: it holds numpy RNG states and a pickled simulator besides tensors.
        # The legacy unpickler finds classes pickled under pre-`rlrec.` module names too.
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=LegacyPickleModule
        )
    except Exception as exc:  # noqa: BLE001 — any unpickling failure means a bad file
        detail = str(exc).split(". ")[0][:120]  # torch's own messages run to a paragraph
        raise RlrecError(
            f"{run_dir}: cannot read {CHECKPOINT_FILE} ({exc.__class__.__name__}: {detail}); it "
            "was written by an incompatible rlrec or is damaged — train the run again with "
            "`rlrec train`"
        ) from None


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
def _parse_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line from a crash: skip it
    return out


def _restore(record: dict[str, Any], run_dir: Path, timing: dict | None) -> Event | None:
    record = dict(record)
    if timing:
        record.update({k: v for k, v in timing.items() if k in TIMING_FIELDS})
    cls = EVENT_TYPES.get(record.get("type", ""))
    if cls is not None:  # timing lost (e.g. a torn last line): unknown, not an error
        names = {f.name for f in dataclasses.fields(cls)}
        record.update({k: math.nan for k in TIMING_FIELDS if k in names and k not in record})
    for key in PATH_FIELDS:
        if record.get(key):
            record[key] = str((run_dir / record[key]).resolve())
    for key, value in list(record.items()):
        if value is None and key in TIMING_FIELDS + (
            "episode_return",
            "episode_length",
            "ctr",
            "loss",
            "normalised",
        ):
            record[key] = math.nan
    return from_record(record)


class RunFollower:
    """Non-blocking tail of a run's logs, possibly being written by another process.
    `poll()` returns the events completed since the last call; a partial last line waits."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._offsets = {METRICS_FILE: 0, TIMING_FILE: 0}
        self._partial = {METRICS_FILE: "", TIMING_FILE: ""}
        self._timing: dict[tuple[Any, Any], dict[str, Any]] = {}
        self._waiting: list[dict[str, Any]] = []

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
        return _parse_lines(complete)

    def poll(self) -> list[Event]:
        for line in self._read_new(TIMING_FILE):
            self._timing[(line.get("type"), line.get("env_steps"))] = line
        self._waiting.extend(self._read_new(METRICS_FILE))
        events = []
        for record in self._waiting:
            timing = self._timing.pop((record.get("type"), record.get("env_steps")), None)
            event = _restore(record, self.run_dir, timing)
            if event is not None:
                events.append(event)
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
    except RlrecError:
        preset = "?"
    events = RunFollower(run_dir).poll()
    env_steps, status = 0, RunStatus.INTERRUPTED
    eval_return = eval_normalised = None
    for event in events:
        env_steps = max(env_steps, int(getattr(event, "env_steps", 0) or 0))
        match event:
            case RunFinished():
                status = RunStatus.of(FinishReason(event.reason))
            case RunStarted():
                status = RunStatus.INTERRUPTED
            case Evaluation():
                eval_return, eval_normalised = event.return_mean, event.normalised
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
    )


def list_runs(runs_dir: str | Path | None = None) -> list[RunSummary]:
    """Runs under `runs_dir` (default `default_runs_dir()`), newest first."""
    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not parent.is_dir():
        return []
    runs = [summarise_run(p) for p in parent.iterdir() if p.is_dir() and is_run(p)]
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
    from rlrec.engine.agents.dqn import DQNAgent
    from rlrec.engine.sim import make_simulator
    from rlrec.engine.training.run_config import RunConfig

    run_dir = require_run(run_dir)
    config = RunConfig.from_dict(read_config(run_dir), origin=str(run_dir / CONFIG_FILE))
    dataset = load_run_dataset(config)
    sim = make_simulator(config.env, n_envs=1, seed=0, dataset=dataset)
    state = load_checkpoint(run_dir)
    agent = DQNAgent(
        sim.obs_dim, sim.n_items, config.agent, seed=config.train.seed, with_replay=False
    )
    agent.load_state_dict({k: v for k, v in state["agent"].items() if k != "replay"})
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
