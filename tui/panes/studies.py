"""The Runs pane's studies (`rlrec tune`): what its tables and header say about a study and its
trials, and the watch that re-reads a study another process is growing.

Every number comes from `engine.tune.report` (`list_studies`, `read_study`); this module only
words and lays them out. `StudyWatch.poll` does the file I/O and runs in a thread worker.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.message import Message

from rlrec.data.errors import error_line
from rlrec.engine.tune.report import StudyReport, StudySummary, TrialRow, list_studies, read_study
from rlrec.engine.tune.storage import STUDY_DB, is_study
from rlrec.tui.widgets.study_chart import BEST_MARK, param_labels

STATE_STYLES = {"running": "bold", "pruned": "dim", "failed": "red", "waiting": "dim"}


@dataclass
class StudiesListed(Message):
    summaries: list[StudySummary]
    error: str | None = None


@dataclass
class StudyRead(Message):
    path: Path
    report: StudyReport | None
    error: str | None = None


def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def format_value(value: Any) -> str:
    """A parameter value as short text: floats to 3 significant digits, lists as 256-256-128."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, ".3g")
    if isinstance(value, (list, tuple)):
        return "-".join(format_value(v) for v in value)
    return str(value)


def counts_text(counts: dict[str, int]) -> str:
    """Trials by state, as "8 complete, 3 pruned, 1 running" (a fixed order, none left out)."""
    order = ("complete", "pruned", "running", "failed", "waiting")
    states = [s for s in order if counts.get(s)] + [s for s in counts if s not in order]
    return ", ".join(f"{counts[s]} {s}" for s in states) or "no trials yet"


def trials_count(n: int) -> str:
    return f"{n} trial" if n == 1 else f"{n} trials"


def studies_count(n: int) -> str:
    return f"{n} study" if n == 1 else f"{n} studies"


def study_cells(summary: StudySummary) -> tuple[str, ...]:
    """Cells of one study in the studies list, markup-escaped (a folder name is shown as it
    is written)."""
    cells = (
        summary.name,
        summary.objective,
        str(summary.n_trials),
        counts_text(summary.counts),
        _fmt(summary.best_value, ".4g"),
        summary.updated.strftime("%Y-%m-%d %H:%M"),
        "running" if summary.running else "–",
    )
    return tuple(escape(cell) for cell in cells)


STUDY_COLUMNS = (
    ("study", "study"),
    ("objective", "objective"),
    ("trials", "trials"),
    ("states", "states"),
    ("best", "best"),
    ("updated", "updated"),
    ("", "running"),
)


def trial_columns(report: StudyReport) -> list[tuple[str, str]]:
    """(title, key) of the trials table's columns after the mark: best, number, state,
    objective, seconds, env steps, then one per searched parameter."""
    keys = param_keys(report)
    labels = param_labels(keys)
    return [
        (BEST_MARK, "best"),
        ("#", "number"),
        ("state", "state"),
        (report.spec.objective, "value"),
        ("seconds", "seconds"),
        ("env steps", "steps"),
        *((labels[k], f"param:{k}") for k in keys),
    ]


def param_keys(report: StudyReport) -> list[str]:
    """The searched parameters: the space's keys, then any a trial has beyond them."""
    keys = list(report.spec.space_params)
    for trial in report.trials:
        keys += [k for k in trial.params if k not in keys]
    return keys


def trial_cells(trial: TrialRow, report: StudyReport) -> list[str | Text]:
    """Cells of one trial after the mark column, in `trial_columns` order."""
    best = report.best is not None and report.best.number == trial.number
    return [
        Text(BEST_MARK, style="bold") if best else "",
        str(trial.number),
        Text(trial.state, style=STATE_STYLES.get(trial.state, "")),
        _fmt(trial.value, ".4g"),
        _fmt(trial.seconds, ".0f"),
        _fmt(trial.env_steps, ","),
        *(
            Text(format_value(trial.params[k])) if k in trial.params else "–"
            for k in param_keys(report)
        ),
    ]


def study_header(report: StudyReport) -> Text:
    """One line about the study: name, objective, trials by state, the best trial, whether
    another process is still running it."""
    text = Text()
    text.append(f"study {report.spec.name}", style="bold")
    text.append(f" · {report.spec.objective} · {trials_count(len(report.trials))}: ")
    text.append(counts_text(report.counts))
    if report.best is not None:
        text.append(f" · best #{report.best.number} = {_fmt(report.best.value, '.4g')}")
        text.append(f" {BEST_MARK}", style="bold")
    if report.running:
        text.append(" · running (following)", style="bold")
    return text


@dataclass
class StudyWatch:
    """What the studies on disk looked like at the last read, so a poll re-reads only what
    changed: the list when a study folder came or went or a study's database moved on, the
    open study when its database did. Used from one worker thread at a time."""

    folders: list[Path] = field(default_factory=list)
    _dir_stamp: tuple[int, int] | None = None
    _list_stamp: tuple | None = None
    _study_stamp: tuple | None = None
    _study_path: Path | None = None

    def poll(
        self, runs_dir: Path, open_study: Path | None, force: bool = False
    ) -> tuple[StudiesListed | None, StudyRead | None]:
        """(new list or None, new read of `open_study` or None); `force` reads both."""
        listed = read = None
        # A study counts as running a while after its last change, and a folder made a moment
        # before its database is a study only once that is written: look again now and then.
        clock = int(time.monotonic() // 10)
        stamp = (clock, _stamp(runs_dir))
        if force or stamp != self._dir_stamp:
            self._dir_stamp = stamp
            self.folders = _study_folders(runs_dir)
        list_stamp = (clock, *(_db_stamp(folder) for folder in self.folders))
        if force or list_stamp != self._list_stamp:
            self._list_stamp = list_stamp
            try:
                listed = StudiesListed(list_studies(runs_dir) if runs_dir.is_dir() else [])
            except Exception as exc:  # noqa: BLE001 — shown in the header, not raised
                listed = StudiesListed([], error_line(exc, runs_dir))
        if open_study is not None:
            study_stamp = (clock, _db_stamp(open_study))
            if force or open_study != self._study_path or study_stamp != self._study_stamp:
                self._study_path, self._study_stamp = open_study, study_stamp
                try:
                    read = StudyRead(open_study, read_study(open_study))
                except Exception as exc:  # noqa: BLE001 — shown in the header, not raised
                    read = StudyRead(open_study, None, error_line(exc, open_study))
        return listed, read


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _db_stamp(folder: Path) -> tuple[int, ...]:
    """Modification times of a study's database and its SQLite side files (a write-ahead
    log, if the database uses one, moves before the database does)."""
    db = folder / STUDY_DB
    return tuple(_stamp(db.with_name(db.name + suffix)) for suffix in ("", "-wal", "-journal"))


def _study_folders(runs_dir: Path) -> list[Path]:
    try:
        return sorted(p for p in runs_dir.iterdir() if is_study(p))
    except OSError:
        return []
