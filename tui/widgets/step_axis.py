"""The env-steps x axis of the training charts: round tick positions labelled as whole steps,
thousands and millions written short (`950`, `40k`, `1.2M`).

Axis formatting only: the steps themselves are the engine's (the events' `env_steps`).
Plotext would otherwise label evenly spaced raw floats (`123456.789`).
"""

from __future__ import annotations

import math
from typing import Any

# Columns a tick label gets on average (a label such as "1.25M" and the space after it).
COLUMNS_PER_TICK = 7
MAX_TICKS = 8  # a wide chart gets no more: round steps read better than many of them
UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def step_ticks(low: float, high: float, most: int) -> list[float]:
    """At most `most` (≥ 1) whole-step positions in [low, high], 1, 2 or 5 × 10^k apart,
    e.g. (1024, 40960, 5) → 10k, 20k, 30k, 40k. A single point (`high <= low`) gets its
    own tick; a span with no round position inside gets its ends."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [float(round(low))]
    most = max(1, most)
    rough = (high - low) / most
    step = max(1.0, _nice_at_least(rough))
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + 1e-9 * step and len(ticks) <= most:
        ticks.append(float(value))
        value = first + len(ticks) * step
    if len(ticks) > most:  # the rounding of `step` up keeps this rare; never crowd the axis
        ticks = ticks[::2]
    return ticks or [float(round(low)), float(round(high))]


def _nice_at_least(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k that is ≥ `value` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= value * (1 - 1e-12):
            return factor * power
    return 10.0 * power  # pragma: no cover — the loop always returns


def format_steps(value: float, step: float | None = None) -> str:
    """`value` env steps written short: `950`, `40k`, `1.5k`, `1.2M`, `2B`. With `step`
    (the distance between neighbouring ticks) just enough decimals to tell them apart; where
    that would take more than two, the whole number (`1,000,050`)."""
    found = next(((u, s) for u, s in UNITS if abs(value) >= u), None)
    if found is None:
        return f"{value:.0f}"
    unit, suffix = found
    scaled = value / unit
    if step is not None and step > 0:
        decimals = max(0, math.ceil(-math.log10(step / unit) - 1e-9))
    else:
        decimals = 1
    if decimals > 2:
        return f"{value:,.0f}"
    text = f"{scaled:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + suffix


def label_step_axis(plt: Any, low: float, high: float, width: int) -> None:
    """Set plotext's x ticks to round env steps between `low` and `high` (the data's span)
    for a chart `width` columns wide."""
    ticks = step_ticks(low, high, min(MAX_TICKS, max(2, width // COLUMNS_PER_TICK)))
    if not ticks:
        return
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    plt.xticks(ticks, [format_steps(t, step) for t in ticks])
