"""A log file as a table of text columns, whatever its format, so every format fails alike.

`read_log_table` reads a delimited text file with a header (CSV/TSV, decoded as UTF-8 or
Latin-1, see `textio.read_text`) or a Parquet file, and gives every column as stripped text
the way the CSV would have held it: a null is an empty cell, a whole float id is "1" (not
"1.0"), a date is ISO 8601. The importers then check one kind of input, and a bad row is
reported the same way from CSV ("file:line") and Parquet ("file: row n").
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rlrec.data.errors import Option, RlrecError, require_file
from rlrec.data.memory import check_bytes_fit
from rlrec.data.textio import guess_separator, read_text, separator_name

PARQUET_SUFFIXES = (".parquet", ".pq")
# Peak memory of importing a log, beyond the ~170 MB the interpreter and libraries take: the
# whole text, Arrow's columns, one Python string per cell, then the interaction table and its
# sorts. Measured with `/usr/bin/time -v` (maximum RSS) on `rlrec import` of generated files
# (bench/memory_estimates.py makes them): a MovieLens ratings.csv layout (4 columns,
# 26 bytes a row) at 0.5M, 2M and 5M rows rose by 352-404 bytes a row, an 8-column event log
# (81 bytes a row) at 0.5M and 2M rows by 557; the same tables as Parquet by 393-404 and 873.
# Fitted per row as a fixed part plus a part per column (Parquet: per column only),
# rounded up so the estimate stays a few % above the measured peak.
# Plus a fixed part: Arrow's memory pool and the modules an import loads (bench: ~20-30 MB).
IMPORT_FIXED_BYTES = 32 * 2**20
# A clean MovieLens ratings.csv read typed (`read_number_columns`: 8 bytes a cell, no text)
# through to the saved dataset: `rlrec import movielens` of bench/ml25m_like.py layouts rose
# to a maximum RSS of 483 MB at 2M rows and 3.61 GB at 25M, 141-162 bytes a row above the
# interpreter's ~170 MB; rounded up.
TYPED_BYTES_PER_ROW = 175
READ_BYTES_PER_ROW = 260
READ_BYTES_PER_CELL = 40
PARQUET_BYTES_PER_CELL = 120
SAMPLE_BYTES = 1 << 20  # of a text file, to measure its bytes per line
# Encodings in which digits, '.', ',' and newlines are the ASCII bytes: numbers read alike.
ASCII_COMPATIBLE = ("utf-8", "utf-8-sig", "iso8859-1", "ascii", "cp1252")
BLOCK_BYTES = 16 << 20  # Arrow's CSV block: large blocks, few chunks to concatenate


class CsvTable:
    """Columns as text plus, for each row, where it came from (file:line or file: row n)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        line: np.ndarray | None,
        path: Path,
        sep: str | None,
        names: list[str] | None = None,
    ):
        self.frame, self.line, self.path, self.sep = frame, line, path, sep
        # Every column of the file (the frame may hold only the ones asked for).
        self.names = names if names is not None else list(map(str, frame.columns))

    def where(self, row: int) -> str:
        if self.line is None:  # Parquet has rows, not lines
            return f"{self.path}: row {row + 1}"
        return f"{self.path}:{int(self.line[row])}"

    def location(self, row: int) -> dict[str, Any]:
        """The RlrecError fields locating data row `row` (0-based): file and line, or row."""
        if self.line is None:
            return {"file": self.path, "row": row + 1}
        return {"file": self.path, "line": int(self.line[row])}

    def column(self, option: str, name: str) -> pd.Series:
        """Column `name` as stripped text; `option` is the parameter that named it."""
        if name not in self.frame.columns:
            found = ", ".join(self.names)
            hint: list[str | Option] = []
            if self.sep is not None and len(self.frame.columns) == 1:
                other = guess_separator(str(self.frame.columns[0]), exclude=self.sep)
                if other:
                    hint = ["; wrong ", Option("sep"), "? the header looks ",
                            f"{separator_name(other)}-separated"]  # fmt: skip
            raise RlrecError(
                [
                    Option(option, repr(name)),
                    f": no such column in {self.path} (columns: {found})",
                    *hint,
                ],
                file=self.path,
                key=name,
                value=name,
                allowed=list(self.names),
                option=option,
            )
        return self.frame[name].astype(str).str.strip()

    def bad_value(self, row: int, text: str, option: str, column: str, value: str) -> NoReturn:
        """Raise RlrecError: data row `row` of `column` holds a bad `value`; `text` says what
        is wrong, and the message ends with the option that named the column."""
        self.fail(row, [f"{text} (", Option(option, column), ")"], option=option, key=column,
                  value=value)  # fmt: skip

    def fail(
        self, row: int, message: str | list[str | Option], *, option: str, key: str, value: Any
    ) -> NoReturn:
        """Raise RlrecError for data row `row` (0-based), located by file and line."""
        parts = [message] if isinstance(message, str) else message
        raise RlrecError(
            [f"{self.where(row)}: ", *parts],
            **self.location(row),
            key=key,
            value=value,
            option=option,
        )


def read_log_table(
    path: Path, sep: str | None, encoding: str | None = None, columns: list[str] | None = None
) -> CsvTable:
    """The log at `path` as text columns: Parquet by its suffix, else delimited text with a
    header (`sep` None: guessed from the header; `encoding` None: detected). `columns`: the
    ones needed, when known (Parquet then reads only those; None: all). Raises RlrecError
    (see `check_import_fits`) before reading a log that would not fit in memory."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        check_import_fits(path)
        return _read_parquet(path, columns)
    check_import_fits(path, sep)
    return read_csv_table(path, sep, encoding)


def import_estimate(
    path: Path, sep: str | None = None, typed: bool = False
) -> tuple[int, int, int]:
    """(rows, columns, bytes): the estimated size of the log at `path` and the peak memory its
    import takes, without reading it whole. Parquet: rows and columns from its metadata.
    Text: the first `SAMPLE_BYTES` give the columns (its header, split on `sep` or the
    guessed separator) and the bytes per line, the file size the rows; `typed`: the text is
    read by `read_number_columns` (a flat cost a row), else as text cells. (0, 0, 0) for
    what is not a readable file: the reader then says what is wrong with it."""
    if not path.is_file():
        return 0, 0, 0
    if path.suffix.lower() in PARQUET_SUFFIXES:
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowException, OSError):
            return 0, 0, 0
        rows, columns = meta.num_rows, meta.num_columns
        return rows, columns, IMPORT_FIXED_BYTES + rows * columns * PARQUET_BYTES_PER_CELL
    size = path.stat().st_size
    with open(path, "rb") as file:
        sample = file.read(SAMPLE_BYTES)
    header, _, body = sample.partition(b"\n")
    text = header.decode("latin-1")  # any byte decodes: only separators are counted
    sep = sep or guess_separator(text) or ","
    columns = text.count(sep) + 1
    lines = body.count(b"\n")
    if len(sample) < size and lines:
        body = body[: body.rfind(b"\n") + 1]  # whole lines only
        rows = int((size - len(header) - 1) / (len(body) / lines)) + 1
    else:
        rows = lines + 1
    per_row = TYPED_BYTES_PER_ROW if typed else READ_BYTES_PER_ROW + READ_BYTES_PER_CELL * columns
    return rows, columns, IMPORT_FIXED_BYTES + rows * per_row


def check_import_fits(path: Path, sep: str | None = None, typed: bool = False) -> None:
    """RlrecError naming the file, its estimated rows and columns, the memory its import
    needs and the memory available, when the import of `path` would not fit (see
    `import_estimate`)."""
    rows, columns, need = import_estimate(path, sep, typed)
    check_bytes_fit(
        need,
        [f"{path} (about {rows:,} rows of {columns} columns)"],
        "to import",
        file=path,
        option="path",
    )


def read_csv_table(path: Path, sep: str | None, encoding: str | None = None) -> CsvTable:
    """A delimited text file with a header line, as text columns (see `read_log_table`)."""
    text = read_text(path, encoding)
    header = text.split("\n", 1)[0].rstrip("\r")
    if sep is None:
        sep = guess_separator(header) or ","
    if sep == "" or len(sep) > 1:
        raise RlrecError(
            [Option("sep", repr(sep)), ": must be one character (e.g. ',', ';', '\\t')"],
            value=sep,
            option="sep",
        )
    header_only = io.BytesIO((header + "\n").encode("utf-8"))
    names = pacsv.read_csv(
        header_only, parse_options=pacsv.ParseOptions(delimiter=sep)
    ).column_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RlrecError(
            f"{path}:1: column {repeated[0]!r} appears more than once in the header",
            file=path,
            line=1,
            key=repeated[0],
        )
    invalid: list = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        reason = str(exc).splitlines()[0]
        raise RlrecError(
            f"{path}: not {separator_name(sep)}-separated text ({reason})", file=path, option="sep"
        ) from None
    if invalid:
        bad = invalid[0]
        where = f"{path}:{bad.number}" if bad.number is not None else str(path)
        kind = " (truncated line?)" if bad.actual_columns < bad.expected_columns else ""
        raise RlrecError(
            f"{where}: expected {bad.expected_columns} {separator_name(sep)}-separated fields "
            f"like the header, found {bad.actual_columns}{kind}",
            file=path,
            line=bad.number,
            option="path",
        )
    line = _row_lines(table)
    frame = table.to_pandas()
    blank = (frame.astype(str).apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    if frame.empty:
        raise RlrecError(f"{path}: no data rows after the header", file=path, option="path")
    return CsvTable(frame, line[~blank], path, sep)


def read_number_columns(
    path: Path, types: dict[str, pa.DataType], sep: str = ",", encoding: str | None = None
) -> dict[str, np.ndarray] | None:
    """The columns `types` (name -> Arrow integer or float type) of a clean delimited file,
    as numpy arrays, read typed and columnar (about 8 bytes a cell, no text kept), or None
    when the file needs `read_csv_table`'s scrutiny to say what is wrong and where.

    Clean means: a header naming each wanted column once, then every row on one line with
    the header's field count, no blank lines, and every wanted cell a plain number (no
    '+' sign, integers of at most 18 digits, finite floats). Then data row r (0-based) is
    on line r + 2, which is what the callers report; anything else returns None."""
    if encoding is not None and codecs.lookup(encoding).name not in ASCII_COMPATIBLE:
        return None
    try:
        with open(path, "rb") as file:
            header = file.readline().decode("latin-1")
        if header.startswith("\u00ef\u00bb\u00bf"):  # a UTF-8 byte order mark
            if encoding is not None and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
                return None  # part of the header in that encoding: the text reader says so
            header = header[3:]
        names = pacsv.read_csv(
            io.BytesIO(header.encode("utf-8")), parse_options=pacsv.ParseOptions(delimiter=sep)
        ).column_names
        if any(names.count(name) != 1 for name in types):
            return None
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, UnicodeError):
        return None
    if table.num_rows == 0 or table.num_rows != _count_lines(path) - 1:
        return None  # a line break inside a quoted field: rows and lines differ
    columns: dict[str, np.ndarray] = {}
    for name, kind in types.items():
        values = table.column(name).to_numpy()
        if pa.types.is_floating(kind) and not np.isfinite(values).all():
            return None
        if pa.types.is_integer(kind) and (values.min() <= -(10**18) or values.max() >= 10**18):
            return None  # more than 18 digits: the text reader's "not an integer"
        columns[name] = values
        table = table.drop_columns([name])  # free each column once copied out
    return columns


def _count_lines(path: Path) -> int:
    """Lines in the file at `path` (a last line without its newline counts), read in blocks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as file:
        while block := file.read(BLOCK_BYTES):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _row_lines(table: pa.Table) -> np.ndarray:
    """The line each data row starts on, the header being line 1: one line per row, plus
    the line breaks inside quoted fields of the rows before it (a quoted title may span
    lines)."""
    starts = np.arange(2, table.num_rows + 2, dtype=np.int64)
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        breaks += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
    if breaks.any():
        starts[1:] += np.cumsum(breaks)[:-1]
    return starts


def _read_parquet(path: Path, wanted: list[str] | None = None) -> CsvTable:
    """A Parquet log as text columns: only the `wanted` ones (None: all) are read."""
    require_file(path, option="path")
    try:
        names = pq.read_schema(path).names
        selected = None  # all of them
        if wanted is not None and len(set(names)) == len(names):
            selected = [name for name in names if name in wanted]
        table = pq.read_table(path, columns=selected)
    except (pa.ArrowException, OSError) as exc:
        raise RlrecError(
            f"{path}: not a readable Parquet file ({type(exc).__name__})", file=path, option="path"
        ) from None
    if table.num_rows == 0:
        raise RlrecError(f"{path}: empty file (no rows)", file=path, option="path")
    frame = pd.DataFrame(
        {str(name): _as_text(table.column(i)) for i, name in enumerate(table.column_names)},
        index=pd.RangeIndex(table.num_rows),
    )
    return CsvTable(frame, None, path, None, list(map(str, names)))


def _as_text(column: pa.ChunkedArray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A Parquet column as the text a CSV writer would give: nulls (and NaN) empty, whole
    floats without ".0" (ids from a float column after a join), dates in ISO 8601."""
    kind = column.type
    missing = pc.is_null(column, nan_is_null=True).to_numpy(zero_copy_only=False)
    if pa.types.is_floating(kind):
        numbers = column.to_pandas().to_numpy(np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**63)
        text = numbers.astype(str).astype(object)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        stamps = pd.to_datetime(column.to_pandas())
        if stamps.dt.tz is not None:  # zoned: the same instant in UTC
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        instants = stamps.to_numpy().astype("datetime64[ms]")
        text = (np.datetime_as_string(instants, unit="ms") + "Z").astype(object)
    else:
        try:  # integers (nullable too) and text exactly as written, as Arrow strings (no
            # Python object per cell); Arrow keeps nulls null
            strings = pc.fill_null(column.cast(pa.string()), "")
            return pd.array(strings, dtype="str")
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            text = column.to_pandas().astype(str).to_numpy(dtype=object)
    text[missing] = ""
    return text
