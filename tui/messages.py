"""Messages panes and workers post to the app. Panes never reach into each other: they post
one of these and the app updates `app.state` and switches panes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from rlrec.engine.training.events import Event, Progress

if TYPE_CHECKING:  # pandas: not at the first frame
    from rlrec.data.dataset import Dataset


@dataclass
class DatasetChanged(Message):
    """A dataset was generated, imported or opened (path is None for an unsaved one)."""

    dataset: Dataset
    path: Path | None = None


@dataclass
class RunSelected(Message):
    """A run should be shown in Explore (a training run finished, or picked in Runs)."""

    run_dir: Path

    def __post_init__(self) -> None:
        super().__post_init__()
        self.run_dir = Path(self.run_dir)  # callers may pass a str


@dataclass
class ShowError(Message):
    """Any pane → the app's error dialog; the app stays usable afterwards."""

    title: str
    text: str


@dataclass
class TrainerEvent(Message):
    """An engine event (`engine.training.events`) forwarded from the training worker.

    Progress events replace a still-queued Progress so a slow UI sees the latest numbers,
    never a backlog (the curves already have every point: the worker recorded them)."""

    event: Event

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, TrainerEvent)
            and isinstance(message.event, Progress)
            and isinstance(self.event, Progress)
        )


class FollowedEvents(Message):
    """The follow worker read new lines of a run another process writes; the pane takes them
    from its `FollowInbox`. One such message stands for any number of polls: a still-queued
    one is replaced, so a burst of polls costs the UI one handler call (as in Toolong)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FollowedEvents)


@dataclass
class StateUpdated(Message, bubble=False):
    """App → every pane, after `app.state` changed: `field` is "dataset" or "run_dir" (or,
    to the Runs pane alone, "runs": the runs folder changed).

    Panes read the new value from `self.app.state` in `on_state_updated` (e.g. Explore loads
    the run when field == "run_dir"; Train uses the dataset for the next run)."""

    field: str
