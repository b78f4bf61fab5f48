"""The hidden ground truth of the `default` simulator, as plain arrays.

The default simulator's user model (see `engine.sim.default`) is
`logit(u, i) = scale · (α·z(⟨p_u, q_i⟩) + (1−α)·z(cos(profile_u, content_i))) + offset
+ appeal_weight · appeal_i`, where `z` standardises each part to unit spread so that α means
what it says whatever the latent factors' scale. Items also carry a lasting value (good
items raise a user's satisfaction when consumed, clickbait lowers it) and an immediate appeal
(how much more clickable an item is than it is good: cheap, popular, low quality).

`truth_from_dataset` builds the truth for synthetic datasets, which carry their generator's
latent factors; `rlrec.engine.truth.fit.fit_truth` builds one for imported logs by fitting the factors.
The agent never sees any of this except `user_observable` / `item_observable`.

Nothing here is users × items or items × items: `HiddenTruth.logits` and `item_similarity`
score the (user, item) or (item, item) pairs asked for from the factor and content tables
(`factor_dot`), and a pair gets the same value whatever batch it is scored in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import DEFAULT_POSITIVE_RATING, positive_rows
from rlrec.data.split import SPLIT_FILE, split_for, train_view
from rlrec.engine.truth.pairs import distinct_keys

# The `default` simulator's hybrid weight α and clickbait appeal weight (its `env.alpha` and
# `env.appeal_weight` defaults): a fitted truth is calibrated at these.
DEFAULT_ALPHA = 0.2
DEFAULT_APPEAL_WEIGHT = 0.5


@dataclass
class HiddenTruth:
    user_latent: np.ndarray  # (U, d) float32, p_u
    item_latent: np.ndarray  # (I, d) float32, q_i
    user_profile: np.ndarray  # (U, c) float32, unit rows, in the same space as item_content
    item_content: np.ndarray  # (I, c) float32, unit rows
    item_value: np.ndarray  # (I,) float32 in [-1, 1]: lasting value (quality) of consuming i
    item_appeal: np.ndarray  # (I,) float32, ~unit spread: immediate clickability beyond value
    item_category: np.ndarray  # (I,) int32 category id
    item_popularity: np.ndarray  # (I,) float32 in (0, 1], share of interest
    item_purchase_prob: np.ndarray  # (I,) float32: P(purchase | engaged)
    user_observable: np.ndarray  # (U, Fu) float32: what the agent may see of a user
    item_observable: np.ndarray  # (I, Fi) float32: what the agent may see of an item
    category_names: list[str] = field(default_factory=list)
    alpha: float = 0.5  # weight of the latent part of the hybrid preference
    latent_scale: float = 1.0  # 1 / spread of ⟨p_u, q_i⟩
    latent_shift: float = 0.0  # mean of ⟨p_u, q_i⟩
    cosine_scale: float = 1.0  # 1 / spread of the cosine part
    cosine_shift: float = 0.0
    logit_scale: float = 1.5  # calibration of the hybrid score before the sigmoid
    logit_offset: float = -0.5
    user_feature_names: list[str] = field(default_factory=list)
    item_feature_names: list[str] = field(default_factory=list)
    # Each user's engaged train items in time order, as CSR: user u's are
    # history_items[history_offsets[u]:history_offsets[u + 1]]. Sessions start from them.
    history_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    history_offsets: np.ndarray | None = None  # (U + 1,) int64; None: nobody has a history
    # Every item each user interacted with in train (engaged or not), CSR likewise.
    consumed_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    consumed_offsets: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_latent)

    @property
    def n_items(self) -> int:
        return len(self.item_latent)

    @property
    def n_categories(self) -> int:
        return int(self.item_category.max()) + 1 if len(self.item_category) else 0

    def with_alpha(self, alpha: float) -> HiddenTruth:
        if not 0.0 <= alpha <= 1.0:
            raise RlrecError(f"env.alpha = {alpha:g} is out of range (allowed: [0, 1])")
        return dataclasses.replace(self, alpha=float(alpha))

    def hybrid_score(self, user_ids: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """float32 α·z(latent) + (1−α)·z(cosine) of these users, computed on demand.

        `user_ids` (n,) int. `items` None: every item, shape (n, I); (n,): one item per user,
        shape (n,); (n, k): k candidate items per user, shape (n, k). Memory is that of the
        result (the full catalogue is done in chunks of items), never users × items."""
        user_ids = np.asarray(user_ids, np.int64)
        if items is None:
            out = np.empty((len(user_ids), self.n_items), np.float32)
            for start in range(0, self.n_items, SCORE_CHUNK):
                chunk = np.arange(start, min(start + SCORE_CHUNK, self.n_items))
                out[:, chunk] = self._hybrid(user_ids[:, None], chunk[None, :])
            return out
        items = np.asarray(items, np.int64)
        rows = user_ids[:, None] if items.ndim == 2 else user_ids
        return self._hybrid(rows, items)

    def _hybrid(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Hybrid score of broadcastable index arrays `users` and `items`."""
        dot = factor_dot(self.user_latent, users, self.item_latent, items)
        latent = (dot - self.latent_shift) * self.latent_scale
        dot = factor_dot(self.user_profile, users, self.item_content, items)
        cosine = (dot - self.cosine_shift) * self.cosine_scale
        return (self.alpha * latent + (1.0 - self.alpha) * cosine).astype(np.float32)

    def preference_logit(self, user_ids: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Calibrated preference logit, before appeal and session state; shapes as
        `hybrid_score`."""
        return self.logit_scale * self.hybrid_score(user_ids, items) + self.logit_offset

    def preference_logit_dense(self) -> np.ndarray:
        """(U, I) float32 preference logit of every user and item as one BLAS product: the
        table small simulators keep (see `engine.sim.base.DENSE_TABLE_LIMIT`); equal to
        `preference_logit(all users)` up to an ulp of the product's rounding."""
        latent = (self.user_latent @ self.item_latent.T - self.latent_shift) * self.latent_scale
        cosine = (self.user_profile @ self.item_content.T - self.cosine_shift) * self.cosine_scale
        hybrid = (self.alpha * latent + (1.0 - self.alpha) * cosine).astype(np.float32)
        return self.logit_scale * hybrid + self.logit_offset

    def logits(
        self, user_ids: np.ndarray, items: np.ndarray | None = None, appeal_weight: float = 0.0
    ) -> np.ndarray:
        """float32 engagement logit of a fresh session: preference logit + appeal_weight ·
        appeal_i. `user_ids` (n,); `items` None → (n, I), (n,) → (n,), (n, k) → (n, k).
        A (user, item) pair gets the same value whatever else is in the batch."""
        logit = self.preference_logit(user_ids, items)
        appeal = self.item_appeal if items is None else self.item_appeal[np.asarray(items)]
        if items is None:
            appeal = appeal[None, :]
        return (logit + appeal_weight * appeal).astype(np.float32)

    def item_similarity(self, items_a: np.ndarray, items_b: np.ndarray) -> np.ndarray:
        """float32 max(0, cos(content_a, content_b)) of broadcastable item-id arrays, computed
        for these pairs only (the content rows are unit vectors)."""
        a, b = np.asarray(items_a, np.int64), np.asarray(items_b, np.int64)
        return np.maximum(factor_dot(self.item_content, a, self.item_content, b), 0.0)

    def latest_history(self, user_ids: np.ndarray, limit: int) -> np.ndarray:
        """(n, limit) each user's latest `limit` engaged train items, oldest first,
        left-padded with n_items (an empty slot)."""
        if self.history_offsets is None:
            return np.full((len(user_ids), limit), self.n_items, dtype=np.int64)
        return latest_of(self.history_items, self.history_offsets, user_ids, limit, self.n_items)

    def consumed(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, items): for each position r of `user_ids`, the items that user interacted
        with in train, as parallel arrays."""
        user_ids = np.asarray(user_ids, np.int64)
        if self.consumed_offsets is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        first = self.consumed_offsets[user_ids]
        counts = self.consumed_offsets[user_ids + 1] - first
        rows = np.repeat(np.arange(len(user_ids)), counts)
        starts = np.repeat(first - np.cumsum(counts) + counts, counts)
        return rows, self.consumed_items[starts + np.arange(counts.sum())]


# Items scored at once when a caller asks for the whole catalogue: bounds the temporaries of
# `factor_dot` at rows × SCORE_CHUNK floats.
SCORE_CHUNK = 4096


def factor_dot(
    left: np.ndarray, left_ids: np.ndarray, right: np.ndarray, right_ids: np.ndarray
) -> np.ndarray:
    """⟨left[left_ids], right[right_ids]⟩ for broadcastable id arrays (shape of their
    broadcast; dtype of the factor tables), summed factor by factor in order 0, 1, …, d−1.
    Each entry is its own chain of elementwise operations, so its value does not depend on
    the shape of the batch (a BLAS product's last bits do); memory is the gathered rows plus
    twice the result."""
    a, b = left[left_ids], right[right_ids]  # (..., d) each: only the rows asked for
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    dtype = np.result_type(left, right)
    out = np.zeros(shape, dtype)
    term = np.empty(shape, dtype)
    for k in range(left.shape[1]):
        np.multiply(a[..., k], b[..., k], out=term)
        out += term
    return out


# ----------------------------------------------------------------------------------------
def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-8)).astype(np.float32)


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    spread = x.std()
    return ((x - x.mean()) / spread if spread > 0 else np.zeros_like(x)).astype(np.float32)


def _item_numeric(ds: Dataset, column: str) -> np.ndarray | None:
    if column not in ds.items.columns:
        return None
    values = np.asarray(ds.items[column], dtype=np.float64)
    return None if np.isnan(values).all() else np.nan_to_num(values, nan=float(np.nanmean(values)))


def _interaction_counts(ds: Dataset) -> np.ndarray:
    items = np.asarray(ds.interactions["item_id"], dtype=np.int64)
    return np.bincount(items, minlength=ds.n_items).astype(np.float64)


def item_value_from_dataset(ds: Dataset) -> np.ndarray:
    """Lasting value in [-1, 1]: listed quality 1–5 if the items have it, else mean rating."""
    quality = _item_numeric(ds, "quality")
    if quality is None:
        ratings = ds.interactions.dropna(subset=["rating"]) if "rating" in ds.interactions else None
        if ratings is not None and len(ratings):
            mean_rating = ratings.groupby("item_id")["rating"].mean()
            quality = np.full(ds.n_items, float(ratings["rating"].mean()))
            quality[mean_rating.index.to_numpy()] = mean_rating.to_numpy()
        else:
            quality = np.full(ds.n_items, 3.0)
    return np.clip((quality - 3.0) / 2.0, -1.0, 1.0).astype(np.float32)


def item_popularity_from_dataset(ds: Dataset) -> np.ndarray:
    """Share of interest in (0, 1]: the item's interactions relative to the most popular."""
    counts = _interaction_counts(ds) + 1.0  # +1 keeps unseen items finite under −log2
    return (counts / counts.max()).astype(np.float32)


def item_categories(ds: Dataset) -> tuple[np.ndarray, list[str]]:
    if "category" not in ds.items.columns:
        return np.zeros(ds.n_items, dtype=np.int32), ["all"]
    names, codes = np.unique(ds.items["category"].astype(str).to_numpy(), return_inverse=True)
    return codes.astype(np.int32), [str(n) for n in names]


def clickbait_appeal(
    value: np.ndarray, popularity: np.ndarray, price: np.ndarray | None
) -> np.ndarray:
    """Immediate appeal beyond lasting value: popular, cheap and low-quality items click more
    than they are worth. Unit spread, mean zero."""
    parts = [_zscore(np.log(popularity)), -_zscore(value)]
    if price is not None:
        parts.append(-_zscore(np.log1p(np.maximum(price, 0.0))))
    return _zscore(np.sum(parts, axis=0))


def content_space(
    ds: Dataset, category: np.ndarray, n_categories: int, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Item content vectors (category one-hot, price and quality levels) and user profiles
    as the mean content of what each user interacted with (global mean if nothing)."""
    onehot = np.eye(n_categories, dtype=np.float64)[category]
    price = _item_numeric(ds, "price")
    numeric = [0.5 * value]
    if price is not None:
        numeric.append(0.5 * np.tanh(_zscore(np.log1p(np.maximum(price, 0.0)))))
    raw = np.column_stack([onehot, *numeric])
    user_ids = np.asarray(ds.interactions["user_id"], dtype=np.int64)
    item_ids = np.asarray(ds.interactions["item_id"], dtype=np.int64)
    # Column by column: the gathered rows of a 25M-row log would take GBs at once.
    profile = np.column_stack(
        [np.bincount(user_ids, weights=column[item_ids], minlength=ds.n_users) for column in raw.T]
    )
    seen = np.bincount(user_ids, minlength=ds.n_users)
    profile[seen == 0] = raw.mean(axis=0)
    # Centre the content so the cosine separates tastes instead of being positive everywhere.
    centre = raw.mean(axis=0)
    return _unit_rows(profile / np.maximum(seen, 1)[:, None] - centre), _unit_rows(raw - centre)


def observable_item_features(
    ds: Dataset, value: np.ndarray, popularity: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The dataset's item features plus the public signals an agent needs to tell good items
    from clickbait (listed quality, price level, popularity), each on a unit scale."""
    log_popularity = np.log(popularity)
    extra = [value, log_popularity / max(1.0, float(-log_popularity.min()))]  # in [-1, 0]
    names = ["sim_quality", "sim_log_popularity"]
    price = _item_numeric(ds, "price")
    if price is not None:
        extra.append(np.tanh(_zscore(np.log1p(np.maximum(price, 0.0)))))
        names.append("sim_price_level")
    base = np.asarray(ds.item_features, dtype=np.float32).reshape(ds.n_items, -1)
    base_names = list(ds.meta.get("item_feature_names") or [f"f{j}" for j in range(base.shape[1])])
    features = np.column_stack([base, *extra]).astype(np.float32)
    return features, base_names + names


def calibrate(truth: HiddenTruth, seed: int = 0, sample: int = 20_000) -> HiddenTruth:
    """Set the shifts/scales so each part of the hybrid score has zero mean, unit spread."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, truth.n_users, sample)
    items = rng.integers(0, truth.n_items, sample)
    latent = np.einsum("nd,nd->n", truth.user_latent[users], truth.item_latent[items])
    cosine = np.einsum("nd,nd->n", truth.user_profile[users], truth.item_content[items])
    return dataclasses.replace(
        truth,
        latent_shift=float(latent.mean()),
        latent_scale=float(1.0 / max(latent.std(), 1e-8)),
        cosine_shift=float(cosine.mean()),
        cosine_scale=float(1.0 / max(cosine.std(), 1e-8)),
    )


def truth_from_dataset(ds: Dataset, folder: str | Path | None = None) -> HiddenTruth:
    """Hidden truth of a synthetic dataset (one that carries `user_latent`/`item_latent`).

    Popularity, item value and user profiles come from the TRAIN part of the dataset's split
    (the one stored in `folder`, else the default split), so validation and test
    interactions never reach the simulator an agent trains in. A log too small to split has
    no held-out part to leak: then the whole log is used."""
    if ds.user_latent is None or ds.item_latent is None:
        raise RlrecError(
            f"dataset '{ds.name}' has no latent factors: use engine.fit.fit_truth for imported data"
        )
    return truth_with_latents(
        _train_part(ds, folder), np.asarray(ds.user_latent), np.asarray(ds.item_latent)
    )


def _train_part(ds: Dataset, folder: str | Path | None) -> Dataset:
    try:
        split = split_for(ds, folder)
    except RlrecError:
        if folder is not None and (Path(folder) / SPLIT_FILE).exists():
            raise  # a stored split that does not fit this log: say so rather than leak
        return ds  # too small to split: nothing is held out
    return train_view(ds, split)


def truth_with_latents(
    ds: Dataset, user_latent: np.ndarray, item_latent: np.ndarray
) -> HiddenTruth:
    """Everything but the latent factors derived from the dataset's items and log; shared by
    `truth_from_dataset` and fitted truths."""
    value = item_value_from_dataset(ds)
    popularity = item_popularity_from_dataset(ds)
    category, names = item_categories(ds)
    profile, content = content_space(ds, category, len(names), value)
    price = _item_numeric(ds, "price")
    # Better items convert more often once engaged (10 % for the worst, 40 % for the best).
    purchase = (0.25 + 0.15 * value).astype(np.float32)
    item_obs, item_names = observable_item_features(ds, value, popularity)
    history_items, history_offsets = engaged_history(
        ds.interactions, ds.n_users, positive_threshold(ds.meta)
    )
    consumed_items, consumed_offsets = consumed_items_of(ds)
    truth = HiddenTruth(
        user_latent=user_latent.astype(np.float32),
        item_latent=item_latent.astype(np.float32),
        user_profile=profile,
        item_content=content,
        item_value=value,
        item_appeal=clickbait_appeal(value, popularity, price),
        item_category=category,
        item_popularity=popularity,
        item_purchase_prob=purchase,
        user_observable=np.asarray(ds.user_features, dtype=np.float32).reshape(ds.n_users, -1),
        item_observable=item_obs,
        category_names=names,
        user_feature_names=list(ds.meta.get("user_feature_names") or []),
        item_feature_names=item_names,
        history_items=history_items,
        history_offsets=history_offsets,
        consumed_items=consumed_items,
        consumed_offsets=consumed_offsets,
    )
    return calibrate(truth)


def engaged_history(
    log: pd.DataFrame, n_users: int, positive_rating: float = DEFAULT_POSITIVE_RATING
) -> tuple[np.ndarray, np.ndarray]:
    """The log's engaged items per user in time order, as CSR (items, offsets); a rating
    counts as engaged from `positive_rating` up (the dataset's `positive_threshold`)."""
    engaged = log.loc[positive_rows(log, positive_rating), ["user_id", "item_id", "timestamp"]]
    engaged = engaged.sort_values(["user_id", "timestamp"], kind="stable")
    users = engaged["user_id"].to_numpy(np.int64)
    return engaged["item_id"].to_numpy(np.int64), _offsets(users, n_users)


def latest_of(
    items: np.ndarray, offsets: np.ndarray, user_ids: np.ndarray, limit: int, pad: int
) -> np.ndarray:
    """(n, limit) the last `limit` entries of each user's CSR row, oldest first, left-padded
    with `pad`."""
    user_ids = np.asarray(user_ids, np.int64)
    out = np.full((len(user_ids), limit), pad, dtype=np.int64)
    first, end = offsets[user_ids], offsets[user_ids + 1]
    index = end[:, None] - limit + np.arange(limit)[None, :]  # the last `limit` positions
    valid = index >= first[:, None]
    out[valid] = items[index[valid]]
    return out


def consumed_items_of(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The distinct items each user interacted with, as CSR (items, offsets)."""
    log = ds.interactions
    key = distinct_keys(log["user_id"].to_numpy(np.int64) * ds.n_items + log["item_id"].to_numpy())
    users, items = np.divmod(key, ds.n_items)
    return items.astype(np.int64), _offsets(users, ds.n_users)


def _offsets(sorted_users: np.ndarray, n_users: int) -> np.ndarray:
    """CSR row offsets (n_users + 1,) of rows grouped by user."""
    offsets = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_users, minlength=n_users), out=offsets[1:])
    return offsets
