"""A dataset's users as arrays, for finding and searching them at a million users and more.

Built once per dataset (`user_index_for`, cached while the dataset lives), it answers what
the faces ask of the user population in milliseconds, where a scan of the users table or of
the interaction log would take a good part of a second:

- `find(original_id)`: the row of a user from the id the source data spells (binary search in
  the sorted ids);
- `search(query)`: the rows of the users matching every word of `query` (case-insensitive) —
  a word matches a user whose original id or row index *starts with* it, or whose segment or
  activity *contains* it. Ids are searched by prefix so the answer is two binary searches,
  not a scan of a million strings; segments and activities are few distinct values, so a
  word is matched against those and the users are picked by code;
- `rows(indices)`: the list's cells (original id, segment, activity, interaction count) of
  those rows only, so a list shows a window of a million users without building them all;
- `interaction_rows(user)`: the positions of the user's rows in the interaction log (logs
  grouped by user — as the store writes them — need no sort; others are sorted once).

Memory: O(users) for ids and codes, plus O(interactions) int64 positions only for a log that
is not grouped by user.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.engine.serving.dataset_cache import per_dataset

# Sorts after every character a lowercased id can hold: `prefix + _AFTER` bounds the prefix.
_AFTER = "\U0010ffff"


@dataclass(frozen=True)
class _Labels:
    """A string column as codes into its few distinct values (lowercased for search)."""

    values: np.ndarray  # (n_distinct,) object: as shown
    lowered: tuple[str, ...]
    codes: np.ndarray  # (n_users,) int32

    @classmethod
    def of(cls, column: np.ndarray) -> _Labels:
        codes, values = pd.factorize(column, sort=False)
        values = np.asarray(values, dtype=object)
        return cls(values, tuple(str(v).lower() for v in values), codes.astype(np.int32))

    def matching(self, word: str) -> np.ndarray:
        """(n_users,) bool: the users whose label contains `word` (lowercase)."""
        hits = np.fromiter((word in label for label in self.lowered), bool, len(self.lowered))
        if not hits.any():
            return np.zeros(len(self.codes), bool)
        # One lookup per user in a table of the few labels (np.isin sorts: 30× slower).
        return hits[self.codes]


class UserIndex:
    """The users of one dataset (or `n_users` bare indices), see the module doc."""

    def __init__(
        self,
        original_ids: np.ndarray,
        segment: np.ndarray | None = None,
        activity: np.ndarray | None = None,
        interactions: np.ndarray | None = None,
        *,
        segment_from: str | None = None,
        log_users: np.ndarray | None = None,
    ) -> None:
        """`original_ids` (n_users,) str-like; `segment`, `activity` (n_users,) str-like or
        None (shown as ''); `interactions` (n_users,) int counts or None (unknown, shown as
        '–'); `log_users` the interaction log's `user_id` column, for `interaction_rows`."""
        ids = np.asarray(original_ids).astype(str)
        self.n_users = len(ids)
        self.original_ids = ids
        blank = np.full(self.n_users, "", dtype=object)
        self.segment = _Labels.of(blank if segment is None else np.asarray(segment).astype(str))
        self.activity = _Labels.of(blank if activity is None else np.asarray(activity).astype(str))
        self.interactions = None if interactions is None else np.asarray(interactions, np.int64)
        self.segment_from = segment_from
        self.max_id_length = int(np.char.str_len(ids).max()) if self.n_users else 0
        self.max_interactions = (
            int(self.interactions.max()) if self.interactions is not None and self.n_users else 0
        )
        self._exact_order = np.argsort(ids, kind="stable")
        self._exact_sorted = ids[self._exact_order]
        lowered = np.char.lower(ids) if self.n_users else ids
        if np.array_equal(lowered, ids):  # ids without capitals (numbers): one sort serves both
            self._order, self._sorted = self._exact_order, self._exact_sorted
        else:
            self._order = np.argsort(lowered, kind="stable")
            self._sorted = lowered[self._order]
        self._all = np.arange(self.n_users, dtype=np.int64)
        self._log_users = log_users
        self._log_lock = threading.Lock()
        self._log_offsets: tuple[np.ndarray | None, np.ndarray] | None = None

    # -- lookups ------------------------------------------------------------------------------
    def find(self, original_id: Any) -> int | None:
        """Row of the user whose original id is `original_id` (compared as text, exactly),
        or None. The first row when ids repeat."""
        key = str(original_id)
        at = int(np.searchsorted(self._exact_sorted, key, side="left"))
        if at < self.n_users and self._exact_sorted[at] == key:
            return int(self._exact_order[at])
        return None

    def search(self, query: str) -> np.ndarray:
        """(n_matches,) int64 rows, ascending, of the users matching every word of `query`
        (see the module doc); all users for an empty query. O(n_users) per word at most."""
        words = query.lower().split()
        if not words:
            return self._all
        keep: np.ndarray | None = None
        for word in words:
            hits = self._id_prefix(word)
            hits |= self.segment.matching(word)
            hits |= self.activity.matching(word)
            keep = hits if keep is None else keep & hits
        assert keep is not None
        return np.flatnonzero(keep).astype(np.int64, copy=False)

    def _id_prefix(self, word: str) -> np.ndarray:
        """(n_users,) bool: the users whose original id or row index starts with `word`."""
        hits = np.zeros(self.n_users, bool)
        lo = int(np.searchsorted(self._sorted, word, side="left"))
        hi = int(np.searchsorted(self._sorted, word + _AFTER, side="left"))
        hits[self._order[lo:hi]] = True
        if word.isdigit() and (word == "0" or not word.startswith("0")):
            # Row indices starting with these digits: [p·10^k, (p+1)·10^k) for each k.
            first, width = int(word), 1
            while first * width < self.n_users:
                hits[first * width : min((first + 1) * width, self.n_users)] = True
                if first == 0:
                    break
                width *= 10
        return hits

    def rows(self, indices: np.ndarray) -> list[tuple[str, str, str, int | None]]:
        """The list cells of these rows: (original id, segment, activity, interaction count
        or None when unknown), in the order given."""
        indices = np.asarray(indices, np.int64)
        ids = self.original_ids[indices]
        segments = self.segment.values[self.segment.codes[indices]]
        activities = self.activity.values[self.activity.codes[indices]]
        counts = (
            [None] * len(indices)
            if self.interactions is None
            else self.interactions[indices].tolist()
        )
        return [
            (str(i), str(s), str(a), c)
            for i, s, a, c in zip(ids, segments, activities, counts, strict=True)
        ]

    def interaction_rows(self, user: int) -> np.ndarray:
        """(n,) int64 positions in the interaction log of `user`'s rows, in log order.
        ValueError when the index was built without the log."""
        if self._log_users is None:
            raise ValueError("this user index was built without the interaction log")
        with self._log_lock:
            if self._log_offsets is None:
                self._log_offsets = _group_by_user(self._log_users, self.n_users)
        order, offsets = self._log_offsets
        lo, hi = int(offsets[user]), int(offsets[user + 1])
        if order is None:
            return np.arange(lo, hi, dtype=np.int64)
        return order[lo:hi]


def _group_by_user(users: np.ndarray, n_users: int) -> tuple[np.ndarray | None, np.ndarray]:
    """(order or None, offsets (n_users + 1,)): the rows of user u are `order[offsets[u]:
    offsets[u+1]]` (or that range itself when the log is already grouped by user)."""
    users = np.asarray(users)
    order = None
    if len(users) > 1 and bool((users[1:] < users[:-1]).any()):
        order = np.argsort(users, kind="stable")
        users = users[order]
    offsets = np.searchsorted(users, np.arange(n_users + 1), side="left").astype(np.int64)
    return order, offsets


def build_user_index(dataset: Dataset) -> UserIndex:
    """The index of `dataset`'s users: segment from `segment`, else `occupation`, else
    `gender` (named in `segment_from`), activity from `activity`, counts from the log."""
    users = dataset.users
    n = len(users)
    segment_from = next((c for c in ("segment", "occupation", "gender") if c in users), None)
    log_users = dataset.interactions["user_id"].to_numpy()
    return UserIndex(
        users["original_id"].to_numpy() if "original_id" in users else np.arange(n),
        users[segment_from].to_numpy() if segment_from else None,
        users["activity"].to_numpy() if "activity" in users else None,
        np.bincount(log_users, minlength=n),
        segment_from=segment_from,
        log_users=log_users,
    )


def plain_user_index(n_users: int) -> UserIndex:
    """The index of a run without a dataset (seed-classic): users are bare indices."""
    return UserIndex(np.arange(n_users))


# Built once per dataset object and kept while it lives (the faces ask from worker threads).
user_index_for = per_dataset(build_user_index)
