"""Runs pane: every run in the runs folder with its final metrics; mark any number of runs and
compare them on one chart, on any metric they logged; open a run in Explore, or follow it in
Train.

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
from rlrec.tui.widgets.compare_chart import CompareChart, RunCurves, run_badge, run_curves

if TYPE_CHECKING:
    from rich.text import Text

    from rlrec.tui.app import RlrecApp

WATCH_SECONDS = 2.0  # how often the pane looks for runs other processes wrote


@dataclass
class RunsListed(Message):
    summaries: list[RunSummary]
    error: str | None = None


@dataclass
class CurvesRead(Message):
    runs: list[RunCurves]


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

* **space** marks a run for comparison (as many as you like; space again unmarks it), **c**
  draws the marked runs on one chart (the run under the cursor if none is marked). Each run
  has its colour (and, past eight runs, its marker): the mark column and the legend above the
  chart show which is which.
* **m** / **M** choose the metric: training return and its moving average, greedy evaluation
  return and its normalised score, CTR (training and evaluation), episode length, loss, ε,
  learning rate, env steps/s — whichever the compared runs logged. **l** toggles a log y axis
  (values ≤ 0 cannot be drawn on it: the legend says how many points were left out).
  Offline NDCG is not in a run's logs (`rlrec eval --offline` prints it, it writes nothing
  into the run folder), so it is not offered here.
* **enter** or **o** opens the run under the cursor in Explore (its agent's recommendations).
* **f** follows the run in the Train pane (live, if another process is still writing it).
* **r** re-reads the runs folder.
"""

    BINDINGS = [
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark for comparison"),
        Binding("c", "compare", "Compare", id="runs.compare", tooltip="Compare marked runs"),
        Binding("m", "metric(1)", "Metric", id="runs.metric", tooltip="Next metric to compare"),
        Binding(
            "M",
            "metric(-1)",
            "Previous metric",
            id="runs.metric_back",
            tooltip="Previous metric to compare",
            show=False,
        ),
        Binding("l", "log_axis", "Log y", id="runs.log", tooltip="Toggle a log y axis"),
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
        self.compared: list[Path] = []  # what the chart shows, re-read when the runs move on
        self._seen: tuple[int, ...] | None = None  # what the last listing saw on disk

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("reading runs…", id="runs-header", markup=False)
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            yield CompareChart(id="runs-chart")

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        # The marks ("━1", "•9") get a column of their own width: a column sized to its empty
        # label would never show them.
        table.add_column("", key="mark", width=3)
        for label, key in (
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
        if self.compared:  # a compared run may have moved on (or gone)
            self._read_curves(self.compared)

    def _mark_cell(self, path: Path) -> Text | str:
        return run_badge(self.marked.index(path)) if path in self.marked else ""

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
        self.compared = runs
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
            curves.append(run_curves(run_dir.name, events))
        self.post_message(CurvesRead(curves))

    @on(CurvesRead)
    def _show_curves(self, message: CurvesRead) -> None:
        self.query_one("#runs-chart", CompareChart).show(message.runs)

    def action_metric(self, step: int) -> None:
        chart = self.query_one("#runs-chart", CompareChart)
        if not chart.runs:
            self.notify("compare runs first: mark them with space, then press c")
            return
        chart.cycle_metric(step)

    def action_log_axis(self) -> None:
        self.query_one("#runs-chart", CompareChart).toggle_log()

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
