"""The Train pane's one-line progress text and the formatting of its numbers (the numbers
themselves come from the engine's events)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.reactive import reactive
from textual.widget import Widget

from rlrec.engine.training.events import Progress, RunFinished


class StatusLine(Widget):
    """The progress text: one line, or as many as the widget is high. Changing it repaints
    this widget only (a `Static.update` would ask for a layout pass of the whole screen
    several times a second).

    Text given as parts (`update_parts`, most wanted first) is packed into the lines whole,
    joined by " · "; the parts that do not fit are left out, so a narrow screen loses the
    least wanted numbers, never half of one."""

    DEFAULT_CSS = "StatusLine { height: 1; width: 1fr; }"
    text: reactive[str] = reactive("", layout=False)
    parts: reactive[tuple[str, ...]] = reactive((), layout=False)

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(StatusLine.text, text)

    def render(self) -> str:
        if not self.parts:
            return self.text
        return "\n".join(pack_parts(self.parts, self.size.width, max(1, self.size.height)))

    def update(self, text: str) -> None:
        """Show `text` (wrapped at the widget's width)."""
        self.parts = ()
        self.text = text

    def update_parts(self, parts: Sequence[str]) -> None:
        """Show `parts`, most wanted first, as many as fit whole."""
        self.parts = tuple(parts)
        self.text = " · ".join(parts)


def pack_parts(parts: Sequence[str], width: int, lines: int, sep: str = " · ") -> list[str]:
    """`parts` in order into at most `lines` lines of at most `width` characters, each part
    whole; packing stops at the first part that fits on no line left (a part wider than
    `width` alone is cut)."""
    if width <= 0:
        return []
    packed: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{sep}{part}" if current else part
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            packed.append(current)
            current = ""
        if len(packed) == lines:
            return packed
        current = part[:width]
    if current and len(packed) < lines:
        packed.append(current)
    return packed


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


def progress_parts(event: Progress, normalised: float | None = None) -> list[str]:
    """The progress text of a Progress event as parts, most wanted first (a narrow screen
    shows the first that fit): steps, speed, ETA, return, the latest evaluation's normalised
    return (`normalised`: 0 = random, 1 = myopic oracle; left out when None), CTR, ε, loss,
    episodes, elapsed."""
    parts = [
        f"{event.env_steps:,} steps",
        f"{format_number(event.steps_per_second, ',.0f')} steps/s",
        f"ETA {format_duration(event.eta_seconds)}",
        f"return {format_number(event.episode_return, '.2f')}",
    ]
    if normalised is not None:
        parts.append(f"eval norm {format_number(normalised, '.2f')}")
    parts += [
        f"CTR {format_number(event.ctr, '.3f')}",
        f"ε {format_number(event.epsilon, '.3f')}",
        f"loss {format_number(event.loss, '.4f')}",
        f"{event.episodes:,} episodes",
        f"elapsed {format_duration(event.seconds)}",
    ]
    return parts


def progress_line(event: Progress, normalised: float | None = None) -> str:
    """`progress_parts` as one line."""
    return " · ".join(progress_parts(event, normalised))


def finish_parts(event: RunFinished, normalised: float | None = None) -> tuple[str, list[str]]:
    """How a RunFinished event is told: (the event log's sentence, the status line's parts,
    most wanted first). The parts are short so a narrow status line never cuts the step
    count or the time; `normalised` (the last evaluation's, None if none) follows unless the
    run ended with a message, which then is the whole of both."""
    done = f"{event.env_steps:,} steps in {format_duration(event.seconds)}"
    sentence = f"finished ({event.reason}) after {done}"
    if event.message:
        sentence += f": {event.message}"
        return sentence, [sentence]
    parts = [f"finished ({event.reason})", done]
    if normalised is not None:
        evaluation = f"eval norm {format_number(normalised, '.2f')}"
        parts.append(evaluation)
        sentence = f"{sentence} · {evaluation}"
    return sentence, parts
