"""What the explorer shows, formatted: the profile block, the rows of the recommendation and
history tables, and the "why this item" dialog.

Everything here takes what the engine's serving use cases return (`RecommendedItem`s, the
explanation's and profile's fields) and only formats it; no number is computed.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from rlrec.engine.serving.recommend import RecommendedItem

PROFILE_SKIP = {"original_id", "segment", "activity"}
AGENT_COLUMNS = ("#", "Q", "hidden truth", "item", "category", "price", "quality")
BASELINE_COLUMNS = ("#", "score", "truth", "item")
HISTORY_COLUMNS = ("when", "event", "rating", "item", "category", "title")


def fmt(value: Any, spec: str) -> str:
    """A number in `spec`, '–' where there is none."""
    if value is None:
        return "–"
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)


def item_name(item: RecommendedItem) -> str:
    """The item's title where the data has one, else its original id."""
    return str(item.details.get("title") or f"item {item.item}")


def plain(*cells: Any) -> tuple[Text, ...]:
    """Cells as plain Text: DataTable reads str cells as markup, and data is not markup
    (a title like "Pulp Fiction [Director's Cut]" would break)."""
    return tuple(Text(str(cell)) for cell in cells)


def agent_rows(items: list[RecommendedItem]) -> list[tuple[Text, ...]]:
    """Rows for AGENT_COLUMNS: rank, Q, hidden truth, item, category, price, quality."""
    return [
        plain(
            rank,
            fmt(item.score, ".3f"),
            fmt(item.true_preference, ".3f"),
            item_name(item),
            item.details.get("category") or "–",
            fmt(item.details.get("price"), ".2f"),
            fmt(item.details.get("quality"), ".1f"),
        )
        for rank, item in enumerate(items, 1)
    ]


def baseline_rows(items: list[RecommendedItem]) -> list[tuple[Text, ...]]:
    """Rows for BASELINE_COLUMNS: rank, score, hidden truth, item (the agent's first four)."""
    return [row[: len(BASELINE_COLUMNS)] for row in agent_rows(items)]


def history_rows(history: list[dict[str, Any]]) -> list[tuple[Text, ...]]:
    """Rows for HISTORY_COLUMNS (dates in UTC)."""
    return [
        plain(
            dt.datetime.fromtimestamp(row["timestamp"], dt.UTC).strftime("%Y-%m-%d"),
            row["event"],
            fmt(row["rating"], ".0f"),
            row["item"],
            row["category"],
            row["title"],
        )
        for row in history
    ]


def format_profile(user: str, profile: dict[str, Any] | None) -> str:
    """The profile block: who the user is, what they did, what they like."""
    if profile is None:
        return f"[b]User {escape(str(user))}[/b]  (no dataset: no profile or history)"
    attrs = profile["attributes"]
    head = f"[b]User {escape(str(user))}[/b]"
    if attrs.get("segment"):
        head += f"  segment [b]{escape(str(attrs['segment']))}[/b]"
    if attrs.get("activity"):
        head += f"  activity {escape(str(attrs['activity']))}"
    details = "  ".join(
        f"{escape(str(k))} {escape(_short(v))}" for k, v in attrs.items() if k not in PROFILE_SKIP
    )
    events = ", ".join(f"{n} {escape(e)}" for e, n in profile["events"].items()) or "none"
    top = [p for p in profile["preferences"] if p["weight"] > 0][:4]
    source = profile["preferences"][0]["source"] if profile["preferences"] else ""
    prefs = ", ".join(f"{escape(p['category'])} {p['weight']:.0%}" for p in top) or "unknown"
    return "\n".join(
        line
        for line in (
            head,
            details,
            f"history  {profile['n_interactions']} interactions on "
            f"{profile['distinct_items']} items ({events})",
            f"likes    {prefs}" + (f"  ({source})" if source else ""),
        )
        if line
    )


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class WhyScreen(ModalScreen[None]):
    """Why an item was recommended: category match and the nearest items in the history."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="why.close", tooltip="Close"),
        Binding("enter", "dismiss", "Close", show=False, id="why.close_enter"),
    ]

    DEFAULT_CSS = """
    WhyScreen {
        align: center middle;
    }
    WhyScreen > Vertical {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    WhyScreen #why-summary {
        height: auto;
        padding: 0 0 1 0;
    }
    WhyScreen DataTable {
        height: auto;
        max-height: 12;
    }
    WhyScreen #why-hint {
        color: $text-muted;
        height: 1;
    }
    """

    def __init__(
        self,
        why: dict[str, Any] | None,
        item: RecommendedItem,
        note: str | None = None,
        score_label: str = "score",
    ) -> None:
        super().__init__()
        self.why = why
        self.item = item
        self.note = note
        self.score_label = score_label

    def compose(self) -> ComposeResult:
        with Vertical(id="why-box"):
            yield Static(self._summary(), id="why-summary")
            if self.why is not None:
                yield DataTable(id="why-nearest", cursor_type="row", show_cursor=False)
            yield Static("esc closes", id="why-hint")

    def on_mount(self) -> None:
        self.query_one("#why-box").border_title = "Why this item?"
        if self.why is None:
            return
        table = self.query_one("#why-nearest", DataTable)
        table.add_columns("similar history item", "category", "cosine", "event", "rating")
        for n in self.why["nearest"]:
            rating = "–" if n["rating"] is None else f"{n['rating']:.0f}"
            table.add_row(
                *plain(n["title"], n["category"], f"{n['similarity']:.2f}", n["event"], rating)
            )

    def _summary(self) -> str:
        item = self.item
        title = escape(item_name(item))
        category = item.details.get("category")
        lines = [f"[b]{title}[/b]" + (f"  ({escape(str(category))})" if category else "")]
        truth = item.true_preference
        lines.append(
            f"{self.score_label} {item.score:.3f}"
            + (f"   hidden truth {truth:.3f}" if truth is not None else "")
        )
        if self.why is None:
            lines.append(escape(self.note or "No explanation available."))
            return "\n".join(lines)
        match = self.why["category_match"]
        if match["rank"] is not None:
            lines.append(
                f"Category match: {escape(match['category'])} is #{match['rank']} of "
                f"{match['of']} in the user's preferences ({match['weight']:.0%}, "
                f"{match['source']})" + ("; it is their segment" if match["is_segment"] else "")
            )
        lines.append(f"{match['history_share']:.0%} of the user's history is in this category.")
        if self.why["in_history"]:
            lines.append("The user already interacted with this item.")
        if self.why["nearest"]:
            lines.append(f"Nearest items in the history (cosine over {self.why['vectors']}):")
        return "\n".join(lines)
