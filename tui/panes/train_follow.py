"""Following a run another process writes (`rlrec-tui RUN_DIR` while `rlrec train` runs):
a thread worker tails the run's logs and hands the events to the UI through a `FollowInbox`.

The worker never touches widgets: it records curve points in the pane's `CurveStore`, puts
the events in the inbox and posts one `FollowedEvents` message, which coalesces with any still
queued (so the UI handles a burst of polls once and never parses a file itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from rlrec.data.errors import RlrecError, error_line
from rlrec.engine.training.events import Event, RunFinished
from rlrec.engine.training.runs import RunFollower
from rlrec.tui.messages import FollowedEvents, ShowError
from rlrec.tui.widgets.charts import CurveStore

POLL_SECONDS = 0.5


class FollowInbox:
    """Events read by the follow worker and not yet shown; filled on the worker thread,
    drained on the UI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def put(self, events: list[Event]) -> None:
        with self._lock:
            self._events.extend(events)

    def take(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events


def follow_run(
    run_dir: Path,
    store: CurveStore,
    inbox: FollowInbox,
    post: Callable[[FollowedEvents | ShowError], object],
    cancelled: Callable[[], bool],
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Poll `run_dir`'s logs until its RunFinished is read or `cancelled()`; blocking (run it in
    a thread worker). A folder that cannot be read posts ShowError and ends."""
    follower = RunFollower(run_dir)
    while not cancelled():
        try:
            events = follower.poll()
        except (RlrecError, OSError) as exc:
            post(ShowError("Cannot follow run", error_line(exc)))
            return
        if events:
            store.extend(events)
            inbox.put(events)
            post(FollowedEvents())
            if any(isinstance(event, RunFinished) for event in events):
                return
        _sleep_unless(cancelled, poll_seconds)


def _sleep_unless(cancelled: Callable[[], bool], seconds: float, tick: float = 0.05) -> None:
    """Sleep `seconds`, waking every `tick` to notice a cancelled worker (threads cannot be
    killed, so a quitting app must not wait a whole poll period)."""
    deadline = time.monotonic() + seconds
    while not cancelled() and time.monotonic() < deadline:
        time.sleep(tick)
