"""Recommendation metrics as pure numpy functions.

Offline (top-K lists against held-out relevant items): precision, recall, hit rate, NDCG and
MAP at K, at home beside top-K in `engine.policies.ranking_metrics` (policies that choose
their own hyperparameters on the validation part rank with them too) and re-exported here.

Online (simulated sessions): `mean_ci95`, `ctr`, `conversion`, `normalised_score`.
Beyond accuracy: `intra_list_diversity`, `catalog_coverage`, `novelty`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rlrec.engine.policies.ranking_metrics import (  # noqa: F401  (re-exported)
    Relevant,
    average_precision_per_user,
    has_relevant,
    hit_rate_at_k,
    hit_rate_per_user,
    map_at_k,
    ndcg_at_k,
    ndcg_per_user,
    precision_at_k,
    precision_per_user,
    recall_at_k,
    recall_per_user,
)


# -- online -----------------------------------------------------------------------------------
def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its normal-approximation 95 % confidence interval
    (1.96 · sample std / √n); the half-width is nan for fewer than two values."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float("nan")
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(values.size))


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last `window` values (fewer at the start) — the smoothed
    episode-return curve the TUI draws beside the raw one."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    window = max(1, min(int(window), values.size))
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    end = np.arange(1, values.size + 1)
    start = np.maximum(end - window, 0)
    return (cumulative[end] - cumulative[start]) / (end - start)


def ctr(engagements: float, impressions: float) -> float:
    """Click-through rate: engagements / impressions (nan with no impressions)."""
    return float(engagements) / float(impressions) if impressions else float("nan")


def conversion(purchases: float, impressions: float) -> float:
    """Conversion rate: purchases / impressions (nan with no impressions)."""
    return float(purchases) / float(impressions) if impressions else float("nan")


def normalised_score(value: float, random_value: float, oracle_value: float) -> float:
    """(R − R_random) / (R_oracle − R_random): 0 = random, 1 = myopic oracle; nan when the
    references are missing or equal."""
    spread = oracle_value - random_value
    if not np.isfinite(spread) or spread == 0 or not np.isfinite(value):
        return float("nan")
    return float((value - random_value) / spread)


# -- beyond accuracy --------------------------------------------------------------------------
def intra_list_diversity(recommended: np.ndarray, item_vectors: np.ndarray) -> float:
    """Mean over lists of the mean pairwise (1 − cosine) between the items of each list.

    Negative ids are padding (lists of different lengths); lists with fewer than two items
    have no pairs and are skipped (nan if no list has a pair)."""
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim == 1:
        recommended = recommended[None, :]
    if recommended.size == 0 or recommended.shape[1] < 2:
        return float("nan")
    vectors = np.asarray(item_vectors, dtype=np.float64)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    valid = recommended >= 0
    lists = unit[np.where(valid, recommended, 0)] * valid[:, :, None]  # padding → zero vector
    cosine = np.einsum("nkd,njd->nkj", lists, lists)
    k = recommended.shape[1]
    upper = np.triu_indices(k, 1)
    pair_valid = valid[:, upper[0]] & valid[:, upper[1]]
    pair_count = pair_valid.sum(axis=1)
    distance = np.where(pair_valid, 1.0 - cosine[:, upper[0], upper[1]], 0.0).sum(axis=1)
    has_pairs = pair_count > 0
    if not has_pairs.any():
        return float("nan")
    return float((distance[has_pairs] / pair_count[has_pairs]).mean())


def catalog_coverage(recommended: np.ndarray, n_items: int) -> float:
    """Distinct recommended items / catalogue size."""
    recommended = np.asarray(recommended, dtype=np.int64).ravel()
    if n_items <= 0:
        return float("nan")
    valid = recommended[(recommended >= 0) & (recommended < n_items)]
    return float(np.unique(valid).size / n_items)


def novelty(recommended: np.ndarray, item_popularity: np.ndarray) -> float:
    """Mean −log2(popularity) of the recommended items (popularity in (0, 1])."""
    recommended = np.asarray(recommended, dtype=np.int64).ravel()
    if recommended.size == 0:
        return float("nan")
    popularity = np.clip(np.asarray(item_popularity, dtype=np.float64), 1e-12, 1.0)
    return float(-np.log2(popularity[recommended]).mean())
