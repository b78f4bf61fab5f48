"""rlrec.engine: the core both faces (`rlrec.cli`, `rlrec.tui`) call. Sub-packages by concept,
each importing only those listed after it (import-linter contract in pyproject.toml):

- `usecases`   the functions every face calls, returning dataclasses
- `serving`    recommend, cold start, explain
- `training`   the trainer, its typed events, run folders, run configs
- `evaluation` online and offline evaluation, metrics, simulated A/B
- `agents`     DQN: config, Q-network, replay buffer
- `policies`   the non-learning policies (random, popular, LinUCB, oracle, ...) by name
- `sim`        vectorised user simulators and their Gymnasium wrappers
- `truth`      the hidden user model a simulator runs on (generated or fitted to a log)
- `presets`    the shipped YAML presets; `config_base` the typed config helpers

Imports `rlrec.data` below it, never a face or its toolkit (Textual, rich, plotext, argparse).
Torch is imported by the modules that need it (agents, training), not by this package, so
`import rlrec.engine` stays cheap for a face that only reads configs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlrec.engine.sim.gym_api import RecommenderEnv, RecommenderVectorEnv


def make_env(
    preset_or_config: Any = "default", seed: int | None = None, **kwargs: Any
) -> RecommenderEnv:
    """A single-session `gymnasium.Env` for a preset name, YAML path or config."""
    from rlrec.engine.sim.gym_api import make_env as _make_env

    return _make_env(preset_or_config, seed=seed, **kwargs)


def make_vector_env(
    preset_or_config: Any = "default", num_envs: int = 1, seed: int | None = None, **kwargs: Any
) -> RecommenderVectorEnv:
    """A `gymnasium.vector.VectorEnv` of `num_envs` sessions stepped together."""
    from rlrec.engine.sim.gym_api import make_vector_env as _make_vector_env

    return _make_vector_env(preset_or_config, num_envs=num_envs, seed=seed, **kwargs)
