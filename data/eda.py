"""Exploratory statistics of a dataset as plain data (dicts, lists, ints, floats, strings).

`compute_eda(ds)` returns the six distributions of the seed's analysis figure — user age, item
price (log-spaced bins), item category, interaction type, interactions per user, interactions
per item — plus the rating distribution (binned when there are many distinct values, e.g.
play counts), sparsity, counts and the time range (None for a log without timestamps, whose
`time_order` is "row order"). A distribution whose column the
dataset lacks (no price in MovieLens, no age in a CSV log) is None. The CLI (`rlrec info`) and
the TUI render the same dict; JSON-serialisable as is.

Every distribution has `labels` and `counts` (same length); histograms also carry `edges`
(len(counts) + 1), `log` (log-spaced edges) and the summary `stats` (min, max, mean, median)
of the binned values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.data.schema import EVENTS

HISTOGRAM_BINS = 20
CATEGORICAL_UP_TO = 12  # at most this many distinct values: count each instead of binning


def _stats(values: np.ndarray) -> dict[str, float]:
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
    }


def _label(number: float) -> str:
    return f"{number:.3g}" if abs(number) < 1000 else f"{number:,.0f}"


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS, log: bool = False) -> dict[str, Any]:
    """Counts over `bins` equal (or, with `log`, log-spaced) bins spanning the values."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"kind": "histogram", "labels": [], "counts": [], "edges": [], "log": log}
    low, high = float(values.min()), float(values.max())
    if high == low:
        edges = np.array([low, high if high > low else low + 1.0])
    elif log and low > 0:
        edges = np.geomspace(low, high, bins + 1)
    else:
        log = False
        edges = np.linspace(low, high, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    labels = [f"{_label(a)}–{_label(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return {
        "kind": "histogram",
        "labels": labels,
        "counts": counts.astype(int).tolist(),
        "edges": edges.astype(float).tolist(),
        "log": bool(log),
        "stats": _stats(values),
    }


def categorical(values: pd.Series, order: list | None = None) -> dict[str, Any]:
    """Count of each value: in `order` if given, else by decreasing count then value."""
    counts = values.value_counts()
    if order is None:
        frame = counts.rename_axis("value").reset_index(name="count")
        frame = frame.sort_values(["count", "value"], ascending=[False, True], key=_sort_key)
        labels, numbers = frame["value"].tolist(), frame["count"].tolist()
    else:
        labels, numbers = list(order), [int(counts.get(v, 0)) for v in order]
    return {
        "kind": "categorical",
        "labels": [str(v) for v in labels],
        "counts": [int(n) for n in numbers],
    }


def _sort_key(column: pd.Series) -> pd.Series:
    return column if column.name == "count" else column.astype(str)


def _numeric_or_categorical(values: pd.Series, log: bool = False) -> dict[str, Any]:
    """Few distinct values (age buckets): count each, in numeric order; otherwise bin them."""
    values = values.dropna()
    distinct = np.sort(values.unique())
    if len(distinct) <= CATEGORICAL_UP_TO:
        result = categorical(values, order=distinct.tolist())
        result["stats"] = _stats(values.to_numpy(np.float64))
        return result
    return histogram(values.to_numpy(np.float64), log=log)


def _per_entity(ids: np.ndarray, n: int) -> dict[str, Any]:
    """Histogram of interactions per user (or item). Heavy tails (max > 100 × min, as in
    MovieLens) get log-spaced bins over the entities with at least one interaction; `zero`
    counts the others either way."""
    per = np.bincount(ids, minlength=n)
    active = per[per > 0]
    heavy_tailed = bool(len(active) > 0 and active.max() > 100 * active.min())
    result = histogram(active if heavy_tailed else per, log=heavy_tailed)
    result["zero"] = int((per == 0).sum())
    return result


def _distinct_count(values: np.ndarray) -> int:
    """Distinct values of int64 `values`, by sorting (numpy's hashing np.unique takes
    seconds per million distinct values; a sort does 25M in about 2 s)."""
    if len(values) == 0:
        return 0
    ordered = np.sort(values)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def compute_eda(ds: Dataset) -> dict[str, Any]:
    """The dataset's distributions, sparsity and counts as JSON-ready plain data."""
    users, items, inter = ds.users, ds.items, ds.interactions
    n_users, n_items, n_inter = ds.n_users, ds.n_items, len(inter)
    pairs = inter["user_id"].to_numpy(np.int64) * max(n_items, 1) + inter["item_id"].to_numpy()
    distinct_pairs = _distinct_count(pairs)
    cells = n_users * n_items
    density = distinct_pairs / cells if cells else 0.0
    ratings = inter["rating"].to_numpy(np.float64)
    rated = ratings[np.isfinite(ratings)]
    has_timestamps = ds.meta.get("timestamp_unit") != "row order"
    events = set(inter["event"].unique())  # one pass over a column of 25M strings
    present_events = [e for e in EVENTS if e in events] or list(EVENTS)
    extra_events = sorted(events - set(EVENTS))
    return {
        "name": ds.name,
        "source": ds.meta.get("source"),
        "counts": {
            "users": n_users,
            "items": n_items,
            "interactions": n_inter,
            "distinct_user_item_pairs": distinct_pairs,
            "rated_interactions": int(len(rated)),
            "user_features": int(ds.user_features.shape[1]),
            "item_features": int(ds.item_features.shape[1]),
        },
        "density": density,
        "sparsity": 1.0 - density,
        # A log without timestamps is ordered by row number: no dates to show.
        "time_range": (
            [int(inter["timestamp"].min()), int(inter["timestamp"].max())]
            if n_inter and has_timestamps
            else None
        ),
        "time_order": "timestamps" if has_timestamps else "row order",
        "user_age": _numeric_or_categorical(users["age"]) if "age" in users else None,
        "item_price": (
            histogram(items["price"].to_numpy(np.float64), log=True) if "price" in items else None
        ),
        "item_category": categorical(items["category"]) if "category" in items else None,
        "interaction_type": categorical(inter["event"], order=present_events + extra_events),
        "interactions_per_user": _per_entity(inter["user_id"].to_numpy(), n_users),
        "interactions_per_item": _per_entity(inter["item_id"].to_numpy(), n_items),
        "rating": _ratings(rated) if len(rated) else None,
    }


def _ratings(rated: np.ndarray) -> dict[str, Any]:
    """Each rating step counted (half stars, integer scores) when there are few of them;
    otherwise (play counts, weights) binned like the per-user counts, log-spaced when
    heavy-tailed, so every value is in some bar and the most frequent one shows."""
    steps, step_counts = np.unique(np.round(rated * 2) / 2, return_counts=True)
    if len(steps) <= CATEGORICAL_UP_TO:
        return {
            "kind": "categorical",
            "labels": [f"{v:g}" for v in steps],
            "counts": step_counts.astype(int).tolist(),
            "stats": _stats(rated),
        }
    low, high = float(rated.min()), float(rated.max())
    return histogram(rated, log=bool(low > 0 and high > 100 * low))


def merge_bins(dist: dict[str, Any], at_most: int) -> tuple[list[str], list[int]]:
    """(labels, counts) of a distribution for a display with room for `at_most` bars: a
    histogram with more bins has neighbouring bins summed (edges labelled like the bins');
    anything else is returned as is."""
    labels, counts = list(dist["labels"]), list(dist["counts"])
    if dist["kind"] != "histogram" or len(counts) <= at_most:
        return labels, counts
    step = -(-len(counts) // at_most)
    edges = dist["edges"]
    merged_labels, merged_counts = [], []
    for start in range(0, len(counts), step):
        stop = min(start + step, len(counts))
        merged_labels.append(f"{_label(edges[start])}–{_label(edges[stop])}")
        merged_counts.append(sum(counts[start:stop]))
    return merged_labels, merged_counts


def bar_lengths(counts: list[int], cells: int) -> list[int]:
    """Bar lengths in eighths of a text cell for horizontal bars `cells` wide: proportional
    to `counts` (the largest fills the width), rounded to the nearest eighth, and at least one
    eighth for any non-zero count so that no counted value disappears."""
    largest = max(counts, default=0)
    if largest <= 0 or cells <= 0:
        return [0 for _ in counts]
    return [max(1, round(8 * cells * count / largest)) if count > 0 else 0 for count in counts]
