"""Gymnasium API: check_env for both presets, the vector env, and an SB3 agent training."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlrec import engine
from rlrec.engine.sim.gym_api import RecommenderEnv


@pytest.mark.parametrize("preset", ["seed-classic", "default"])
def test_check_env_passes_without_warnings(preset):
    env = engine.make_env(preset, seed=0)
    assert isinstance(env, gym.Env) and isinstance(env, RecommenderEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env, skip_render_check=True)


def test_single_env_episode_and_action_mask():
    env = engine.make_env("seed-classic", seed=1)
    obs, info = env.reset(seed=1)
    assert obs.shape == (42,) and info["action_mask"].shape == (500,)
    assert info["action_mask"].all()
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        action = int(np.flatnonzero(info["action_mask"])[0])
        obs, reward, terminated, truncated, info = env.step(action)
        assert not truncated
        total += reward
        steps += 1
        if info["engaged"] and not terminated:
            assert info["action_mask"][action] == 0  # engaged items are masked
    assert steps == 10 and info["episode_return"] == pytest.approx(total, abs=1e-5)
    assert obs[40] == pytest.approx(1.0)  # the session's own last observation: 10 / 10 steps


def test_vector_env_steps_1024_sessions():
    env = engine.make_vector_env("default", num_envs=1024, seed=0)
    assert isinstance(env, gym.vector.VectorEnv)
    obs, infos = env.reset(seed=0)
    assert obs.shape == (1024, env.single_observation_space.shape[0])
    ended = 0
    for _ in range(60):
        obs, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
        assert rewards.shape == (1024,) and infos["action_mask"].shape == (1024, 500)
        assert env.single_observation_space.contains(obs[0])
        ended += terminated.sum()
        if terminated.any():
            # Same-step autoreset: obs is the next session's start, final_obs the last one.
            start = env.sim.session_start  # where the context block (progress first) starts
            progress = start.user_dim + 2 * start.item_dim
            assert np.all(obs[terminated, progress] == 0)
            assert np.all(infos["final_obs"][terminated, progress] > 0)
            assert np.array_equal(infos["_final_obs"], terminated)
    assert ended >= 1024  # every session ends within 50 steps, and resets itself


def test_preset_path_and_mapping_give_the_same_env(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("preset: seed-classic\nenv:\n  episode_length: 5\n")
    env = engine.make_env(str(path), seed=0)
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        if env.step(0)[2]:
            break
    assert steps == 5
    assert engine.make_env({"kind": "classic"}).observation_space.shape == (42,)


def test_stable_baselines3_dqn_trains_on_seed_classic(tmp_path):
    pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.logger import configure

    torch.set_num_threads(1)
    env = engine.make_env("seed-classic", seed=0)
    model = DQN(
        "MlpPolicy",
        env,
        learning_starts=200,
        buffer_size=2_000,
        batch_size=32,
        train_freq=4,
        policy_kwargs={"net_arch": [32]},
        seed=0,
        verbose=0,
    )
    # SB3's default logger makes a folder in the system temp dir on every run.
    model.set_logger(configure(str(tmp_path / "sb3"), []))
    model.learn(total_timesteps=2_000)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert 0 <= int(action) < 500
