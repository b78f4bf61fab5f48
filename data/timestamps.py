"""Timestamps of an imported log, read value by value and kept to the millisecond.

A timestamp column holds either Unix times (whole or fractional numbers) or ISO 8601 dates
(UTC unless they give a zone). Each Unix time's unit is read from its size — seconds below
10^11 (the year 5138), milliseconds below 10^14, microseconds below 10^17, nanoseconds above —
and one column must use one unit and one format: the first row that disagrees with the rest
of the column (its most common unit or format) is refused, naming its row. A missing value (empty cell, null, NaN) is
refused on its own row, never by re-reading the whole column as dates.

The result is int64 Unix milliseconds (UTC; dates before 1970 are negative): importers keep
the whole-second `timestamp` column of the schema and, when the source had sub-second
resolution, `timestamp_ms` beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa

# (values below this in size, the unit they are read in)
UNITS = (
    (10**11, "unix seconds"),
    (10**14, "unix milliseconds"),
    (10**17, "unix microseconds"),
    (10**19, "unix nanoseconds"),
)
ISO = "iso 8601"
# Empty cells and what writers put for a null (no lower-casing: a copy of a 25M-row column).
MISSING_TEXT = ("", "nan", "NaN", "NAN", "none", "None", "NONE", "null", "Null", "NULL", "nat",
                "NaT", "NAT", "<NA>", "<na>")  # fmt: skip
NUMBER = r"[+-]?\d+(\.\d*)?"
ISO_BLOCK_ROWS = 1 << 20  # dates parsed at a time (see `_iso_milliseconds`)

# fail(row, text, value): raise for data row `row` (0-based) with the message `text`.
Fail = Callable[[int, str, str], NoReturn]


def parse_timestamps(raw: pd.Series, fail: Fail) -> tuple[np.ndarray, str]:
    """(int64 Unix milliseconds per row, the column's unit name) for stripped text `raw`.

    Units: "unix seconds" | "unix milliseconds" | "unix microseconds" | "unix nanoseconds" |
    "iso 8601". Calls `fail` (which raises) for the first missing or unreadable value, and for
    the first row whose format or unit differs from most of the column's."""
    missing = raw.isin(MISSING_TEXT).to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        fail(row, "missing timestamp", raw.iloc[row])
    numeric = raw.str.fullmatch(NUMBER).to_numpy(bool)
    if numeric.all():
        return _unix_milliseconds(raw, fail)
    if not numeric.any():  # all dates: read block by block, Arrow first
        milliseconds, unreadable = _iso_milliseconds(raw)
        if unreadable.any():
            row = int(np.flatnonzero(unreadable)[0])
            fail(row, f"timestamp {raw.iloc[row]!r} is neither a Unix time nor an ISO 8601 "
                 "date", raw.iloc[row])  # fmt: skip
        return milliseconds, ISO
    parsed = pd.to_datetime(raw.where(~numeric), errors="coerce", utc=True, format="ISO8601")
    unreadable = ~numeric & parsed.isna().to_numpy()
    if unreadable.any():
        row = int(np.flatnonzero(unreadable)[0])
        fail(row, f"timestamp {raw.iloc[row]!r} is neither a Unix time nor an ISO 8601 date",
             raw.iloc[row])  # fmt: skip
    if numeric.any():  # some Unix times among the dates: blame the minority's first row
        numbers_win = int(numeric.sum() * 2 > len(numeric))
        row = int(np.flatnonzero(numeric != numbers_win)[0])
        kinds = ("an ISO 8601 date", "a Unix time")
        fail(row, f"timestamp {raw.iloc[row]!r} is {kinds[1 - numbers_win]} but most of the "
             f"column is {kinds[numbers_win]} (one format per column)", raw.iloc[row])  # fmt: skip
    naive = parsed.dt.tz_convert(None).to_numpy()
    return naive.astype("datetime64[ms]").astype(np.int64), ISO


def _iso_milliseconds(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int64 Unix milliseconds, unreadable) of ISO 8601 dates, `ISO_BLOCK_ROWS` at a time:
    Arrow reads a block whose dates all give a zone or all give none; pandas reads any other
    block (a mix, finer than milliseconds, a bad date), so one bad row among 25M costs one
    block of Python-level parsing, not the whole column's."""
    milliseconds = np.zeros(len(raw), dtype=np.int64)
    unreadable = np.zeros(len(raw), dtype=bool)
    for start in range(0, len(raw), ISO_BLOCK_ROWS):
        block = raw.iloc[start : start + ISO_BLOCK_ROWS]
        fast = _arrow_iso_milliseconds(block)
        if fast is not None:
            milliseconds[start : start + len(block)] = fast
            continue
        parsed = pd.to_datetime(block, errors="coerce", utc=True, format="ISO8601")
        missing = parsed.isna().to_numpy()
        naive = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[ms]")
        milliseconds[start : start + len(block)] = np.where(missing, 0, naive.astype(np.int64))
        unreadable[start : start + len(block)] = missing
    return milliseconds, unreadable


def _arrow_iso_milliseconds(raw: pd.Series) -> np.ndarray | None:
    """int64 Unix milliseconds of ISO 8601 dates that all give a zone, or all give none
    (read as UTC), parsed by Arrow without a Python object per row; None for anything else
    (a mix, finer than milliseconds, a form Arrow does not read): pandas then reads them."""
    text = pa.array(raw)
    for kind in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
        try:
            return text.cast(kind).cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _unix_milliseconds(raw: pd.Series, fail: Fail) -> tuple[np.ndarray, str]:
    fractional = bool(raw.str.contains(".", regex=False).any())
    if fractional:
        parts = raw.str.partition(".")
        integral_text, fraction_text = parts[0], parts[2]
    else:  # whole numbers, the common case: no more columns of text
        integral_text, fraction_text = raw, None
    size = integral_text.str.lstrip("+-").str.lstrip("0").str.len().to_numpy()
    # 10^19 and above do not fit in int64; report them instead of an Arrow overflow.
    too_long = size > 19
    integral = np.zeros(len(raw), dtype=np.int64)
    fits = ~too_long
    if fits.any():
        try:
            integral[fits] = (
                pa.array(integral_text[fits].str.removeprefix("+"), type=pa.string())
                .cast(pa.int64())
                .to_numpy()
            )
        except pa.ArrowInvalid:
            too_long |= size >= 19  # 19 digits above 9.22e18
    if too_long.any():
        row = int(np.flatnonzero(too_long)[0])
        fail(row, f"timestamp {raw.iloc[row]!r} is too large for a Unix time", raw.iloc[row])
    magnitude = np.abs(integral)
    unit_index = np.searchsorted([bound for bound, _ in UNITS], magnitude, side="right")
    unit_index = np.minimum(unit_index, len(UNITS) - 1)
    unit = int(np.argmax(np.bincount(unit_index, minlength=len(UNITS))))  # the column's
    disagree = np.flatnonzero(unit_index != unit)
    if len(disagree):
        row = int(disagree[0])
        share = f"{int((unit_index == unit).sum()):,} of {len(unit_index):,}"
        fail(
            row,
            f"timestamp {raw.iloc[row]!r} reads as {UNITS[unit_index[row]][1]} but most of the "
            f"column ({share} values) reads as {UNITS[unit][1]} (one unit per column)",
            raw.iloc[row],
        )
    if fraction_text is None:  # whole numbers: seconds scale up, finer units floor down
        milliseconds = integral * 1000 if unit == 0 else integral // 1000 ** (unit - 1)
        return milliseconds.astype(np.int64), UNITS[unit][1]
    negative = raw.str.startswith("-").to_numpy()
    if unit == 0:  # seconds: keep the first three fraction digits as milliseconds
        fraction = pd.to_numeric(fraction_text.str[:3].str.ljust(3, "0")).to_numpy(np.int64)
        milliseconds = integral * 1000 + np.where(negative, -fraction, fraction)
    else:
        divisor = 1000 ** (unit - 1)
        # Below a millisecond is dropped, towards the past (floor), also before 1970.
        milliseconds = np.floor_divide(integral, divisor)
        sub_unit = (fraction_text.str.strip("0") != "").to_numpy()
        adjust = negative & sub_unit & (np.remainder(integral, divisor) == 0)
        milliseconds = milliseconds - adjust
    return milliseconds.astype(np.int64), UNITS[unit][1]


def whole_seconds(milliseconds: np.ndarray) -> np.ndarray:
    """int64 Unix seconds (floor) of int64 Unix milliseconds: the schema's `timestamp`."""
    return np.floor_divide(milliseconds, 1000).astype(np.int64)
