"""History ids in the observation (`env.history_ids`) and the sequence encoder reading them
(`agent.sequence_encoder`): where the ids are, that the encoder sees which items and in
which order, the config refusals, and that a trained run serves the simulator's state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig
from rlrec.engine.agents.network import EmbeddingQNetwork, QNetwork, bfloat16_body
from rlrec.engine.agents.sequence import SequenceBody, SequenceSpec
from rlrec.engine.config_base import from_dict
from rlrec.engine.policies.baselines import LinUCBPolicy, observation_sample
from rlrec.engine.sim import make_simulator
from rlrec.engine.sim.gym_api import RecommenderEnv
from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.training.trainer import Trainer
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN
from tests.fixtures import tiny_dataset

torch.set_num_threads(1)

N_ITEMS, H = 12, 4


@pytest.fixture(scope="module")
def dataset():
    return tiny_dataset(n_users=50, n_items=60, n_interactions=1500, seed=2)


def _sim(dataset, history_ids: bool, n_envs: int = 16, seed: int = 3):
    env = {"kind": "default", "history_ids": history_ids, "history_window": H}
    return make_simulator(env, n_envs=n_envs, seed=seed, dataset=dataset)


def _obs_with_ids(ids: list[list[int]], features: int = 3) -> torch.Tensor:
    """Observations whose feature columns are all 0.5 and whose last H columns are `ids`."""
    rows = torch.full((len(ids), features), 0.5)
    return torch.cat([rows, torch.tensor(ids, dtype=torch.float32)], dim=1)


# -- the observation -----------------------------------------------------------------------
def test_history_ids_end_the_observation_newest_last_and_change_nothing_else(dataset):
    plain, with_ids = _sim(dataset, False), _sim(dataset, True)
    assert with_ids.obs_dim == plain.obs_dim + H and with_ids.history_id_columns == H
    obs_plain, obs_ids = plain.reset(3), with_ids.reset(3)
    rng = np.random.default_rng(0)
    for _ in range(6):
        # The same sessions under the same actions: features equal, ids the history slots.
        np.testing.assert_array_equal(obs_ids[:, :-H], obs_plain)
        np.testing.assert_array_equal(obs_ids[:, -H:], with_ids._recent)
        actions = rng.integers(0, plain.n_items, size=plain.n_envs)
        obs_plain = plain.step(actions).obs
        obs_ids = with_ids.step(actions).obs
    assert (obs_ids[:, -H:] < with_ids.n_items).any()  # some sessions engaged by now
    # An empty slot is n_items; ids are whole numbers.
    assert set(np.unique(obs_ids[:, -H:])) <= set(range(with_ids.n_items + 1))


def test_serving_builds_the_very_state_the_simulator_starts_a_session_with(dataset):
    sim = _sim(dataset, True)
    obs = sim.reset(5)
    served = sim.session_start.observation_with_history(sim.user_ids, sim._recent)
    clock = slice(sim.session_start.feature_dim - 4, sim.session_start.feature_dim)
    keep = np.ones(sim.obs_dim, dtype=bool)
    keep[clock] = False  # a simulated session starts at a random hour; serving at hour 0
    np.testing.assert_array_equal(served[:, keep], obs[:, keep])
    np.testing.assert_array_equal(served[:, -H:], sim.session_start.start_history(sim.user_ids))


def test_the_gym_space_bounds_ids_by_the_catalogue_and_features_by_the_bound(dataset):
    env = RecommenderEnv(_sim(dataset, True, n_envs=1))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.observation_space.high[-1] == env.sim.n_items
    assert env.observation_space.high[0] == env.sim.observation_bound


def test_linucb_reads_the_features_and_not_the_ids(dataset):
    sim = _sim(dataset, True)
    sample = observation_sample(sim, 0)
    assert sample.shape[1] == sim.obs_dim - H
    policy = LinUCBPolicy(sim.observable_item_features, sample)
    obs = sim.reset(1)
    other = obs.copy()
    other[:, -H:] = sim.n_items  # other ids, same features
    np.testing.assert_array_equal(policy.scores(obs), policy.scores(other))


# -- the encoder ---------------------------------------------------------------------------
def _networks(kind: str) -> list[torch.nn.Module]:
    spec = SequenceSpec(kind, H, N_ITEMS, 8)
    features = torch.randn(N_ITEMS, 5, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    return [
        QNetwork(3 + H, N_ITEMS, [16], 0.0, init_generator=generator, sequence=spec),
        EmbeddingQNetwork(
            3 + H, features, N_ITEMS, [16], 0.0, dim=8, init_generator=generator, sequence=spec
        ),
    ]


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_the_encoder_sees_which_items_and_in_which_order(kind):
    obs = _obs_with_ids([[1, 2, 3, 4], [4, 3, 2, 1], [1, 2, 3, 5], [N_ITEMS] * H])
    for net in _networks(kind):
        base, reordered, other, empty = net.eval()(obs)
        assert torch.isfinite(empty).all()  # no item at all is a state too
        assert not torch.allclose(base, other)  # which items
        assert not torch.allclose(base, reordered)  # in which order (GRU; positions)
        body = net.body
        assert isinstance(body, SequenceBody)
        assert torch.count_nonzero(body.embedding.weight[N_ITEMS]) == 0  # padding is zero


def test_ids_past_the_trained_catalogue_read_as_empty_slots():
    net = _networks("gru")[0].eval()
    padded, unknown = _obs_with_ids([[N_ITEMS, N_ITEMS, 2, 3], [N_ITEMS + 7, N_ITEMS, 2, 3]])
    torch.testing.assert_close(net(padded[None]), net(unknown[None]))


def test_the_encoder_stays_float32_inside_a_bfloat16_body():
    net = _networks("gru")[0].eval()
    obs = _obs_with_ids([[1, 2, 3, 4], [N_ITEMS, 5, 6, 7]])
    exact = net(obs)
    with bfloat16_body():
        rounded = net(obs)
        body = net.body
        assert isinstance(body, SequenceBody)
        summary = body.encode(body.ids(obs))
    assert summary.dtype == torch.float32 and rounded.dtype == torch.float32
    torch.testing.assert_close(summary, body.encode(body.ids(obs)))  # not rounded
    torch.testing.assert_close(rounded, exact, rtol=0.05, atol=0.05)


def test_padding_stays_zero_through_updates_and_the_encoder_learns_an_order():
    """The best item is the one engaged two steps ago: a mean of features cannot tell it,
    the encoder must read which item sits in which slot (γ = 0, a contextual bandit)."""
    config = from_dict(
        DQNConfig,
        {
            "hidden": [64],
            "dropout": 0.0,
            "gamma": 0.0,
            "batch_size": 64,
            "lr": 3e-3,
            "sequence_encoder": "gru",
            "sequence_width": 16,
            "sequence_length": H,
        },
        prefix="agent",
    )
    agent = DQNAgent(1 + H, N_ITEMS, config, seed=0)
    rng = np.random.default_rng(0)

    def states(n: int) -> np.ndarray:
        ids = rng.integers(0, N_ITEMS, size=(n, H))
        ids[rng.random((n, H)) < 0.1] = N_ITEMS  # a few empty slots
        ids[:, -2] = rng.integers(0, N_ITEMS, size=n)  # the slot that matters is filled
        return np.c_[np.ones((n, 1)), ids].astype(np.float32)

    obs = states(4096)
    actions = rng.integers(0, N_ITEMS, size=len(obs))
    rewards = (actions == obs[:, -2]).astype(np.float32)
    done = np.ones(len(obs), dtype=bool)
    agent.remember(obs, actions, rewards, obs, done, None)
    test = states(500)
    before = float((agent.act(test) == test[:, -2]).mean())
    for _ in range(600):
        agent.update()
    after = float((agent.act(test) == test[:, -2]).mean())
    assert before < 0.3 and after > 0.8, (before, after)
    body = agent.online.body
    assert isinstance(body, SequenceBody)
    assert torch.count_nonzero(body.embedding.weight[N_ITEMS]) == 0


# -- config --------------------------------------------------------------------------------
def test_the_run_config_fills_the_length_from_the_history_window():
    config = load_run_config(
        "default",
        overrides={"env": {"history_ids": True, "history_window": 7}, "agent": _GRU},
    )
    assert config.agent.sequence_length == 7


_GRU = {"sequence_encoder": "gru", "replay_dtype": "float32"}


@pytest.mark.parametrize(
    ("env", "agent", "keys"),
    [
        ({}, _GRU, ("agent.sequence_encoder", "env.history_ids")),
        (
            {"history_ids": True},
            {"replay_dtype": "float16"},
            ("agent.replay_dtype", "env.history_ids"),
        ),
        (
            {"history_ids": True, "history_window": 5},
            {**_GRU, "sequence_length": 3},
            ("agent.sequence_length", "env.history_window"),
        ),
    ],
)
def test_combinations_that_cannot_work_are_refused_naming_both_keys(env, agent, keys):
    with pytest.raises(RlrecError) as error:
        load_run_config("default", overrides={"env": env, "agent": agent})
    assert all(key in str(error.value) for key in keys)


def test_an_agent_built_without_the_id_count_is_refused():
    config = from_dict(DQNConfig, {"hidden": [8], "sequence_encoder": "gru"}, prefix="agent")
    with pytest.raises(RlrecError, match="agent.sequence_length"):
        DQNAgent(10, 5, config, seed=0)


# -- saved with the run --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_a_trained_run_loads_and_serves_the_encoder_it_trained(tmp_path, kind):
    from rlrec.engine.serving import artifacts
    from rlrec.engine.training import runs
    from rlrec.engine.usecases.serving import recommend

    train = {**SMALL_TRAIN, "steps": 1280, "eval_every": 0, "checkpoint_every": 0}
    agent = {**SMALL_AGENT, "sequence_encoder": kind, "train_precision": "bfloat16"}
    config = load_run_config(
        "default", overrides={"env": {"history_ids": True}, "agent": agent, "train": train}
    )
    trainer = Trainer(config, tmp_path / "run")
    trainer.run()
    trained = trainer.agent

    loaded = runs.load_run(tmp_path / "run")
    served = artifacts.load_serving(tmp_path / "run")
    users = np.arange(20)
    obs = loaded.sim.fresh_observation(users)
    assert obs.shape[1] == loaded.sim.obs_dim and (obs[:, -5:] < loaded.sim.n_items).any()
    # The serving state is the simulator's, and every loaded copy scores it alike.
    np.testing.assert_array_equal(served.start.fresh_observation(users), obs)
    expected = trained.scores(obs)
    np.testing.assert_array_equal(loaded.policy.scores(obs), expected)
    np.testing.assert_array_equal(served.agent.scores(obs), expected)
    assert len(recommend(tmp_path / "run", "0", 5).items) == 5
