"""Reference policies that score known users from what a log taught them: the form offline
evaluation and serving need (a batch of users in their current state → a score per item).

Every scorer is fitted once (`engine.policies.registry.fit_scorer`) and is then plain
arrays: `arrays()` gives them, `from_arrays` rebuilds the scorer without fitting, so a
run folder can cache them for serving (`.npz`, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rlrec.engine.policies.baselines import LinUCBPolicy
from rlrec.engine.policies.content import DemographicContent


@dataclass(frozen=True)
class UserBatch:
    """Who is scored: dataset row indices `users` (n,), their agent states `obs`
    (n, obs_dim) and their observable features `features` (n, n_user_features); `history`,
    when given, (n, n_items) CSR of 1 where each user engaged an item before the moment
    scored (offline: before the evaluated part), for scorers that read a user's history
    (EASE, ItemKNN); without it they read the history of the log they were fitted on."""

    users: np.ndarray
    obs: np.ndarray
    features: np.ndarray
    history: sp.csr_matrix | None = None


class UserScorer:
    """(n, n_items) float64 scores for a batch of users, higher is better."""

    name = "scorer"
    # Which hyperparameter value it uses and how that was chosen, for a scorer that chose one
    # (EASE's λ, ItemKNN's k); reports show it beside its figures.
    choice = ""

    def scores(self, batch: UserBatch) -> np.ndarray:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted scorer as plain arrays (for `from_arrays`)."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> UserScorer:
        """The scorer `arrays()` came from, without fitting."""
        raise NotImplementedError


class PopularScorer(UserScorer):
    name = "popular"

    def __init__(self, counts: np.ndarray):
        self.counts = np.asarray(counts, np.float64)

    def scores(self, batch: UserBatch) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(batch.users), len(self.counts)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PopularScorer:
        return PopularScorer(arrays["counts"])


class ContentScorer(UserScorer):
    name = "content"

    def __init__(self, model: DemographicContent):
        self.model = model

    def scores(self, batch: UserBatch) -> np.ndarray:
        return self.model.scores_for_features(batch.features)

    def arrays(self) -> dict[str, np.ndarray]:
        return self.model.arrays()

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ContentScorer:
        return ContentScorer(DemographicContent.from_arrays(arrays))


class MFScorer(UserScorer):
    """The fitted matrix factorisation's own score: [p_u, b_u, 1] · [q_i, 1, b_i]."""

    name = "mf"

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray):
        self.user_factors, self.item_factors = user_factors, item_factors

    def scores(self, batch: UserBatch) -> np.ndarray:
        return np.asarray(self.user_factors[batch.users] @ self.item_factors.T)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MFScorer:
        return MFScorer(arrays["user_factors"], arrays["item_factors"])


class LinUCBScorer(UserScorer):
    """A warmed-up LinUCB bandit scoring the users' states."""

    name = "linucb"

    def __init__(self, policy: LinUCBPolicy):
        self.policy = policy

    def scores(self, batch: UserBatch) -> np.ndarray:
        return np.asarray(self.policy.scores(batch.obs), np.float64)

    def arrays(self) -> dict[str, np.ndarray]:
        return self.policy.arrays()

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LinUCBScorer:
        return LinUCBScorer(LinUCBPolicy.from_arrays(arrays))


class RandomScorer(UserScorer):
    """Uniform random scores, a stream per user: seeded by (`seed`, the user's row), so a
    user's scores do not depend on which other users share the batch (offline evaluation
    scores users a chunk at a time), or (`per_user`) by the row alone, so a user gets the same
    list every time they ask whatever the seed."""

    name = "random"

    def __init__(self, seed: int, per_user: bool):
        self.seed, self.per_user = int(seed), bool(per_user)
        self.n_items = 0

    def with_items(self, n_items: int) -> RandomScorer:
        self.n_items = int(n_items)
        return self

    def scores(self, batch: UserBatch) -> np.ndarray:
        if self.per_user:
            return np.stack(
                [np.random.default_rng(int(u)).random(self.n_items) for u in batch.users]
            )
        return np.stack(
            [np.random.default_rng([self.seed, int(u)]).random(self.n_items) for u in batch.users]
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {"settings": np.array([self.seed, int(self.per_user), self.n_items], np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RandomScorer:
        seed, per_user, n_items = (int(v) for v in arrays["settings"])
        return RandomScorer(seed, bool(per_user)).with_items(n_items)
