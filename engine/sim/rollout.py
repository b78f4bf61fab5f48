"""The one loop that lets a policy act in a simulator: act → step → observe, until told.

Greedy online evaluation, the simulated A/B test and LinUCB's warm-up all run this loop;
they differ only in what they record from each step and when they stop, which is the
`on_step` callback. (The trainer's collect step is not this loop: it explores ε-greedily
and stores transitions for learning.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from rlrec.engine.sim.base import StepResult, VectorSimulator


class Actor(Protocol):
    """What the loop needs of a policy (`engine.policies.base.Policy` is one)."""

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray: ...

    def act_candidates(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray: ...

    def observe(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, engaged: np.ndarray
    ) -> None: ...


def rollout(
    policy: Actor,
    sim: VectorSimulator,
    obs: np.ndarray,
    on_step: Callable[[np.ndarray, StepResult], bool],
) -> np.ndarray:
    """Step all of `sim`'s sessions with `policy` from observation `obs` ((n_envs, obs_dim)).

    Each step: the policy picks one item per session (masked items excluded; among the
    session's candidate set when the simulator offers one), the simulator
    steps, the policy observes the feedback, then `on_step(actions, result)` records what it
    needs and returns whether to go on. Returns the last observation."""
    while True:
        candidates = sim.candidates()
        if candidates is None:
            actions = policy.act(obs, sim.mask)
        else:
            actions = policy.act_candidates(obs, candidates, sim.candidate_mask())
        result = sim.step(actions)
        policy.observe(obs, actions, result.reward, result.engaged)
        go_on = on_step(actions, result)
        obs = result.obs
        if not go_on:
            return obs
