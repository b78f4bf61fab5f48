"""Typed events a `Trainer` publishes to its subscribers (the CLI progress bar, the TUI,
`metrics.jsonl`). Each event is a frozen dataclass; `to_record` / `from_record` give the
JSON-lines form, one object per line with a "type" key, so another process can follow a run
by tailing `metrics.jsonl`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    preset: str
    n_items: int
    budget: dict[str, Any]  # {"seconds": …} | {"steps": …} | {"episodes": …}
    resumed: bool = False
    env_steps: int = 0


@dataclass(frozen=True)
class Progress:
    """Published every `log_every` env steps: aggregates since the previous Progress."""

    env_steps: int
    updates: int
    episodes: int
    seconds: float  # wall clock since the run (including earlier resumed parts) began
    episode_return: float  # mean return of the episodes finished in this window (nan if none)
    episode_length: float
    ctr: float  # engagements / impressions in this window
    epsilon: float
    loss: float  # mean training loss in this window (nan before learning starts)
    learning_rate: float
    steps_per_second: float  # env steps per wall-clock second in this window
    fraction_done: float  # of the budget, in [0, 1]
    eta_seconds: float  # nan when unknown


@dataclass(frozen=True)
class Evaluation:
    """Greedy evaluation on the fixed evaluation seed."""

    env_steps: int
    episodes: int
    return_mean: float
    return_ci95: float
    ctr: float
    session_length: float
    normalised: float  # (R − R_random) / (R_oracle − R_random); nan if unknown


@dataclass(frozen=True)
class Checkpointed:
    env_steps: int
    path: str


@dataclass(frozen=True)
class RunFinished:
    reason: str  # "budget", "stopped", "diverged", "error"
    env_steps: int
    updates: int
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class StateChanged:
    state: str  # "running", "paused", "stopping"


EVENT_TYPES = {
    cls.__name__: cls
    for cls in (RunStarted, Progress, Evaluation, Checkpointed, RunFinished, StateChanged)
}

Event = RunStarted | Progress | Evaluation | Checkpointed | RunFinished | StateChanged


def to_record(event: Event) -> dict[str, Any]:
    record = {"type": type(event).__name__}
    record.update(dataclasses.asdict(event))
    return record


def from_record(record: dict[str, Any]) -> Event | None:
    """Event from a metrics.jsonl object; None for unknown types (newer writers)."""
    cls = EVENT_TYPES.get(record.get("type", ""))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


__all__ = [
    "Checkpointed",
    "Evaluation",
    "Event",
    "Progress",
    "RunFinished",
    "RunStarted",
    "StateChanged",
    "from_record",
    "to_record",
]
