"""Baseline policies behind the one `Policy` interface: random, most-popular, LinUCB, the
myopic oracle and (for the `default` preset) a farsighted heuristic.

The oracles read the hidden truth of the simulator they are bound to, so they must be given
the very simulator that is being stepped; the others only see observations.
"""

from __future__ import annotations

import numpy as np

from data.errors import RlrecError
from engine.policy import Policy, apply_mask
from engine.sim.base import VectorSimulator

BASELINES: tuple[str, ...] = ("random", "popular", "linucb", "oracle", "farsighted")


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


class PopularityPolicy(Policy):
    """The same ranking for everyone: items by their share of interest in the logs."""

    name = "popular"

    def __init__(self, item_popularity: np.ndarray):
        self.popularity = np.asarray(item_popularity, dtype=np.float32)
        self.n_items = len(self.popularity)

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        scores = np.broadcast_to(self.popularity, (len(obs), self.n_items))
        return apply_mask(scores, mask) if mask is not None else scores.copy()


class LinUCBPolicy(Policy):
    """Disjoint LinUCB (one ridge regression per item) on a small context: a fixed random
    linear projection of the standardised observation plus a bias, so d stays small and scoring all
    items for a batch is one matrix product.

    Score(x, a) = θ_a·x + exploration · √(xᵀ A_a⁻¹ x). Updates are batched per step: every
    item's A_a and b_a accumulate the step's contexts, then the touched inverses are refreshed.
    """

    name = "linucb"

    def __init__(
        self,
        n_items: int,
        obs_dim: int,
        context_dim: int = 12,
        exploration: float = 0.5,
        ridge: float = 1.0,
        seed: int | None = 0,
        obs_mean: np.ndarray | None = None,
        obs_std: np.ndarray | None = None,
    ):
        self.n_items, self.obs_dim = n_items, obs_dim
        self.context_dim, self.exploration, self.ridge = context_dim, exploration, ridge
        self._seed = seed
        rng = np.random.default_rng(seed)
        self.projection = (
            rng.standard_normal((obs_dim, context_dim - 1)) / np.sqrt(obs_dim)
        ).astype(np.float64)
        self.obs_mean = np.zeros(obs_dim) if obs_mean is None else np.asarray(obs_mean, float)
        self.obs_std = np.ones(obs_dim) if obs_std is None else np.maximum(obs_std, 1e-6)
        self.begin_episodes()

    def begin_episodes(self) -> None:
        d = self.context_dim
        self.A = np.broadcast_to(self.ridge * np.eye(d), (self.n_items, d, d)).copy()
        self.A_inv = np.broadcast_to(np.eye(d) / self.ridge, (self.n_items, d, d)).copy()
        self.b = np.zeros((self.n_items, d))
        self.theta = np.zeros((self.n_items, d))
        # Untried arms tie exactly; a tiny random tie-break keeps parallel sessions from all
        # pulling the same arm.
        self._tie_rng = np.random.default_rng(self._seed)

    def context(self, obs: np.ndarray) -> np.ndarray:
        z = (np.asarray(obs, dtype=np.float64) - self.obs_mean) / self.obs_std
        x = z @ self.projection
        return np.column_stack([x, np.ones(len(x))])

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        x = self.context(obs)
        n, d = x.shape
        outer = (x[:, :, None] * x[:, None, :]).reshape(n, d * d)
        variance = outer @ self.A_inv.reshape(self.n_items, d * d).T  # (N, I) xᵀ A⁻¹ x
        scores = x @ self.theta.T + self.exploration * np.sqrt(np.maximum(variance, 0.0))
        scores += 1e-6 * self._tie_rng.random(scores.shape)
        return apply_mask(scores.astype(np.float32), mask)

    def observe(self, obs, actions, rewards, engaged) -> None:
        x = self.context(obs)
        actions = np.asarray(actions, dtype=np.int64)
        np.add.at(self.A, actions, x[:, :, None] * x[:, None, :])
        np.add.at(self.b, actions, np.asarray(rewards, dtype=np.float64)[:, None] * x)
        touched = np.unique(actions)
        self.A_inv[touched] = np.linalg.inv(self.A[touched])
        self.theta[touched] = np.einsum("ade,ae->ad", self.A_inv[touched], self.b[touched])


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


def baselines_for(sim: VectorSimulator) -> tuple[str, ...]:
    """The baselines that make sense on this simulator (farsighted needs session dynamics)."""
    return tuple(
        n for n in BASELINES if n != "farsighted" or hasattr(sim, "expected_satisfaction_change")
    )


def _observation_stats(sim: VectorSimulator, seed: int) -> tuple[np.ndarray, np.ndarray]:
    users = np.random.default_rng(seed).integers(0, sim.n_users, size=min(sim.n_users, 2000))
    obs = sim.fresh_observation(users)
    return obs.mean(axis=0), obs.std(axis=0) + 0.1


def make_baseline(name: str, sim: VectorSimulator, seed: int | None = 0) -> Policy:
    """A baseline policy by name, bound to `sim` where it needs the hidden truth."""
    if name == "random":
        return RandomPolicy(sim.n_items, seed=seed)
    if name == "popular":
        return PopularityPolicy(sim.item_popularity)
    if name == "linucb":
        mean, std = _observation_stats(sim, seed or 0)
        return LinUCBPolicy(sim.n_items, sim.obs_dim, seed=seed, obs_mean=mean, obs_std=std)
    if name == "oracle":
        return MyopicOraclePolicy(sim)
    if name == "farsighted":
        return FarsightedPolicy(sim)
    raise RlrecError(f"unknown baseline '{name}' (baselines: {', '.join(BASELINES)})")
