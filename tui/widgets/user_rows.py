"""A virtual table of users: only the rows on screen are drawn, so a million users scroll and
move like thirty.

Textual's DataTable keeps a Python object per row and measures them all; filling it with a
million users takes minutes. This widget is a Line API `ScrollView` (the way Toolong shows
multi-GiB logs): its virtual height is the number of matching users, and `render_line` asks
the engine's `UserIndex` for the cells of the few rows in view. The matching rows are one
int64 array (`UserIndex.search`); the cursor is a position in it.

Looks like the DataTable it replaces (header, zebra stripes, block cursor) and keeps the
parts of its interface the pane and tests use: `row_count`, `cursor_row`, `move_cursor`,
`get_row_at`, `columns`. Posts `CursorMoved` when the cursor lands on another row and
`Selected` on enter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from rlrec.engine.serving.user_index import UserIndex

CELL_PADDING = 1  # blank cells either side of a value, as DataTable draws them
WINDOW = 256  # rows whose cells are fetched from the index at once


class UserRows(ScrollView, can_focus=True):
    """The users at `rows` (positions in a `UserIndex`), one line each under a header."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "jump(0)", "First", show=False),
        Binding("end,ctrl+end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "user-rows--header",
        "user-rows--cursor",
        "user-rows--even-row",
    }

    DEFAULT_CSS = """
    UserRows {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .user-rows--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .user-rows--header { background-tint: $foreground 5%; }
        }
        &:dark > .user-rows--even-row { background: $surface-darken-1 40%; }
        & > .user-rows--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .user-rows--header { background: ansi_bright_blue; color: ansi_default; }
        & > .user-rows--even-row { background: $surface-lighten-1 50%; }
        & > .user-rows--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    @dataclass
    class CursorMoved(Message):
        """The cursor is on row `row` (a position in the shown rows)."""

        rows: UserRows
        row: int

    @dataclass
    class Selected(Message):
        """`enter` on row `row`."""

        rows: UserRows
        row: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._index: UserIndex | None = None
        self._rows = np.zeros(0, np.int64)
        self._labels: tuple[str, ...] = ()
        self._widths: tuple[int, ...] = ()
        self._counts_known = True
        self.cursor_row = 0
        # A few screens of lines: each Strip brings a dozen objects the collector walks.
        self._lines: LRUCache[tuple, Strip] = LRUCache(256)
        self._window: tuple[int, list[tuple[str, str, str, str]]] = (0, [])
        self._styles: dict[tuple[str, bool], Style] = {}

    # -- what is shown -----------------------------------------------------------------------
    def show(
        self,
        index: UserIndex | None,
        rows: np.ndarray | list[int],
        labels: tuple[str, str, str, str],
        *,
        counts_known: bool = True,
    ) -> None:
        """Show the users at `rows` of `index` (None: nobody) under these four column labels
        (id, segment, activity, interactions); the cursor goes to the first row."""
        self._index = index
        self._rows = np.asarray(rows, np.int64) if index is not None else np.zeros(0, np.int64)
        self._labels = labels
        self._counts_known = counts_known
        self._widths = self._column_widths(index, labels)
        self._lines.clear()
        self._window = (0, [])
        width = sum(w + 2 * CELL_PADDING for w in self._widths)
        self.virtual_size = Size(width, len(self._rows) + 1)  # + the header line
        self.cursor_row = 0
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _column_widths(self, index: UserIndex | None, labels: tuple[str, ...]) -> tuple[int, ...]:
        # Widths from the whole population (not the rows in view), so columns stay put as the
        # list scrolls and a search narrows it; the index knows them without a scan.
        if index is None:
            return tuple(cell_len(label) for label in labels)
        values = (
            index.max_id_length,
            max((cell_len(str(v)) for v in index.segment.values), default=0),
            max((cell_len(str(v)) for v in index.activity.values), default=0),
            len(str(index.max_interactions)) if self._counts_known else 1,
        )
        return tuple(max(cell_len(label), v) for label, v in zip(labels, values, strict=True))

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def columns(self) -> tuple[str, ...]:
        """The column labels, left to right."""
        return self._labels

    def user_at(self, row: int) -> int:
        """The user (row of the index) shown at position `row`."""
        return int(self._rows[row])

    def get_row_at(self, row: int) -> tuple[str, str, str, str]:
        """The cells shown at position `row` (as text)."""
        start, cells = self._window
        if not start <= row < start + len(cells):
            # One call to the index for a screenful and more, not one per line drawn.
            assert self._index is not None
            start = max(0, row - WINDOW // 4)
            cells = [
                (original, segment, activity, self._count(count))
                for original, segment, activity, count in self._index.rows(
                    self._rows[start : start + WINDOW]
                )
            ]
            self._window = (start, cells)
        return cells[row - start]

    def _count(self, count: int | None) -> str:
        return "–" if count is None or not self._counts_known else str(count)

    # -- the cursor --------------------------------------------------------------------------
    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on position `row` (clamped), scroll it into view, and post
        `CursorMoved` if it moved or the list was just filled."""
        if not self.row_count:
            return
        row = max(0, min(self.row_count - 1, int(row)))
        moved = row != self.cursor_row
        previous, self.cursor_row = self.cursor_row, row
        self._scroll_to_cursor()
        self._refresh_row(previous)
        self._refresh_row(row)
        if moved:
            self.post_message(self.CursorMoved(self, row))

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self._page:
            self.scroll_to(y=self.cursor_row - self._page + 1, animate=False, immediate=True)

    def _refresh_row(self, row: int) -> None:
        if 0 <= row - int(self.scroll_y) < self.size.height - 1:
            self.refresh_line(row + 1)  # in virtual lines, under the header line

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * self._page)

    def action_jump(self, row: int) -> None:
        self.move_cursor(row=self.row_count - 1 if row < 0 else row)

    def action_select(self) -> None:
        if self.row_count:
            self.post_message(self.Selected(self, self.cursor_row))

    async def _on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < self.row_count:
            self.move_cursor(row=row)
            if event.chain == 2:
                self.action_select()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        self._lines.clear()
        super().watch_scroll_y(old_value, new_value)

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        self._lines.clear()
        super().watch_scroll_x(old_value, new_value)

    def notify_style_update(self) -> None:
        self._lines.clear()
        self._styles.clear()
        super().notify_style_update()

    def _on_focus(self, event: events.Focus) -> None:
        self._lines.clear()  # the cursor's look depends on focus

    def _on_blur(self, event: events.Blur) -> None:
        self._lines.clear()

    # -- drawing -----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = scroll_y + y - 1
        key = (y, row, scroll_x, width, row == self.cursor_row, self.has_focus)
        cached = self._lines.get(key)
        if cached is not None:
            return cached
        base = style = self._style("")
        if y == 0:
            style = self._style("user-rows--header")
            strip = self._line(self._labels, style)
        elif 0 <= row < self.row_count:
            if row == self.cursor_row:
                style = self._style("user-rows--cursor")
            elif row % 2 == 0:
                style = self._style("user-rows--even-row")
            strip = self._line(self.get_row_at(row), style)
        else:
            strip = Strip.blank(width, base)
        # A row's look runs to the right edge, as DataTable's does.
        strip = strip.crop_extend(scroll_x, scroll_x + width, style)
        self._lines[key] = strip
        return strip

    def _style(self, component: str) -> Style:
        """The widget's style plus `component`'s ('' for none), as it looks now (focus)."""
        key = (component, self.has_focus)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            if component:
                style += self.get_component_rich_style(component)
            self._styles[key] = style
        return style

    def _line(self, cells: tuple[str, ...], style: Style) -> Strip:
        pad = " " * CELL_PADDING
        parts = []
        for cell, width in zip(cells, self._widths, strict=True):
            parts.append(pad + set_cell_size(cell, width) + pad)
        return Strip([Segment("".join(parts), style)])
