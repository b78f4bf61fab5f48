"""A searchable list of users (id, segment, activity, interactions) for the explorer.

The users, their cells and the search all come from the engine's `UserIndex`
(`engine.serving.user_index`); this widget only shows them, in a virtual table (`UserRows`)
that draws the rows in view, so a million users list, scroll and search at the speed of
thirty. Each keystroke in the search runs it at once (a few milliseconds at a million
users). Posts `UserList.Highlighted` when the cursor lands on a user and `UserList.Chosen`
on enter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from rlrec.tui.widgets.user_rows import UserRows

if TYPE_CHECKING:
    from rlrec.engine.serving.user_index import UserIndex

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
        self._index: UserIndex | None = None
        self._counts_known = True
        self._columns: tuple[str, str, str, str] = COLUMNS
        self.shown_query: str | None = None  # the search the rows on screen answer

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ search: id prefix, segment, activity",
            id="explore-search",
            compact=True,
        )
        yield Static("", id="explore-user-count")
        yield UserRows(id="explore-user-table")

    def on_mount(self) -> None:
        self.table.show(None, [], self._columns)

    @property
    def table(self) -> UserRows:
        return self.query_one("#explore-user-table", UserRows)

    def set_users(self, index: UserIndex | None, counts_known: bool = True) -> None:
        """Show these users (None: none), filtered by the current search."""
        self._index = index
        self._counts_known = counts_known
        # MovieLens has occupations where the synthetic data has segments: say which.
        segment = (index.segment_from if index is not None else None) or "segment"
        self._columns = (COLUMNS[0], segment, COLUMNS[2], COLUMNS[3])
        self.fill(self.query_one("#explore-search", Input).value)

    def fill(self, query: str) -> None:
        """Show the users matching `query` and select the first (or say nobody matches)."""
        table = self.table
        count = self.query_one("#explore-user-count", Static)
        self.shown_query = query
        if self._index is None:
            table.show(None, [], self._columns)
            count.update("", layout=False)
            return
        matches = self._index.search(query)
        total = self._index.n_users
        # One line of fixed height: no layout pass for the whole screen at every keystroke.
        count.update(
            f"{len(matches):,} of {total:,} users" if query.strip() else f"{total:,} users",
            layout=False,
        )
        with self.app.batch_update():
            table.show(self._index, matches, self._columns, counts_known=self._counts_known)
        if table.row_count:
            # The cursor starts on row 0, which posts no move: say it here.
            self.post_message(self.Highlighted(table.get_row_at(0)[0]))
        else:
            self.post_message(self.NoMatch())

    def say(self, text: str) -> None:
        """Put `text` where the user count goes (plain text, not markup)."""
        self.query_one("#explore-user-count", Static).update(Text(text), layout=False)

    def focus_search(self) -> None:
        self.query_one("#explore-search", Input).focus()

    def focus_list(self) -> None:
        self.table.focus()

    def move(self, step: int) -> None:
        table = self.table
        table.move_cursor(row=table.cursor_row + step)

    @on(Input.Changed, "#explore-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.fill(event.value)

    @on(Input.Submitted, "#explore-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_list()

    @on(UserRows.CursorMoved)
    def _highlighted(self, event: UserRows.CursorMoved) -> None:
        event.stop()
        self.post_message(self.Highlighted(event.rows.get_row_at(event.row)[0]))

    @on(UserRows.Selected)
    def _chosen(self, event: UserRows.Selected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.rows.get_row_at(event.row)[0]))
