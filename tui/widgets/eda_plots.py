"""The seed's analysis figure in the terminal: one chart per EDA distribution.

The numbers come from `data.eda.compute_eda`; these widgets only draw them. A distribution the
dataset does not have (e.g. item price for MovieLens) is shown as a one-line note instead of
an empty chart. Horizontal bars (item categories) are block characters, one row per bar, as
long as the count allows to an eighth of a cell (`data.eda.bar_lengths`): plotext draws a bar
with its neighbour's length when it has one text row per bar. The others are plotext charts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Grid
from textual.widgets import Static
from textual_plotext import PlotextPlot

from rlrec.data.eda import bar_lengths

# (key in compute_eda's result, chart title, how to draw it)
PLOTS = (
    ("user_age", "User age", "bars"),
    ("item_price", "Item price (log axis)", "log-histogram"),
    ("item_category", "Item category", "hbars"),
    ("interaction_type", "Interaction type", "bars"),
    ("interactions_per_user", "Interactions per user", "histogram"),
    ("interactions_per_item", "Interactions per item", "histogram"),
    ("rating", "Rating", "bars"),
)


def _labels(values: Sequence[Any]) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(f"{v:g}" if isinstance(v, float) else str(v))
    return out


FULL_BLOCK = "█"
PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"  # index: eighths of a cell


class EdaBars(Static):
    """One categorical distribution as horizontal text bars: a title, then per label
    "label (count) │bar", bars filling the widget's width in proportion to the counts."""

    DEFAULT_CSS = """
    EdaBars {
        height: auto;
        min-width: 30;
    }
    """

    def __init__(self, key: str, title: str, style: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key = key
        self.title = title
        self.style = style
        self._data: Mapping[str, Any] | None = None

    def show(self, data: Mapping[str, Any] | None) -> None:
        self._data = data
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        data = self._data or {}
        labels = _labels(list(data.get("labels", [])))
        counts = [int(c) for c in data.get("counts", [])]
        shown = [f"{label} ({count:,})" for label, count in zip(labels, counts, strict=False)]
        label_width = max(map(len, shown), default=0)
        cells = max(self.size.width - label_width - 2, 1)
        text = Text(self.title.center(self.size.width).rstrip(), style="bold")
        for row, eighths in zip(shown, bar_lengths(counts, cells), strict=False):
            full, rest = divmod(eighths, 8)
            text.append(f"\n{row:>{label_width}} │")
            text.append(FULL_BLOCK * full + (PARTIAL_BLOCKS[rest] if rest else ""), "cyan")
        return text


class EdaPlot(PlotextPlot):
    """One distribution: bars over labels, or a histogram over bin edges (optionally log x)."""

    DEFAULT_CSS = """
    EdaPlot {
        height: 12;
        min-width: 30;
    }
    """

    def __init__(self, key: str, title: str, style: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key = key
        self.title = title
        self.style = style
        self._data: Mapping[str, Any] | None = None

    def show(self, data: Mapping[str, Any] | None) -> None:
        self._data = data
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        data = self._data
        title = self.title
        stats = (data or {}).get("stats")
        if stats and self.style in ("histogram", "log-histogram"):
            title += f" · median {stats['median']:.3g}"
        plt.title(title)
        if data and data.get("counts"):
            if data.get("edges"):
                self._histogram(list(data["edges"]), list(data["counts"]), bool(data.get("log")))
            else:
                labels, counts = _labels(list(data["labels"])), list(data["counts"])
                plt.bar(labels, counts, width=0.6)
        self.refresh()

    def _histogram(self, edges: list[float], counts: list[float], log: bool) -> None:
        plt = self.plt
        if log:
            # A step outline drawn in log10 coordinates with ticks labelled in real units:
            # plotext's own xscale("log") re-applies the log on every redraw.
            xs: list[float] = []
            ys: list[float] = []
            for low, high, count in zip(edges[:-1], edges[1:], counts, strict=False):
                xs += [math.log10(low), math.log10(high)]
                ys += [count, count]
            plt.plot(xs, ys, fillx=True, marker="braille")
            ticks = _log_ticks(edges[0], edges[-1])
            plt.xticks([math.log10(t) for t in ticks], [f"{t:g}" for t in ticks])
        else:
            centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=False)]
            plt.bar(centers, counts, width=1.0)

    def render(self) -> RenderResult:
        try:
            return super().render()
        except Exception as exc:  # noqa: BLE001 — a plotting hiccup must not end the app
            return Text(f"{self.title}: cannot draw ({exc.__class__.__name__})")


def _log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks inside [low, high] (only powers of ten when that gives enough)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    decades = [10.0**d for d in range(first, last + 1)]
    ticks = [m * d for d in decades for m in (1, 2, 5) if low <= m * d <= high]
    powers = [t for t in ticks if math.log10(t).is_integer()]
    return powers if len(powers) >= 3 else ticks or [low, high]


class EdaPlots(Grid):
    """The six (or seven, with ratings) charts in a responsive grid."""

    DEFAULT_CSS = """
    EdaPlots {
        grid-size: 2;
        grid-gutter: 0 1;
        height: auto;
        grid-rows: auto;
    }
    EdaPlots.-narrow {
        grid-size: 1;
    }
    EdaPlots .eda--missing {
        height: 1;
        color: $text-muted;
    }
    """

    def compose(self) -> ComposeResult:
        for key, title, style in PLOTS:
            chart = EdaBars if style == "hbars" else EdaPlot
            yield chart(key, title, style, id=f"eda-{key.replace('_', '-')}")
            yield Static(
                f"{title}: not in this dataset",
                classes="eda--missing",
                id=f"eda-missing-{key.replace('_', '-')}",
            )

    def show(self, eda: Mapping[str, Any]) -> None:
        """Draw every distribution in `eda` (compute_eda's result); hide the missing ones."""
        with self.app.batch_update():
            for plot in [*self.query(EdaPlot), *self.query(EdaBars)]:
                data = eda.get(plot.key)
                missing = self.query_one(f"#eda-missing-{plot.key.replace('_', '-')}")
                plot.display = bool(data)
                missing.display = not data and plot.key != "rating"
                if data:
                    plot.show(data)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 70, "-narrow")
