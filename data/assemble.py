"""Shared steps of every importer: contiguous ids, the interaction table, one-hot features,
and the duplicate check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rlrec.data.errors import Option, RlrecError

SESSION_SECONDS = 3600  # a session is one user's activity within one clock hour


def natural_order(ids: pd.Series) -> np.ndarray:
    """Distinct ids sorted numerically when they all look like integers, else as text."""
    unique = np.asarray(pd.unique(ids.astype(str)))
    as_int = pd.to_numeric(pd.Series(unique), errors="coerce")
    if as_int.notna().all() and (as_int == as_int.round()).all():
        return unique[np.argsort(as_int.to_numpy(), kind="stable")]
    return np.sort(unique.astype(str))


def codes_for(values: pd.Series | np.ndarray, catalogue: np.ndarray) -> np.ndarray:
    """int64 index of each value (compared as text) in `catalogue`, -1 where it is not
    there; hashed by Arrow, with no Python string per row."""
    text = pa.array(pd.Series(values).astype(str))
    position = pc.index_in(text, value_set=pa.array(np.asarray(catalogue).astype(str)))
    return pc.fill_null(position, -1).to_numpy().astype(np.int64)


def events_from_codes(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """A per-row event column as `names[codes[row]]`, one small integer a row."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(names), dtype="str"))


def build_interactions(
    user_id: np.ndarray,
    item_id: np.ndarray,
    event: np.ndarray | pd.Categorical | str,
    rating: np.ndarray,
    timestamp: np.ndarray,
    timestamp_ms: np.ndarray | None = None,
) -> pd.DataFrame:
    """The schema's interaction table, time-ordered per user, with sessions = (user, hour).

    `event` is one per row (an array of text or a `pd.Categorical`), or one str for every
    row. `timestamp` is int64 Unix seconds.
    `timestamp_ms` (int64 Unix milliseconds, optional) orders rows within a second and is
    kept as the column `timestamp_ms` when some time has a sub-second part."""
    exact = timestamp if timestamp_ms is None else timestamp_ms
    order = user_time_order(np.asarray(user_id), np.asarray(exact))
    user_id, item_id = user_id[order], item_id[order]
    rating, timestamp = rating[order], timestamp[order]
    if isinstance(event, str):  # one Arrow string column, no Python object per row
        events = pd.array(pa.repeat(pa.scalar(event), len(order)), dtype="str")
    elif isinstance(event, pd.Categorical):  # Arrow strings from the codes, no objects
        names = pa.array(np.asarray(event.categories, dtype=object), type=pa.string())
        codes = pa.array(event.codes[order])
        events = pd.array(pa.DictionaryArray.from_arrays(codes, names).cast(pa.string()),
                          dtype="str")  # fmt: skip
    else:
        events = pd.array(np.asarray(event[order], dtype=object), dtype="str")
    hour = np.floor_divide(timestamp, SESSION_SECONDS)
    new_session = np.ones(len(user_id), dtype=bool)
    new_session[1:] = (user_id[1:] != user_id[:-1]) | (hour[1:] != hour[:-1])
    session_id = np.cumsum(new_session) - 1
    table = pd.DataFrame(
        {
            "user_id": user_id.astype(np.int32, copy=False),
            "item_id": item_id.astype(np.int32, copy=False),
            "event": events,
            "rating": np.asarray(rating, dtype=np.float32),
            "timestamp": np.asarray(timestamp, dtype=np.int64),
            "session_id": session_id.astype(np.int64, copy=False),
        },
        copy=False,  # the arrays are this function's own: no second copy of 25M rows
    )
    if timestamp_ms is not None and np.any(np.remainder(timestamp_ms, 1000)):
        table["timestamp_ms"] = np.asarray(timestamp_ms, dtype=np.int64)[order]
    return table


def user_time_order(user_id: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Row order by user, then time, then file order: one stable sort of a combined int64
    key when user and time ranges fit in it (25M rows: seconds), else a lexsort."""
    if len(user_id) == 0:
        return np.arange(0)
    users = int(user_id.max()) - int(user_id.min()) + 1
    span = int(exact.max()) - int(exact.min()) + 1
    if users * span >= 2**62:
        return np.lexsort((np.arange(len(user_id)), exact, user_id))
    key = user_id.astype(np.int64)  # built in place: one int64 array beside the inputs
    key -= int(user_id.min())
    key *= span
    key += exact
    key -= int(exact.min())
    return np.argsort(key, kind="stable")


def one_hot(
    values: pd.Series, prefix: str, categories: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """One column per category (given order, else sorted); unseen values get all zeros."""
    values = values.astype(str)
    cats = list(categories) if categories is not None else sorted(pd.unique(values))
    codes = pd.Categorical(values, categories=cats).codes
    matrix = np.zeros((len(values), len(cats)), dtype=np.float32)
    seen = codes >= 0
    matrix[np.flatnonzero(seen), codes[seen]] = 1.0
    return matrix, [f"{prefix}_{c}" for c in cats]


def stack_features(
    blocks: Sequence[tuple[np.ndarray, list[str]]], n_rows: int
) -> tuple[np.ndarray, list[str]]:
    if not blocks:
        return np.zeros((n_rows, 0), dtype=np.float32), []
    matrix = np.concatenate([b for b, _ in blocks], axis=1).astype(np.float32)
    return matrix, [name for _, names in blocks for name in names]


def duplicate_rows(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier row's keys (in row order), and for each, the row it repeats."""
    n = len(keys[0])
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    shared = _rows_sharing_first_keys(keys)
    if shared is not None:  # only rows whose first two keys repeat can repeat all keys
        if len(shared) < 2:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        rows, originals = _duplicates_by_sorting([np.asarray(key)[shared] for key in keys])
        return shared[rows], shared[originals]
    return _duplicates_by_sorting(keys)


def _duplicates_by_sorting(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    n = len(keys[0])
    order = np.lexsort(tuple(keys)[::-1])  # stable: within a group, rows keep file order
    same_as_previous = np.ones(n - 1, dtype=bool)
    for key in keys:
        ordered = np.asarray(key)[order]
        same_as_previous &= ordered[1:] == ordered[:-1]
    if not same_as_previous.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts_group = np.concatenate([[True], ~same_as_previous])
    group_head = order[starts_group][np.cumsum(starts_group) - 1]
    repeated = np.flatnonzero(~starts_group)
    rows, originals = order[repeated], group_head[repeated]
    by_row = np.argsort(rows, kind="stable")
    return rows[by_row], originals[by_row]


def _rows_sharing_first_keys(keys: Sequence[np.ndarray]) -> np.ndarray | None:
    """Rows (ascending) whose first two keys, both integers, occur on another row too; None
    when that pre-filter does not apply (fewer than 3 keys, other kinds, or ranges too wide
    to combine into one int64). Usually few rows: the full check then sorts only those."""
    if len(keys) < 3 or len(keys[0]) < 1024:
        return None
    first, second = np.asarray(keys[0]), np.asarray(keys[1])
    if first.dtype.kind not in "iu" or second.dtype.kind not in "iu":
        return None
    span = int(second.max()) - int(second.min()) + 1
    if (int(first.max()) - int(first.min()) + 1) * span >= 2**62:
        return None
    pair = first.astype(np.int64)  # built in place: one int64 array beside the inputs
    pair -= int(first.min())
    pair *= span
    pair += second
    pair -= int(second.min())
    if np.all(pair[1:] > pair[:-1]):  # already sorted and distinct (MovieLens' own order)
        return np.empty(0, np.int64)
    order = np.argsort(pair)
    ordered = pair[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(len(pair), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    return np.sort(order[repeated])


def reject_duplicates(
    where: Callable[[int], str],
    locate: Callable[[int], dict[str, Any]],
    keys: Sequence[np.ndarray],
    hint: Sequence[str | Option] = (),
    same: str = "user, item and timestamp",
) -> None:
    """RlrecError naming the first repeated row and its original; `same` says what the
    `keys` are (user, item and timestamp by default).

    `where(row)` words a row's place ("file:line"), `locate(row)` gives it as RlrecError fields;
    `hint` ends the message (e.g. which option drops duplicates)."""
    rows, originals = duplicate_rows(keys)
    if len(rows):
        raise RlrecError(
            [
                f"{where(int(rows[0]))}: duplicate of {where(int(originals[0]))} (same {same}; "
                f"{len(rows)} duplicate row(s) in all)",
                *hint,
            ],
            **locate(int(rows[0])),
            option="duplicates" if hint else None,
        )


def activity_features(
    interactions: pd.DataFrame, key: str, n: int, count_name: str
) -> tuple[np.ndarray, list[str]]:
    """log(1 + count) scaled to 0..1 and the mean rating scaled to 0..1 (0.5 when none)."""
    counts = np.bincount(interactions[key].to_numpy(), minlength=n).astype(np.float64)
    log_counts = np.log1p(counts)
    count_scaled = log_counts / log_counts.max() if log_counts.max() > 0 else log_counts
    ratings = interactions.groupby(key)["rating"].mean().reindex(range(n)).to_numpy(np.float64)
    finite = np.isfinite(ratings)
    if finite.any() and np.nanmax(ratings) > np.nanmin(ratings):
        low, high = np.nanmin(ratings), np.nanmax(ratings)
        rating_scaled = np.where(finite, (ratings - low) / (high - low), 0.5)
    else:
        rating_scaled = np.full(n, 0.5)
    matrix = np.stack([count_scaled, rating_scaled], axis=1).astype(np.float32)
    return matrix, [f"log_{count_name}_scaled", "mean_rating_scaled"]
