"""Gymnasium views of the simulators, so any Gymnasium agent can train on them.

- `make_env(preset_or_config, seed)` → `RecommenderEnv`, a single-session `gymnasium.Env`.
- `make_vector_env(preset_or_config, num_envs, seed)` → `RecommenderVectorEnv`, a
  `gymnasium.vector.VectorEnv` over one vectorised simulator (no per-session Python objects).

Observations are float32 vectors, actions item ids (`Discrete(n_items)`). Sessions end with
`terminated=True` (the observation carries session progress, so the end is part of the
state; nothing is ever truncated). `info["action_mask"]` is 1 for items still allowed and 0
for items already engaged in the session (Gymnasium's action-mask convention).

The single env returns the session's true last observation when it terminates (the next
`reset` starts a new session). The vector env resets finished sessions in the same step
(`AutoresetMode.SAME_STEP`): where `terminated[i]`, `obs[i]` is already the next session's
first observation and `infos["final_obs"][i]` the last one of the session that ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rlrec.data.errors import RlrecError
from rlrec.engine.sim import EnvConfig, make_simulator, parse_env_config
from rlrec.engine.sim.base import VectorSimulator


def resolve_env_config(preset_or_config: Any) -> EnvConfig:
    """A preset name, a YAML path, a whole config mapping (with `env:`), an env mapping, or
    an env config dataclass → the checked env config."""
    if isinstance(preset_or_config, str | Path):
        from rlrec.engine.presets import load_preset

        return parse_env_config(load_preset(preset_or_config).get("env"))
    if isinstance(preset_or_config, Mapping):
        if "env" in preset_or_config:
            return parse_env_config(preset_or_config["env"])
        return parse_env_config(preset_or_config)
    if preset_or_config is None:
        return parse_env_config(None)
    if hasattr(preset_or_config, "kind"):
        return preset_or_config
    raise RlrecError(f"cannot build an environment from {preset_or_config!r}")


def checked_actions(actions: Any, n_items: int, n_envs: int) -> np.ndarray:
    """`actions` as an int64 array of shape (n_envs,), each an item id in [0, n_items).

    Accepts Python or numpy integers (and integral floats such as 3.0, which some agents
    emit); a scalar stands for one session. Raises RlrecError naming what is wrong — shape,
    dtype (bool, fractional, non-numeric) or the first id out of range — instead of an
    IndexError deep in the simulator or numpy's silent wrap-around of negative ids."""
    array = np.asarray(actions)
    if array.ndim == 0 and n_envs == 1:
        array = array.reshape(1)
    if array.shape != (n_envs,):
        raise RlrecError(
            f"step: actions have shape {array.shape}, expected ({n_envs},)",
            key="actions",
            value=array.shape,
            allowed=(n_envs,),
        )
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise RlrecError(
            f"step: actions have dtype {array.dtype}, expected integer item ids",
            key="actions",
            value=str(array.dtype),
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise RlrecError("step: actions are complex numbers, expected integer item ids")
    if not np.issubdtype(array.dtype, np.integer):
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            bad = array[~whole][0]
            raise RlrecError(
                f"step: action {bad!r} is not an item id (expected an integer)",
                key="actions",
                value=float(bad),
            )
    outside = (array < 0) | (array >= n_items)
    if outside.any():
        position = int(np.flatnonzero(outside)[0])
        bad = array[position].item()
        raise RlrecError(
            f"step: action {bad} (session {position}) is out of range (allowed: 0..{n_items - 1})",
            key="actions",
            value=bad,
            allowed=(0, n_items - 1),
        )
    return array.astype(np.int64)


def _observation_space(sim: VectorSimulator) -> spaces.Box:
    bound = sim.observation_bound
    ids = sim.history_id_columns
    if not ids:
        return spaces.Box(-bound, bound, shape=(sim.obs_dim,), dtype=np.float32)
    # Feature columns within ±bound; trailing history ids in [0, n_items] (n_items = empty).
    low = np.full(sim.obs_dim, -bound, dtype=np.float32)
    high = np.full(sim.obs_dim, bound, dtype=np.float32)
    low[-ids:], high[-ids:] = 0.0, float(sim.n_items)
    return spaces.Box(low, high, dtype=np.float32)


class RecommenderEnv(gym.Env):
    """One user session at a time over a simulator of size 1."""

    metadata = {"render_modes": []}

    def __init__(self, sim: VectorSimulator):
        if sim.n_envs != 1:
            raise RlrecError(f"RecommenderEnv needs a simulator of 1 session, got {sim.n_envs}")
        self.sim = sim
        sim.keep_final_obs = True
        self.observation_space = _observation_space(sim)
        self.action_space = spaces.Discrete(sim.n_items)

    def _info(self, engaged: bool = False, purchased: bool = False) -> dict[str, Any]:
        return {
            "action_mask": (~self.sim.mask[0]).astype(np.int8),
            "engaged": bool(engaged),
            "purchased": bool(purchased),
            "user_id": int(self.sim.user_ids[0]),
        }

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs = self.sim.reset(seed)
        return obs[0].astype(np.float32, copy=True), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """`action` an item id in [0, n_items). RlrecError: non-integer or out of range."""
        result = self.sim.step(checked_actions(action, self.sim.n_items, 1))
        info = self._info(result.engaged[0], result.purchased[0])
        if result.done[0]:
            info["episode_return"] = float(result.episode_return[0])
            info["episode_length"] = int(result.episode_length[0])
            info["episode_engagements"] = int(result.episode_engagements[0])
        last = result.obs
        if result.done[0]:
            # This wrapper sets keep_final_obs, so an ended session's last view is kept.
            assert result.final_obs is not None
            last = result.final_obs
        obs = last[0].astype(np.float32, copy=True)
        return obs, float(result.reward[0]), bool(result.done[0]), False, info


class RecommenderVectorEnv(VectorEnv):
    """`num_envs` sessions stepped together by one vectorised simulator."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, sim: VectorSimulator):
        self.sim = sim
        sim.keep_final_obs = True
        self.num_envs = sim.n_envs
        self.single_observation_space = _observation_space(sim)
        self.single_action_space = spaces.Discrete(sim.n_items)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _infos(self, engaged: np.ndarray, purchased: np.ndarray) -> dict[str, Any]:
        return {
            "action_mask": ~self.sim.mask,
            "engaged": engaged,
            "purchased": purchased,
            "user_id": self.sim.user_ids.copy(),
        }

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        obs = self.sim.reset(seed)
        none = np.zeros(self.num_envs, dtype=bool)
        return obs, self._infos(none, none)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """`actions` (num_envs,) item ids in [0, n_items); returns obs, reward, terminated,
        truncated, infos. RlrecError: wrong shape, non-integer or out-of-range actions."""
        result = self.sim.step(checked_actions(actions, self.sim.n_items, self.num_envs))
        infos = self._infos(result.engaged, result.purchased)
        infos["episode_return"] = result.episode_return
        infos["episode_length"] = result.episode_length
        if result.done.any():
            final_obs = np.zeros((self.num_envs, self.sim.obs_dim), dtype=np.float32)
            final_obs[result.done] = result.final_obs
            infos["final_obs"] = final_obs
            infos["_final_obs"] = result.done.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        return result.obs, result.reward, result.done, truncated, infos


def make_env(
    preset_or_config: Any = "default", seed: int | None = None, dataset: Any = None
) -> RecommenderEnv:
    """A single-session `gymnasium.Env` for a preset name, YAML path or config."""
    config = resolve_env_config(preset_or_config)
    return RecommenderEnv(make_simulator(config, n_envs=1, seed=seed, dataset=dataset))


def make_vector_env(
    preset_or_config: Any = "default",
    num_envs: int = 1,
    seed: int | None = None,
    dataset: Any = None,
) -> RecommenderVectorEnv:
    """A `gymnasium.vector.VectorEnv` of `num_envs` sessions stepped together."""
    config = resolve_env_config(preset_or_config)
    return RecommenderVectorEnv(make_simulator(config, n_envs=num_envs, seed=seed, dataset=dataset))
