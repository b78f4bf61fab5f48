"""Runs pane: every run in the runs folder with its final metrics; mark any number of runs and
compare them on one chart, on any metric they logged; open a run in Explore, or follow it in
Train. A second list holds the studies `rlrec tune` made: a study opens on its trials, its
objective per trial and its parameters' importances, and each trial opens as a run.

Reading run and study folders happens in thread workers (a runs folder can hold many long
runs; a study is an SQLite database another process may be writing); the numbers come from
`engine.training.runs` and `engine.tune.report` — this pane only formats them.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import ContentSwitcher, DataTable, Static
from textual.worker import Worker

from rlrec.data.errors import error_line
from rlrec.engine.training.runs import (
    METRICS_FILE,
    RunStatus,
    RunSummary,
    list_runs,
    read_events,
)
from rlrec.engine.tune.report import StudyReport, StudySummary, TrialRow
from rlrec.tui.messages import RunSelected, ShowError, StateUpdated
from rlrec.tui.panes.studies import (
    STUDY_COLUMNS,
    StudiesListed,
    StudyRead,
    StudyWatch,
    studies_count,
    study_cells,
    study_header,
    trial_cells,
    trial_columns,
)
from rlrec.tui.widgets.compare_chart import CompareChart, RunCurves, run_badge, run_curves
from rlrec.tui.widgets.study_chart import StudyChart

if TYPE_CHECKING:
    from rlrec.tui.app import RlrecApp

WATCH_SECONDS = 2.0  # how often the pane looks for runs and trials other processes wrote
TABLES = {"runs": "runs-table", "studies": "studies-table", "study": "trials-table"}


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
    """Browse, compare and open past runs, and the studies `rlrec tune` made."""

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
  learning rate, env steps/s — whichever the compared runs logged. **l** toggles a log y
  axis (values ≤ 0 cannot be drawn on it: the legend says how many points were left out).
  Offline NDCG is not in a run's folder (`rlrec eval --offline` prints it and writes
  nothing), so it is not offered; a study's objective per trial is in the study's view.
* **enter** or **o** opens the run under the cursor in Explore (its agent's recommendations).
* **f** follows the run in the Train pane (live, if another process is still writing it).
* **r** re-reads the runs folder.

## Studies (`rlrec tune`)

* **t** switches between the runs and the studies in the runs folder (name, objective,
  trials by state, best value). **enter** opens a study: its trials (state, objective,
  seconds, env steps and the values searched), the best marked ★, the objective per trial
  (● complete; x pruned, at the last value it reported; + running, at its latest report;
  the best-so-far staircase) and the parameters' importances. **esc** goes back.
* A study another process is still running is followed: new trials and values appear as
  they are written.
* **v** switches the study's chart between the objective per trial and each trial's reports
  to the pruner over its run (a pruned trial's line stops where it was stopped).
* On a trial: **enter**/**o** opens its run in Explore (a trial with several seeds: its first
  seed's run), **f** follows it in Train, **space** marks it for comparison with other trials
  or runs; **c** compares the marked ones, **v** brings the study's chart back.
* Beside the chart: the parameters' importances and where the best trial's config is
  (`best.yaml`, ready for `rlrec train --config`).
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
        Binding("t", "studies", "Studies", id="runs.studies", tooltip="Runs ↔ studies"),
        Binding(
            "v",
            "objective_chart",
            "Study chart",
            id="runs.objective",
            tooltip="Study chart: objective per trial ↔ reports to the pruner",
        ),
        Binding("escape", "back", "Back", id="runs.back", tooltip="Back to the list"),
        Binding("o", "open", "Open", id="runs.open", tooltip="Open run in Explore"),
        Binding("f", "follow", "Follow", id="runs.follow", tooltip="Show/follow run in Train"),
        Binding("r", "refresh", "Refresh", id="runs.refresh", tooltip="Re-read the runs folder"),
    ]

    DEFAULT_CSS = """
    RunsPane { height: 1fr; }
    RunsPane #runs-header { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    /* A short list leaves its rows to the chart; a long one scrolls in half the pane. */
    RunsPane #runs-lists { height: auto; min-height: 5; max-height: 50%; }
    RunsPane #runs-lists > DataTable { height: auto; max-height: 100%; }
    RunsPane #runs-charts { height: 1fr; min-height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summaries: list[RunSummary] = []
        self.studies: list[StudySummary] = []
        self.study: StudyReport | None = None  # the open study, as last read
        self.study_path: Path | None = None
        self.view = "runs"  # "runs" | "studies" | "study"
        self.marked: list[Path] = []
        self.compared: list[Path] = []  # what the chart shows, re-read when the runs move on
        self._seen: tuple[int, ...] | None = None  # what the last listing saw on disk
        self._runs_error: str | None = None
        self._studies_error: str | None = None
        self._study_error: str | None = None
        self._watch = StudyWatch()
        self._watch_lock = threading.Lock()
        self._poll: Worker | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("reading runs…", id="runs-header")
            with ContentSwitcher(initial="runs-table", id="runs-lists"):
                yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="studies-table", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
            with ContentSwitcher(initial="runs-chart", id="runs-charts"):
                yield CompareChart(id="runs-chart")
                yield StudyChart(id="study-chart")

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
        studies = self.query_one("#studies-table", DataTable)
        for label, key in STUDY_COLUMNS:
            studies.add_column(label, key=key)
        self.action_refresh()
        # Runs and studies written by other processes (`rlrec train`, `rlrec tune` in another
        # terminal) show up too, and an open study follows its search.
        self.set_interval(WATCH_SECONDS, self._watch_runs)
        self.set_interval(WATCH_SECONDS, self._watch_studies)

    def focus_default(self) -> None:
        """Where keyboard focus goes when the app switches to this pane."""
        self._table().focus()

    def _table(self) -> DataTable:
        return self.query_one(f"#{TABLES[self.view]}", DataTable)

    # -- reading ----------------------------------------------------------------------------

    @property
    def rlrec_app(self) -> RlrecApp:
        """`self.app`, typed: this pane only lives inside `RlrecApp`."""
        return cast("RlrecApp", self.app)

    @property
    def runs_dir(self) -> Path:
        return Path(self.rlrec_app.state.runs_dir)

    def action_refresh(self) -> None:
        self._seen = self._on_disk()
        self._list_runs(self.runs_dir)
        self._watch_studies(force=True)

    def _on_disk(self) -> tuple[int, ...]:
        """Modification times of the runs folder (a run added or removed) and of the logs of
        the runs listed as running (a run moved on or ended); cheap to poll."""
        paths = [self.runs_dir] + [
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

    def _watch_studies(self, force: bool = False) -> None:
        """Look for new studies and trials off the UI thread; a look still going is not
        doubled (a forced one, after `r` or on opening a study, queues behind it)."""
        if not force and self._poll is not None and not self._poll.is_finished:
            return
        self._poll = self._poll_studies(self.runs_dir, self.study_path, force)

    @work(thread=True, exit_on_error=False, group="studies-poll")
    def _poll_studies(self, runs_dir: Path, open_study: Path | None, force: bool) -> None:
        with self._watch_lock:
            listed, read = self._watch.poll(runs_dir, open_study, force)
        if listed is not None:
            self.post_message(listed)
        if read is not None:
            self.post_message(read)

    @on(RunsListed)
    def _show_runs(self, message: RunsListed) -> None:
        self.summaries = message.summaries
        self._runs_error = message.error
        self._show_header()
        table = self.query_one("#runs-table", DataTable)
        at = self._row_key(table)  # the cursor stays on its run when the list is re-read
        table.clear()
        # Marks of runs that are gone go too (a trial's mark stays: it is not listed here).
        present = {Path(s.path) for s in self.summaries}
        self.marked = [p for p in self.marked if p in present or p.parent != self.runs_dir]
        for summary in self.summaries:
            path = Path(summary.path)
            table.add_row(self._mark_cell(path), *summary_row(summary), key=str(path))
        keys = [str(Path(s.path)) for s in self.summaries]
        if at in keys:
            table.move_cursor(row=keys.index(at))
        if self.compared:  # a compared run may have moved on (or gone)
            self._read_curves(self.compared)

    @on(StudiesListed)
    def _show_studies(self, message: StudiesListed) -> None:
        self.studies = message.summaries
        self._studies_error = message.error
        table = self.query_one("#studies-table", DataTable)
        at = self._row_key(table)
        table.clear()
        for summary in self.studies:
            table.add_row(*study_cells(summary), key=str(summary.path))
        keys = [str(s.path) for s in self.studies]
        if at in keys:
            table.move_cursor(row=keys.index(at))
        self._show_header()

    @on(StudyRead)
    def _show_study(self, message: StudyRead) -> None:
        if message.path != self.study_path:
            return  # a read of a study no longer open
        report = message.report
        self._study_error = message.error
        if report is None:
            self._show_header()
            return
        first = self.study is None or self.study.path != report.path
        self.study = report
        table = self.query_one("#trials-table", DataTable)
        at = None if first else self._row_key(table)
        columns = [("", "mark"), *trial_columns(report)]
        if not first and [key for _, key in columns] == [str(k.value) for k in table.columns]:
            table.clear()  # the same columns: the view keeps its horizontal scroll
        else:
            table.clear(columns=True)
            table.add_column("", key="mark", width=3)
            for label, key in columns[1:]:
                table.add_column(escape(label), key=key)
        for trial in sorted(report.trials, key=lambda t: -t.number):  # newest first
            table.add_row(
                self._trial_mark(trial), *trial_cells(trial, report), key=str(trial.number)
            )
        keys = [str(t.number) for t in sorted(report.trials, key=lambda t: -t.number)]
        if at in keys:
            table.move_cursor(row=keys.index(at))
        self.query_one("#study-chart", StudyChart).show(report)
        self._show_header()
        if any(p.parent == report.path for p in self.compared):
            self._read_curves(self.compared)  # a compared trial may have moved on

    def _show_header(self) -> None:
        header = self.query_one("#runs-header", Static)
        runs_dir = self.runs_dir
        if self.view == "study":
            if self._study_error:
                header.update(Text(f"cannot read study: {self._study_error}"))
            else:
                header.update(study_header(self.study) if self.study else Text("reading study…"))
            return
        studies = self._studies_error and f"cannot read studies: {self._studies_error}"
        if self.view == "studies":
            if not studies:
                studies = (
                    f"{studies_count(len(self.studies))} in {runs_dir} · enter: open · t: runs"
                    if self.studies
                    else f"no studies in {runs_dir} — start one with `rlrec tune` · t: runs"
                )
            header.update(Text(studies))
            return
        if self._runs_error:
            line = f"cannot read runs: {self._runs_error}"
        elif not self.summaries:
            line = f"no runs in {runs_dir} yet — train one in the Train pane (2, then s)"
        else:
            line = f"{runs_count(len(self.summaries))} in {runs_dir}"
        if studies:
            line += f" · {studies}"
        elif self.studies:
            line += f" · {studies_count(len(self.studies))}: press t"
        header.update(Text(line))

    def _mark_cell(self, path: Path) -> Text | str:
        return run_badge(self.marked.index(path)) if path in self.marked else ""

    def _trial_mark(self, trial: TrialRow) -> Text | str:
        return self._mark_cell(trial.run_dirs[0]) if trial.run_dirs else ""

    def on_state_updated(self, message: StateUpdated) -> None:
        # "runs": a run of this app started, finished or failed (the folder changed).
        if message.field in ("run_dir", "runs"):
            self.action_refresh()

    # -- views ------------------------------------------------------------------------------

    def _set_view(self, view: str) -> None:
        self.view = view
        self.query_one("#runs-lists", ContentSwitcher).current = TABLES[view]
        charts = self.query_one("#runs-charts", ContentSwitcher)
        charts.current = "study-chart" if view == "study" else "runs-chart"
        self._show_header()
        self.refresh_bindings()
        self._table().focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that mean nothing in the current view leave the footer."""
        if action == "back":
            return self.view != "runs"
        if action == "objective_chart":
            return self.view == "study"
        if action in ("mark", "follow"):
            return self.view != "studies"
        return True

    def action_studies(self) -> None:
        self._set_view("runs" if self.view != "runs" else "studies")

    def action_back(self) -> None:
        if self.view == "study":
            self._set_view("studies")
        elif self.view == "studies":
            self._set_view("runs")

    def open_study(self, path: Path) -> None:
        """Show the study in folder `path` (its trials, chart, importances) and follow it."""
        if path != self.study_path:
            self.study = None
            self._study_error = None
            self.study_path = path
            self.query_one("#trials-table", DataTable).clear(columns=True)
            self.query_one("#study-chart", StudyChart).show(None)
        self._set_view("study")
        self._watch_studies(force=True)

    def action_objective_chart(self) -> None:
        """The study's chart; when it is already shown, switch it between the objective per
        trial and each trial's reports to the pruner."""
        if self.view != "study":
            return
        charts = self.query_one("#runs-charts", ContentSwitcher)
        if charts.current == "study-chart":
            self.query_one("#study-chart", StudyChart).toggle_mode()
        else:
            charts.current = "study-chart"

    # -- actions ----------------------------------------------------------------------------

    def _row_key(self, table: DataTable) -> str | None:
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value if row_key is not None else None

    def _cursor_path(self) -> Path | None:
        """The run under the cursor: a listed run, or the open study's trial (its first run
        folder); None in the studies list."""
        if self.view == "runs":
            key = self._row_key(self.query_one("#runs-table", DataTable))
            return Path(key) if self.summaries and key else None
        trial = self._cursor_trial()
        return trial.run_dirs[0] if trial is not None and trial.run_dirs else None

    def _cursor_trial(self) -> TrialRow | None:
        if self.view != "study" or self.study is None:
            return None
        key = self._row_key(self.query_one("#trials-table", DataTable))
        return next((t for t in self.study.trials if str(t.number) == key), None)

    def _cursor_study(self) -> Path | None:
        key = self._row_key(self.query_one("#studies-table", DataTable))
        return Path(key) if self.view == "studies" and self.studies and key else None

    def _no_run_folder(self) -> bool:
        """In a study, say so when the trial under the cursor has no run folder (yet)."""
        trial = self._cursor_trial()
        if trial is not None and not trial.run_dirs:
            self.notify(f"trial {trial.number} has no run folder ({trial.state})")
            return True
        return False

    def action_mark(self) -> None:
        path = self._cursor_path()
        if path is None:
            self._no_run_folder()
            return
        if path in self.marked:
            self.marked.remove(path)
        else:
            self.marked.append(path)
        self._update_marks()

    def _update_marks(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        for summary in self.summaries:
            path = Path(summary.path)
            table.update_cell(str(path), "mark", self._mark_cell(path))
        if self.study is not None:
            trials = self.query_one("#trials-table", DataTable)
            for trial in self.study.trials:
                trials.update_cell(str(trial.number), "mark", self._trial_mark(trial))

    def action_compare(self) -> None:
        runs = list(self.marked)
        if not runs:
            cursor = self._cursor_path()
            runs = [cursor] if cursor is not None else []
        if not runs:
            self.notify("no runs to compare — mark runs with space")
            return
        self.compared = runs
        self.query_one("#runs-charts", ContentSwitcher).current = "runs-chart"
        self._read_curves(runs)

    def _label(self, path: Path) -> str:
        """A compared run's name: a trial's with its study's ("study/trial-0003")."""
        return path.name if path.parent == self.runs_dir else f"{path.parent.name}/{path.name}"

    def _read_curves(self, runs: list[Path]) -> None:
        self._read_curves_worker([(path, self._label(path)) for path in runs])

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-compare")
    def _read_curves_worker(self, jobs: list[tuple[Path, str]]) -> None:
        curves = []
        for run_dir, label in jobs:
            try:
                events = read_events(run_dir)
            except Exception as exc:  # noqa: BLE001
                self.post_message(ShowError("Cannot read run", f"{run_dir}: {error_line(exc)}"))
                return
            curves.append(run_curves(label, events))
        self.post_message(CurvesRead(curves))

    @on(CurvesRead)
    def _show_curves(self, message: CurvesRead) -> None:
        self.query_one("#runs-chart", CompareChart).show(message.runs)

    def action_metric(self, step: int) -> None:
        chart = self.query_one("#runs-chart", CompareChart)
        if not chart.runs:
            self.notify("compare runs first: mark them with space, then press c")
            return
        self.query_one("#runs-charts", ContentSwitcher).current = "runs-chart"
        chart.cycle_metric(step)

    def action_log_axis(self) -> None:
        self.query_one("#runs-charts", ContentSwitcher).current = "runs-chart"
        self.query_one("#runs-chart", CompareChart).toggle_log()

    def action_open(self) -> None:
        study = self._cursor_study()
        if study is not None:
            self.open_study(study)
            return
        path = self._cursor_path()
        if path is not None:
            self.post_message(RunSelected(path))
        else:
            self._no_run_folder()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_follow(self) -> None:
        path = self._cursor_path()
        if path is None:
            self._no_run_folder()
            return
        app = self.rlrec_app
        train = app.train_pane()
        if train is None:
            return
        app.action_show_pane("train")
        train.follow(path)
