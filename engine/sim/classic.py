"""Preset `seed-classic`: the seed's original simulator, exactly, vectorised over sessions.

1,000 users and 500 items with 20 latent dims drawn as RandomState(42).randn(1000, 20) then
.randn(500, 20); preference = sigmoid(user · item). A session is a random user, an empty
history and exactly 10 steps. The 42-dim state is user features ‖ mean features of the last
3 engaged items (zeros if none) ‖ [steps so far / 10, len(history) / 10]. A step engages
with probability clip(preference + N(0, 0.1), 0, 1); reward +1 engaged, −0.1 ignored, and a
further −0.2 when the item is among the last 3 engaged items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlrec.engine.config_base import MAX_SEED, param
from rlrec.engine.sim import base as sim_base
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.truth.model import SCORE_CHUNK, factor_dot


@dataclass
class ClassicConfig:
    kind: str = param("classic", choices=("classic",))
    n_users: int = param(1000, low=1, high=1_000_000, help="users in the population")
    n_items: int = param(500, low=2, high=1_000_000, help="items in the catalogue")
    latent_dim: int = param(20, low=1, high=512, help="latent dimensions")
    feature_seed: int = param(
        42, low=0, high=MAX_SEED, help="seed of RandomState drawing the features"
    )
    episode_length: int = param(10, low=1, high=10_000, unit="steps")
    recent_window: int = param(3, low=1, high=100, help="engaged items the state averages")
    noise_std: float = param(0.1, low=0, high=10, help="per-step noise on the preference")
    reward_engaged: float = param(1.0, low=-100, high=100)
    reward_ignored: float = param(-0.1, low=-100, high=100)
    repeat_penalty: float = param(0.2, low=0, high=100, help="subtracted for a recent repeat")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# Bytes a classic simulator keeps per (user, item) pair (`preference`, float64) and per
# (session, item) (`_mask`), and what building `preference` adds per pair at its peak (the
# float64 product and the sigmoid's temporaries).
KEPT_BYTES_PER_PAIR = 8
BUILD_BYTES_PER_PAIR = 16
KEPT_BYTES_PER_SESSION_ITEM = 1


def classic_simulator_bytes(n_users: int, n_items: int, n_envs: int) -> tuple[int, int]:
    """(kept, extra while building): bytes a `ClassicSimulator` of `n_envs` sessions over
    `n_users` × `n_items` keeps, and the transient bytes building it adds on top."""
    pairs = sim_base.dense_table_entries(n_users, n_items)
    kept = KEPT_BYTES_PER_PAIR * pairs + KEPT_BYTES_PER_SESSION_ITEM * n_envs * n_items
    return kept, BUILD_BYTES_PER_PAIR * pairs


class ClassicSimulator(VectorSimulator):
    _session_arrays = ("_users", "_t", "_n_engaged", "_recent", "_mask", "_return")

    def __init__(
        self, config: ClassicConfig | None = None, n_envs: int = 1, seed: int | None = None
    ):
        self.config = config = config or ClassicConfig()
        features_rng = np.random.RandomState(config.feature_seed)
        self.user_features = features_rng.randn(config.n_users, config.latent_dim)
        self.item_features = features_rng.randn(config.n_items, config.latent_dim)
        # The users × items table only for small populations (see `base.DENSE_TABLE_LIMIT`).
        self._table: np.ndarray | None = None
        if sim_base.dense_table_entries(config.n_users, config.n_items):
            self._table = _sigmoid(self.user_features @ self.item_features.T)
        self.n_envs = int(n_envs)
        self.n_users = config.n_users
        self.n_items = config.n_items
        self.max_steps = config.episode_length
        self.obs_dim = 2 * config.latent_dim + 2
        # float32 copies for building observations; one zero row at index n_items stands for
        # an empty history slot so the mean needs no Python branching.
        self._user_f32 = self.user_features.astype(np.float32)
        self._item_pad = np.vstack([self.item_features, np.zeros((1, config.latent_dim))]).astype(
            np.float32
        )
        n, w = self.n_envs, config.recent_window
        self._rng = np.random.default_rng(seed)
        self._users = np.zeros(n, dtype=np.int64)
        self._t = np.zeros(n, dtype=np.int32)
        self._n_engaged = np.zeros(n, dtype=np.int32)
        self._recent = np.full((n, w), config.n_items, dtype=np.int64)  # newest last
        self._mask = np.zeros((n, config.n_items), dtype=bool)
        self._return = np.zeros(n, dtype=np.float32)
        self._obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        self._arange = np.arange(n)
        self._popularity = self._mean_preference()
        self.reset(seed)

    def preference(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """float64 sigmoid(user · item) of `users` (n,) and `items`: None → (n, I),
        (n,) → (n,)."""
        users = np.asarray(users, np.int64)
        if self._table is not None:
            return self._table[users] if items is None else self._table[users, items]
        if items is None:
            items, users = np.arange(self.n_items)[None, :], users[:, None]
        dot = factor_dot(self.user_features, users, self.item_features, np.asarray(items))
        return _sigmoid(dot)

    def _mean_preference(self) -> np.ndarray:
        """(I,) mean preference over users, summed over chunks of users when no table."""
        if self._table is not None:
            return self._table.mean(axis=0)
        total = np.zeros(self.n_items)
        step = max(1, SCORE_CHUNK * 256 // self.n_items)
        for start in range(0, self.n_users, step):
            total += self.preference(np.arange(start, min(start + step, self.n_users))).sum(0)
        return total / self.n_users

    # -- session state -------------------------------------------------------------------
    def _start(self, envs: np.ndarray) -> None:
        self._users[envs] = self._rng.integers(0, self.n_users, size=len(envs))
        self._t[envs] = 0
        self._n_engaged[envs] = 0
        self._recent[envs] = self.n_items
        self._mask[envs] = False
        self._return[envs] = 0.0

    def _observe(self) -> np.ndarray:
        cfg = self.config
        d = cfg.latent_dim
        obs = self._obs
        obs[:, :d] = self._user_f32[self._users]
        filled = np.minimum(self._n_engaged, cfg.recent_window)
        hist_sum = self._item_pad[self._recent].sum(axis=1)
        obs[:, d : 2 * d] = hist_sum / np.maximum(filled, 1)[:, None]
        obs[:, 2 * d] = self._t / cfg.episode_length
        obs[:, 2 * d + 1] = self._n_engaged / cfg.episode_length
        return obs.copy()

    def step(self, actions: np.ndarray) -> StepResult:
        cfg = self.config
        actions = np.asarray(actions, dtype=np.int64)
        n = self.n_envs
        prob = self.preference(self._users, actions) + self._rng.normal(0.0, cfg.noise_std, n)
        engaged = self._rng.random(n) < np.clip(prob, 0.0, 1.0)
        repeat = (self._recent == actions[:, None]).any(axis=1)
        reward = (
            np.where(engaged, cfg.reward_engaged, cfg.reward_ignored) - cfg.repeat_penalty * repeat
        )
        reward = reward.astype(np.float32)
        # Append engaged items to the recent window (shift left, newest last).
        hit = np.flatnonzero(engaged)
        if hit.size:
            self._recent[hit, :-1] = self._recent[hit, 1:]
            self._recent[hit, -1] = actions[hit]
            self._mask[hit, actions[hit]] = True
        self._n_engaged += engaged
        self._t += 1
        self._return += reward
        done = self._t >= cfg.episode_length
        return self._finish_step(reward, engaged, np.zeros(n, dtype=bool), done)

    # -- views -----------------------------------------------------------------------------
    def true_preference(self, user_ids: np.ndarray) -> np.ndarray:
        return self.preference(np.asarray(user_ids))

    def expected_reward(self, items: np.ndarray | None = None) -> np.ndarray:
        if items is not None:  # a small simulator: gather from the whole table
            return np.take_along_axis(self.expected_reward(), np.asarray(items, np.int64), 1)
        cfg = self.config
        pref = self.preference(self._users)
        # E[clip(p + noise, 0, 1)] ≈ p away from the edges; the clip only lowers values near 1
        # and raises values near 0, which does not change which item is best.
        exp = pref * cfg.reward_engaged + (1 - pref) * cfg.reward_ignored
        repeat = np.zeros_like(exp, dtype=bool)
        rows = np.repeat(self._arange, cfg.recent_window)
        cols = self._recent.reshape(-1)
        valid = cols < self.n_items
        repeat[rows[valid], cols[valid]] = True
        return exp - cfg.repeat_penalty * repeat

    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        cfg = self.config
        user_ids = np.asarray(user_ids)
        obs = np.zeros((len(user_ids), self.obs_dim), dtype=np.float32)
        obs[:, : cfg.latent_dim] = self._user_f32[user_ids]
        return obs

    @property
    def item_popularity(self) -> np.ndarray:
        return self._popularity

    @property
    def item_vectors(self) -> np.ndarray:
        return self.item_features

    @property
    def observation_bound(self) -> float:
        # Every component is a feature, a mean of features, or a fraction in [0, 1].
        features = max(np.abs(self.user_features).max(), np.abs(self.item_features).max())
        return float(max(1.0, np.ceil(features)))
