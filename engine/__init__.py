"""rlrec engine: simulator, agents, trainer, metrics and the `rlrec` CLI.

Imports only `data` below it, never `tui` or Textual. Torch is imported lazily, inside the
modules that need it (agents, trainer), so that `import engine` stays fast for the TUI.
"""

from typing import Any


def make_env(preset_or_config: Any = "default", seed: int | None = None, **kwargs: Any):
    """A single-session `gymnasium.Env` for a preset name, YAML path or config."""
    from rlrec.engine.sim.gym_api import make_env as _make_env

    return _make_env(preset_or_config, seed=seed, **kwargs)


def make_vector_env(
    preset_or_config: Any = "default", num_envs: int = 1, seed: int | None = None, **kwargs: Any
):
    """A `gymnasium.vector.VectorEnv` of `num_envs` sessions stepped together."""
    from rlrec.engine.sim.gym_api import make_vector_env as _make_vector_env

    return _make_vector_env(preset_or_config, num_envs=num_envs, seed=seed, **kwargs)
