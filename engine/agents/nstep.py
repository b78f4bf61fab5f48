"""n-step returns for N sessions stepped together (Sutton 1988; as used in Rainbow, Hessel et
al. 2018, "Rainbow: Combining Improvements in Deep Reinforcement Learning", §2).

A transition from step t is stored n vector steps later, as

    reward = Σ_{k=0}^{m-1} γ^k r_{t+k},   done = the session ended within the n steps,
    next_obs, next_mask, next_candidates = those after step t+n-1,

where m = n, or the number of steps to the session's end when it ended sooner (then nothing
is bootstrapped, so the next state stored there — already the next session's — is never
used). The learner's target is `reward + γ^n (1 − done) max_a Q(next_obs, a)`: every
bootstrapped transition is exactly n steps long, because a session only stops short at its
end. Larger n carries a reward back n steps per update instead of one, at the price of
off-policy bias from the exploratory actions inside the n steps.

With n = 1 a step passes straight through, unchanged.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np


class Step(NamedTuple):
    """One vector step of N sessions, in the replay buffer's `add_batch` order."""

    obs: np.ndarray  # (N, obs_dim)
    actions: np.ndarray  # (N,)
    rewards: np.ndarray  # (N,)
    next_obs: np.ndarray  # (N, obs_dim)
    done: np.ndarray  # (N,) bool
    next_mask: np.ndarray | None  # (N, n_items) or (N, C) bool
    next_candidates: np.ndarray | None  # (N, C) item ids


class NStepReturns:
    """Holds the last n − 1 vector steps; `push` returns the n-step transitions of the step
    n − 1 before the one pushed (None until n steps have been seen)."""

    def __init__(self, n: int, gamma: float) -> None:
        self.n = int(n)
        self.gamma = float(gamma)
        self.pending: deque[Step] = deque()

    def push(self, step: Step) -> Step | None:
        if self.n == 1:
            return step
        # The simulator reuses some arrays (its mask) between steps: keep copies.
        self.pending.append(Step._make(None if a is None else np.array(a, copy=True) for a in step))
        if len(self.pending) < self.n:
            return None
        steps = list(self.pending)
        self.pending.popleft()
        first, last = steps[0], steps[-1]
        reward = np.zeros(len(first.actions), dtype=np.float64)
        alive = np.ones(len(first.actions), dtype=bool)  # no end yet before step k
        for k, s in enumerate(steps):
            reward += np.where(alive, self.gamma**k * s.rewards, 0.0)
            alive &= ~np.asarray(s.done, dtype=bool)
        return Step(
            first.obs,
            first.actions,
            reward.astype(np.float32),
            last.next_obs,
            ~alive,
            last.next_mask,
            last.next_candidates,
        )

    def state_dict(self) -> dict[str, Any]:
        """The pending steps as stacked arrays ((k, N, …) per field; absent fields left out)."""
        state: dict[str, Any] = {"count": len(self.pending)}
        if self.pending:
            for name in Step._fields:
                values = [getattr(s, name) for s in self.pending]
                if values[0] is not None:
                    state[name] = np.stack(values)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pending.clear()
        for i in range(int(state["count"])):
            self.pending.append(
                Step._make(
                    np.asarray(state[name][i]) if name in state else None for name in Step._fields
                )
            )
