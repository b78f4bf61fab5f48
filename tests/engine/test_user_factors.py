"""`env.user_factors`: the agent's state carries the user's latent factors from the truth."""

import dataclasses

import numpy as np
import pytest

from rlrec import data
from rlrec.engine.presets import load_preset
from rlrec.engine.sim import DefaultSimulator, parse_env_config
from rlrec.engine.truth.model import truth_from_dataset


@pytest.fixture(scope="module")
def truth():
    return truth_from_dataset(data.default_dataset())


def env(**overrides):
    return dataclasses.replace(parse_env_config(load_preset("default")["env"]), **overrides)


def test_the_state_carries_the_users_factors_after_their_features(truth):
    plain = DefaultSimulator(truth, env(), n_envs=8, seed=3)
    with_factors = DefaultSimulator(truth, env(user_factors=True), n_envs=8, seed=3)
    d, u = truth.user_latent.shape[1], truth.user_observable.shape[1]
    assert with_factors.obs_dim == plain.obs_dim + d
    obs, users = with_factors._observe(), with_factors._users
    np.testing.assert_allclose(obs[:, u : u + d], truth.user_latent[users], rtol=1e-6)
    # Everything else is the observation without them, in the same order.
    np.testing.assert_array_equal(np.delete(obs, np.s_[u : u + d], axis=1), plain._observe())
    # Serving's session start builds the very state the sessions start in.
    start = with_factors.session_start.fresh_observation(users)
    np.testing.assert_array_equal(start[:, : u + d], obs[:, : u + d])


def test_users_with_other_factors_get_other_states(truth):
    sim = DefaultSimulator(truth, env(user_factors=True), n_envs=1, seed=0)
    a, b = sim.session_start.fresh_observation(np.array([0, 1]))
    u = truth.user_observable.shape[1]
    assert not np.allclose(
        a[u : u + truth.user_latent.shape[1]], b[u : u + truth.user_latent.shape[1]]
    )
