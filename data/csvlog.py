"""A generic interaction log (CSV/TSV with a header, or Parquet) with a column mapping.

Required: a user column and an item column (ids may be any text; they are remapped to
contiguous indices and kept in `original_id`). Optional:
- rating: numbers; the row's event is "rating" unless an event column says otherwise;
- event: view, click, purchase or rating (case-insensitive); without it, rows with a rating
  are "rating" and rows without are "click" (an implicit positive signal);
- timestamp: Unix seconds, milliseconds, microseconds or nanoseconds, or ISO 8601 dates (UTC
  unless they say otherwise), one unit per column (see `data.timestamps`); kept to the
  millisecond in `timestamp_ms` when the log has sub-second times; without it the row order
  is the time order (timestamp = row number);
- category: the item's category (its most frequent value per item), one-hot in the features.
Rows repeating an earlier row's user, item, event and time (to the millisecond) are an error
by default, or dropped with `duplicates="keep-first"` (meta: the count in
"duplicates_dropped", the first rows in "duplicate_rows_dropped"). Every format gives the same
errors (see `data.logtable`); the rating scale sets the positive threshold (`data.scale`).
Features are derived from the log: item popularity, mean rating and category; user activity
and mean rating.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rlrec.data.assemble import (
    activity_features,
    build_interactions,
    codes_for,
    duplicate_rows,
    events_from_codes,
    natural_order,
    one_hot,
    reject_duplicates,
    stack_features,
)
from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.logtable import CsvTable, read_log_table
from rlrec.data.scale import check_threshold, rating_scale, require_positives
from rlrec.data.schema import EVENTS
from rlrec.data.textio import check_encoding
from rlrec.data.timestamps import ISO, parse_timestamps, whole_seconds

Progress = Callable[[float, str], None]
MAX_ROWS_LISTED = 20  # dropped duplicates listed in meta.yaml (all are counted)
WHOLE_FLOAT = r"^([+-]?\d+)\.0*$"  # "12.0": an integer id written from a float column
# "1.5", "-.25", "2.5e3": a number with a fraction is a measurement, never an id
FRACTION = r"^[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?$"
DUPLICATE_POLICIES = ("error", "keep-first")


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
    encoding: str | None = None,
    positive_threshold: float | None = None,
) -> Dataset:
    """Import an interaction log (CSV/TSV by default, Parquet by extension) with a mapping.

    `encoding` None detects UTF-8 or Latin-1; `positive_threshold` None derives it from the
    rating scale (`data.scale`). Raises RlrecError naming the file, row or line, column and
    option of the first problem."""
    report = progress or (lambda fraction, message: None)
    if duplicates not in DUPLICATE_POLICIES:
        raise RlrecError(
            [Option("duplicates", repr(duplicates)), f": allowed {', '.join(DUPLICATE_POLICIES)}"],
            value=duplicates,
            allowed=list(DUPLICATE_POLICIES),
        )
    encoding = check_encoding(encoding)
    positive_threshold = check_threshold(positive_threshold)
    path = Path(path)
    report(0.0, f"reading {path.name}")
    mapped = (user_col, item_col, rating_col, event_col, timestamp_col, category_col)
    table = read_log_table(path, sep, encoding, [c for c in mapped if c is not None])
    uses = Counter(c for c in mapped if c is not None)

    def done(column: str | None) -> None:
        """Let a column's text go once every option naming it has read it."""
        if column is not None:
            uses[column] -= 1
            if uses[column] == 0:
                table.release(column)

    report(0.5, "checking columns")
    users_raw = _ids(table, "user_col", user_col)
    items_raw = _ids(table, "item_col", item_col)
    # Each text column becomes numbers as soon as it is checked, and its text is let go:
    # a 25M-row log never holds its text and its numbers whole at once.
    user_catalogue = natural_order(users_raw)
    user_id = codes_for(users_raw, user_catalogue).astype(np.int32)
    del users_raw
    done(user_col)
    item_catalogue = natural_order(items_raw)
    item_id = codes_for(items_raw, item_catalogue).astype(np.int32)
    del items_raw
    done(item_col)
    rating = _ratings(table, rating_col) if rating_col else np.full(len(user_id), np.nan)
    done(rating_col)
    scale = rating_scale(rating)
    implicit_zeros = 0
    if scale.zero_is_implicit and event_col is None:
        # Book-Crossing: 0 means "interacted, not rated", an implicit signal like a click.
        zero = rating == 0
        implicit_zeros = int(zero.sum())
        rating = np.where(zero, np.nan, rating)
    event = _events(table, event_col, rating)
    done(event_col)
    milliseconds, unit = _timestamps(table, timestamp_col)
    done(timestamp_col)
    category = table.column("category_col", category_col) if category_col else None

    dropped: list[str] = []
    if timestamp_col:
        # What the file says: the same user, item, event and time to the millisecond.
        # User and time first: the duplicate check sorts only the rows sharing those two
        # (few in an event log, where one user repeats an item often but rarely a moment).
        keys = (user_id, milliseconds, item_id, event.codes)
        if duplicates == "error":
            drop_them: list[str | Option] = [
                "; pass ",
                Option("duplicates", "keep-first"),
                " to drop them",
            ]
            reject_duplicates(
                table.where, table.location, keys, drop_them, "user, item, event and time"
            )
        # No duplicates when the check above has passed.
        rows, originals = duplicate_rows(keys) if duplicates != "error" else (np.empty(0),) * 2
        if len(rows):
            keep = np.ones(len(user_id), dtype=bool)
            keep[rows] = False
            user_id, item_id = user_id[keep], item_id[keep]
            rating, milliseconds, event = rating[keep], milliseconds[keep], event[keep]
            category = category[keep].reset_index(drop=True) if category is not None else None
            dropped = [
                f"{table.where(int(r))} (same as {table.where(int(o))})"
                for r, o in zip(rows, originals, strict=True)
            ]
    report(0.7, "building the dataset")
    timestamp = milliseconds if timestamp_col is None else whole_seconds(milliseconds)
    exact = milliseconds if timestamp_col is not None else None
    interactions = build_interactions(user_id, item_id, event, rating, timestamp, exact)
    threshold = scale.threshold if positive_threshold is None else positive_threshold
    require_positives(interactions, threshold, str(path), option=True)
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
        "duplicates_dropped": len(dropped),
        "rating_scale": scale.name,
        "positive_threshold": threshold,
    }
    if dropped:
        meta["duplicate_rows_dropped"] = dropped[:MAX_ROWS_LISTED]
    if implicit_zeros:
        meta["implicit_zero_ratings"] = implicit_zeros
    report(1.0, "done")
    return Dataset(users, items, interactions, user_features, item_features, meta)


def _ids(table: CsvTable, option: str, column: str) -> pd.Series:
    """The id column `column` as text; an empty (or null) id is an error on its row."""
    values = table.column(option, column)
    empty = np.flatnonzero((values == "").to_numpy())
    if len(empty):
        table.fail(
            int(empty[0]),
            [f"empty id in column {column!r} (", Option(option), ")"],
            option=option,
            key=column,
            value="",
        )
    if not values.str.contains(".", regex=False).any():
        return values
    # Ids written from a float column ("1.0") are the integers they stand for; a fraction
    # ("1.5": the wrong column mapped, or a float column) is refused the same way in every
    # format, on its row.
    values = values.str.replace(WHOLE_FLOAT, r"\1", regex=True)
    fraction = np.flatnonzero(values.str.fullmatch(FRACTION).to_numpy(dtype=bool))
    if len(fraction):
        value = values.iloc[fraction[0]]
        table.fail(
            int(fraction[0]),
            [f"id {value!r} in column {column!r} is a fraction, not an id (", Option(option), ")"],
            option=option,
            key=column,
            value=value,
        )
    return values


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


def _events(table: CsvTable, column: str | None, rating: np.ndarray) -> pd.Categorical:
    """Each row's event (one of `EVENTS`, lower case) as a categorical."""
    if column is None:
        return events_from_codes(np.isnan(rating).astype(np.int8), ["rating", "click"])
    raw = pa.array(table.column("event_col", column).str.lower())
    code = pc.index_in(raw, value_set=pa.array(EVENTS, type=raw.type))
    unknown = np.flatnonzero(pc.is_null(code).to_numpy(zero_copy_only=False))
    if len(unknown):
        value = raw[int(unknown[0])].as_py()
        text = f"event {value!r} is not one of {', '.join(EVENTS)}"
        table.bad_value(int(unknown[0]), text, "event_col", column, value)
    return events_from_codes(code.to_numpy().astype(np.int8), EVENTS)


def _timestamps(table: CsvTable, column: str | None) -> tuple[np.ndarray, str]:
    """(int64 Unix milliseconds, unit), or the row number and "row order" without a column."""
    if column is None:
        return np.arange(table.rows, dtype=np.int64), "row order"
    typed = table.milliseconds(column)
    if typed is not None:  # Parquet dates and times: instants already, no text to parse
        values, missing = typed
        if missing.any():
            table.bad_value(int(np.flatnonzero(missing)[0]), "missing timestamp",
                            "timestamp_col", column, "")  # fmt: skip
        return values, ISO
    raw = table.column("timestamp_col", column)

    def fail(row: int, text: str, value: str) -> NoReturn:
        table.bad_value(row, text, "timestamp_col", column, value)

    return parse_timestamps(raw, fail)


def _item_category(item_id: np.ndarray, category: pd.Series | None, n_items: int) -> np.ndarray:
    if category is None:
        return np.full(n_items, "unknown", dtype=object)
    codes, names = pd.factorize(category)  # one integer a row, not one string object
    counts = pd.DataFrame({"item": item_id, "category": codes})
    counts = counts[(category != "").to_numpy()].value_counts().reset_index()
    counts["category"] = np.asarray(names, dtype=object)[counts["category"].to_numpy()]
    # Most frequent category per item; ties go to the alphabetically first.
    counts = counts.sort_values(["item", "count", "category"], ascending=[True, False, True])
    first = counts.drop_duplicates("item").set_index("item")["category"]
    return first.reindex(range(n_items)).fillna("unknown").to_numpy(dtype=object)
