"""A fresh simulator of the same population: same hidden truth and env config, its own
session count and seed (the A/B test's arms, LinUCB's warm-up sessions)."""

from __future__ import annotations

from rlrec.engine.sim.base import VectorSimulator


def sibling_simulator(sim: VectorSimulator, n_envs: int, seed: int) -> VectorSimulator:
    """A new simulator of `type(sim)` with `sim`'s truth (if any) and config, `n_envs`
    parallel sessions seeded with `seed`."""
    truth = getattr(sim, "truth", None)
    config = getattr(sim, "config", None)
    if truth is not None:
        return type(sim)(truth, config, n_envs=n_envs, seed=seed)  # type: ignore[call-arg]
    return type(sim)(config, n_envs=n_envs, seed=seed)  # type: ignore[call-arg]
