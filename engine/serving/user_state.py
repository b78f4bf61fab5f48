"""A served user's logged and latest engaged items, read from the log through per-user
offsets.

`recent_engaged(dataset, users, ...)` is `engine.sim.history_state.recent_positive_items` for
each user alone — the items the agent's state is built from — without its per-call pandas work
(selecting, sorting, and offsets over every user up to this one), which costs milliseconds per
request at a million users. The user's rows come from the dataset's `UserIndex`; the log's
columns are read once per dataset as numpy arrays (the events as two flags: engaged, view);
engagement is decided by the same rule (`data.schema.engagement_mask`, applied to this user's
rows, as serving always did), and the latest items by the same `latest_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.data.schema import ENGAGED_EVENTS, EVENT, RATING, engagement_mask
from rlrec.engine.serving.dataset_cache import per_dataset
from rlrec.engine.serving.user_index import user_index_for
from rlrec.engine.truth.model import latest_of


@dataclass(frozen=True)
class _LogColumns:
    """The log's columns a user's state needs, as arrays (numeric ones are views)."""

    items: np.ndarray  # (rows,) item ids
    times: np.ndarray  # (rows,) timestamps
    ratings: np.ndarray  # (rows,) float64, NaN where none
    engaged_event: np.ndarray  # (rows,) bool: a click or purchase
    view_event: np.ndarray  # (rows,) bool: a view

    @classmethod
    def of(cls, log: pd.DataFrame) -> _LogColumns:
        codes, uniques = pd.factorize(log[EVENT].astype(str), sort=False)
        names = np.asarray(uniques, dtype=object)
        return cls(
            log["item_id"].to_numpy(),
            log["timestamp"].to_numpy(),
            log[RATING].to_numpy(np.float64),
            np.isin(names, ENGAGED_EVENTS)[codes],
            (names == "view")[codes],
        )


# The log's columns as arrays, read once per dataset object.
_columns = per_dataset(lambda dataset: _LogColumns.of(dataset.interactions))


def logged_items(dataset: Dataset, user: int) -> np.ndarray:
    """(n,) int64 the items of `user`'s (row index) logged interactions, in log order."""
    rows = user_index_for(dataset).interaction_rows(int(user))
    return _columns(dataset).items[rows].astype(np.int64)


def recent_engaged(
    dataset: Dataset, users: np.ndarray, limit: int, pad: int, positive_rating: float
) -> np.ndarray:
    """(B, limit) int64: for each of `users` ((B,) row indices), the latest `limit` items
    the user engaged with, oldest first, left-padded with `pad`; items ≥ `pad` (not in the
    catalogue the state is built over) are left out. Row b equals `recent_positive_items(
    user b's log rows, [user b], limit, pad, positive_rating)`. The first call for a dataset
    reads its log columns (seconds at 25M rows); each call after reads only these users'
    rows."""
    users = np.asarray(users, np.int64).reshape(-1)
    columns = _columns(dataset)
    index = user_index_for(dataset)
    per_user = [index.interaction_rows(int(user)) for user in users]
    rows = np.concatenate(per_user) if per_user else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(users)), [len(r) for r in per_user])
    items = columns.items[rows].astype(np.int64)
    keep = engagement_mask(
        columns.ratings[rows],
        columns.engaged_event[rows],
        columns.view_event[rows],
        positive_rating,
        groups=owner,
    ) & (items < pad)
    # Each user's rows in time order, ties in log order: what the stable sort by (user,
    # timestamp) gives (lexsort is stable; each user's rows are in log order).
    order = np.lexsort((columns.times[rows][keep], owner[keep]))
    engaged = items[keep][order]
    offsets = np.zeros(len(users) + 1, np.int64)
    np.cumsum(np.bincount(owner[keep], minlength=len(users)), out=offsets[1:])
    return latest_of(engaged, offsets, np.arange(len(users)), limit, pad)
