"""Runs pane: every run in the runs folder with its final metrics; mark two and compare their
return curves on one chart; open a run in Explore, or follow it in Train.

Reading run folders happens in a thread worker (a runs folder can hold many long runs); the
numbers come from `engine.runs` — this pane only formats them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from rlrec.data.errors import error_line
from rlrec.engine.training.runs import (
    METRICS_FILE,
    RunStatus,
    RunSummary,
    list_runs,
    read_events,
)
from rlrec.tui.messages import RunSelected, ShowError, StateUpdated
from rlrec.tui.widgets.charts import CompareChart, CurveStore

if TYPE_CHECKING:
    import numpy as np

    from rlrec.tui.app import RlrecApp

MAX_COMPARED = 2
WATCH_SECONDS = 2.0  # how often the pane looks for runs other processes wrote


@dataclass
class RunsListed(Message):
    summaries: list[RunSummary]
    error: str | None = None


@dataclass
class CurvesRead(Message):
    curves: list[tuple[str, np.ndarray, np.ndarray]]


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "–"
    try:
        if isinstance(value, float) and not math.isfinite(value):
            return "–"
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def summary_row(summary: RunSummary) -> tuple[str, ...]:
    """Cells for one run of the listing, markup-escaped: DataTable reads a str cell as Rich
    markup, so a run name or preset such as `d-[red]x` or `[/oops]` is shown as written."""
    cells = (
        summary.path.name,
        summary.preset or "–",
        summary.created.strftime("%Y-%m-%d %H:%M"),
        _fmt(summary.env_steps, ","),
        str(summary.status),
        _fmt(summary.eval_return, ".2f"),
        _fmt(summary.eval_normalised, ".2f"),
    )
    return tuple(escape(cell) for cell in cells)


def runs_count(n: int) -> str:
    """A count of runs in words: "1 run", "2 runs"."""
    return f"{n} run" if n == 1 else f"{n} runs"


class RunsPane(Widget):
    """Browse, compare and open past runs."""

    HELP = """\
Every run in the runs folder (`--runs-dir`, `$RLREC_RUNS_DIR` or `./runs`), newest first, with
its status, env steps and final greedy evaluation (return and normalised score, where
0 = random and 1 = the myopic oracle).

* **space** marks a run for comparison (two at most; marking a third drops the oldest mark),
  **c** draws the marked runs' episode-return curves on one chart.
* **enter** or **o** opens the run under the cursor in Explore (its agent's recommendations).
* **f** follows the run in the Train pane (live, if another process is still writing it).
* **r** re-reads the runs folder.
"""

    BINDINGS = [
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark for comparison"),
        Binding("c", "compare", "Compare", id="runs.compare", tooltip="Compare marked runs"),
        Binding("o", "open", "Open in Explore", id="runs.open", tooltip="Open run in Explore"),
        Binding("f", "follow", "Follow", id="runs.follow", tooltip="Show/follow run in Train"),
        Binding("r", "refresh", "Refresh", id="runs.refresh", tooltip="Re-read the runs folder"),
    ]

    DEFAULT_CSS = """
    RunsPane { height: 1fr; }
    RunsPane #runs-header { height: 1; padding: 0 1; color: $text-muted; }
    RunsPane #runs-table { height: 1fr; min-height: 5; }
    RunsPane #runs-chart { height: 1fr; min-height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summaries: list[RunSummary] = []
        self.marked: list[Path] = []
        self._seen: tuple[int, ...] | None = None  # what the last listing saw on disk

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("reading runs…", id="runs-header", markup=False)
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            yield CompareChart(id="runs-chart")

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        for label, key in (
            ("", "mark"),
            ("run", "run"),
            ("preset", "preset"),
            ("created", "created"),
            ("env steps", "steps"),
            ("status", "status"),
            ("eval return", "return"),
            ("normalised", "normalised"),
        ):
            table.add_column(label, key=key)
        self.action_refresh()
        # Runs written by other processes (`rlrec train` in another terminal) show up too.
        self.set_interval(WATCH_SECONDS, self._watch_runs)

    def focus_default(self) -> None:
        """Where keyboard focus goes when the app switches to this pane."""
        self.query_one("#runs-table", DataTable).focus()

    # -- reading ----------------------------------------------------------------------------

    @property
    def rlrec_app(self) -> RlrecApp:
        """`self.app`, typed: this pane only lives inside `RlrecApp`."""
        return cast("RlrecApp", self.app)

    def action_refresh(self) -> None:
        self._seen = self._on_disk()
        self._list_runs(Path(self.rlrec_app.state.runs_dir))

    def _on_disk(self) -> tuple[int, ...]:
        """Modification times of the runs folder (a run added or removed) and of the logs of
        the runs listed as running (a run moved on or ended); cheap to poll."""
        runs_dir = Path(self.rlrec_app.state.runs_dir)
        paths = [runs_dir] + [
            Path(s.path) / METRICS_FILE for s in self.summaries if s.status is RunStatus.RUNNING
        ]
        # A run listed as running turns "interrupted" once its log has been quiet a while.
        stamps = [int(time.monotonic() // 30) if len(paths) > 1 else 0]
        for path in paths:
            try:
                stamps.append(path.stat().st_mtime_ns)
            except OSError:
                stamps.append(-1)
        return tuple(stamps)

    def _watch_runs(self) -> None:
        if self._on_disk() != self._seen:
            self.action_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-list")
    def _list_runs(self, runs_dir: Path) -> None:
        try:
            summaries = list(list_runs(runs_dir)) if runs_dir.exists() else []
        except Exception as exc:  # noqa: BLE001 — an unreadable folder is shown, not raised
            self.post_message(RunsListed([], error_line(exc, runs_dir)))
            return
        self.post_message(RunsListed(summaries))

    @on(RunsListed)
    def _show_runs(self, message: RunsListed) -> None:
        self.summaries = message.summaries
        runs_dir = self.rlrec_app.state.runs_dir
        header = self.query_one("#runs-header", Static)
        if message.error:
            header.update(f"cannot read runs: {message.error}")
        elif not self.summaries:
            header.update(f"no runs in {runs_dir} yet — train one in the Train pane (2, then s)")
        else:
            header.update(f"{runs_count(len(self.summaries))} in {runs_dir}")
        table = self.query_one("#runs-table", DataTable)
        at = self._cursor_path()  # the cursor stays on its run when the list is re-read
        table.clear()
        present = {Path(s.path) for s in self.summaries}
        self.marked = [p for p in self.marked if p in present]
        for summary in self.summaries:
            path = Path(summary.path)
            table.add_row(self._mark_cell(path), *summary_row(summary), key=str(path))
        paths = [Path(s.path) for s in self.summaries]
        if at in paths:
            table.move_cursor(row=paths.index(at))

    def _mark_cell(self, path: Path) -> str:
        return f"[{self.marked.index(path) + 1}]" if path in self.marked else ""

    def on_state_updated(self, message: StateUpdated) -> None:
        # "runs": a run of this app started, finished or failed (the folder changed).
        if message.field in ("run_dir", "runs"):
            self.action_refresh()

    # -- actions ----------------------------------------------------------------------------

    def _cursor_path(self) -> Path | None:
        table = self.query_one("#runs-table", DataTable)
        if not self.summaries or table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return Path(row_key.value) if row_key is not None and row_key.value else None

    def action_mark(self) -> None:
        path = self._cursor_path()
        if path is None:
            return
        if path in self.marked:
            self.marked.remove(path)
        else:
            self.marked.append(path)
            if len(self.marked) > MAX_COMPARED:
                self.marked.pop(0)
        table = self.query_one("#runs-table", DataTable)
        for summary in self.summaries:
            key = str(Path(summary.path))
            table.update_cell(key, "mark", self._mark_cell(Path(summary.path)))

    def action_compare(self) -> None:
        runs = list(self.marked)
        if not runs:
            cursor = self._cursor_path()
            runs = [cursor] if cursor is not None else []
        if not runs:
            self.notify("no runs to compare — mark runs with space")
            return
        self._read_curves(runs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-compare")
    def _read_curves(self, runs: list[Path]) -> None:
        curves = []
        for run_dir in runs:
            try:
                events = read_events(run_dir)
            except Exception as exc:  # noqa: BLE001
                self.post_message(ShowError("Cannot read run", f"{run_dir}: {error_line(exc)}"))
                return
            store = CurveStore()
            store.extend(events)
            x, y = store.get("episode_return")
            curves.append((run_dir.name, x, y))
        self.post_message(CurvesRead(curves))

    @on(CurvesRead)
    def _show_curves(self, message: CurvesRead) -> None:
        self.query_one("#runs-chart", CompareChart).show(message.curves)

    def action_open(self) -> None:
        path = self._cursor_path()
        if path is not None:
            self.post_message(RunSelected(path))

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_follow(self) -> None:
        path = self._cursor_path()
        if path is None:
            return
        app = self.rlrec_app
        train = app.train_pane()
        if train is None:
            return
        app.action_show_pane("train")
        train.follow(path)
