"""Text rendering of `data.eda.compute_eda` for `rlrec info`: a summary and bar charts.

The bars are drawn with block characters, one row per bar, each as long as its count allows
to an eighth of a cell (`data.eda.bar_lengths`): a chart reads true at any width, and the
output depends only on the dataset and the width, never on the terminal's height.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rlrec.data.eda import bar_lengths, merge_bins

DISPLAY_BINS = 10  # histograms are shown with at most this many bars (neighbours merged)
FULL_BLOCK = "█"
PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"  # index: eighths of a cell
BAR_COLOUR = "\x1b[36m"  # cyan, on a terminal only
RESET = "\x1b[0m"
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
    elif eda.get("time_order") == "row order":
        lines.append("time range    row order (the log has no timestamps)")
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


def bar_text(eighths: int) -> str:
    """A horizontal bar `eighths` eighths of a cell long, in block characters."""
    full, rest = divmod(eighths, 8)
    return FULL_BLOCK * full + (PARTIAL_BLOCKS[rest] if rest else "")


def bar_chart(title: str, labels: list[str], counts: list[int], width: int, color: bool) -> str:
    """`title`, then one row per label: "label (count) │bar", the bars filling what is left
    of `width` columns in proportion to the counts."""
    shown = [f"{label} ({count:,})" for label, count in zip(labels, counts, strict=True)]
    label_width = max(map(len, shown), default=0)
    cells = max(width - label_width - 2, 10)
    rows = [title]
    for text, eighths in zip(shown, bar_lengths(counts, cells), strict=True):
        bar = bar_text(eighths)
        if color and bar:
            bar = f"{BAR_COLOUR}{bar}{RESET}"
        rows.append(f"{text:>{label_width}} │{bar}".rstrip())
    return "\n".join(rows)


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
