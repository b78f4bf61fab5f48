"""A generic interaction log (CSV/TSV with a header, or Parquet) with a column mapping.

Required: a user column and an item column (ids may be any text; they are remapped to
contiguous indices and kept in `original_id`). Optional:
- rating: numbers; the row's event is "rating" unless an event column says otherwise;
- event: view, click, purchase or rating (case-insensitive); without it, rows with a rating
  are "rating" and rows without are "click" (an implicit positive signal);
- timestamp: Unix seconds, Unix milliseconds (values above 10^11; fractions are dropped) or
  ISO 8601 dates (UTC unless they say otherwise); without it the row order is the time order
  (timestamp = row number);
- category: the item's category (its most frequent value per item), one-hot in the features.
Rows repeating an earlier (user, item, timestamp) are an error by default, or dropped with
`duplicates="keep-first"` (the count is kept in meta["duplicates_dropped"]).
Features are derived from the log: item popularity, mean rating and category; user activity
and mean rating.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rlrec.data.assemble import (
    activity_features,
    build_interactions,
    codes_for,
    duplicate_rows,
    natural_order,
    one_hot,
    reject_duplicates,
    stack_features,
)
from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.schema import EVENTS
from rlrec.data.textio import guess_separator, read_text, separator_name

Progress = Callable[[float, str], None]
PARQUET_SUFFIXES = (".parquet", ".pq")
MILLISECONDS_ABOVE = 10**11  # Unix seconds reach 10^11 only in the year 5138
DUPLICATE_POLICIES = ("error", "keep-first")


class CsvTable:
    """Columns as text plus, for each row, where it came from (file:line or file: row n)."""

    def __init__(self, frame: pd.DataFrame, line: np.ndarray | None, path: Path, sep: str | None):
        self.frame, self.line, self.path, self.sep = frame, line, path, sep

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
            found = ", ".join(map(str, self.frame.columns))
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
                allowed=list(map(str, self.frame.columns)),
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


def read_csv_table(path: Path, sep: str | None) -> CsvTable:
    text = read_text(path, "utf-8")
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
        line = f"{path}:{bad.number}" if bad.number is not None else str(path)
        kind = " (truncated line?)" if bad.actual_columns < bad.expected_columns else ""
        raise RlrecError(
            f"{line}: expected {bad.expected_columns} {separator_name(sep)}-separated fields "
            f"like the header, found {bad.actual_columns}{kind}",
            file=path,
            line=bad.number,
            option="path",
        )
    frame = table.to_pandas()
    line = np.arange(2, len(frame) + 2)
    blank = (frame.astype(str).apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    if frame.empty:
        raise RlrecError(f"{path}: no data rows after the header", file=path, option="path")
    return CsvTable(frame, line[~blank], path, sep)


def _read_parquet(path: Path) -> CsvTable:
    if not path.is_file():
        raise RlrecError(f"{path}: no such file", file=path, option="path")
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise RlrecError(
            f"{path}: not a readable Parquet file ({type(exc).__name__})", file=path, option="path"
        ) from None
    if frame.empty:
        raise RlrecError(f"{path}: empty file (no rows)", file=path, option="path")
    frame.columns = [str(c) for c in frame.columns]
    return CsvTable(frame.reset_index(drop=True), None, path, None)


def import_csv(
    path: str | Path,
    user_col: str,
    item_col: str,
    rating_col: str | None = None,
    event_col: str | None = None,
    timestamp_col: str | None = None,
    sep: str | None = None,
    name: str | None = None,
    category_col: str | None = None,
    duplicates: str = "error",
    progress: Progress | None = None,
) -> Dataset:
    """Import an interaction log (CSV/TSV by default, Parquet by extension) with a mapping."""
    report = progress or (lambda fraction, message: None)
    if duplicates not in DUPLICATE_POLICIES:
        raise RlrecError(
            [Option("duplicates", repr(duplicates)), f": allowed {', '.join(DUPLICATE_POLICIES)}"],
            value=duplicates,
            allowed=list(DUPLICATE_POLICIES),
        )
    path = Path(path)
    report(0.0, f"reading {path.name}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        table = read_csv_table(path, sep)
    report(0.5, "checking columns")
    users_raw = table.column("user_col", user_col)
    items_raw = table.column("item_col", item_col)
    for option, values in (("user_col", users_raw), ("item_col", items_raw)):
        empty = np.flatnonzero((values == "").to_numpy())
        if len(empty):
            table.fail(
                int(empty[0]),
                [f"empty id in column {values.name!r} (", Option(option), ")"],
                option=option,
                key=str(values.name),
                value="",
            )
    rating = _ratings(table, rating_col) if rating_col else np.full(len(users_raw), np.nan)
    event = _events(table, event_col, rating)
    timestamp, unit = _timestamps(table, timestamp_col)
    category = table.column("category_col", category_col) if category_col else None

    user_catalogue = natural_order(users_raw)
    item_catalogue = natural_order(items_raw)
    user_id = codes_for(users_raw, user_catalogue)
    item_id = codes_for(items_raw, item_catalogue)
    dropped = 0
    if timestamp_col:
        keys = (user_id, item_id, timestamp)
        if duplicates == "error":
            drop_them = ["; pass ", Option("duplicates", "keep-first"), " to drop them"]
            reject_duplicates(table.where, table.location, keys, drop_them)
        rows, _ = duplicate_rows(keys)
        if len(rows):
            keep = np.ones(len(user_id), dtype=bool)
            keep[rows] = False
            user_id, item_id, rating, event, timestamp = (
                a[keep] for a in (user_id, item_id, rating, event, timestamp)
            )
            category = category[keep].reset_index(drop=True) if category is not None else None
            dropped = len(rows)
    report(0.7, "building the dataset")
    interactions = build_interactions(user_id, item_id, event, rating, timestamp)
    users = _id_table("user_id", user_catalogue)
    items = _id_table("item_id", item_catalogue)
    items["category"] = _item_category(item_id, category, len(items))
    user_features, user_names = activity_features(interactions, "user_id", len(users), "activity")
    item_features, item_names = activity_features(interactions, "item_id", len(items), "popularity")
    if category is not None:
        item_features, item_names = stack_features(
            [(item_features, item_names), one_hot(items["category"], "category")], len(items)
        )
    meta = {
        "name": name or path.stem,
        "source": "csv",
        "seed": None,
        "n_users": len(users),
        "n_items": len(items),
        "n_interactions": len(interactions),
        "user_feature_names": user_names,
        "item_feature_names": item_names,
        "schema_version": SCHEMA_VERSION,
        "imported_from": str(path),
        "column_mapping": {
            "user": user_col,
            "item": item_col,
            "rating": rating_col,
            "event": event_col,
            "timestamp": timestamp_col,
            "category": category_col,
        },
        "timestamp_unit": unit,
        "duplicates_dropped": dropped,
    }
    report(1.0, "done")
    return Dataset(users, items, interactions, user_features, item_features, meta)


def _id_table(id_column: str, catalogue: np.ndarray) -> pd.DataFrame:
    ids = np.arange(len(catalogue), dtype=np.int32)
    return pd.DataFrame({id_column: ids, "original_id": catalogue.astype(str)})


def _ratings(table: CsvTable, column: str) -> np.ndarray:
    raw = table.column("rating_col", column)
    numbers = pd.to_numeric(raw.where(raw != ""), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero((raw != "").to_numpy() & ~np.isfinite(numbers))
    if len(bad):
        value = raw.iloc[bad[0]]
        table.bad_value(
            int(bad[0]), f"rating {value!r} is not a number", "rating_col", column, value
        )
    return numbers


def _events(table: CsvTable, column: str | None, rating: np.ndarray) -> np.ndarray:
    if column is None:
        return np.where(np.isnan(rating), "click", "rating").astype(object)
    raw = table.column("event_col", column).str.lower()
    unknown = np.flatnonzero(~raw.isin(EVENTS).to_numpy())
    if len(unknown):
        value = raw.iloc[unknown[0]]
        text = f"event {value!r} is not one of {', '.join(EVENTS)}"
        table.bad_value(int(unknown[0]), text, "event_col", column, value)
    return raw.to_numpy(dtype=object)


def _timestamps(table: CsvTable, column: str | None) -> tuple[np.ndarray, str]:
    if column is None:
        return np.arange(len(table.frame), dtype=np.int64), "row order"
    raw = table.column("timestamp_col", column)
    if raw.str.fullmatch(r"-?\d{1,19}(\.\d*)?").all():  # Unix time, possibly fractional
        integral = raw.str.split(".", n=1, regex=False).str[0]
        seconds = pa.array(integral, type=pa.string()).cast(pa.int64()).to_numpy()
        if np.median(seconds) > MILLISECONDS_ABOVE:
            return seconds // 1000, "unix milliseconds"
        return seconds, "unix seconds"
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        value = raw.iloc[bad[0]]
        text = f"timestamp {value!r} is neither Unix seconds nor an ISO 8601 date"
        table.bad_value(int(bad[0]), text, "timestamp_col", column, value)
    seconds = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    return seconds, "iso 8601"


def _item_category(item_id: np.ndarray, category: pd.Series | None, n_items: int) -> np.ndarray:
    if category is None:
        return np.full(n_items, "unknown", dtype=object)
    counts = pd.DataFrame({"item": item_id, "category": category.to_numpy()})
    counts = counts[counts["category"] != ""].value_counts().reset_index()
    # Most frequent category per item; ties go to the alphabetically first.
    counts = counts.sort_values(["item", "count", "category"], ascending=[True, False, True])
    first = counts.drop_duplicates("item").set_index("item")["category"]
    return first.reindex(range(n_items)).fillna("unknown").to_numpy(dtype=object)
