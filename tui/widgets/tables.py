"""Filling a DataTable whose rows all arrive at once."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable


def fill_table(
    table: DataTable,
    columns: Sequence[str],
    rows: Sequence[Sequence[Text]],
    keys: Sequence[str] | None = None,
) -> None:
    """Replace `table`'s columns and rows (`len(columns)` cells each, keyed by `keys` when
    given), each column as wide as its label or widest cell, in terminal cells.

    Widths are set here, not left to DataTable: it measures new rows on its next idle, and a
    frame drawn before that caches the header at the old widths (its cache key has no
    width), which then stays misaligned with the rows under it."""
    table.clear(columns=True)
    for index, label in enumerate(columns):
        width = max([len(label)] + [row[index].cell_len for row in rows])
        table.add_column(label, width=width)
    for n, row in enumerate(rows):
        table.add_row(*row, key=None if keys is None else keys[n])
