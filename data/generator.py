"""Synthetic dataset with the seed's population: users, items, and a logged interaction history.

Everything is drawn from one `numpy.random.Generator` per part (users, items, latent factors,
interactions), all spawned from `seed`, so the same seed and sizes give the same arrays and —
through `data.store` — byte-identical files.

Item choice follows the issue's choice model,

    P(i | u) ∝ pref[u, category_i] · max(0.1, 1 − price_sensitivity_u · price_i / 1000)
               · (1 + popularity_i) · quality_i / 5,

sampled exactly without ever building a users × items matrix: propose the category from
pref[u, c] · (Σ_{i in c} (1 + pop_i) q_i / 5), the item within the category ∝ (1 + pop_i) q_i / 5,
then accept with probability max(0.1, 1 − ps_u · price_i / 1000) (always ≤ 1), redrawing the
rejected ones. The cost is linear in the number of interactions.

Latent factors (the simulator's collaborative ground truth) are N(0, 1/√20) per dimension for
both users and items: each vector has norm ≈ 1, ⟨p_u, q_i⟩ has standard deviation 1/√20 ≈ 0.22,
and neither side dominates the product.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.memory import check_fits
from rlrec.data.schema import EVENTS

Progress = Callable[[float, str], None]

CATEGORIES = (
    "Electronics",
    "Books",
    "Clothing",
    "Home & Garden",
    "Sports",
    "Music",
    "Movies",
    "Food",
    "Health",
    "Travel",
)
PRICE_MULTIPLIER = {
    "Electronics": 3.0,
    "Books": 0.8,
    "Clothing": 1.5,
    "Home & Garden": 2.0,
    "Sports": 2.5,
    "Music": 1.0,
    "Movies": 1.0,
    "Food": 1.2,
    "Health": 1.8,
    "Travel": 4.0,
}
AGE_BUCKETS = (18, 25, 35, 45, 55, 65)
AGE_P = (0.10, 0.25, 0.25, 0.20, 0.15, 0.05)
GENDERS = ("M", "F", "O")
GENDER_P = (0.45, 0.45, 0.10)
INCOMES = ("Low", "Medium", "High")
INCOME_P = (0.3, 0.5, 0.2)
LOCATIONS = ("Urban", "Suburban", "Rural")
LOCATION_P = (0.4, 0.45, 0.15)
ACTIVITIES = ("Low", "Medium", "High")
ACTIVITY_P = (0.2, 0.6, 0.2)
ACTIVITY_MEAN_INTERACTIONS = (5.0, 20.0, 50.0)
MIN_INTERACTIONS, MAX_INTERACTIONS = 1, 100
# `activity` scales those means (and the cap) for a denser or sparser log.
ACTIVITY_RANGE = (0.05, 20.0)
BRAND_TIERS = ("Premium", "Standard", "Budget")
BRAND_TIER_P = (0.2, 0.5, 0.3)
SEASONALITIES = ("None", "Summer", "Winter", "Holiday")
SEASONALITY_P = (0.6, 0.15, 0.15, 0.1)
EVENT_P_HIGH_QUALITY = (0.4, 0.3, 0.2, 0.1)  # quality > 4
EVENT_P_OTHER = (0.5, 0.3, 0.15, 0.05)
LATENT_DIM = 20
# 2023-01-01T00:00:00Z .. 2024-12-31T23:59:59Z
TIME_START = 1_672_531_200
TIME_END = 1_735_689_600
HOURS_IN_RANGE = (TIME_END - TIME_START) // 3600
# Users per chunk when sampling interactions: bounds memory and paces the progress callback.
USER_CHUNK = 16_384
# Bits that hold seconds since TIME_START in the sort key of a user's interactions.
_TIME_BITS = (TIME_END - TIME_START - 1).bit_length()


def category_slug(category: str) -> str:
    """'Home & Garden' -> 'home_garden': the suffix of the `pref_<category>` columns."""
    return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")


def _check_activity(value: float) -> float:
    low, high = ACTIVITY_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _refuse("activity", value, f"{value!r} is not a number", f"{low:g}..{high:g}", low, high)
    if not low <= float(value) <= high:
        _refuse("activity", value, f"{value:g} is out of range", f"{low:g}..{high:g}", low, high)
    return float(value)


def _check_size(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _refuse(name, value, f"{value!r} is not an integer", f"{low}..{high}", low, high)
    if not low <= int(value) <= high:
        _refuse(name, value, f"{value} is out of range", f"{low}..{high}", low, high)
    return int(value)


def _refuse(name: str, value: Any, problem: str, shown_range: str, low: float, high: float) -> None:
    """RlrecError "name=<problem> (allowed low..high)" naming the parameter `name`."""
    raise RlrecError(
        f"{name}={problem} (allowed {shown_range})",
        key=name,
        value=value,
        allowed=(low, high),
        option=name,
    )


def _feature_matrix(n_rows: int, blocks: list[tuple[np.ndarray, list[str]]]) -> np.ndarray:
    """(n_rows, total names) float32 matrix of the `blocks` side by side, written in place:
    a 1-D integer block holds codes, one-hot encoded over its names; a 2-D block is copied."""
    matrix = np.zeros((n_rows, sum(len(names) for _, names in blocks)), dtype=np.float32)
    rows = np.arange(n_rows)
    column = 0
    for values, names in blocks:
        if values.ndim == 1:
            matrix[rows, column + values] = 1.0
        else:
            matrix[:, column : column + len(names)] = values
        column += len(names)
    return matrix


def _strings(labels: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """(len(codes),) pandas "str" array of `labels[codes]`, built by Arrow without a Python
    string per row (a numpy unicode array of 23M events would be 0.7 GB and seconds to convert)."""
    return pd.array(pa.array(labels, type=pa.large_string()).take(pa.array(codes)), dtype="str")


def _decimal_strings(n: int) -> pd.api.extensions.ExtensionArray:
    """(n,) pandas "str" array "0", "1", ..., str(n - 1), built by Arrow."""
    return pd.array(pa.array(np.arange(n)).cast(pa.large_string()), dtype="str")


def _users(rng: np.random.Generator, n_users: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    n_cat = len(CATEGORIES)
    age_code = rng.choice(len(AGE_BUCKETS), size=n_users, p=AGE_P)
    gender_code = rng.choice(len(GENDERS), size=n_users, p=GENDER_P)
    income_code = rng.choice(len(INCOMES), size=n_users, p=INCOME_P)
    location_code = rng.choice(len(LOCATIONS), size=n_users, p=LOCATION_P)
    activity_code = rng.choice(len(ACTIVITIES), size=n_users, p=ACTIVITY_P)
    price_sensitivity = rng.beta(2.0, 5.0, size=n_users)
    segment_code = rng.integers(0, n_cat, size=n_users)
    preferences = rng.dirichlet(np.ones(n_cat), size=n_users)
    preferences[np.arange(n_users), segment_code] *= 2.0
    preferences /= preferences.sum(axis=1, keepdims=True)

    users = pd.DataFrame(
        {
            "user_id": np.arange(n_users, dtype=np.int32),
            "original_id": _decimal_strings(n_users),
            "age": np.asarray(AGE_BUCKETS, dtype=np.int32)[age_code],
            "gender": _strings(GENDERS, gender_code),
            "income": _strings(INCOMES, income_code),
            "location": _strings(LOCATIONS, location_code),
            "activity": _strings(ACTIVITIES, activity_code),
            "price_sensitivity": price_sensitivity.astype(np.float32),
            "segment": _strings(CATEGORIES, segment_code),
        }
    )
    for c, category in enumerate(CATEGORIES):
        users[f"pref_{category_slug(category)}"] = preferences[:, c].astype(np.float32)

    blocks: list[tuple[np.ndarray, list[str]]] = [
        (age_code, [f"age_{a}" for a in AGE_BUCKETS]),
        (gender_code, [f"gender_{g}" for g in GENDERS]),
        (income_code, [f"income_{v.lower()}" for v in INCOMES]),
        (location_code, [f"location_{v.lower()}" for v in LOCATIONS]),
        (activity_code, [f"activity_{v.lower()}" for v in ACTIVITIES]),
        (segment_code, [f"segment_{category_slug(c)}" for c in CATEGORIES]),
        (preferences.astype(np.float32), [f"pref_{category_slug(c)}" for c in CATEGORIES]),
        (price_sensitivity.astype(np.float32)[:, None], ["price_sensitivity"]),
    ]
    features = _feature_matrix(n_users, blocks)
    names = [n for _, block_names in blocks for n in block_names]
    return users, features, names


def _items(rng: np.random.Generator, n_items: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    n_cat = len(CATEGORIES)
    category_code = rng.integers(0, n_cat, size=n_items)
    multiplier = np.asarray([PRICE_MULTIPLIER[c] for c in CATEGORIES])[category_code]
    price = np.round(rng.lognormal(2.0, 1.0, size=n_items) * multiplier, 2)
    # Quality rises with log price, plus noise; kept continuous (one decimal) in 1..5.
    quality = np.round(
        np.clip(2.0 + 0.5 * np.log(price) + rng.normal(0.0, 0.7, size=n_items), 1.0, 5.0), 1
    )
    popularity = rng.beta(2.0, 8.0, size=n_items)
    brand_code = rng.choice(len(BRAND_TIERS), size=n_items, p=BRAND_TIER_P)
    season_code = rng.choice(len(SEASONALITIES), size=n_items, p=SEASONALITY_P)
    category = np.asarray(CATEGORIES)[category_code]
    # "Electronics #17": the item's 1-based rank among the items of its category.
    rank_in_category = pd.Series(category_code).groupby(category_code).cumcount().to_numpy() + 1
    title = pd.Series(category).str.cat(rank_in_category.astype(str), sep=" #").to_numpy()

    items = pd.DataFrame(
        {
            "item_id": np.arange(n_items, dtype=np.int32),
            "original_id": _decimal_strings(n_items),
            "category": category,
            "title": title,
            "price": price.astype(np.float32),
            "quality": quality.astype(np.float32),
            "popularity": popularity.astype(np.float32),
            "brand_tier": np.asarray(BRAND_TIERS)[brand_code],
            "seasonality": np.asarray(SEASONALITIES)[season_code],
        }
    )
    log_price = np.log(price)
    span = log_price.max() - log_price.min()
    price_scaled = (log_price - log_price.min()) / span if span > 0 else np.zeros(n_items)
    blocks: list[tuple[np.ndarray, list[str]]] = [
        (category_code, [f"category_{category_slug(c)}" for c in CATEGORIES]),
        (brand_code, [f"brand_{v.lower()}" for v in BRAND_TIERS]),
        (season_code, [f"season_{v.lower()}" for v in SEASONALITIES]),
        (price_scaled.astype(np.float32)[:, None], ["log_price_scaled"]),
        (((quality - 1.0) / 4.0).astype(np.float32)[:, None], ["quality_scaled"]),
        (popularity.astype(np.float32)[:, None], ["popularity"]),
    ]
    features = _feature_matrix(n_items, blocks)
    names = [n for _, block_names in blocks for n in block_names]
    return items, features, names


def _normal_rows(rng: np.random.Generator, scale: float, n_rows: int) -> np.ndarray:
    """(n_rows, LATENT_DIM) float32 draws of N(0, scale), the values of
    `rng.normal(0, scale, (n_rows, LATENT_DIM)).astype(np.float32)` (the stream is read in
    the same order) without its float64 intermediate: drawn USER_CHUNK rows at a time."""
    out = np.empty((n_rows, LATENT_DIM), dtype=np.float32)
    for start in range(0, n_rows, USER_CHUNK):
        stop = min(start + USER_CHUNK, n_rows)
        out[start:stop] = rng.normal(0.0, scale, (stop - start, LATENT_DIM))
    return out


class _GuidedSearch:
    """`np.searchsorted(sorted_values, v, "left")`, exactly, about five times faster on large
    arrays: a guide table of ~4 buckets per value narrows each search to a few entries.

    Why exact: the bucket of x is floor(x · scale) — monotone in x, as a float product by a
    positive constant and a floor are. So every value in a lower bucket than v is < v and
    every value in a higher bucket is > v; only the values sharing v's bucket are compared."""

    BUCKETS_PER_VALUE = 4
    # Beyond this many values in one bucket (very skewed weights), plain binary search wins.
    MAX_SCAN = 8

    def __init__(self, sorted_values: np.ndarray):
        self.values = sorted_values
        n = len(sorted_values)
        self.n_buckets = self.BUCKETS_PER_VALUE * max(n, 1)
        top = float(sorted_values[-1]) if n else 0.0
        self.scale = self.n_buckets / top if top > 0 else 0.0
        buckets = self._bucket(sorted_values)
        every = np.arange(self.n_buckets)
        self.first = np.searchsorted(buckets, every, "left")  # values in lower buckets
        self.end = np.searchsorted(buckets, every, "right")  # ... in this bucket or lower
        self.scan = int((self.end - self.first).max()) if n else 0

    def _bucket(self, x: np.ndarray) -> np.ndarray:
        return np.minimum((x * self.scale).astype(np.int64), self.n_buckets - 1)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """(len(v),) int64: how many sorted values are < each entry of `v` (finite, ≥ 0)."""
        if self.scale == 0.0 or self.scan > self.MAX_SCAN:
            return np.searchsorted(self.values, v, "left")
        bucket = self._bucket(v)
        first, end = self.first[bucket], self.end[bucket]
        found = first.copy()
        last = len(self.values) - 1
        for step in range(self.scan):
            index = first + step
            found += (index < end) & (self.values[np.minimum(index, last)] < v)
        return found


class _ItemSampler:
    """Draws items for many (user, draw) pairs at once with the exact choice model above."""

    def __init__(self, items: pd.DataFrame, preferences: np.ndarray, price_sensitivity: np.ndarray):
        category_code = pd.Categorical(items["category"], categories=CATEGORIES).codes
        base = (1.0 + items["popularity"].to_numpy(np.float64)) * (
            items["quality"].to_numpy(np.float64) / 5.0
        )
        n_cat = len(CATEGORIES)
        # Items grouped by category; within a group, a cumulative weight for inverse-CDF draws.
        self.order = np.argsort(category_code, kind="stable")
        self.group_start = np.searchsorted(category_code[self.order], np.arange(n_cat))
        self.group_size = np.bincount(category_code, minlength=n_cat)
        sorted_base = base[self.order]
        self.position_of = _GuidedSearch(np.cumsum(sorted_base))
        category_mass = np.bincount(category_code, weights=base, minlength=n_cat)
        self.mass_before_group = np.concatenate([[0.0], np.cumsum(category_mass)[:-1]])
        self.category_mass = category_mass
        self.price = items["price"].to_numpy(np.float64)
        # Cumulative category weight pref[u, c] × (the category's item weight), one row per
        # category over all users: computed once per user rather than once per draw, by the
        # same float operations, so with the same values. 80 MB at a million users.
        self.category_cdf = np.empty((n_cat, len(preferences)))
        running = preferences[:, 0] * category_mass[0]
        self.category_cdf[0] = running
        for c in range(1, n_cat):  # the additions of np.cumsum(axis=1), in its order
            running += preferences[:, c] * category_mass[c]
            self.category_cdf[c] = running
        self.price_sensitivity = price_sensitivity

    def draw(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """(len(users),) int64 item ids, one draw per entry of `users` (user ids).

        The random stream is consumed as three `rng.random(len(pending))` calls per round of
        rejection (category, item, acceptance); changing that order changes every dataset."""
        chosen = np.empty(len(users), dtype=np.int64)
        pending = np.arange(len(users))
        while len(pending):
            u = users[pending]
            # Category by inverse CDF on the user's row: the number of CDF entries below the
            # target. 1 - random() lies in (0, 1], so the target never exceeds the last entry
            # (which is therefore never counted) and an empty category is never drawn.
            target = (1.0 - rng.random(len(u))) * self.category_cdf[-1][u]
            category = np.zeros(len(u), dtype=np.int64)
            for row in self.category_cdf[:-1]:
                category += row[u] < target
            # Item within the category ∝ base weight (inverse CDF on the grouped cumsum).
            start = self.group_start[category]
            lo = self.mass_before_group[category]
            value = lo + (1.0 - rng.random(len(u))) * self.category_mass[category]
            position = self.position_of(value)
            position = np.clip(position, start, start + self.group_size[category] - 1)
            item = self.order[position]
            accept_p = np.maximum(0.1, 1.0 - self.price_sensitivity[u] * self.price[item] / 1000.0)
            accepted = rng.random(len(u)) < accept_p
            chosen[pending[accepted]] = item[accepted]
            pending = pending[~accepted]
        return chosen


def _interactions(
    rng: np.random.Generator,
    users: pd.DataFrame,
    items: pd.DataFrame,
    progress: Progress | None,
    activity: float = 1.0,
) -> pd.DataFrame:
    n_users = len(users)
    # The choice model sees the preferences as stored (float32), as a reloaded dataset would.
    preference_columns = [f"pref_{category_slug(c)}" for c in CATEGORIES]
    preferences = users[preference_columns].to_numpy(np.float64)
    activity_code = pd.Categorical(users["activity"], categories=ACTIVITIES).codes
    counts = rng.poisson(activity * np.asarray(ACTIVITY_MEAN_INTERACTIONS)[activity_code])
    counts = np.clip(
        counts, MIN_INTERACTIONS, max(MIN_INTERACTIONS, round(activity * MAX_INTERACTIONS))
    )
    sampler = _ItemSampler(items, preferences, users["price_sensitivity"].to_numpy(np.float64))
    del preferences  # the sampler keeps what it needs; 80 bytes a user
    high_quality = items["quality"].to_numpy() > 4.0
    event_cdf_high = np.cumsum(EVENT_P_HIGH_QUALITY)
    event_cdf_other = np.cumsum(EVENT_P_OTHER)
    quality = items["quality"].to_numpy(np.float64)

    # The columns are filled chunk by chunk in their final dtypes: the table's only copy.
    total = int(counts.sum())
    user_col = np.empty(total, dtype=np.int32)
    item_col = np.empty(total, dtype=np.int32)
    event_col = np.empty(total, dtype=np.int8)
    rating_col = np.empty(total, dtype=np.float32)
    timestamp_col = np.empty(total, dtype=np.int64)
    session_col = np.empty(total, dtype=np.int64)
    row_end = np.cumsum(counts)
    for chunk_start in range(0, n_users, USER_CHUNK):
        chunk_end = min(chunk_start + USER_CHUNK, n_users)
        rows = slice(
            int(row_end[chunk_start - 1]) if chunk_start else 0, int(row_end[chunk_end - 1])
        )
        chunk_users = np.arange(chunk_start, chunk_end)
        user = np.repeat(chunk_users, counts[chunk_users])
        item = sampler.draw(rng, user)
        # Event: how many entries of its CDF lie below a uniform draw, capped at the last
        # event. The last entry (1 up to rounding) need not be compared: a draw above it is
        # above every entry before it too, and the cap gives the last event either way.
        draw = rng.random(len(item))
        high = high_quality[item]
        event_code = np.zeros(len(item), dtype=np.int8)
        for high_p, other_p in zip(event_cdf_high[:-1], event_cdf_other[:-1], strict=True):
            event_code += np.where(high, high_p, other_p) < draw
        rated = event_code >= EVENTS.index("purchase")
        rating = np.clip(np.round(quality[item] + rng.normal(0.0, 0.5, len(item))), 1, 5)
        rating = np.where(rated, rating, np.nan)
        timestamp = rng.integers(TIME_START, TIME_END, size=len(item), dtype=np.int64)
        # Time-ordered within each user, the order a temporal split expects: users are already
        # in order, so one stable sort on (user in chunk, seconds since TIME_START) packed into
        # an int64 orders exactly as lexsort((timestamp, user)) (seconds < 2**_TIME_BITS).
        offset = timestamp - TIME_START
        order = np.argsort(((user - chunk_start) << _TIME_BITS) | offset, kind="stable")
        user, offset = user[order], offset[order]
        user_col[rows] = user
        item_col[rows] = item[order]
        event_col[rows] = event_code[order]
        rating_col[rows] = rating[order]
        timestamp_col[rows] = offset + TIME_START
        # One session per user and clock hour.
        session_col[rows] = user * HOURS_IN_RANGE + offset // 3600
        if progress is not None:
            progress(
                0.2 + 0.8 * chunk_end / n_users, f"interactions for {chunk_end:,}/{n_users:,} users"
            )

    return pd.DataFrame(
        {
            "user_id": user_col,
            "item_id": item_col,
            "event": _strings(EVENTS, event_col),
            "rating": rating_col,
            "timestamp": timestamp_col,
            "session_id": session_col,
        },
        copy=False,
    )


# Peak memory of `rlrec generate` (generating and writing), measured as the peak RSS from
# /usr/bin/time -v minus that of a 1-user run (128 MiB of interpreter and libraries):
# 1M and 2M users × 2k items at activity 0.05 give the cost of a user (~530 bytes: its table
# row, features and latent factors); 1M × 2k at activity 1 against 0.05 that of an
# interaction (~42: its columns and event string); 50k × 2k at activity 20 that of a row of
# the largest sampling chunk (~105, the chunk's temporaries); 1M × 100k and 100k × 1M items
# that of an item (520-640). Rounded up; 1M × 100k: estimate 1.7 GiB, measured 1.45 GiB.
PEAK_BYTES_PER_USER = 600
PEAK_BYTES_PER_INTERACTION = 50
PEAK_BYTES_PER_CHUNK_ROW = 120
PEAK_BYTES_PER_ITEM = 800


def expected_interactions(n_users: int, activity: float = 1.0) -> float:
    """Expected number of logged interactions of `n_users` users at `activity` (about 23 a
    user at activity 1): each user's count is a Poisson draw with mean activity × their
    level's mean, clipped to [1, round(100·activity)], so for each level
    E = P(X=0) + λ·F(c−1) + c·P(X > c), using Σ_{x=1..c} x·P(X=x) = λ·F(c−1) (F the Poisson
    CDF), weighted by the levels' shares."""
    from scipy.stats import poisson

    cap = max(MIN_INTERACTIONS, round(activity * MAX_INTERACTIONS))
    rates = activity * np.asarray(ACTIVITY_MEAN_INTERACTIONS)
    per_level = (
        poisson.pmf(0, rates) + rates * poisson.cdf(cap - 1, rates) + cap * poisson.sf(cap, rates)
    )
    return n_users * float(np.dot(ACTIVITY_P, per_level))


def activity_for(n_users: int, n_interactions: int) -> float:
    """The `activity` in ACTIVITY_RANGE whose expected interaction count for `n_users` users
    is closest to `n_interactions` (bisection: the count grows with the activity); callers
    refuse counts outside what the range gives."""
    low, high = ACTIVITY_RANGE
    for _ in range(60):
        middle = (low + high) / 2
        if expected_interactions(n_users, middle) < n_interactions:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _check_memory(n_users: int, n_items: int, activity: float) -> None:
    """Refuse sizes whose estimated peak memory the machine does not have, before drawing."""
    per_user = activity * float(np.dot(ACTIVITY_P, ACTIVITY_MEAN_INTERACTIONS))
    chunk_rows = min(n_users, USER_CHUNK) * per_user
    check_fits(
        n_users,
        int(PEAK_BYTES_PER_USER + per_user * PEAK_BYTES_PER_INTERACTION),
        Option("n_users", f"{n_users:,}"),
        f"generating {n_items:,} items and about {per_user * n_users:,.0f} interactions",
        fixed=n_items * PEAK_BYTES_PER_ITEM + int(chunk_rows * PEAK_BYTES_PER_CHUNK_ROW),
        key="n_users",
    )


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    seed: int = 42,
    name: str | None = None,
    progress: Progress | None = None,
    activity: float = 1.0,
) -> Dataset:
    """A synthetic dataset with the seed's population; same arguments, same data.
    `activity` scales how many interactions each user has (1 = the seed's 5 / 20 / 50 on
    average for low / medium / high activity users)."""
    activity = _check_activity(activity)
    n_users = _check_size("n_users", n_users, 1, 10_000_000)
    n_items = _check_size("n_items", n_items, 1, 10_000_000)
    seed = _check_size("seed", seed, 0, 2**63 - 1)
    _check_memory(n_users, n_items, activity)
    users_rng, items_rng, latent_rng, interactions_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    if progress is not None:
        progress(0.0, "users")
    users, user_features, user_names = _users(users_rng, n_users)
    if progress is not None:
        progress(0.1, "items")
    items, item_features, item_names = _items(items_rng, n_items)
    scale = 1.0 / np.sqrt(LATENT_DIM)
    user_latent = _normal_rows(latent_rng, scale, n_users)
    item_latent = _normal_rows(latent_rng, scale, n_items)
    interactions = _interactions(interactions_rng, users, items, progress, activity)
    default_name = f"synthetic-{n_users}x{n_items}-seed{seed}"
    if activity != 1.0:
        default_name += f"-activity{activity:g}"
    meta = {
        "name": name or default_name,
        "source": "synthetic",
        "seed": seed,
        "n_users": n_users,
        "n_items": n_items,
        "n_interactions": len(interactions),
        "activity": activity,
        "user_feature_names": user_names,
        "item_feature_names": item_names,
        "schema_version": SCHEMA_VERSION,
        "categories": list(CATEGORIES),
        "latent_dim": LATENT_DIM,
        "latent_scale": "N(0, 1/sqrt(latent_dim)) for users and items",
    }
    if progress is not None:
        progress(1.0, "done")
    return Dataset(
        users=users,
        items=items,
        interactions=interactions,
        user_features=user_features,
        item_features=item_features,
        meta=meta,
        user_latent=user_latent,
        item_latent=item_latent,
    )
