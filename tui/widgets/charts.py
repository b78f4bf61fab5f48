"""Live training curves: a thread-safe store the training thread appends to, and PlotextPlot
charts that the UI replots a few times a second (only when visible and only when new data came).

The training thread never touches widgets: it calls `CurveStore.add(event)`; the pane's
`set_interval` timer asks each visible chart to `replot()` if the store's version moved on.
Curves are downsampled to the chart's width before plotting, so a long run costs the same
to draw as a short one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual_plotext import PlotextPlot

from rlrec.engine.training.events import Evaluation, Event, Progress, References
from rlrec.tui.widgets.step_axis import label_step_axis, label_value_axis

if TYPE_CHECKING:  # numpy loads on first use, after the first frame (startup time)
    import numpy as np

# Series recorded from `Progress` events: (name in the store, event attribute).
PROGRESS_SERIES = (
    ("episode_return", "episode_return"),
    ("episode_length", "episode_length"),
    ("epsilon", "epsilon"),
    ("loss", "loss"),
    ("ctr", "ctr"),
    ("steps_per_second", "steps_per_second"),
    ("learning_rate", "learning_rate"),
)
# Labels of the engine's reference returns (a `References` event), drawn as level lines.
ORACLE_LABEL = "myopic oracle"
RANDOM_LABEL = "random"


@dataclass
class Series:
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)


class CurveStore:
    """Every curve point of one run, appended from any thread, read by the UI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[str, Series] = {}
        self._levels: dict[str, float] = {}
        self.version = 0  # bumped on every change; charts replot only when it moved

    def clear(self) -> None:
        with self._lock:
            self._series = {}
            self._levels = {}
            self.version += 1

    def add(self, event: Event) -> None:
        """Record a Progress, Evaluation or References event (others are ignored)."""
        with self._lock:
            match event:
                case Progress():
                    x = float(event.env_steps)
                    for name, attr in PROGRESS_SERIES:
                        self._append(name, x, getattr(event, attr, math.nan))
                case Evaluation():
                    x = float(event.env_steps)
                    self._append("eval_return", x, event.return_mean)
                    self._append("eval_normalised", x, event.normalised)
                    self._append("eval_ctr", x, event.ctr)
                case References():
                    self._levels = {
                        ORACLE_LABEL: event.oracle_return,
                        RANDOM_LABEL: event.random_return,
                    }
                case _:
                    return
            self.version += 1

    def extend(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def _append(self, name: str, x: float, y: float) -> None:
        series = self._series.setdefault(name, Series())
        series.x.append(x)
        series.y.append(float("nan") if y is None else float(y))

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) copies with non-finite points dropped (e.g. loss before learning starts)."""
        import numpy as np

        with self._lock:
            series = self._series.get(name)
            if series is None:
                return np.empty(0), np.empty(0)
            x = np.asarray(series.x, dtype=float)
            y = np.asarray(series.y, dtype=float)
        keep = np.isfinite(y)
        return x[keep], y[keep]

    def levels(self) -> dict[str, float]:
        """The run's reference returns by label ({} until its References event): the
        myopic oracle's and the random policy's mean return on the evaluation sessions."""
        with self._lock:
            return {k: v for k, v in self._levels.items() if math.isfinite(v)}

    def __len__(self) -> int:
        with self._lock:
            return max((len(s.x) for s in self._series.values()), default=0)


def downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `buckets` points: the mean of x and y over equal runs of consecutive points.

    Display only: a chart `buckets` cells wide cannot show more points than that."""
    import numpy as np

    n = len(x)
    if buckets <= 0 or n <= buckets:
        return x, y
    edges = np.linspace(0, n, buckets + 1).astype(int)
    starts = edges[:-1]
    counts = np.diff(edges)
    return np.add.reduceat(x, starts) / counts, np.add.reduceat(y, starts) / counts


def show_message(plt: Any, message: str) -> None:
    """An empty chart with `message` in its middle (nothing to draw yet)."""
    plt.text(message, x=0.5, y=0.5, alignment="center")
    plt.xlim(0, 1)
    plt.ylim(0, 1)
    plt.xticks([])  # no scale without data (plotext would label 0.17, 0.33, …)
    plt.yticks([])


class CurveChart(PlotextPlot):
    """One chart of one or more named series from a `CurveStore` against env steps."""

    DEFAULT_CSS = """
    CurveChart {
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(
        self,
        title: str,
        series: Sequence[str],
        *,
        labels: Sequence[str] | None = None,
        smooth: int = 0,
        levels: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.levels = levels  # also draw the store's reference levels as labelled lines
        self.title = title
        self.series = tuple(series)
        self.labels = tuple(labels or series)
        self.smooth = smooth  # > 0: also draw a moving average of the first series
        self.store: CurveStore | None = None
        self._drawn_version = -1
        self._drawn_width = -1

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def watch_theme(self) -> None:
        self._drawn_version = -1

    def replot(self, force: bool = False) -> bool:
        """Redraw if the store changed since the last draw; True if it redrew."""
        version = self.store.version if self.store is not None else 0
        if not force and version == self._drawn_version and self.size.width == self._drawn_width:
            return False
        self._drawn_version = version
        self._drawn_width = self.size.width
        self._draw()
        return True

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("env steps")
        width = max(10, self.size.width - 8)
        drawn = False
        x_low, x_high = math.inf, -math.inf
        y_low, y_high = math.inf, -math.inf
        for name, label in zip(self.series, self.labels, strict=True):
            if self.store is None or len(self.store) == 0:
                break
            x, y = self.store.get(name)
            if len(x) == 0:
                continue
            if self.smooth and name == self.series[0]:
                from rlrec.engine.evaluation.metrics import moving_average

                average = moving_average(y, self.smooth)
                xs, ys = downsample(x, y, width)
                plt.plot(xs.tolist(), ys.tolist(), label=label, marker="braille")
                xa, ya = downsample(x, average, width)
                plt.plot(xa.tolist(), ya.tolist(), label=f"avg {self.smooth}", marker="braille")
            elif name.startswith("eval"):
                xs, ys = downsample(x, y, width)
                plt.scatter(xs.tolist(), ys.tolist(), label=label, marker="dot")
            else:
                xs, ys = downsample(x, y, width)
                plt.plot(xs.tolist(), ys.tolist(), label=label, marker="braille")
            drawn = True
            x_low, x_high = min(x_low, float(x[0])), max(x_high, float(x[-1]))
            y_low, y_high = min(y_low, float(ys.min())), max(y_high, float(ys.max()))
        if drawn and self.levels and self.store is not None:
            # Level lines across the curves' span, so the return is read against them.
            x_high = max(x_high, x_low + 1)
            for label, level in self.store.levels().items():
                plt.plot([x_low, x_high], [level, level], label=label, marker="braille")
                y_low, y_high = min(y_low, level), max(y_high, level)
        if drawn:
            label_step_axis(plt, x_low, x_high, width)
            label_value_axis(plt, y_low, y_high, self.size.height)
        else:
            show_message(plt, "waiting for data…")
        self.refresh()
