"""The Train pane's one-line progress text and the formatting of its numbers (the numbers
themselves come from the engine's events)."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual.widget import Widget

from rlrec.engine.training.events import Progress


class StatusLine(Widget):
    """The one-line progress text. Changing it repaints this line only (a `Static.update`
    would ask for a layout pass of the whole screen several times a second)."""

    DEFAULT_CSS = "StatusLine { height: 1; width: 1fr; }"
    text: reactive[str] = reactive("", layout=False)

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(StatusLine.text, text)

    def render(self) -> str:
        return self.text

    def update(self, text: str) -> None:
        self.text = text


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_number(value: float | None, spec: str = ".3f") -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return format(value, spec)


def progress_line(event: Progress) -> str:
    """One line from a Progress event, most wanted first (a narrow screen wraps or cuts
    the end): steps, speed, ETA, return, CTR, ε, loss, episodes, elapsed."""
    return (
        f"{event.env_steps:,} steps · "
        f"{format_number(event.steps_per_second, ',.0f')} steps/s · "
        f"ETA {format_duration(event.eta_seconds)} · "
        f"return {format_number(event.episode_return, '.2f')} · "
        f"CTR {format_number(event.ctr, '.3f')} · "
        f"ε {format_number(event.epsilon, '.3f')} · "
        f"loss {format_number(event.loss, '.4f')} · "
        f"{event.episodes:,} episodes · elapsed {format_duration(event.seconds)}"
    )
