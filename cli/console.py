"""The console results are printed on: a terminal's own width on a terminal; piped or
redirected to a file, wide enough that no table is folded and no column label cut (rich
would otherwise assume 80 columns and shorten labels to fit)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Wider than any table rlrec prints: a table takes its natural width, never this one.
PIPE_WIDTH = 1000


def stdout_console() -> Console:
    """A rich `Console` on stdout (see the module docstring for its width)."""
    from rich.console import Console

    isatty = getattr(sys.stdout, "isatty", None)
    on_terminal = bool(isatty and isatty())
    return Console(file=sys.stdout, width=None if on_terminal else PIPE_WIDTH)
