"""A study's objective over its trials: one point per trial (complete, pruned at the last value
it reported, running at its latest report), the best-so-far line, and the parameters'
importances beside it — or, in "reports" mode, each trial's reports to the pruner over its
run (what early stopping compared). The values are `engine.tune.report`'s; this widget only
draws them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from rlrec.engine.tune.report import StudyReport
from rlrec.tui.widgets.charts import show_message

BEST_MARK = "★"
# (series, marker, colour, legend words), drawn in this order: the line under the points.
SERIES = (
    ("best_so_far", "braille", (60, 180, 75), "best so far"),
    ("complete", "●", (0, 130, 200), "complete"),
    ("pruned", "x", (128, 128, 128), "pruned"),
    ("running", "+", (245, 130, 48), "running"),
    ("best", BEST_MARK, (230, 25, 75), "best trial"),
)
MAX_TICKS = 8


def integer_ticks(low: int, high: int, most: int = MAX_TICKS) -> list[int]:
    """At most `most` whole numbers from `low` to `high`, evenly spaced, both ends included."""
    if high <= low:
        return [low]
    step = max(1, -(-(high - low) // (most - 1)))
    ticks = list(range(low, high + 1, step))
    return ticks if ticks[-1] == high else [*ticks, high]


def param_labels(keys: list[str]) -> dict[str, str]:
    """Column titles for dotted config keys: the last part ("agent.lr" → "lr") where that
    names one key only, the whole key otherwise."""
    short = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: s if short.count(s) == 1 else key for key, s in zip(keys, short, strict=True)}


def importances_text(report: StudyReport, width: int) -> Text:
    """The parameters' importances as bars, largest first (a note while there are none), and
    where the best trial's config is."""
    text = Text()
    text.append("importance\n", style="bold")
    if not report.importances:
        text.append("once two trials have completed with different values\n", style="dim")
    else:
        labels = param_labels(list(report.importances))
        name_width = min(max(len(v) for v in labels.values()), max(6, width // 2))
        bar_width = max(3, width - name_width - 6)
        for key, share in sorted(report.importances.items(), key=lambda kv: -kv[1]):
            cells = round(share * bar_width)
            text.append(labels[key][:name_width].ljust(name_width) + " ")
            text.append("█" * cells, style="bold")
            text.append(" " * (bar_width - cells) + f" {share * 100:3.0f}%\n")
    if report.best_config is not None:
        text.append("\nbest config (rlrec train --config)\n", style="bold")
        text.append(f"{report.best_config.parent.name}/{report.best_config.name}")
    return text


def objective_points(report: StudyReport) -> dict[str, list[tuple[int, float]]]:
    """Per series, the (trial number, objective) points to draw."""
    points: dict[str, list[tuple[int, float]]] = {name: [] for name, *_ in SERIES}
    for trial in sorted(report.trials, key=lambda t: t.number):
        if trial.state == "complete" and trial.value is not None:
            points["complete"].append((trial.number, trial.value))
        elif trial.state == "pruned" and trial.value is not None:
            points["pruned"].append((trial.number, trial.value))
        elif trial.state == "running" and trial.intermediate:
            points["running"].append((trial.number, trial.intermediate[-1][1]))
    best = None
    for number, value in points["complete"]:  # objectives are maximised (engine.tune.objective)
        best = value if best is None else max(best, value)
        points["best_so_far"].append((number, best))
    if report.best is not None and report.best.value is not None:
        points["best"].append((report.best.number, report.best.value))
    return points


def steps(points: list[tuple[int, float]], last: int) -> tuple[list[float], list[float]]:
    """A staircase through (trial, best so far) points: level until the next improvement,
    then up; carried on to trial `last`."""
    xs, ys = [float(points[0][0])], [points[0][1]]
    for number, value in points[1:]:
        xs += [float(number), float(number)]
        ys += [ys[-1], value]
    if last > xs[-1]:
        xs.append(float(last))
        ys.append(ys[-1])
    return xs, ys


class StudyPlot(PlotextPlot):
    """The plot part of `StudyChart` (drawn by it)."""


def report_lines(report: StudyReport) -> dict[str, list[list[tuple[int, float]]]]:
    """Per state (complete, pruned, running), each trial's (report number, value) reports."""
    lines: dict[str, list[list[tuple[int, float]]]] = {s: [] for s in REPORT_STATES}
    for trial in sorted(report.trials, key=lambda t: t.number):
        if trial.state in lines and trial.intermediate:
            lines[trial.state].append(list(trial.intermediate))
    return lines


REPORT_STATES = ("complete", "pruned", "running")


class StudyChart(Horizontal):
    """Objective per trial with a legend line, and the importances beside it; `mode`
    "reports" draws each trial's reports to the pruner instead."""

    DEFAULT_CSS = """
    StudyChart { height: 1fr; min-height: 8; }
    StudyChart > Vertical { width: 1fr; }
    StudyChart #study-legend { height: auto; max-height: 2; padding: 0 1; }
    StudyChart StudyPlot { height: 1fr; }
    StudyChart #study-importances { width: 36; height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.report: StudyReport | None = None
        self.points: dict[str, list[tuple[int, float]]] = {}
        self.lines: dict[str, list[list[tuple[int, float]]]] = {}
        self.mode = "trials"  # "trials" | "reports"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="study-legend")
            yield StudyPlot()
        yield Static("", id="study-importances")

    def on_mount(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def show(self, report: StudyReport | None) -> None:
        self.report = report
        self.points = objective_points(report) if report is not None else {}
        self.lines = report_lines(report) if report is not None else {}
        self.replot()

    def toggle_mode(self) -> str:
        """Objective per trial ↔ each trial's reports to the pruner."""
        self.mode = "reports" if self.mode == "trials" else "trials"
        self.replot()
        return self.mode

    def replot(self) -> None:
        found = self.query(StudyPlot)
        if not found:
            return
        plot = found.first(StudyPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        legend = self.query_one("#study-legend", Static)
        importances = self.query_one("#study-importances", Static)
        if self.report is not None:
            importances.update(importances_text(self.report, max(12, importances.size.width)))
        if self.mode == "reports":
            self._draw_reports(plt, legend)
            plot.refresh()
            return
        plt.xlabel("trial")
        drawn = [name for name, *_ in SERIES if self.points.get(name)]
        if self.report is None or not drawn:
            show_message(plt, "no trial has reported a value yet")
            legend.update("")
        else:
            numbers = [n for name in drawn for n, _ in self.points[name]]
            for name, marker, colour, _ in SERIES:
                xy = self.points.get(name)
                if not xy:
                    continue
                if name == "best_so_far":
                    xs, ys = steps(xy, max(numbers))
                    plt.plot(xs, ys, marker=marker, color=colour)
                else:
                    xs, ys = [float(n) for n, _ in xy], [v for _, v in xy]
                    plt.scatter(xs, ys, marker=marker, color=colour)
            ticks = integer_ticks(min(numbers), max(numbers))
            plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
            if len(ticks) == 1:
                plt.xlim(ticks[0] - 1, ticks[0] + 1)
            legend.update(self._legend(drawn))
        plot.refresh()

    def _draw_reports(self, plt: Any, legend: Static) -> None:
        plt.xlabel("report (evenly over each trial's budget)")
        colours = {name: (marker, colour) for name, marker, colour, _ in SERIES}
        drawn = []
        for state in REPORT_STATES:
            marker, colour = colours[state]
            for line in self.lines.get(state, []):
                xs, ys = [float(n) for n, _ in line], [v for _, v in line]
                plt.plot(xs, ys, marker="braille", color=colour)
                plt.scatter(xs[-1:], ys[-1:], marker=marker, color=colour)  # where it stopped
            if self.lines.get(state):
                drawn.append(state)
        if not drawn:
            show_message(plt, "no trial has reported a value yet")
            legend.update("")
            return
        last = max(n for state in drawn for line in self.lines[state] for n, _ in line)
        ticks = integer_ticks(1, max(1, last))
        plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
        assert self.report is not None
        parts = [f"{self.report.spec.objective} reported to the pruner, per trial:"]
        for name, marker, colour, words in SERIES:
            if name in drawn:
                parts.append(f"[rgb({colour[0]},{colour[1]},{colour[2]})]{marker}[/] {words}")
        legend.update("  ".join(parts))

    def _legend(self, drawn: list[str]) -> str:
        assert self.report is not None
        parts = [f"{self.report.spec.objective} per trial:"]
        for name, marker, colour, words in SERIES:
            if name in drawn:
                glyph = "━" if marker == "braille" else marker
                parts.append(f"[rgb({colour[0]},{colour[1]},{colour[2]})]{glyph}[/] {words}")
        return "  ".join(parts)
