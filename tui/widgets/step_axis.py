"""The axes of the training charts: round tick positions, env steps on x labelled as whole
steps with thousands and millions written short (`950`, `40k`, `1.2M`), the values on y with
just the decimals their spacing needs (`0.25`, `30`, `32.5k`).

Axis formatting only: the numbers themselves are the engine's. Plotext would otherwise
label evenly spaced raw floats (`123456.789`, `32560.3`).
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
    return round_ticks(low, high, most, whole=True)


def round_ticks(low: float, high: float, most: int, *, whole: bool = False) -> list[float]:
    """At most `most` (≥ 1) positions in [low, high], 1, 2 or 5 × 10^k apart (k ≥ 0 when
    `whole`), e.g. (0.05, 1.0, 5) → 0.2, 0.4, 0.6, 0.8, 1. A single point (`high <= low`)
    gets its own tick; a span with no round position inside gets its ends."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [float(round(low))] if whole else [float(low)]
    most = max(1, most)
    step = _nice_at_least((high - low) / most)
    if whole:
        step = max(1.0, step)
    ticks = _ticks_from(low, high, step, most)
    if not whole and len(ticks) < 2 <= most:  # one value tick reads as no scale: go finer
        step = _nice_at_least(step / 2.5)
        ticks = _ticks_from(low, high, step, most)
    if not whole:  # 0.1 × 3 is 0.30000000000000004: snap to the step's decimals
        decimals = max(0, math.ceil(-math.log10(step) - 1e-9))
        ticks = [round(t, decimals) + 0.0 for t in ticks]
    return ticks or ([float(round(low)), float(round(high))] if whole else [low, high])


def _ticks_from(low: float, high: float, step: float, most: int) -> list[float]:
    """The multiples of `step` in [low, high], every other one past `most`."""
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + 1e-9 * step and len(ticks) <= most:
        ticks.append(float(value))
        value = first + len(ticks) * step
    if len(ticks) > most:  # the rounding of `step` up keeps this rare; never crowd the axis
        ticks = ticks[::2]
    return ticks


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


def format_value(value: float, step: float | None = None) -> str:
    """A y-axis value with the decimals its tick spacing `step` needs (`0.25`, `30`); from a
    thousand up written short as env steps are (`32.5k`, `1.2M`)."""
    if abs(value) >= 1e3:
        return format_steps(value, step)
    if step is None or step <= 0:
        return f"{value:g}"
    decimals = min(6, max(0, math.ceil(-math.log10(step) - 1e-9)))
    return f"{value:.{decimals}f}"


def label_value_axis(plt: Any, low: float, high: float, height: int) -> None:
    """Set plotext's y ticks to round values between `low` and `high` (the data's range)
    for a chart `height` rows high (about one tick every third row, at most five)."""
    ticks = round_ticks(low, high, min(5, max(2, (height - 4) // 3)))
    if not ticks:
        return
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    plt.yticks(ticks, [format_value(t, step) for t in ticks])
