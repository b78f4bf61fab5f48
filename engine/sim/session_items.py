"""Compact per-session item sets: which items a session excludes, as sorted ids, not a mask.

A (sessions × items) bool mask costs 100 MB for 1024 sessions over 100k items, and clearing
and filling its rows dominates a step. A session only ever excludes a few items — its user's
logged items and what it engaged with — so the `default` simulator keeps, on large
catalogues, each session's ids sorted within its row and tests membership for all queried
(session, item) pairs at once: with key(row, item) = row · (n_items + 1) + item, rows sorted
within themselves form one globally sorted key array (padding with n_items keeps a row's keys
below the next row's), so one `np.searchsorted` answers every query.
"""

from __future__ import annotations

import numpy as np


def row_keys(rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """int64 key(row, item) = row · (n_items + 1) + item of broadcastable arrays."""
    return np.asarray(rows, np.int64) * (n_items + 1) + np.asarray(items, np.int64)


def contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """bool of `queries`' shape: True where a query key is in the sorted 1-D `sorted_keys`."""
    if not sorted_keys.size:
        return np.zeros(np.shape(queries), dtype=bool)
    where = np.minimum(np.searchsorted(sorted_keys, queries), sorted_keys.size - 1)
    return sorted_keys[where] == queries


def padded_keys(padded: np.ndarray, n_items: int) -> np.ndarray:
    """Flat sorted keys of a (N, L) array whose rows are sorted and padded with n_items."""
    rows = np.arange(len(padded))[:, None]
    return row_keys(rows, padded, n_items).ravel()


def insert_sorted(padded: np.ndarray, rows: np.ndarray, items: np.ndarray) -> None:
    """Insert `items[i]` into row `rows[i]` (distinct rows) of a (N, L) array of sorted rows
    padded with a value above every item, in place. Each row must have a pad left."""
    block = padded[rows]
    block[:, -1] = items
    padded[rows] = np.sort(block, axis=1)


def dense_rows(padded: np.ndarray, n_items: int) -> np.ndarray:
    """(N, n_items) bool: True where a row of the padded (N, L) array holds the item."""
    out = np.zeros((len(padded), n_items + 1), dtype=bool)
    out[np.arange(len(padded))[:, None], padded] = True
    return out[:, :n_items]
