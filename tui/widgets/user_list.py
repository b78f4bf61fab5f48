"""A searchable list of users (id, segment, activity, interactions) for the explorer.

The rows come from `engine.serving.explain.user_overview` (or `plain_overview` for a run without a
dataset) and the search from `engine.serving.explain.filter_users`; this widget only shows them. It
posts `UserList.Highlighted` when the cursor lands on a user and `UserList.Chosen` on enter.
Typing in the search filters once the typing pauses, and at most `ROW_LIMIT` rows are drawn,
so keys echo at once even for a large population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from rlrec.tui.widgets.explorer import plain
from rlrec.tui.widgets.tables import fill_table

if TYPE_CHECKING:
    import pandas as pd
    from textual.timer import Timer

ROW_LIMIT = 1000  # rows drawn at once (~20 ms to fill); the search narrows the rest
SEARCH_DELAY = 0.15  # seconds of quiet typing before the list is filtered
COLUMNS = ("user", "segment", "activity", "n")


class UserList(Vertical):
    DEFAULT_CSS = """
    UserList { height: 1fr; }
    UserList #explore-user-table { height: 1fr; }
    UserList #explore-user-count { height: 1; color: $text-muted; padding: 0 1; }
    """

    @dataclass
    class Highlighted(Message):
        """The cursor is on `user` (an original id)."""

        user: str

    class NoMatch(Message):
        """The search matches no user: nobody is selected."""

    @dataclass
    class Chosen(Message):
        """`enter` on a user."""

        user: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._overview: pd.DataFrame | None = None  # user, original_id, segment, …
        self._counts_known = True
        self._search_timer: Timer | None = None
        self._columns: tuple[str, ...] = COLUMNS

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ search: id, segment, activity", id="explore-search", compact=True
        )
        yield Static("", id="explore-user-count")
        yield DataTable(id="explore-user-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        fill_table(self.table, COLUMNS, [])

    @property
    def table(self) -> DataTable:
        return self.query_one("#explore-user-table", DataTable)

    def set_users(self, overview: pd.DataFrame | None, counts_known: bool = True) -> None:
        """Show these users (None: none), filtered by the current search."""
        self._overview = overview
        self._counts_known = counts_known
        # MovieLens has occupations where the synthetic data has segments: say which.
        segment = (getattr(overview, "attrs", {}) or {}).get("segment_from") or "segment"
        self._columns = (COLUMNS[0], segment, *COLUMNS[2:])
        self.fill(self.query_one("#explore-search", Input).value)

    def fill(self, query: str) -> None:
        from rlrec.engine.serving import explain

        table = self.table
        if self._overview is None:
            fill_table(table, self._columns, [])
            self.query_one("#explore-user-count", Static).update("")
            return
        matches = explain.filter_users(self._overview, query)
        rows = matches.head(ROW_LIMIT)
        total = len(self._overview)
        count = f"{len(matches):,} of {total:,} users" if query.strip() else f"{total:,} users"
        if len(rows) < len(matches):
            count += f" · first {len(rows):,} shown, search to narrow"
        self.query_one("#explore-user-count", Static).update(count)
        cells = [
            plain(
                record.original_id,
                record.segment,
                record.activity,
                record.interactions if self._counts_known else "–",
            )
            for record in rows.itertuples(index=False)
        ]
        with self.app.batch_update():
            fill_table(table, self._columns, cells, [str(user) for user in rows["original_id"]])
        if table.row_count:
            # The cursor may already sit on row 0, which posts no highlight: say it here.
            table.move_cursor(row=0)
            self.post_message(self.Highlighted(str(rows["original_id"].iloc[0])))
        else:
            self.post_message(self.NoMatch())

    def focus_search(self) -> None:
        self.query_one("#explore-search", Input).focus()

    def focus_list(self) -> None:
        self.table.focus()

    def move(self, step: int) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    @on(Input.Changed, "#explore-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self.fill(event.value))

    @on(Input.Submitted, "#explore-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_list()

    @on(DataTable.RowHighlighted, "#explore-user-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self.post_message(self.Highlighted(str(event.row_key.value)))

    @on(DataTable.RowSelected, "#explore-user-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self.post_message(self.Chosen(str(event.row_key.value)))
