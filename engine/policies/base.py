"""One interface for everything that recommends: baselines, oracles and the DQN agent.

A policy acts on a batch of observations (N, obs_dim) and may be given a mask (N, n_items)
of items to exclude (True = excluded). `scores` is the single place a policy rates every item
for a batch of states; `act` and `top_k` are built on it unless a policy knows better.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from rlrec.engine.policies.ranking import top_k


class Policy(ABC):
    name: str = "policy"
    n_items: int

    @abstractmethod
    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """(N, n_items) float scores, higher is better; masked items are -inf."""

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """(N,) int64 item per session: the best-scored item (greedy)."""
        return np.asarray(self.scores(obs, mask)).argmax(axis=1).astype(np.int64)

    def top_k(self, obs: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
        """(N, k) item ids, best first."""
        return top_k(self.scores(obs, mask), k)

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) scores of the candidate items `candidates` ((N, C) item ids) for each state,
        higher is better; candidates where `mask` ((N, C) bool) is True are -inf. By default
        gathered from `scores`; a policy that can score a subset of items cheaply overrides
        this (a 100k-item catalogue should never be scored whole every step)."""
        scores = np.take_along_axis(np.asarray(self.scores(obs)), candidates, axis=1)
        return apply_mask(scores, mask)

    def act_candidates(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N,) int64 item id per session: its best-scored candidate (greedy)."""
        best = np.asarray(self.candidate_scores(obs, candidates, mask)).argmax(axis=1)
        return np.asarray(candidates[np.arange(len(candidates)), best], dtype=np.int64)

    def observe(  # noqa: B027 — a hook: most policies learn nothing online
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        engaged: np.ndarray,
    ) -> None:
        """Feedback after a step, for online learners (LinUCB). Default: nothing."""

    def begin_episodes(self) -> None:  # noqa: B027 — a hook, most policies keep no state
        """Called before an evaluation starts (reset per-evaluation state)."""


def apply_mask(scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Scores with masked items set to -inf (copying only when a mask is given)."""
    if mask is None:
        return scores
    out = np.array(scores, dtype=np.float64 if scores.dtype == np.float64 else np.float32)
    out[mask] = -np.inf
    return out
