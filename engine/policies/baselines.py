"""Baseline policies behind the one `Policy` interface: random, most-popular, LinUCB, the
myopic oracle and (for the `default` preset) a farsighted heuristic.

The oracles read the hidden truth of the simulator they are bound to, so they must be given
the very simulator that is being stepped; the others only see observations.
"""

from __future__ import annotations

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.engine.policies.base import Policy, apply_mask
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.sim.rollout import rollout
from rlrec.engine.sim.sibling import sibling_simulator


class RandomPolicy(Policy):
    name = "random"

    def __init__(self, n_items: int, seed: int | None = None):
        self.n_items = n_items
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def begin_episodes(self) -> None:
        self._rng = np.random.default_rng(self._seed)

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        scores = self._rng.random((len(obs), self.n_items), dtype=np.float32)
        return apply_mask(scores, mask)

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) uniform scores of the candidates, drawn for them only."""
        return apply_mask(self._rng.random(np.shape(candidates), dtype=np.float32), mask)


class PopularityPolicy(Policy):
    """The same ranking for everyone: items by their share of interest in the logs."""

    name = "popular"

    def __init__(self, item_popularity: np.ndarray):
        self.popularity = np.asarray(item_popularity, dtype=np.float32)
        self.n_items = len(self.popularity)

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        scores = np.broadcast_to(self.popularity, (len(obs), self.n_items))
        return apply_mask(scores, mask) if mask is not None else scores.copy()

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) popularity of each candidate."""
        return apply_mask(self.popularity[np.asarray(candidates, np.int64)], mask)


def _principal_basis(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, basis) projecting standardised rows onto their top-k principal axes."""
    rows = np.asarray(rows, dtype=np.float64)
    mean, std = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    _, _, vt = np.linalg.svd((rows - mean) / std, full_matrices=False)
    return mean, std, vt[:k].T


class LinUCBPolicy(Policy):
    """LinUCB with one model shared by all items: the expected reward of item i in context x
    is θ·(x ⊗ f_i), where x is the observation and f_i the item's observable features, each
    reduced to a few principal axes plus a constant. Sharing lets every impression teach
    about every similar item, so the bandit learns within one evaluation.

    Score = θ·z + exploration · √(zᵀ A⁻¹ z) with z = x ⊗ f_i; for all items at once this is
    two matrix products, since zᵀ A⁻¹ z = (x ⊗ x)ᵀ A⁻¹' (f_i ⊗ f_i) after reordering A⁻¹.
    """

    name = "linucb"

    def __init__(
        self,
        item_features: np.ndarray,
        context_sample: np.ndarray,
        context_dim: int = 21,
        item_dim: int = 21,
        exploration: float = 0.1,
        ridge: float = 1.0,
    ):
        self.n_items = len(item_features)
        self.exploration, self.ridge = exploration, ridge
        self._obs_mean, self._obs_std, self._obs_basis = _principal_basis(
            context_sample, context_dim - 1
        )
        mean, std, basis = _principal_basis(item_features, item_dim - 1)
        projected = ((np.asarray(item_features, dtype=np.float64) - mean) / std) @ basis
        projected /= np.abs(projected).max(axis=0) + 1e-9
        self.item_basis = np.column_stack([np.ones(self.n_items), projected])
        self.dx, self.df = self._obs_basis.shape[1] + 1, self.item_basis.shape[1]
        self._outer: np.ndarray | None = None
        self.begin_episodes()

    def arrays(self) -> dict[str, np.ndarray]:
        """What the bandit knows, as plain arrays (for `from_arrays`)."""
        return {
            "obs_mean": self._obs_mean, "obs_std": self._obs_std, "obs_basis": self._obs_basis,
            "item_basis": self.item_basis, "A": self.A, "A_inv": self.A_inv, "b": self.b,
            "theta": self.theta,
            "hyper": np.array([self.exploration, self.ridge]),
        }  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LinUCBPolicy:
        """The bandit `arrays()` came from, in the same state, without learning again."""
        policy = cls.__new__(cls)
        policy.exploration, policy.ridge = (float(v) for v in arrays["hyper"])
        policy._obs_mean, policy._obs_std = arrays["obs_mean"], arrays["obs_std"]
        policy._obs_basis = arrays["obs_basis"]
        policy.item_basis = f = arrays["item_basis"]
        policy.n_items = len(f)
        policy.dx, policy.df = policy._obs_basis.shape[1] + 1, f.shape[1]
        policy._outer = None
        policy.A, policy.A_inv, policy.b = arrays["A"], arrays["A_inv"], arrays["b"]
        policy.theta = arrays["theta"]
        return policy

    def begin_episodes(self) -> None:
        size = self.dx * self.df
        self.A = self.ridge * np.eye(size)
        self.A_inv: np.ndarray = np.eye(size) / self.ridge
        self.b = np.zeros(size)
        self.theta = np.zeros((self.dx, self.df))

    def context(self, obs: np.ndarray) -> np.ndarray:
        # The leading columns the basis was fitted on: trailing history ids (if the simulator
        # appends them) are names, not quantities to standardise.
        features = np.asarray(obs, dtype=np.float64)[:, : len(self._obs_mean)]
        z = ((features - self._obs_mean) / self._obs_std) @ self._obs_basis
        z /= np.sqrt(max(self._obs_basis.shape[1], 1))
        return np.column_stack([np.ones(len(z)), z])

    @property
    def _item_outer(self) -> np.ndarray:
        """(n_items, df²) f_i ⊗ f_i, built when the whole catalogue is first scored (at 100k
        items it is 350 MB, which scoring candidates never needs)."""
        if self._outer is None:
            f = self.item_basis
            self._outer = (f[:, :, None] * f[:, None, :]).reshape(self.n_items, -1)
        return self._outer

    def _variance_weights(self, x: np.ndarray) -> np.ndarray:
        """(N, dx²·…) = (x ⊗ x)ᵀ A⁻¹ reordered so that its product with f_i ⊗ f_i is
        zᵀ A⁻¹ z (see the class docstring)."""
        dx, df = self.dx, self.df
        a_inv = self.A_inv.reshape(dx, df, dx, df).transpose(0, 2, 1, 3).reshape(dx * dx, df * df)
        x_outer = (x[:, :, None] * x[:, None, :]).reshape(len(x), dx * dx)
        return x_outer @ a_inv

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        x = self.context(obs)
        mean = (x @ self.theta) @ self.item_basis.T
        variance = self._variance_weights(x) @ self._item_outer.T
        scores = mean + self.exploration * np.sqrt(np.maximum(variance, 0.0))
        return apply_mask(scores.astype(np.float32), mask)

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) the UCB score of each candidate, from the candidates' features only:
        zᵀ A⁻¹ z = f_cᵀ M_n f_c with M_n the (df, df) reshape of `_variance_weights`."""
        x = self.context(obs)
        f = self.item_basis[np.asarray(candidates, np.int64)]  # (N, C, df)
        mean = np.einsum("nf,ncf->nc", x @ self.theta, f)
        weights = self._variance_weights(x).reshape(len(x), self.df, self.df)
        variance = np.einsum("ncf,ncf->nc", f @ weights.transpose(0, 2, 1), f)
        scores = mean + self.exploration * np.sqrt(np.maximum(variance, 0.0))
        return apply_mask(scores.astype(np.float32), mask)

    def observe(self, obs, actions, rewards, engaged) -> None:
        x = self.context(obs)
        f = self.item_basis[np.asarray(actions, dtype=np.int64)]
        z = (x[:, :, None] * f[:, None, :]).reshape(len(x), -1)
        self.A += z.T @ z
        self.b += z.T @ np.asarray(rewards, dtype=np.float64)
        self.A_inv = np.linalg.inv(self.A)
        self.theta = (self.A_inv @ self.b).reshape(self.dx, self.df)


class MyopicOraclePolicy(Policy):
    """Maximises the expected immediate reward, read from the bound simulator's hidden truth
    (the upper reference for myopic play)."""

    name = "oracle"

    def __init__(self, sim: VectorSimulator):
        self.sim = sim
        self.n_items = sim.n_items

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if len(obs) != self.sim.n_envs:
            raise RlrecError("the oracle scores only the sessions of the simulator it is bound to")
        return apply_mask(np.asarray(self.sim.expected_reward(), dtype=np.float32), mask)

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) expected immediate reward of each candidate (the simulator must offer
        candidates: `expected_reward(items)`)."""
        if len(obs) != self.sim.n_envs:
            raise RlrecError("the oracle scores only the sessions of the simulator it is bound to")
        value = self.sim.expected_reward(candidates)
        return apply_mask(np.asarray(value, dtype=np.float32), mask)


class FarsightedPolicy(Policy):
    """Expected immediate reward plus `lookahead` × the expected change of the user's hidden
    satisfaction: gives up a little click-through now for longer, better sessions."""

    name = "farsighted"

    def __init__(self, sim: VectorSimulator, lookahead: float = 2.0):
        if not hasattr(sim, "expected_satisfaction_change"):
            raise RlrecError(
                "baseline 'farsighted' needs a simulator with session dynamics (env.kind: default)"
            )
        self.sim = sim
        self.n_items = sim.n_items
        self.lookahead = lookahead

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if len(obs) != self.sim.n_envs:
            raise RlrecError("the farsighted heuristic scores only its bound simulator's sessions")
        sim = self.sim
        value = sim.expected_reward() + self.lookahead * sim.expected_satisfaction_change()
        return apply_mask(np.asarray(value, dtype=np.float32), mask)

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) the same value for the candidates only."""
        if len(obs) != self.sim.n_envs:
            raise RlrecError("the farsighted heuristic scores only its bound simulator's sessions")
        sim = self.sim
        change = sim.expected_satisfaction_change(candidates)
        value = sim.expected_reward(candidates) + self.lookahead * change
        return apply_mask(np.asarray(value, dtype=np.float32), mask)


def observation_sample(sim: VectorSimulator, seed: int) -> np.ndarray:
    """(≤2000, feature columns) fresh observations of random users, without any trailing
    history id columns: LinUCB's context basis."""
    users = np.random.default_rng(seed).integers(0, sim.n_users, size=min(sim.n_users, 2000))
    return sim.fresh_observation(users)[:, : sim.obs_dim - sim.history_id_columns]


def warm_up_linucb(sim: VectorSimulator, steps: int, seed: int) -> LinUCBPolicy:
    """LinUCB after `steps` rounds of online learning on 256 sessions of a sibling of `sim`
    (same population, seeded with `seed`)."""
    live = sibling_simulator(sim, 256, seed)
    policy = LinUCBPolicy(live.observable_item_features, observation_sample(live, seed))
    remaining = [steps]

    def count(actions: np.ndarray, result: StepResult) -> bool:
        remaining[0] -= 1
        return remaining[0] > 0

    if steps > 0:
        rollout(policy, live, live.reset(), count)
    return policy
