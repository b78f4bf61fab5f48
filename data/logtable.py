"""A log file as a table of text columns, whatever its format, so every format fails alike.

`read_log_table` reads a delimited text file with a header (CSV/TSV: UTF-8, else Latin-1,
or the encoding given) or a Parquet file, and gives every column as stripped text the way
the CSV would have held it: a null is an empty cell, a whole float id is "1" (not "1.0"), a
date is ISO 8601 (Parquet dates and times are also kept as instants, `CsvTable.milliseconds`).
The importers then check one kind of input, and a bad row is reported the same way from CSV
("file:line") and Parquet ("file: row n").

Both are read columnar by Arrow, in blocks, straight from the file: the text is held once,
as Arrow strings of the columns the importer maps (a 25M-row event log: about 1.5 GB), never
as one Python string per cell or a decoded copy of the whole file.
"""

from __future__ import annotations

import codecs
import collections
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
from rlrec.data.textio import ConsecutiveLines, guess_separator, read_text, separator_name

PARQUET_SUFFIXES = (".parquet", ".pq")
# Peak memory of importing a log, beyond the ~110 MB the interpreter and libraries take:
# Arrow's text of the columns read, then their numbers, the interaction table and its sorts.
# Measured with `/usr/bin/time -v` (maximum RSS) on `rlrec import csv` of generated event logs
# (user,item,ISO time,event with text ids, 40 bytes a line): 204 bytes a row at 2M rows, 161
# at 25M; the same with 4 more unmapped columns (85 bytes a line) 273 at 2M; a MovieLens
# ratings.csv layout (4 numeric columns, 26 bytes a line, bench/memory_estimates.py) 190 at
# 2M. Fitted per row as a part per column read plus a part per byte of a line, rounded up
# so the estimate stays above the measured peak (at 25M rows by a third). Parquet per
# column read: the same 4-column log took 213 bytes a row at 2M, 162 at 25M.
# Plus a fixed part: Arrow's memory pool and the modules an import loads (bench: ~20-30 MB).
IMPORT_FIXED_BYTES = 32 * 2**20
# A clean MovieLens ratings.csv read typed (`read_number_columns`: 8 bytes a cell, no text)
# through to the saved dataset: `rlrec import movielens` of bench/ml25m_like.py layouts rose
# to a maximum RSS of 483 MB at 2M rows and 3.61 GB at 25M, 141-162 bytes a row above the
# interpreter's ~170 MB; rounded up.
TYPED_BYTES_PER_ROW = 175
READ_BYTES_PER_ROW = 60
READ_BYTES_PER_CELL = 25
READ_BYTES_PER_BYTE = 1.5  # of a line of the file: Arrow's parse buffers and text
PARQUET_BYTES_PER_CELL = 60
SAMPLE_BYTES = 1 << 20  # of a text file, to measure its bytes per line
# Encodings in which digits, '.', ',' and newlines are the ASCII bytes: numbers read alike.
ASCII_COMPATIBLE = ("utf-8", "utf-8-sig", "iso8859-1", "ascii", "cp1252")
BLOCK_BYTES = 16 << 20  # Arrow's CSV block: large blocks, few chunks to concatenate


class CsvTable:
    """Columns as text plus, for each row, where it came from (file:line or file: row n)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        line: np.ndarray | ConsecutiveLines | None,
        path: Path,
        sep: str | None,
        names: list[str] | None = None,
    ):
        self.frame, self.line, self.path, self.sep = frame, line, path, sep
        # Parquet date and time columns, kept typed: their text is made only when asked for.
        self.instants: dict[str, pa.ChunkedArray] = {}
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
        if name in self.instants and name not in self.frame.columns:
            self.frame[name] = _as_text(self.instants[name])
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
        stripped = self.frame[name].astype(str).str.strip()
        self.frame[name] = stripped  # the stripped copy replaces the text read
        return stripped

    @property
    def rows(self) -> int:
        return len(self.frame)

    def milliseconds(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(int64 Unix milliseconds in UTC, missing) of a Parquet date or time column `name`
        (below a millisecond dropped towards the past, as its text would read), or None
        when the column is text or numbers: then read `column(name)`."""
        if name not in self.instants:
            return None
        instants = _utc_milliseconds(self.instants[name])
        missing = pc.is_null(instants).to_numpy(zero_copy_only=False)
        values = pc.fill_null(instants.cast(pa.int64()), 0).to_numpy()
        return values, missing

    def release(self, name: str) -> None:
        """Let go of column `name`'s text once it has been read (rows still locate)."""
        self.instants.pop(name, None)
        if name in self.frame.columns:
            self.frame = self.frame.drop(columns=[name])

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
    read = len(set(columns)) if columns is not None else None
    if path.suffix.lower() in PARQUET_SUFFIXES:
        check_import_fits(path, read=read)
        return _read_parquet(path, columns)
    check_import_fits(path, sep, read=read)
    return read_csv_table(path, sep, encoding, columns)


def import_estimate(
    path: Path, sep: str | None = None, typed: bool = False, read: int | None = None
) -> tuple[int, int, int]:
    """(rows, columns, bytes): the estimated size of the log at `path` and the peak memory its
    import takes, without reading it whole. Parquet: rows and columns from its metadata.
    Text: the first `SAMPLE_BYTES` give the columns (its header, split on `sep` or the
    guessed separator) and the bytes per line, the file size the rows; `typed`: the text is
    read by `read_number_columns` (a flat cost a row), else as text cells. `read`: how many
    of the columns the import reads (None: all). (0, 0, 0) for what is not a readable file:
    the reader then says what is wrong with it."""
    if not path.is_file():
        return 0, 0, 0
    if path.suffix.lower() in PARQUET_SUFFIXES:
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowException, OSError):
            return 0, 0, 0
        rows, columns = meta.num_rows, meta.num_columns
        cells = min(columns, read or columns)
        return rows, columns, IMPORT_FIXED_BYTES + rows * cells * PARQUET_BYTES_PER_CELL
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
    line_bytes = (size - len(header)) / max(rows, 1)
    cells = min(columns, read or columns)
    per_row = (
        TYPED_BYTES_PER_ROW
        if typed
        else READ_BYTES_PER_ROW + READ_BYTES_PER_CELL * cells + READ_BYTES_PER_BYTE * line_bytes
    )
    return rows, columns, IMPORT_FIXED_BYTES + int(rows * per_row)


def check_import_fits(
    path: Path, sep: str | None = None, typed: bool = False, read: int | None = None
) -> None:
    """RlrecError naming the file, its estimated rows and columns, the memory its import
    needs and the memory available, when the import of `path` would not fit (see
    `import_estimate`; `read`: the columns the import reads, None: all)."""
    rows, columns, need = import_estimate(path, sep, typed, read)
    check_bytes_fit(
        need,
        [f"{path} (about {rows:,} rows of {columns} columns)"],
        "to import",
        file=path,
        option="path",
    )


def read_csv_table(
    path: Path, sep: str | None, encoding: str | None = None, columns: list[str] | None = None
) -> CsvTable:
    """A delimited text file with a header line, as text columns (see `read_log_table`).

    Arrow reads the file itself, columnar and in blocks (UTF-8 directly; another encoding,
    or Latin-1 when the bytes are not UTF-8 and `encoding` is None, transcoded as it reads),
    so no copy of the whole text is kept. `columns`: the ones needed (None: all); the others
    are read only when needed to place rows on their lines (a line break inside a quoted
    field, or a blank row)."""
    require_file(path)
    encoding, header = _header_line(path, encoding)
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
    repeated = sorted(n for n, times in collections.Counter(names).items() if times > 1)
    if repeated:
        raise RlrecError(
            f"{path}:1: column {repeated[0]!r} appears more than once in the header",
            file=path,
            line=1,
            key=repeated[0],
        )
    wanted = None
    if columns is not None and set(columns) <= set(names) and len(columns) < len(names):
        wanted = [name for name in names if name in columns]
    table = _read_text_columns(path, sep, encoding, names, wanted)
    blank = _blank_rows(table)
    ascii_lines = encoding is None or codecs.lookup(encoding).name in ASCII_COMPATIBLE
    consecutive = ascii_lines and table.num_rows == _count_lines(path) - 1
    if wanted is not None and (blank.any() or not consecutive):
        # Rows are placed on their lines from every column: read them all.
        table = _read_text_columns(path, sep, encoding, names, None)
        blank = _blank_rows(table)
    line: np.ndarray | ConsecutiveLines
    if consecutive and not blank.any():
        line = ConsecutiveLines(2, table.num_rows)
    else:
        line = _row_lines(table)[~blank]
        table = table.filter(pa.array(~blank))
    if table.num_rows == 0:
        raise RlrecError(f"{path}: no data rows after the header", file=path, option="path")
    columns_read: dict[str, pd.Series] = {}
    for name in table.column_names:  # one column at a time, each freed from Arrow's table
        columns_read[name] = table.column(name).to_pandas()
        table = table.drop_columns([name])
    # One concatenation, not a column inserted at a time (quadratic in the number of columns:
    # 15 s for a 5,000-column header); each text column stays its own block.
    frame = pd.concat(columns_read, axis=1)
    return CsvTable(frame, line, path, sep, names)


def _header_line(path: Path, encoding: str | None) -> tuple[str | None, str]:
    """(the encoding Arrow should transcode from, None for UTF-8 read as is; the header line).

    `encoding` None: UTF-8 when the file's bytes are valid UTF-8, else Latin-1. An empty file,
    or one whose bytes `encoding` cannot decode, raises RlrecError naming the line and byte
    (from `textio.read_text`)."""
    with open(path, "rb") as file:
        start = file.read(SAMPLE_BYTES)
    if not start.strip():
        read_text(path, encoding)  # raises: empty file
    if encoding is None:
        encoding = "utf-8" if _decodes(path, "utf-8") else "latin-1"
    elif not _decodes(path, encoding):
        read_text(path, encoding)  # raises, naming the line and column of the bad byte
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        text = start.decode("utf-8", errors="ignore")
        return None, text.removeprefix("\ufeff").split("\n", 1)[0].rstrip("\r")
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(start)
    return encoding, text.removeprefix("\ufeff").split("\n", 1)[0].rstrip("\r")


def _decodes(path: Path, encoding: str) -> bool:
    """Whether `encoding` decodes every byte of `path`, read block by block (no whole copy)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as file:
            while block := file.read(BLOCK_BYTES):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_text_columns(
    path: Path, sep: str, encoding: str | None, names: list[str], wanted: list[str] | None
) -> pa.Table:
    """The columns `wanted` (None: all) of a delimited file as Arrow strings, every row with
    the header's field count (else RlrecError naming its line)."""
    invalid: list = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    read = pacsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES)
    if encoding is not None:
        read.encoding = encoding
    try:
        table = pacsv.read_csv(
            path,
            read_options=read,
            parse_options=pacsv.ParseOptions(
                delimiter=sep, invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                include_columns=wanted,
                strings_can_be_null=False,
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
    return table


def _blank_rows(table: pa.Table) -> np.ndarray:
    """Rows whose every cell is empty or white space (a blank line, or ",,,")."""
    blank = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        blank &= pc.equal(pc.utf8_trim_whitespace(column), "").to_numpy(zero_copy_only=False)
    return blank


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
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    instants = {}
    for name in table.column_names:  # each column freed once it is text
        column = table.column(0)
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            instants[str(name)] = column
        else:
            frame[str(name)] = _as_text(column)
        table = table.remove_column(0)
    result = CsvTable(frame, None, path, None, list(map(str, names)))
    result.instants = instants
    return result


def _as_text(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """A Parquet column as the text a CSV writer would give: nulls (and NaN) empty, whole
    floats without ".0" (ids from a float column after a join), dates in ISO 8601 to the
    millisecond in UTC. Converted by Arrow: no Python object per cell."""
    kind = column.type
    text: pa.ChunkedArray | pa.Array
    if pa.types.is_floating(kind):
        numbers = column.cast(pa.float64())
        finite = pc.is_finite(numbers)
        whole = pc.and_kleene(finite, pc.equal(numbers, pc.round(numbers)))
        whole = pc.fill_null(pc.and_(whole, pc.less(pc.abs(numbers), 2.0**63)), False)
        integral = pc.if_else(whole, numbers, 0.0).cast(pa.int64(), safe=False)
        text = pc.if_else(whole, integral.cast(pa.string()), _float_text(numbers))
        text = pc.if_else(pc.is_nan(numbers), "", text)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        text = pc.strftime(_utc_milliseconds(column), format="%Y-%m-%dT%H:%M:%SZ")
    else:
        try:  # integers (nullable too) and text exactly as written
            text = column.cast(pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            text = pa.array(column.to_pandas().astype(str).to_numpy(dtype=object), pa.string())
            text = pc.if_else(pc.is_null(column), "", text)
    return pd.array(pc.fill_null(text, ""), dtype="str")


def _utc_milliseconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date or time column as zone-less timestamp[ms] in UTC; below a millisecond is
    dropped towards the past."""
    kind = column.type
    instants = column
    if pa.types.is_date(kind):
        instants = column.cast(pa.timestamp("ms"))
    elif kind.unit != "ms":
        instants = pc.floor_temporal(column, unit="millisecond").cast(
            pa.timestamp("ms", tz=kind.tz), safe=False
        )
    if instants.type.tz is not None:  # zoned: the same instant in UTC
        instants = instants.cast(pa.timestamp("ms"))
    return instants


def _float_text(numbers: pa.ChunkedArray) -> pa.ChunkedArray:
    """Floats as Python writes them ("1.5", "1e-07", "inf"): Arrow's text where it agrees."""
    return numbers.cast(pa.string())
