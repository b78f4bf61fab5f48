"""Reference rankings fitted on a log: most-popular and demographic content.

- `popularity_scores`: train interaction counts, the same ranking for everyone.
- `DemographicContent`: taste over item content predicted from demographics (ridge-fitted
  on warm users' engaged items), ranked by cosine, ties broken by popularity. It serves users
  the agent cannot (no history, missing features) and is a baseline offline.
Both are plain arrays once fitted (`arrays` / `from_arrays`), so serving can cache them.
"""

from __future__ import annotations

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import positive_rows


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
        engaged = positive_rows(log, positive_threshold(train.meta))
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

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as plain arrays (for `from_arrays`)."""
        return {"item_content": self.item_content, "coef": self.coef, "prior": self.prior}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DemographicContent:
        """The model `arrays()` came from, without refitting."""
        model = cls.__new__(cls)
        model.item_content = np.asarray(arrays["item_content"], np.float64)
        model.coef = np.asarray(arrays["coef"], np.float64)
        model.prior = np.asarray(arrays["prior"], np.float64)
        model.n_items = len(model.item_content)
        return model


def popularity_scores(train: Dataset) -> np.ndarray:
    """(n_items,) float64 train interaction counts: the most-popular ranking."""
    counts = np.bincount(train.interactions["item_id"].to_numpy(np.int64), minlength=train.n_items)
    return counts.astype(np.float64)
