"""The DQN agent: replay buffer, masking, targets, config checks, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig, masked_argmax
from rlrec.engine.agents.network import QNetwork, has_training_mode
from rlrec.engine.agents.replay import ReplayBuffer, pack_mask, unpack_mask
from rlrec.engine.config_base import from_dict

torch.set_num_threads(1)


def _transitions(n, obs_dim=4, n_items=10, start=0):
    obs = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(obs_dim, axis=1)
    actions = np.arange(start, start + n) % n_items
    rewards = np.arange(start, start + n, dtype=np.float32)
    mask = np.zeros((n, n_items), dtype=bool)
    mask[np.arange(n), actions] = True
    return obs, actions, rewards, obs + 1, np.zeros(n, dtype=bool), mask


def test_masked_argmax_picks_the_best_unmasked_column_for_numpy_and_torch_masks():
    rng = np.random.default_rng(1)
    q = torch.from_numpy(rng.normal(size=(300, 40)).astype(np.float32))
    mask = rng.random((300, 40)) < 0.6
    mask[0] = True  # every column masked: any column is allowed
    expected = q.masked_fill(torch.from_numpy(mask), -torch.inf).argmax(dim=1).numpy()
    for given in (mask, torch.from_numpy(mask)):
        got = masked_argmax(q, given)
        assert got.dtype == np.int64
        assert np.array_equal(got[1:], expected[1:])
        assert 0 <= got[0] < 40
    assert np.array_equal(masked_argmax(q, None), q.argmax(dim=1).numpy())
    ties = torch.zeros(2, 5)
    assert masked_argmax(ties, np.array([[True, False, False, False, False]] * 2)).tolist() == [
        1,
        1,
    ]


def test_training_mode_matters_only_with_dropout_or_batch_norm():
    assert not has_training_mode(QNetwork(4, 6, [8], dropout=0.0))
    assert has_training_mode(QNetwork(4, 6, [8], dropout=0.2))
    assert has_training_mode(QNetwork(4, 6, [8], dropout=0.0, batch_norm=True))


def test_mask_packing_round_trips_for_widths_not_a_multiple_of_eight():
    rng = np.random.default_rng(0)
    mask = rng.random((7, 13)) < 0.3
    assert np.array_equal(unpack_mask(torch.from_numpy(pack_mask(mask)), 13).numpy(), mask)


def test_replay_ring_wraps_and_keeps_the_newest_transitions():
    buffer = ReplayBuffer(capacity=8, obs_dim=4, n_items=10)
    buffer.add_batch(*_transitions(5))
    buffer.add_batch(*_transitions(5, start=5))  # wraps: slots 5,6,7 then 0,1
    assert len(buffer) == 8 and buffer.position == 2
    assert sorted(buffer.reward.tolist()) == [2, 3, 4, 5, 6, 7, 8, 9]
    batch = buffer.sample(64, torch.Generator().manual_seed(0))
    # Every field of a sampled row belongs to the same transition.
    assert torch.equal(batch["obs"][:, 0], batch["reward"])
    assert torch.equal(batch["next_obs"][:, 0], batch["reward"] + 1)
    assert torch.equal(batch["action"], batch["reward"].long() % 10)
    assert batch["next_mask"][torch.arange(64), batch["action"]].all()
    assert batch["next_mask"].sum().item() == 64


def test_replay_state_round_trips():
    buffer = ReplayBuffer(capacity=8, obs_dim=4, n_items=10)
    buffer.add_batch(*_transitions(11))
    copy = ReplayBuffer(capacity=8, obs_dim=4, n_items=10)
    copy.load_state_dict(buffer.state_dict())
    assert copy.position == buffer.position and torch.equal(copy.reward, buffer.reward)


def _agent(**overrides):
    config = from_dict(DQNConfig, {"hidden": [16], "batch_size": 8, **overrides}, prefix="agent")
    return DQNAgent(obs_dim=4, n_items=6, config=config, seed=0)


def test_masked_items_are_never_chosen_greedily_or_at_random():
    agent = _agent()
    obs = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    mask = np.zeros((200, 6), dtype=bool)
    mask[:, :5] = True  # only item 5 is allowed
    assert (agent.act(obs, mask) == 5).all()
    assert (agent.act_explore(obs, mask, epsilon=1.0) == 5).all()
    assert np.isneginf(agent.scores(obs, mask)[:, :5]).all()


def test_masking_can_be_switched_off():
    agent = _agent(mask_engaged=False)
    obs = np.zeros((300, 4), dtype=np.float32)
    mask = np.zeros((300, 6), dtype=bool)
    mask[:, 0] = True
    assert (agent.act_explore(obs, mask, epsilon=1.0) == 0).any()


def test_greedy_scores_are_deterministic_despite_dropout():
    agent = _agent(dropout=0.5)
    obs = np.ones((3, 4), dtype=np.float32)
    assert np.array_equal(agent.scores(obs), agent.scores(obs))


def test_double_dqn_target_ignores_masked_next_items():
    agent = _agent(gamma=1.0, double_dqn=True)
    with torch.no_grad():  # item 0 looks best to both nets unless it is masked
        for net in (agent.online, agent.target):
            net.head.weight.zero_()
            net.head.bias.copy_(torch.tensor([10.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
    batch = {
        "next_obs": torch.zeros(2, 4),
        "next_mask": torch.tensor([[False] * 6, [True] + [False] * 5]),
    }
    assert agent._next_value(batch).tolist() == [10.0, 5.0]


def test_schedules():
    agent = _agent(
        eps_start=1.0, eps_end=0.1, eps_decay_steps=100, lr=0.01, lr_decay_updates=10, lr_final=0.5
    )
    assert (
        agent.epsilon(0) == 1.0
        and agent.epsilon(50) == pytest.approx(0.55)
        and agent.epsilon(10**6) == 0.1
    )
    agent.updates = 5
    assert agent.learning_rate() == pytest.approx(0.0075)
    agent.updates = 100
    assert agent.learning_rate() == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("raw", "culprit"),
    [
        ({"gamma": 1.5}, "agent.gamma = 1.5"),
        ({"loss": "l1"}, "agent.loss = 'l1'"),
        ({"eps_start": 0.1, "eps_end": 0.5}, "agent.eps_end"),
        ({"batchsize": 3}, "agent.batchsize"),
    ],
)
def test_bad_agent_settings_name_the_key(raw, culprit):
    with pytest.raises(RlrecError, match=culprit.replace(".", r"\.").replace("(", r"\(")):
        from_dict(DQNConfig, raw, prefix="agent")


def test_hard_target_copies_only_every_n_updates():
    agent = _agent(target_update="hard", target_every=3, learning_starts=0)
    agent.remember(*_transitions(32, obs_dim=4, n_items=6))
    before = [p.clone() for p in agent.target.parameters()]
    agent.update()
    assert all(torch.equal(a, b) for a, b in zip(before, agent.target.parameters(), strict=True))
    agent.update()
    agent.update()
    assert all(
        torch.equal(a, b)
        for a, b in zip(agent.online.parameters(), agent.target.parameters(), strict=True)
    )


def test_the_served_net_is_a_polyak_average_of_the_online_weights():
    agent = _agent(serve_average=0.25, learning_starts=0, lr=0.05)
    agent.remember(*_transitions(32, obs_dim=4, n_items=6))
    served = [p.clone() for p in agent.served.parameters()]
    for _ in range(3):
        agent.update()
        online = list(agent.online.parameters())
        served = [s + 0.25 * (o.detach() - s) for s, o in zip(served, online, strict=True)]
    for expected, actual in zip(served, agent.served.parameters(), strict=True):
        assert torch.allclose(expected, actual, atol=1e-6)
    assert not torch.allclose(served[0], next(agent.online.parameters()))
    # Greedy scores come from the average; exploration acts on the online net.
    obs = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        averaged = agent.served(torch.from_numpy(obs)).numpy()
        agent.online.eval()
        online_q = agent.online(torch.from_numpy(obs)).numpy()
    assert np.allclose(agent.scores(obs), averaged, atol=1e-6)
    assert np.array_equal(agent.act_explore(obs, None, 0.0), online_q.argmax(axis=1))


def test_the_served_average_survives_a_checkpoint():
    agent = _agent(serve_average=0.5, learning_starts=0, lr=0.05)
    agent.remember(*_transitions(32, obs_dim=4, n_items=6))
    agent.update()
    copy = _agent(serve_average=0.5)
    copy.load_state_dict(agent.state_dict())
    obs = np.ones((2, 4), np.float32)
    assert np.allclose(copy.scores(obs), agent.scores(obs))
    plain = _agent()  # serve_average 0: the online net itself, nothing extra to save
    assert plain.served is plain.online and "served" not in plain.state_dict()


def test_a_replay_buffer_that_cannot_fit_is_refused_before_allocating(monkeypatch, tmp_path):
    """The estimate is checked against the memory available before anything is allocated or
    written; the CLI prints one line with the estimate and the limit."""
    import yaml

    from rlrec.cli.main import main
    from rlrec.data import memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**30)  # 1 GiB left
    config = tmp_path / "big.yaml"
    config.write_text(yaml.safe_dump({"preset": "seed-classic", "agent": {"replay_size": 10**7}}))
    with pytest.raises(RlrecError) as error:
        DQNAgent(42, 500, DQNConfig(replay_size=10**7))
    assert error.value.key == "agent.replay_size" and error.value.value == 10**7
    assert "GiB for the replay buffer, more than the 1.0 GiB available" in str(error.value)
    out = tmp_path / "runs"
    assert main(["train", "--config", str(config), "--steps", "10", "--out", str(out)]) == 2
    assert not out.exists()  # nothing written
