"""Messages panes and workers post to the app. Panes never reach into each other: they post
one of these and the app updates `app.state` and switches panes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from rlrec.data.dataset import Dataset


class DatasetChanged(Message):
    """A dataset was generated, imported or opened (path is None for an unsaved one)."""

    def __init__(self, dataset: Dataset, path: Path | None = None) -> None:
        super().__init__()
        self.dataset = dataset
        self.path = path


class RunSelected(Message):
    """A run should be shown in Explore (a training run finished, or picked in Runs)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class ShowError(Message):
    """Any pane → the app's error dialog; the app stays usable afterwards."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title = title
        self.text = text


class TrainerEvent(Message):
    """An engine event (engine.events.*) forwarded from the training worker or a follower.

    Progress events replace a still-queued Progress so a slow UI sees the latest numbers,
    never a backlog."""

    def __init__(self, event: Any, live: bool = True) -> None:
        super().__init__()
        self.event = event
        self.live = live

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, TrainerEvent)
            and type(message.event).__name__ == "Progress"
            and type(self.event).__name__ == "Progress"
        )


class StateUpdated(Message, bubble=False):
    """App → every pane, after `app.state` changed: `field` is "dataset" or "run_dir".

    Panes read the new value from `self.app.state` in `on_state_updated` (e.g. Explore loads
    the run when field == "run_dir"; Train uses the dataset for the next run)."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field
