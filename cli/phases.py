"""Saying which slow phase a command is in ("loading …", "baseline popular (2/5)…").

On a terminal each phase shows as one status line on stderr with a spinner, rewritten in
place by the next phase and erased when the phases are over: the user sees something move
during a long load or evaluation, and an error that follows is still the only line left. Not on a terminal (a pipe, a log file), and with --json, nothing is
said, as with the progress bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def phases(quiet: bool = False) -> Iterator[Callable[[str], None] | None]:
    """A callback for the use cases' `on_phase` (None when `quiet` or stderr is no terminal)
    whose status line is erased when the block ends, however it ends."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    live: Any = None

    def say(text: str) -> None:
        nonlocal live
        spinner = Spinner("dots", text)
        if live is None:
            live = Live(spinner, console=console, transient=True, refresh_per_second=8)
            live.start()
        live.update(spinner, refresh=True)  # shown now, however short the phase

    try:
        yield say
    finally:
        if live is not None:
            live.stop()
