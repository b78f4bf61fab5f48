"""Top-K: the one ranking function every policy, evaluation and serving path uses."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """(n, min(k, n_items)) int64 item ids of each row of `scores` ((n, n_items), higher is
    better), best first; items where `exclude` ((n, n_items) or (n_items,) bool) is True
    score -inf and so come last. Ties are broken by `np.argpartition`'s order, then stably
    (offline metrics depend on it). Raises ValueError for k < 1."""
    if k < 1:
        raise ValueError(f"k = {k} must be at least 1")
    scores = np.asarray(scores, np.float64)
    if exclude is not None:
        scores = np.where(exclude, -np.inf, scores)
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
