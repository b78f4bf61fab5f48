"""Ranking quality of top-K lists against relevant items, as pure numpy functions.

`recommended` is an (N, K') int array of item ids, best first (K' may be smaller than k: a
short list counts its missing slots as misses); `relevant` is either a list of N sets of item
ids or an (N, n_items) bool matrix (binary relevance). Each `*_at_k` returns the mean over
users; the `*_per_user` variants return the (N,) array. Users with no relevant items score 0
on every metric (there is nothing to find); use `has_relevant` to exclude them if preferred.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Relevant = Sequence[set[int]] | np.ndarray


# -- offline ----------------------------------------------------------------------------------
def _hits(recommended: np.ndarray, relevant: Relevant, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, k) bool: whether the item at each rank is relevant; (N,) number of relevant items.

    Ranks past the end of a short list are misses; a repeated item counts only once."""
    if k < 1:
        raise ValueError(f"k = {k} must be at least 1")
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim == 1:
        recommended = recommended[None, :]
    n = recommended.shape[0]
    top = np.full((n, k), -1, dtype=np.int64)
    width = min(k, recommended.shape[1])
    top[:, :width] = recommended[:, :width]
    if isinstance(relevant, np.ndarray) and relevant.dtype == bool and relevant.ndim == 2:
        if len(relevant) != n:
            raise ValueError(f"relevant has {len(relevant)} rows for {n} users")
        valid = (top >= 0) & (top < relevant.shape[1])
        hits = np.zeros((n, k), dtype=bool)
        rows = np.broadcast_to(np.arange(n)[:, None], top.shape)
        hits[valid] = relevant[rows[valid], top[valid]]
        n_relevant = relevant.sum(axis=1)
    else:
        if len(relevant) != n:
            raise ValueError(f"relevant has {len(relevant)} entries for {n} users")
        n_relevant = np.array([len(rel) for rel in relevant], dtype=np.int64)
        # Encode (user, item) pairs as one integer so membership is a single np.isin.
        rel_items = np.fromiter((i for rel in relevant for i in rel), dtype=np.int64)
        rel_users = np.repeat(np.arange(n), n_relevant)
        width = int(max(rel_items.max(initial=0), top.max(initial=0))) + 2
        rows = np.arange(n)[:, None]
        hits = np.isin(rows * width + top, rel_users * width + rel_items)
    # A repeated item in a list must not be credited twice.
    first = np.ones_like(hits)
    if k > 1:
        sorted_idx = np.argsort(top, axis=1, kind="stable")
        sorted_items = np.take_along_axis(top, sorted_idx, axis=1)
        repeat_sorted = np.zeros_like(hits)
        repeat_sorted[:, 1:] = sorted_items[:, 1:] == sorted_items[:, :-1]
        np.put_along_axis(first, sorted_idx, ~repeat_sorted, axis=1)
    return hits & first & (top >= 0), n_relevant


def has_relevant(relevant: Relevant) -> np.ndarray:
    """(N,) bool: users with at least one relevant item."""
    if isinstance(relevant, np.ndarray) and relevant.ndim == 2:
        return np.asarray(relevant.any(axis=1))
    return np.array([len(rel) > 0 for rel in relevant], dtype=bool)


def precision_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    hits, _ = _hits(recommended, relevant, k)
    return np.asarray(hits.sum(axis=1) / k)


def recall_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    hits, n_relevant = _hits(recommended, relevant, k)
    return np.where(n_relevant > 0, hits.sum(axis=1) / np.maximum(n_relevant, 1), 0.0)


def hit_rate_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    hits, _ = _hits(recommended, relevant, k)
    return np.asarray(hits.any(axis=1), dtype=np.float64)


def ndcg_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """DCG with log2(rank + 1) discount over the ideal DCG of min(|relevant|, k) hits."""
    hits, n_relevant = _hits(recommended, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discount).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_relevant, k)]
    return np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1.0), 0.0)


def average_precision_per_user(recommended: np.ndarray, relevant: Relevant, k: int) -> np.ndarray:
    """AP@K: mean of precision@rank over relevant ranks, divided by min(|relevant|, k)."""
    hits, n_relevant = _hits(recommended, relevant, k)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    total = (precision_at_rank * hits).sum(axis=1)
    denominator = np.minimum(n_relevant, k)
    return np.where(denominator > 0, total / np.maximum(denominator, 1), 0.0)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def precision_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    return _mean(precision_per_user(recommended, relevant, k))


def recall_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    return _mean(recall_per_user(recommended, relevant, k))


def hit_rate_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    return _mean(hit_rate_per_user(recommended, relevant, k))


def ndcg_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    return _mean(ndcg_per_user(recommended, relevant, k))


def map_at_k(recommended: np.ndarray, relevant: Relevant, k: int) -> float:
    return _mean(average_precision_per_user(recommended, relevant, k))
