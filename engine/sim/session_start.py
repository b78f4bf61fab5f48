"""How a session of the `default` simulator starts: the first observation for a user with a
given history, and the hidden truth's fresh-session engagement probability.

`DefaultSimulator` builds its observations with this class, and serving uses it alone (from
the truth's arrays saved with a run), so an agent served without a simulator sees exactly
the state the simulator would give. Nothing here is users × items: scores are computed for
the users asked about.
"""

from __future__ import annotations

import numpy as np

from rlrec.engine.sim.default_config import DefaultConfig
from rlrec.engine.truth.model import HiddenTruth

# Context features: progress, engaged share, ignored share, last step engaged, hour and
# weekday as sin/cos.
CONTEXT_DIM = 8


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Elementwise logistic function 1 / (1 + e^(−x)), same shape and dtype as `x`."""
    return 1.0 / (1.0 + np.exp(-x))


class SessionStart:
    """Session starts and fresh-session preferences of the `default` simulator for
    `truth`/`config` (env settings `history_window`, `recency_decay`, `session_history`,
    `alpha`, `appeal_weight`).

    Observation layout (obs_dim = user_dim + 2·item_dim + CONTEXT_DIM [+ item_dim] [+ H]):
    user features (with `user_factors`, followed by the truth's latent factors of the user) ‖
    mean features of the last H engaged items ‖ their recency-weighted mean ‖ context
    [‖ with `session_profile`, the summed features of the items engaged in this session
    ÷ max_length, zero at a session's start (`profile_column`)]
    [‖ with `profile_decay` d > 0, (1 − d)·Σ d^(steps since engaged)·features over the
    items engaged in this session, zero at a session's start (`decayed_column`)]
    [‖ with `history_ids`, the H history slots' item ids as exact float32 numbers, oldest
    first, n_items for an empty slot]. The first `feature_dim` columns are features; the id
    columns after them are names, not quantities (`write_history_ids`)."""

    def __init__(self, truth: HiddenTruth, config: DefaultConfig):
        self.config = config
        self.truth = truth.with_alpha(config.alpha)
        self.n_users, self.n_items = truth.n_users, truth.n_items
        self.item_dim = truth.item_observable.shape[1]
        self.user_obs = truth.user_observable.astype(np.float32)
        if config.user_factors:
            self.user_obs = np.c_[self.user_obs, self.truth.user_latent].astype(np.float32)
        self.user_dim = self.user_obs.shape[1]
        self.feature_dim = self.user_dim + 2 * self.item_dim + CONTEXT_DIM
        # First column of the session profile (== feature_dim without one).
        self.profile_column = self.feature_dim
        if config.session_profile:
            self.feature_dim += self.item_dim
        # First column of the fading profile (`profile_decay`), after the session profile.
        self.decayed_column = self.feature_dim
        if config.profile_decay > 0:
            self.feature_dim += self.item_dim
        self.id_columns = config.history_window if config.history_ids else 0
        self.obs_dim = self.feature_dim + self.id_columns
        # One zero row at index n_items stands for an empty history slot.
        self.item_pad = np.vstack([truth.item_observable, np.zeros((1, self.item_dim))]).astype(
            np.float32
        )

    def start_history(self, user_ids: np.ndarray) -> np.ndarray:
        """(n, H) int64 the history slots a session starts with: the user's latest engaged
        train items (oldest first) or, with `session_history: empty`, none (all n_items)."""
        w = self.config.history_window
        if self.config.session_history == "empty":
            return np.full((len(user_ids), w), self.n_items, dtype=np.int64)
        return self.truth.latest_history(user_ids, w)

    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        """(n, obs_dim) first observation of a new session for these users, from the history
        `start_history` gives them, at hour 0 on a Monday."""
        user_ids = np.asarray(user_ids, np.int64)
        return self.observation_with_history(user_ids, self.start_history(user_ids))

    def observation_with_history(self, user_ids: np.ndarray, recent: np.ndarray) -> np.ndarray:
        """(n, obs_dim) float32 first observation of a new session for users whose latest
        engaged items are `recent` ((n, H), oldest first, padded with n_items), at hour 0 on
        a Monday."""
        user_ids = np.asarray(user_ids, np.int64)
        recent = np.asarray(recent, np.int64)
        u, f = self.user_dim, self.item_dim
        obs = np.zeros((len(user_ids), self.obs_dim), dtype=np.float32)
        obs[:, :u] = self.user_obs[user_ids]
        obs[:, u : u + f] = self.history_mean(recent)
        obs[:, u + f : u + 2 * f] = self.recency_of(recent)
        c = u + 2 * f
        obs[:, c + 5] = 1.0  # hour 0 → cos 1
        obs[:, c + 7] = 1.0  # Monday → cos 1
        self.write_history_ids(obs, recent)
        return obs

    def write_history_ids(self, obs: np.ndarray, recent: np.ndarray) -> None:
        """With `history_ids`, write the history slots `recent` ((n, H) int, oldest first,
        padded with n_items) into the last H columns of `obs` ((n, obs_dim) float32, in
        place); without, nothing. The one place both the simulator and serving put the ids,
        so a served state is the simulator's. float32 holds every id below 2^24 exactly."""
        if self.id_columns:
            obs[:, self.feature_dim :] = recent

    def history_mean(self, recent: np.ndarray) -> np.ndarray:
        """(n, item_dim) mean observable features of the filled history slots (0 if none)."""
        filled = (recent < self.n_items).sum(axis=1)
        return self.item_pad[recent].sum(axis=1) / np.maximum(filled, 1)[:, None]

    def recency_of(self, recent: np.ndarray) -> np.ndarray:
        """(n, item_dim) float32 r ← d·r + (1−d)·x over the engaged items, oldest first,
        from r = 0 (d = `recency_decay`)."""
        decay = self.config.recency_decay
        filled = recent < self.n_items
        age = np.cumsum(filled[:, ::-1], axis=1)[:, ::-1] - 1  # 0 for the newest item
        weights = np.where(filled, (1 - decay) * decay ** np.maximum(age, 0), 0.0)
        return np.einsum("nh,nhf->nf", weights, self.item_pad[recent]).astype(np.float32)

    def true_preference(self, user_ids: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """(n, n_items) float32 noiseless engagement probability of a fresh session (no
        satiation, initial mood), computed for these users only; for `items` ((n, k) item
        ids) only those, (n, k) — the same values (`HiddenTruth.logits` is per pair)."""
        user_ids = np.asarray(user_ids, np.int64)
        return sigmoid(self.truth.logits(user_ids, items, self.config.appeal_weight))


class TabulatedStart:
    """Session starts and true preferences read from tables (the small `classic` simulator,
    whose users have no logged history): `observations` (U, obs_dim), `preferences` (U, I)."""

    def __init__(self, observations: np.ndarray, preferences: np.ndarray):
        self.observations, self.preferences = observations, preferences
        self.n_users, self.n_items = preferences.shape
        self.obs_dim = observations.shape[1]

    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        return self.observations[np.asarray(user_ids, np.int64)]

    def true_preference(self, user_ids: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        rows = self.preferences[np.asarray(user_ids, np.int64)]
        return rows if items is None else np.take_along_axis(rows, np.asarray(items), axis=1)
