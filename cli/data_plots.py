"""Text rendering of `data.eda.compute_eda` for `rlrec info`: a summary and plotext bar charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rlrec.data.eda import merge_bins

ANSI = re.compile(r"\x1b\[[0-9;]*m")
DISPLAY_BINS = 10  # histograms are shown with at most this many bars (pairs merged)
CHARTS = (
    ("user_age", "Users by age"),
    ("item_price", "Items by price (log-spaced bins)"),
    ("item_category", "Items by category"),
    ("interaction_type", "Interactions by type"),
    ("interactions_per_user", "Users by number of interactions"),
    ("interactions_per_item", "Items by number of interactions"),
    ("rating", "Ratings"),
)


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")


def summary_lines(eda: dict[str, Any], where: str) -> list[str]:
    counts = eda["counts"]
    lines = [
        f"dataset       {eda['name']} ({eda['source']}) at {where}",
        f"users         {counts['users']:,} ({counts['user_features']} features)",
        f"items         {counts['items']:,} ({counts['item_features']} features)",
        f"interactions  {counts['interactions']:,} "
        f"({counts['distinct_user_item_pairs']:,} distinct user-item pairs, "
        f"{counts['rated_interactions']:,} rated)",
        f"density       {eda['density']:.4%} (sparsity {eda['sparsity']:.4%})",
    ]
    if eda.get("time_range"):
        start, end = eda["time_range"]
        lines.append(f"time range    {_date(start)} .. {_date(end)}")
    for key, label in (
        ("interactions_per_user", "per user"),
        ("interactions_per_item", "per item"),
    ):
        stats = eda[key].get("stats")
        if stats:
            lines.append(
                f"{label:<13} mean {stats['mean']:.1f}, median {stats['median']:g}, "
                f"min {stats['min']:g}, max {stats['max']:g}"
            )
    return lines


def bar_chart(title: str, labels: list[str], counts: list[int], width: int, color: bool) -> str:
    import plotext as plt

    plt.clf()
    plt.theme("pro" if color else "clear")
    # Horizontal bars read top-down in the given order; plotext draws the first at the bottom.
    shown = [f"{label} ({count:,})" for label, count in zip(labels, counts, strict=True)]
    plt.bar(shown[::-1], counts[::-1], orientation="horizontal", width=0.6)
    plt.title(title)
    # One text row per bar: title, two borders and the tick row take the other four.
    plt.plotsize(width, len(labels) + 4)
    text = plt.build()
    plt.clf()
    return text if color else ANSI.sub("", text)


def render_info(
    eda: dict[str, Any], where: str, width: int = 100, plots: bool = True, color: bool = False
) -> str:
    parts = ["\n".join(summary_lines(eda, where))]
    if plots:
        for key, title in CHARTS:
            dist = eda.get(key)
            if not dist or not dist["counts"]:
                parts.append(f"{title}: not in this dataset")
                continue
            labels, counts = merge_bins(dist, DISPLAY_BINS)
            parts.append(bar_chart(title, labels, counts, width, color))
    return "\n\n".join(parts)
