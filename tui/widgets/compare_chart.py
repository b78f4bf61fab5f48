"""Any number of runs on one chart, on any metric their logs hold (the Runs pane's comparison).

A worker turns each run's events (`engine.training.runs.read_events`) into `RunCurves`: every
metric's (env steps, value) series at once, so switching the metric or the y scale only
redraws. Runs are told apart by colour, then by marker once the palette is used up, and by a
legend line above the plot that names each run beside its colour and marker (plotext's own
legend would cover the curves of many runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from rlrec.engine.training.events import Event
from rlrec.tui.widgets.charts import CurveStore, downsample, show_message
from rlrec.tui.widgets.step_axis import label_step_axis, label_value_axis

if TYPE_CHECKING:
    import numpy as np

MOVING_AVERAGE = 20  # windows, as the Train pane's return chart


@dataclass(frozen=True)
class Metric:
    """One thing the comparison can draw: `key` names the series in `RunCurves.series`."""

    key: str
    label: str
    scatter: bool = False  # evaluations are a few points, not a line


METRICS = (
    Metric("episode_return", "training return"),
    Metric("episode_return_avg", f"training return, moving average ({MOVING_AVERAGE} windows)"),
    Metric("eval_return", "greedy evaluation return", scatter=True),
    Metric("eval_normalised", "greedy evaluation, normalised (0 random, 1 oracle)", scatter=True),
    Metric("ctr", "training CTR"),
    Metric("eval_ctr", "greedy evaluation CTR", scatter=True),
    Metric("episode_length", "training episode length"),
    Metric("loss", "loss"),
    Metric("epsilon", "ε (exploration)"),
    Metric("learning_rate", "learning rate"),
    Metric("steps_per_second", "env steps/s"),
)
METRIC_KEYS = tuple(m.key for m in METRICS)

# Colours told apart on dark and light themes (from Sasha Trubetskoy's list of distinct
# colours, as textual-plotext's own sequence; its yellow is left out: unreadable on light).
PALETTE = (
    (0, 130, 200),
    (60, 180, 75),
    (230, 25, 75),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (170, 110, 40),
)
# Once every colour is taken, the next runs get the colours again with another marker.
MARKERS = ("braille", "•", "+", "x", "*", "o")
_GLYPHS = {"braille": "━"}


def run_style(index: int) -> tuple[tuple[int, int, int], str]:
    """Colour (RGB) and plotext marker of the `index`-th compared run (0-based)."""
    colour = PALETTE[index % len(PALETTE)]
    marker = MARKERS[(index // len(PALETTE)) % len(MARKERS)]
    return colour, marker


def run_badge(index: int) -> Text:
    """The compared run's number drawn in its colour beside its marker (table mark, legend)."""
    colour, marker = run_style(index)
    glyph = _GLYPHS.get(marker, marker)
    return Text(f"{glyph}{index + 1}", style=Style(color=Color.from_rgb(*colour)))


@dataclass
class RunCurves:
    """Every metric series of one compared run: metric key → (env steps, values)."""

    label: str
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def run_curves(label: str, events: Iterable[Event]) -> RunCurves:
    """The series of `METRICS` a run's events hold (non-finite points dropped; a metric the
    run never logged is absent)."""
    from rlrec.engine.evaluation.metrics import moving_average

    store = CurveStore()
    store.extend(events)
    curves = RunCurves(label)
    for key in METRIC_KEYS:
        x, y = store.get(key)
        if len(x):
            curves.series[key] = (x, y)
    if "episode_return" in curves.series:
        x, y = curves.series["episode_return"]
        curves.series["episode_return_avg"] = (x, moving_average(y, MOVING_AVERAGE))
    return curves


class ComparePlot(PlotextPlot):
    """The plot part of `CompareChart` (drawn by it)."""


class CompareChart(Vertical):
    """A legend line and a plot of one metric for several runs; `m`/`l` in the pane pick the
    metric and the y scale (`cycle_metric`, `toggle_log`)."""

    DEFAULT_CSS = """
    CompareChart { height: 1fr; min-height: 8; }
    CompareChart > #compare-legend { height: auto; max-height: 3; padding: 0 1; }
    CompareChart > ComparePlot { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.runs: list[RunCurves] = []
        self.metric = METRICS[0]
        self.log_y = False
        self.left_out = 0  # points ≤ 0 the log axis could not draw
        self.hint = "mark runs with space, then press c"

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-legend")
        yield ComparePlot()

    def on_mount(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def show(self, runs: list[RunCurves]) -> None:
        """Draw these runs; the metric stays unless none of them logged it."""
        self.runs = runs
        if runs and not self._has(self.metric):
            self.metric = next((m for m in METRICS if self._has(m)), self.metric)
        self.replot()

    def available(self) -> list[Metric]:
        """The metrics at least one shown run logged."""
        return [m for m in METRICS if self._has(m)]

    def _has(self, metric: Metric) -> bool:
        return any(metric.key in run.series for run in self.runs)

    def cycle_metric(self, step: int = 1) -> Metric:
        """Move to the next (or previous) metric some shown run logged."""
        choices = self.available()
        if choices:
            at = choices.index(self.metric) if self.metric in choices else -step
            self.metric = choices[(at + step) % len(choices)]
            self.replot()
        return self.metric

    def toggle_log(self) -> bool:
        self.log_y = not self.log_y
        self.replot()
        return self.log_y

    @property
    def curves(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(label, env steps, values) of the drawn metric, for each run that logged it."""
        return [
            (run.label, *run.series[self.metric.key])
            for run in self.runs
            if self.metric.key in run.series
        ]

    def replot(self) -> None:
        found = self.query(ComparePlot)
        if not found:
            return
        plot = found.first(ComparePlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("env steps")
        width = max(10, plot.size.width - 8)
        self.left_out = 0
        drawn = 0
        x_low, x_high = math.inf, -math.inf
        y_low, y_high = math.inf, -math.inf
        for index, run in enumerate(self.runs):
            if self.metric.key not in run.series:
                continue
            x, y = run.series[self.metric.key]
            if self.log_y:
                keep = y > 0
                self.left_out += int((~keep).sum())
                x, y = x[keep], y[keep]
            if len(x) == 0:
                continue
            xs, ys = downsample(x, y, width)
            colour, marker = run_style(index)
            if self.metric.scatter:
                marker = "dot" if marker == "braille" else marker
                plt.scatter(xs.tolist(), ys.tolist(), marker=marker, color=colour)
            else:
                plt.plot(xs.tolist(), ys.tolist(), marker=marker, color=colour)
            drawn += 1
            x_low, x_high = min(x_low, float(x.min())), max(x_high, float(x.max()))
            y_low, y_high = min(y_low, float(ys.min())), max(y_high, float(ys.max()))
        if drawn:
            label_step_axis(plt, x_low, x_high, width)
        if drawn and self.log_y:
            plt.yscale("log")  # plotext's own ticks: round positions are powers there
        elif drawn:
            label_value_axis(plt, y_low, y_high, plot.size.height)
        if not drawn:
            message = self.hint if not self.runs else "nothing to draw"
            if self.runs and self.log_y and self.left_out:
                message = "no value > 0 to draw on a log axis"
            show_message(plt, message)
        plot.refresh()
        self.query_one("#compare-legend", Static).update(self.legend())

    def legend(self) -> Text:
        """The metric, the y scale, and each run's badge and name (escaped: names are shown as
        written, never read as markup)."""
        text = Text()
        if not self.runs:
            return text
        text.append(self.metric.label, style="bold")
        if self.log_y:
            text.append(" · log axis")
            if self.left_out:
                points = "point" if self.left_out == 1 else "points"
                text.append(f": {self.left_out} {points} ≤ 0 left out", style="bold")
        text.append(" │")
        for index, run in enumerate(self.runs):
            text.append("  ")
            text.append_text(run_badge(index))
            text.append(f" {run.label}")
            if self.metric.key not in run.series:
                text.append(" (not logged)", style="dim")
        return text
