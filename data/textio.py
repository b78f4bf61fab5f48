"""Reading delimited text files so that every problem names `file:line`.

The importers read whole files, decode them themselves (so an undecodable byte is reported
with its line and column) and parse columns with vectorised pandas string operations, keeping
each row's line number beside it for the error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import RlrecError

SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "'::'"}


def separator_name(sep: str) -> str:
    return SEPARATOR_NAMES.get(sep, repr(sep))


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The decoded text of `path`; missing, empty or undecodable files raise RlrecError."""
    if not path.exists():
        raise RlrecError(f"{path}: no such file")
    if path.is_dir():
        raise RlrecError(f"{path}: is a folder, expected a file")
    raw = path.read_bytes()
    if not raw.strip():
        raise RlrecError(f"{path}: empty file")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RlrecError(
            f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not valid "
            f"{encoding} (re-save the file as UTF-8)"
        ) from None
    return text.removeprefix("\ufeff")


@dataclass
class Fields:
    """Columns of a delimited file as strings, with the 1-based line number of each row."""

    path: Path
    columns: list[pd.Series]
    line: np.ndarray

    def where(self, row: int) -> str:
        return f"{self.path}:{int(self.line[row])}"


def split_fields(path: Path, text: str, sep: str, n_fields: int, min_fields: int = 0) -> Fields:
    """Split every non-blank line into exactly `n_fields` fields (`min_fields`..n if given)."""
    lines = pd.Series(text.split("\n"), dtype=object).str.rstrip("\r")
    line_numbers = np.arange(1, len(lines) + 1)
    keep = (lines.str.strip() != "").to_numpy()
    lines, line_numbers = lines[keep].reset_index(drop=True), line_numbers[keep]
    found = (lines.str.count(re.escape(sep)) + 1).to_numpy()
    low = min_fields or n_fields
    bad = np.flatnonzero((found < low) | (found > n_fields))
    if len(bad):
        row = int(bad[0])
        expected = f"{n_fields}" if low == n_fields else f"{low} to {n_fields}"
        message = (
            f"{path}:{line_numbers[row]}: expected {expected} {separator_name(sep)}-separated "
            f"fields, found {found[row]}"
        )
        if found[row] == 1 and n_fields > 1:
            other = guess_separator(lines.iloc[row], exclude=sep)
            hint = f" it looks {separator_name(other)}-separated" if other else ""
            message += f" (wrong separator?{hint})"
        elif found[row] < low:
            message += " (truncated line?)"
        raise RlrecError(message)
    parts = lines.str.split(sep, n=n_fields - 1, regex=False, expand=True)
    parts = parts.reindex(columns=range(n_fields))
    columns = [parts[i].fillna("").astype(str).str.strip() for i in range(n_fields)]
    return Fields(path, columns, line_numbers)


def guess_separator(line: str, exclude: str | None = None) -> str | None:
    """The most frequent common separator in `line`, or None if there is none."""
    counts = {sep: line.count(sep) for sep in ("\t", ",", ";", "|", "::") if sep != exclude}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def _first_bad(fields: Fields, bad: np.ndarray, values: pd.Series, what: str, kind: str):
    row = int(np.flatnonzero(bad)[0])
    value = values.iloc[row]
    header_like = row == 0 and not bad[1:].all() and re.search(r"[A-Za-z]", value)
    if header_like and fields.line[0] == 1:
        raise RlrecError(
            f"{fields.where(0)}: looks like a header line ({value!r} where {what} should be); "
            f"{fields.path.name} has no header"
        )
    shown = value if value else "(empty)"
    raise RlrecError(f"{fields.where(row)}: {what} {shown!r} is not {kind}")


def parse_ints(fields: Fields, values: pd.Series, what: str) -> np.ndarray:
    ok = values.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).to_numpy(bool)
    if not ok.all():
        _first_bad(fields, ~ok, values, what, "an integer")
    return values.to_numpy(dtype=object).astype(np.int64)


def parse_floats(fields: Fields, values: pd.Series, what: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    ok = np.isfinite(numbers)
    if not ok.all():
        _first_bad(fields, ~ok, values, what, "a number")
    return numbers


def check_range(fields: Fields, values: np.ndarray, what: str, low: float, high: float) -> None:
    bad = np.flatnonzero((values < low) | (values > high))
    if len(bad):
        row = int(bad[0])
        shown = f"{values[row]:g}" if isinstance(values[row], float) else values[row]
        raise RlrecError(f"{fields.where(row)}: {what} {shown} is outside {low:g}..{high:g}")
