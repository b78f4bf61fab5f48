"""The Explore pane's user list over a large population (200,000 users, built in memory):
only the rows in view are drawn, the keys move through all of them, the search jumps to a
user, and the details follow the cursor."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from rlrec.engine.serving.user_index import UserIndex
from rlrec.tui.screen_text import screen_text
from rlrec.tui.widgets.user_list import UserList
from rlrec.tui.widgets.user_rows import UserRows
from tests.tui.fake_trainer import sync

N_USERS = 200_000


def _index() -> UserIndex:
    rng = np.random.default_rng(0)
    ids = np.char.add("u", np.arange(N_USERS).astype(str))
    segments = rng.choice(["books", "music", "travel"], N_USERS)
    activity = rng.choice(["low", "high"], N_USERS)
    return UserIndex(ids, segments, activity, rng.integers(0, 99, N_USERS))


class ListApp(App):
    """The user list beside a details line that shows whoever the list selects."""

    def __init__(self, index: UserIndex) -> None:
        super().__init__()
        self.index = index
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield UserList(id="users")
        yield Static("", id="details")

    def on_mount(self) -> None:
        self.query_one(UserList).set_users(self.index)

    def on_user_list_highlighted(self, message: UserList.Highlighted) -> None:
        row = self.index.find(message.user)
        original, segment, activity, n = self.index.rows(np.array([row]))[0]
        self.query_one("#details", Static).update(f"details of {original}: {segment} {n}")

    def on_user_list_no_match(self) -> None:
        self.query_one("#details", Static).update("nobody")

    def on_user_list_chosen(self, message: UserList.Chosen) -> None:
        self.chosen.append(message.user)


def _details(app: App) -> str:
    return str(app.query_one("#details", Static).render())


def _cursor_in_view(table: UserRows) -> bool:
    top = int(table.scroll_y)
    return top <= table.cursor_row < top + table.scrollable_content_region.height - 1


@sync
async def test_keys_move_through_two_hundred_thousand_users():
    app = ListApp(_index())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(UserRows)
        assert table.row_count == N_USERS
        assert "200,000 users" in str(app.query_one("#explore-user-count", Static).render())
        assert _details(app).startswith("details of u0:")
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == N_USERS - 1 and _cursor_in_view(table)
        assert _details(app).startswith(f"details of u{N_USERS - 1}:")
        assert f"u{N_USERS - 1}" in screen_text(app)  # the last row is drawn
        await pilot.press("up", "up")
        assert table.cursor_row == N_USERS - 3
        assert _details(app).startswith(f"details of u{N_USERS - 3}:")
        await pilot.press("home", "pagedown")
        page = table.cursor_row
        assert page > 1 and _cursor_in_view(table)
        assert _details(app).startswith(f"details of u{page}:")
        await pilot.press("pagedown", "pageup", "down")
        assert table.cursor_row == page + 1
        await pilot.press("enter")
        assert app.chosen == [f"u{page + 1}"]
        # The row under the cursor shows the index's cells for that user.
        original, segment, activity, n = app.index.rows(np.array([page + 1]))[0]
        assert table.get_row_at(page + 1) == (original, segment, activity, str(n))


@sync
async def test_search_jumps_to_a_user_and_narrows_by_segment():
    app = ListApp(_index())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(UserRows)
        app.query_one("#explore-search", Input).focus()
        await pilot.press(*"u12345")
        await pilot.pause()
        count = str(app.query_one("#explore-user-count", Static).render())
        assert count.startswith("11 of 200,000 users")  # u12345 and u123450..u123459
        assert table.cursor_row == 0 and table.get_row_at(0)[0] == "u12345"
        assert _details(app).startswith("details of u12345:")
        await pilot.press("6")
        await pilot.pause()
        assert table.row_count == 1 and _details(app).startswith("details of u123456:")
        search = app.query_one("#explore-search", Input)
        search.value = "music u19999"
        await pilot.pause()
        shown = [table.get_row_at(r) for r in range(table.row_count)]
        assert shown and all(r[1] == "music" and r[0].startswith("u19999") for r in shown)
        search.value = "u-nobody"
        await pilot.pause()
        assert table.row_count == 0 and _details(app) == "nobody"
        search.value = ""
        await pilot.pause()
        assert table.row_count == N_USERS and _details(app).startswith("details of u0:")
