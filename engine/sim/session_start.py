"""What serving needs of a simulator, without building one: the first observation of a
session for a user with a given history, and the hidden truth's engagement probability.

`SessionStart` shares the `default` simulator's own observation code (the same methods, not
a copy), so an agent served from cached arrays sees exactly the state the simulator would
give; it never computes the simulator's users × items tables.
"""

from __future__ import annotations

import numpy as np

from rlrec.engine.sim.default import CONTEXT_DIM, DefaultConfig, DefaultSimulator, _sigmoid
from rlrec.engine.truth.model import HiddenTruth


class SessionStart:
    """Session starts and true preferences of the `default` simulator for `truth`/`config`."""

    # The simulator's methods, bound to this lighter object (they read only the fields below).
    observation_with_history = DefaultSimulator.observation_with_history
    _history_mean = DefaultSimulator._history_mean
    _recency_of = DefaultSimulator._recency_of

    def __init__(self, truth: HiddenTruth, config: DefaultConfig):
        self.config = config
        self.truth = truth.with_alpha(config.alpha)
        self.n_users, self.n_items = truth.n_users, truth.n_items
        self._item_dim = truth.item_observable.shape[1]
        self._user_dim = truth.user_observable.shape[1]
        self.obs_dim = self._user_dim + 2 * self._item_dim + CONTEXT_DIM
        self._user_obs = truth.user_observable.astype(np.float32)
        self._item_pad = np.vstack([truth.item_observable, np.zeros((1, self._item_dim))]).astype(
            np.float32
        )

    def true_preference(self, user_ids: np.ndarray) -> np.ndarray:
        """(n, n_items) float32 noiseless engagement probability of a fresh session, as
        `DefaultSimulator.true_preference` (computed for these users only)."""
        user_ids = np.asarray(user_ids, np.int64)
        logit = (
            self.truth.preference_logit(user_ids)
            + self.config.appeal_weight * self.truth.item_appeal[None, :]
        ).astype(np.float32)
        return _sigmoid(logit)


class TabulatedStart:
    """Session starts and true preferences read from tables (the small `classic` simulator,
    whose users have no logged history): `observations` (U, obs_dim), `preferences` (U, I)."""

    def __init__(self, observations: np.ndarray, preferences: np.ndarray):
        self.observations, self.preferences = observations, preferences
        self.n_users, self.n_items = preferences.shape
        self.obs_dim = observations.shape[1]

    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        return self.observations[np.asarray(user_ids, np.int64)]

    def true_preference(self, user_ids: np.ndarray) -> np.ndarray:
        return self.preferences[np.asarray(user_ids, np.int64)]
