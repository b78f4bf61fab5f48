"""Typed events a `Trainer` publishes to its subscribers (the CLI progress bar, the TUI,
`metrics.jsonl`). Each event is a frozen dataclass; `to_record` / `from_record` give the
JSON-lines form, one object per line with a "type" key, so another process can follow a run
by tailing `metrics.jsonl`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RunState(StrEnum):
    """Where a training run is. The trainer, its events and the TUI all use these values
    (a StrEnum, so `metrics.jsonl` keeps the plain words)."""

    IDLE = "idle"  # built, not started (or, in the TUI, no run going)
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # stop asked: final evaluation and checkpoint under way
    FINISHED = "finished"  # run() returned, for whatever reason (see FinishReason)

    @property
    def is_active(self) -> bool:
        """A run is going: started and not yet finished."""
        return self in (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING)


class FinishReason(StrEnum):
    """Why `Trainer.run()` returned."""

    BUDGET = "budget"  # the budget was spent
    STOPPED = "stopped"  # stop() was called, or a callback asked to stop
    DIVERGED = "diverged"  # a non-finite loss; no checkpoint is written (an earlier one stays)
    ERROR = "error"  # an exception; it is raised again after this event

    @property
    def is_success(self) -> bool:
        """The run ended as asked (its agent is worth opening)."""
        return self in (FinishReason.BUDGET, FinishReason.STOPPED)


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
    gamma: float = math.nan  # discount of the next update (moves with agent.gamma_anneal_*)


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
class References:
    """Where an agent stands: the mean returns of the random policy and of the myopic oracle
    (the best next-step engagement, `engine.policies`) on the run's fixed evaluation sessions.
    `Evaluation.normalised` is (R − random) / (oracle − random). Published once after each
    `RunStarted`, computed off the training clock; runs written before it have none."""

    random_return: float
    oracle_return: float
    env_steps: int = 0


@dataclass(frozen=True)
class Checkpointed:
    env_steps: int
    path: str
    bytes: int = 0  # the checkpoint's size on disk: manifest and data files


@dataclass(frozen=True)
class RunFinished:
    reason: FinishReason
    env_steps: int
    updates: int
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class StateChanged:
    state: RunState  # published for RUNNING, PAUSED and STOPPING


EVENT_TYPES = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        References,
        Progress,
        Evaluation,
        Checkpointed,
        RunFinished,
        StateChanged,
    )
}

Event = RunStarted | References | Progress | Evaluation | Checkpointed | RunFinished | StateChanged


# Fields read back from JSON as enums.
_ENUM_FIELDS: dict[str, type[StrEnum]] = {"state": RunState, "reason": FinishReason}


def to_record(event: Event) -> dict[str, Any]:
    """The JSON-lines form: {"type": class name, **fields}; enums become their words."""
    record: dict[str, Any] = {"type": type(event).__name__}
    for key, value in dataclasses.asdict(event).items():
        record[key] = str(value) if isinstance(value, StrEnum) else value
    return record


def from_record(record: dict[str, Any]) -> Event | None:
    """Event from a metrics.jsonl object; None for unknown types (newer writers)."""
    cls = EVENT_TYPES.get(record.get("type", ""))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in record.items() if k in names}
    for key, enum in _ENUM_FIELDS.items():
        if key in values:
            try:
                values[key] = enum(values[key])
            except ValueError:
                return None  # a state or reason this version does not know
    return cls(**values)


__all__ = [
    "Checkpointed",
    "Evaluation",
    "Event",
    "FinishReason",
    "Progress",
    "References",
    "RunFinished",
    "RunStarted",
    "RunState",
    "StateChanged",
    "from_record",
    "to_record",
]
