"""Agent states from logged histories, and the fallbacks used where the agent has nothing.

- `recent_positive_items`: each user's latest engaged items in a log (time order).
- `state_from_history`: the `default` simulator's first observation of a session for a user
  whose latest engaged items are those (user features ‖ mean of the last H engaged items ‖
  recency-weighted mean ‖ context), so a trained agent can be asked about a real user with a
  real past. A user with no history gets the demographics-only observation.
- Fallbacks, for users the agent cannot serve (an id unknown to the run's dataset, missing
  features): `DemographicContent` (taste over item content predicted from demographics,
  ridge-fitted on warm users' engaged items) or plain most-popular.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.data.schema import positive_rows
from rlrec.engine.sim.base import VectorSimulator
from rlrec.engine.truth.model import engaged_history, latest_of

FALLBACKS = ("content", "popular")


def recent_positive_items(
    log: pd.DataFrame, user_ids: np.ndarray, limit: int, pad: int
) -> np.ndarray:
    """(len(user_ids), limit) the latest `limit` engaged items of each user, oldest first,
    left-padded with `pad` (the same rule the simulator's sessions start from)."""
    user_ids = np.asarray(user_ids, np.int64)
    n_users = int(max(user_ids.max(initial=-1), log["user_id"].max() if len(log) else -1)) + 1
    items, offsets = engaged_history(log, n_users)
    return latest_of(items, offsets, user_ids, limit, pad)


def state_from_history(
    sim: VectorSimulator, user_ids: np.ndarray, recent: np.ndarray
) -> np.ndarray:
    """First observation of a new session for users whose latest engaged items are `recent`
    (padded with n_items) — for the `default` simulator, the same state its sessions start
    from; other simulators get their fresh observation."""
    with_history = getattr(sim, "observation_with_history", None)
    if with_history is None:
        return np.asarray(sim.fresh_observation(np.asarray(user_ids)), dtype=np.float32)
    return with_history(np.asarray(user_ids), recent)


class DemographicContent:
    """Content-based cold start: predict a user's taste over item content from demographics
    (ridge regression fitted on warm users' engaged items), rank items by cosine, break ties
    by popularity."""

    name = "content"

    def __init__(self, train: Dataset, ridge: float = 1.0):
        items = np.nan_to_num(np.asarray(train.item_features, np.float64)).reshape(
            train.n_items, -1
        )
        self.item_content = items - items.mean(axis=0)
        self.n_items = train.n_items
        log = train.interactions
        engaged = positive_rows(log)
        users = log["user_id"].to_numpy(np.int64)[engaged]
        liked = log["item_id"].to_numpy(np.int64)[engaged]
        taste = np.zeros((train.n_users, items.shape[1]))
        np.add.at(taste, users, self.item_content[liked])
        counts = np.bincount(users, minlength=train.n_users)
        warm = counts > 0
        taste = taste / np.maximum(counts, 1)[:, None]
        x = self._design(train.user_features, train.n_users)
        xw = x[warm] if warm.any() else x
        target = taste[warm] if warm.any() else taste
        self.coef = np.linalg.solve(xw.T @ xw + ridge * np.eye(x.shape[1]), xw.T @ target)
        popularity = np.bincount(log["item_id"].to_numpy(np.int64), minlength=train.n_items)
        self.prior = 1e-3 * np.log1p(popularity) / max(np.log1p(popularity).max(), 1.0)

    @staticmethod
    def _design(features: np.ndarray, n: int) -> np.ndarray:
        x = np.nan_to_num(np.asarray(features, np.float64)).reshape(n, -1)
        return np.c_[x, np.ones(n)]

    def scores_for_features(self, user_features: np.ndarray) -> np.ndarray:
        """(n, n_items) cosine between predicted taste and item content (+ popularity ties)."""
        taste = self._design(user_features, len(user_features)) @ self.coef
        unit_taste = taste / np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)
        norms = np.maximum(np.linalg.norm(self.item_content, axis=1), 1e-12)
        return (unit_taste @ (self.item_content / norms[:, None]).T) + self.prior[None, :]


def popularity_scores(train: Dataset) -> np.ndarray:
    """(n_items,) train interaction counts: the most-popular ranking."""
    counts = np.bincount(train.interactions["item_id"].to_numpy(np.int64), minlength=train.n_items)
    return counts.astype(np.float64)
