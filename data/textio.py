"""Reading delimited text files so that every problem names `file:line`.

The importers read whole files, decode them themselves (so an undecodable byte is reported
with its line and column) and parse columns with vectorised pandas string operations, keeping
each row's line number beside it for the error messages.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rlrec.data.errors import Option, RlrecError, require_file

SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "'::'"}


def separator_name(sep: str) -> str:
    return SEPARATOR_NAMES.get(sep, repr(sep))


def check_encoding(encoding: str | None) -> str | None:
    """`encoding` if Python knows it, as given (None or "": detect). Raises RlrecError with
    option "encoding"."""
    if encoding is None or encoding == "":
        return None
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise RlrecError(
            [Option("encoding", repr(encoding)), ": not a known text encoding (e.g. utf-8, "
             "latin-1, cp1252)"], value=encoding, option="encoding",
        ) from None  # fmt: skip
    return encoding


def read_text(path: Path, encoding: str | None = None) -> str:
    """The decoded text of `path`; missing, empty or undecodable files raise RlrecError.

    `encoding` None detects it: UTF-8 when the bytes are valid UTF-8 (a Latin-1 file with any
    accented letter never is), else Latin-1 (which decodes any byte). A given encoding is
    used as is; a byte it cannot decode is reported with its line and column."""
    require_file(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise RlrecError(f"{path}: empty file", file=path)
    if encoding is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        return text.removeprefix("\ufeff")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RlrecError(
            [f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not valid "
             f"{encoding} (", Option("encoding"), " to read it otherwise)"],
            file=path, line=line, value=encoding, option="encoding",
        ) from None  # fmt: skip
    return text.removeprefix("\ufeff")


class ConsecutiveLines:
    """Line numbers of rows that sit one per line from line `first` on (no blank lines, no
    line break inside a field): row r is on line first + r, without an array per row."""

    def __init__(self, first: int, rows: int):
        self.first, self.rows = first, rows

    def __getitem__(self, row: int) -> int:
        return self.first + int(row)

    def __len__(self) -> int:
        return self.rows


@dataclass
class Fields:
    """Columns of a delimited file as strings, with the 1-based line number of each row."""

    path: Path
    columns: list[pd.Series]
    line: np.ndarray | ConsecutiveLines

    def where(self, row: int) -> str:
        return f"{self.path}:{int(self.line[row])}"

    def location(self, row: int) -> dict[str, Any]:
        """The RlrecError fields locating row `row` (0-based): file and line."""
        return {"file": self.path, "line": int(self.line[row])}


def split_fields(path: Path, text: str, sep: str, n_fields: int) -> Fields:
    """Split every non-blank line into exactly `n_fields` fields (no quoting, as MovieLens)."""
    # Arrow's reader wants a one-byte delimiter; '::' (MovieLens 1M) becomes the unit separator.
    delimiter = sep if len(sep) == 1 else "\x1f"
    if delimiter != sep:
        text = text.replace(sep, delimiter)
    invalid: list[pacsv.InvalidRow] = []
    blank_lines: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.text.strip() == "":
            blank_lines.append(row.number)
        else:
            invalid.append(row)
        return "skip"

    names = [f"f{i}" for i in range(n_fields)]
    table = pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            invalid_row_handler=on_invalid,
            ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False
        ),
    )
    if invalid:
        _wrong_field_count(path, invalid[0], sep, delimiter)
    total = len(table) + len(blank_lines)
    keep = np.ones(total, dtype=bool)
    keep[np.asarray(blank_lines, dtype=np.int64) - 1] = False
    line_numbers = np.arange(1, total + 1)[keep]
    columns = [
        pd.Series(pc.utf8_trim_whitespace(table.column(i)).to_pandas()) for i in range(n_fields)
    ]
    if not len(table):
        raise RlrecError(f"{path}: empty file", file=path)
    return Fields(path, columns, line_numbers)


def _wrong_field_count(path: Path, row: pacsv.InvalidRow, sep: str, delimiter: str) -> None:
    found, expected = row.actual_columns, row.expected_columns
    message = (
        f"{path}:{row.number}: expected {expected} {separator_name(sep)}-separated fields, "
        f"found {found}"
    )
    if found == 1 and expected > 1:
        other = guess_separator(row.text.replace(delimiter, sep), exclude=sep)
        hint = f" it looks {separator_name(other)}-separated" if other else ""
        message += f" (wrong separator?{hint})"
    elif found < expected:
        message += " (truncated line?)"
    raise RlrecError(message)


def guess_separator(line: str, exclude: str | None = None) -> str | None:
    """The most frequent common separator in `line`, or None if there is none."""
    counts = {sep: line.count(sep) for sep in ("\t", ",", ";", "|", "::") if sep != exclude}
    best = max(counts, key=lambda sep: counts[sep])
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
    raise RlrecError(
        f"{fields.where(row)}: {what} {shown!r} is not {kind}", **fields.location(row), value=value
    )


def parse_ints(fields: Fields, values: pd.Series, what: str) -> np.ndarray:
    ok = values.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).to_numpy(bool)
    if not ok.all():
        _first_bad(fields, ~ok, values, what, "an integer")
    unsigned = values.str.removeprefix("+")  # Arrow's cast accepts "-7" but not "+7"
    return pa.array(unsigned, type=pa.string()).cast(pa.int64()).to_numpy()


def parse_floats(fields: Fields, values: pd.Series, what: str) -> np.ndarray:
    try:  # fast path: Arrow's cast; on failure, find the first bad row the slow way
        numbers = pa.array(values, type=pa.string()).cast(pa.float64()).to_numpy()
    except pa.ArrowInvalid:
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
        raise RlrecError(
            f"{fields.where(row)}: {what} {shown} is outside {low:g}..{high:g}",
            **fields.location(row),
            value=values[row].item(),
            allowed=(low, high),
        )
