"""The DQN's learning options: n-step returns, the dueling head, budget-tied schedules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig
from rlrec.engine.agents.network import QNetwork
from rlrec.engine.agents.nstep import NStepReturns, Step
from rlrec.engine.config_base import from_dict
from rlrec.engine.training import runs
from rlrec.engine.training.events import Checkpointed, Progress
from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.training.trainer import Trainer
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN

torch.set_num_threads(1)


def _agent(**overrides):
    config = from_dict(DQNConfig, {"hidden": [16], "batch_size": 8, **overrides}, prefix="agent")
    return DQNAgent(obs_dim=1, n_items=3, config=config, seed=0)


def _step(t, rewards, done):
    """Vector step t of two sessions: observation t, next observation t + 1."""
    n = len(rewards)
    obs = np.full((n, 1), t, dtype=np.float32)
    mask = np.zeros((n, 3), dtype=bool)
    mask[:, t % 3] = True
    return Step(
        obs,
        np.full(n, t % 3),
        np.asarray(rewards, dtype=np.float32),
        obs + 1,
        np.asarray(done, dtype=bool),
        mask,
        None,
    )


def test_n_step_transitions_equal_the_hand_computed_returns_on_a_tiny_chain():
    # Session 0 runs on; session 1 ends at step 1 (its step 2 is a new session's first).
    gamma = 0.5
    chain = [
        _step(0, [1.0, 10.0], [False, False]),
        _step(1, [2.0, 20.0], [False, True]),
        _step(2, [4.0, 40.0], [False, False]),
        _step(3, [8.0, 80.0], [False, False]),
    ]
    n_step = NStepReturns(3, gamma)
    out = [n_step.push(s) for s in chain]
    assert out[0] is None and out[1] is None
    first, second = out[2], out[3]
    assert first is not None and second is not None
    # From step 0: 1 + 0.5·2 + 0.25·4 = 3; session 1: 10 + 0.5·20, then it ended.
    assert first.rewards.tolist() == [3.0, 20.0]
    assert first.done.tolist() == [False, True]
    assert first.obs[:, 0].tolist() == [0.0, 0.0] and first.actions.tolist() == [0, 0]
    # Bootstrapped from the state after step 2, with the mask of that state.
    assert first.next_obs[:, 0].tolist() == [3.0, 3.0]
    assert first.next_mask[:, 2].all() and first.next_mask.sum() == 2
    # From step 1: 2 + 0.5·4 + 0.25·8 = 6; session 1 ended at step 1 itself: 20 alone.
    assert second.rewards.tolist() == [6.0, 20.0]
    assert second.done.tolist() == [False, True]


def test_one_step_passes_a_transition_through_unchanged():
    step = _step(0, [1.0, 2.0], [False, True])
    assert NStepReturns(1, 0.9).push(step) is step


def test_the_n_step_target_bootstraps_gamma_to_the_n():
    agent = _agent(gamma=0.5, n_step=3, learning_starts=0, double_dqn=False)
    with torch.no_grad():  # Q = 4 for every item and state, in both nets
        for net in (agent.online, agent.target):
            for p in net.parameters():
                p.zero_()
            net.head.bias.fill_(4.0)
    for t in range(3):
        agent.remember(*_step(t, [1.0, 1.0], [False, t == 1]))
    assert len(agent.replay) == 2
    batch = agent.replay.sample(64, torch.Generator().manual_seed(0))
    expected = torch.where(batch["done"], torch.tensor(1.5), torch.tensor(1.75 + 0.125 * 4))
    # The update's target: n-step reward + γ³·Q(next) where the session went on.
    target = batch["reward"] + 0.5**3 * (~batch["done"]).float() * agent._next_value(batch)
    assert torch.allclose(target, expected)


def test_pending_n_steps_survive_a_checkpoint_so_a_resume_continues_exactly(tmp_path):
    agent = {**SMALL_AGENT, "gamma": 0.9, "n_step": 3}
    train = {**SMALL_TRAIN, "steps": 6400, "eval_every": 3200, "checkpoint_every": 3200}
    config = load_run_config("seed-classic", overrides={"agent": agent, "train": train})
    Trainer(config, tmp_path / "straight").run()
    partial = Trainer(config, tmp_path / "resumed")
    partial.subscribe(
        lambda e: partial.stop(evaluate=False) if isinstance(e, Checkpointed) else None
    )
    partial.run()
    assert runs.load_checkpoint(tmp_path / "resumed")["agent"]["n_step"]["count"] == 2
    Trainer.from_run(tmp_path / "resumed").run()
    a = [p for p in runs.read_events(tmp_path / "straight") if isinstance(p, Progress)]
    b = [p for p in runs.read_events(tmp_path / "resumed") if isinstance(p, Progress)]
    assert [(p.env_steps, p.loss) for p in a][-3:] == [(p.env_steps, p.loss) for p in b][-3:]


def test_the_dueling_head_is_value_plus_advantage_minus_its_mean():
    net = QNetwork(5, 7, hidden=[8], dropout=0.0, dueling=True)
    obs = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    features = net.body(obs)
    advantage = net.head(features)
    assert net.value is not None
    expected = net.value(features) + advantage - advantage.mean(dim=1, keepdim=True)
    assert torch.allclose(net(obs), expected)
    # The mean advantage is zero, so V is the mean of the Q-values.
    assert torch.allclose(net(obs).mean(dim=1), net.value(features).squeeze(1), atol=1e-6)


def test_the_dueling_head_refuses_the_embedding_head():
    config = from_dict(DQNConfig, {"head": "embedding", "dueling": True}, prefix="agent")
    with pytest.raises(RlrecError, match="agent.dueling"):
        DQNAgent(4, 3, config, item_features=np.zeros((3, 2), dtype=np.float32))


def test_budget_tied_schedules_follow_the_fraction_of_the_budget():
    agent = _agent(
        eps_start=1.0,
        eps_end=0.1,
        eps_decay_steps=0,
        eps_decay_fraction=0.5,
        lr=0.01,
        lr_final=0.1,
        lr_decay_updates=0,
        lr_decay_fraction=1.0,
    )
    agent.budget_fraction = 0.25
    assert agent.epsilon(10**6) == pytest.approx(0.55)
    assert agent.learning_rate() == pytest.approx(0.01 * (1 - 0.25 * 0.9))
    agent.budget_fraction = 0.5
    assert agent.epsilon(0) == pytest.approx(0.1)
    agent.budget_fraction = 1.0
    assert agent.learning_rate() == pytest.approx(0.001)


def test_a_set_step_count_wins_over_the_budget_fraction():
    # A preset, the Train form or --set naming eps_decay_steps / lr_decay_updates gets them.
    agent = _agent(
        eps_start=1.0,
        eps_end=0.0,
        eps_decay_steps=100,
        eps_decay_fraction=0.5,
        lr=0.01,
        lr_final=0.5,
        lr_decay_updates=10,
        lr_decay_fraction=1.0,
    )
    agent.budget_fraction = 1.0
    assert agent.epsilon(50) == pytest.approx(0.5)
    agent.updates = 5
    assert agent.learning_rate() == pytest.approx(0.01 * 0.75)


def test_the_discount_grows_geometrically_in_one_minus_gamma_over_its_env_steps():
    agent = _agent(gamma=0.7, gamma_final=0.95, gamma_anneal_start=1000, gamma_anneal_steps=3000)
    agent.budget_fraction = 1.0  # the schedule counts env steps, whatever the budget
    agent.env_steps = 1000
    assert agent.discount() == pytest.approx(0.7)
    agent.env_steps = 2500  # half-way: 1 − γ is the geometric mean of 0.3 and 0.05
    assert 1 - agent.discount() == pytest.approx((0.3 * 0.05) ** 0.5)
    agent.env_steps = 4000
    assert agent.discount() == pytest.approx(0.95)
    agent.env_steps = 10**9
    assert agent.discount() == pytest.approx(0.95)


def test_without_a_gamma_schedule_the_discount_is_gamma_whatever_gamma_final_says():
    agent = _agent(gamma=0.7, gamma_final=0.95)
    agent.env_steps = 10**9
    assert agent.discount() == 0.7


def test_the_update_bootstraps_with_the_scheduled_discount():
    agent = _agent(gamma=0.5, gamma_final=0.9, gamma_anneal_steps=100, learning_starts=0, lr=1e-9)
    with torch.no_grad():  # Q = 4 for every item and state, in both nets
        for net in (agent.online, agent.target):
            for p in net.parameters():
                p.zero_()
            net.head.bias.fill_(4.0)
    agent.remember(*_step(0, [1.0, 1.0], [False, False]))
    agent.env_steps = 100
    # Q = 4 everywhere and r = 1: the loss tells the discount used (Huber, quadratic below 1:
    # 0.5·e²): the target 1 + 0.9·4 = 4.6 is 0.6 off (γ 0.5 would give 3, 1 off).
    loss = agent.update()
    assert loss == pytest.approx(0.5 * 0.6**2, rel=1e-4)


def test_a_run_follows_the_gamma_schedule_through_its_env_steps(tmp_path):
    agent = {**SMALL_AGENT, "gamma": 0.5, "gamma_final": 0.9, "gamma_anneal_steps": 2048}
    agent.pop("n_step", None)
    train = {**SMALL_TRAIN, "steps": 4096}
    config = load_run_config("seed-classic", overrides={"agent": agent, "train": train})
    Trainer(config, tmp_path / "run").run()
    progress = [p for p in runs.read_events(tmp_path / "run") if isinstance(p, Progress)]
    # The discount the next update uses, logged as the run goes: 1 − γ from 0.5 to 0.1,
    # geometric in env steps over the first 2,048, then 0.9.
    expected = [1 - 0.5 * 0.2 ** min(1.0, p.env_steps / 2048) for p in progress]
    assert [p.gamma for p in progress] == pytest.approx(expected)
    assert progress[0].gamma < 0.9 and progress[-1].gamma == pytest.approx(0.9)


@pytest.mark.parametrize("gamma", [0.9, 0.95, 1.0])
def test_a_gamma_at_or_above_gamma_final_stays_as_set(gamma):
    # A search or a config naming γ alone on a preset with a schedule gets that γ throughout.
    agent = _agent(gamma=gamma, gamma_final=0.9, gamma_anneal_steps=100)
    for steps in (0, 50, 10**6):
        agent.env_steps = steps
        assert agent.discount() == gamma


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"gamma_anneal_steps": 100, "n_step": 3}, "agent.n_step"),
        ({"gamma_final": 1.0}, "gamma_final"),
        ({"gamma_anneal_steps": -1}, "gamma_anneal_steps"),
    ],
)
def test_a_gamma_schedule_that_cannot_run_is_refused_naming_the_key(overrides, named):
    with pytest.raises(RlrecError, match=named):
        from_dict(DQNConfig, overrides, prefix="agent")


def test_no_epsilon_schedule_at_all_is_refused_naming_both_keys():
    with pytest.raises(RlrecError, match="agent.eps_decay_steps and agent.eps_decay_fraction"):
        from_dict(DQNConfig, {"eps_decay_steps": 0, "eps_decay_fraction": 0}, prefix="agent")


def test_a_run_reaches_eps_end_at_the_set_fraction_of_its_budget(tmp_path):
    agent = {
        "hidden": [16],
        "learning_starts": 256,
        "batch_size": 32,
        "replay_size": 5000,
        "eps_start": 1.0,
        "eps_end": 0.05,
        "eps_decay_steps": 0,
        "eps_decay_fraction": 0.5,
    }
    train = {"n_envs": 64, "log_every": 64, "eval_episodes": 50, "steps": 3200}
    config = load_run_config("seed-classic", overrides={"agent": agent, "train": train})
    Trainer(config, tmp_path / "run").run()
    progress = [p for p in runs.read_events(tmp_path / "run") if isinstance(p, Progress)]
    # ε of the step that took the run past each point (the budget fraction before it).
    before = [p.epsilon for p in progress if p.env_steps <= 1600]
    after = [p.epsilon for p in progress if p.env_steps > 1600 + 64]
    assert before[0] > 0.9 and all(e > 0.05 for e in before)
    assert after and all(e == pytest.approx(0.05) for e in after)


def test_the_epsilon_cap_ends_a_long_budgets_exploration_early_and_never_lengthens_a_short_one():
    agent = _agent(eps_decay_steps=0, eps_decay_fraction=0.5, eps_decay_cap=1000)
    # A long budget: 1,500 env steps are only 10 % of it, past the cap all the same.
    agent.budget_fraction = 0.1
    assert agent.epsilon(500) == pytest.approx(1.0 - 0.5 * 0.95)  # half-way to the cap
    assert agent.epsilon(1500) == pytest.approx(0.05)
    # A short budget reaches eps_end at its own half first; the cap changes nothing.
    agent.budget_fraction = 0.5
    assert agent.epsilon(100) == pytest.approx(0.05)
    # Without a cap the budget alone decides; a set step count wins over both.
    assert _agent(eps_decay_steps=0, eps_decay_fraction=0.5).epsilon(10**9) == 1.0
    assert _agent(eps_decay_steps=4000, eps_decay_cap=1000).epsilon(2000) == pytest.approx(
        1.0 - 0.5 * 0.95
    )


def test_bfloat16_bodies_round_only_inside_the_training_block():
    from rlrec.engine.agents.network import bfloat16_body

    net = QNetwork(12, 7, hidden=[64, 32], dropout=0.0)
    obs = torch.randn(50, 12, generator=torch.Generator().manual_seed(1))
    exact = net(obs)
    with bfloat16_body():
        rounded = net(obs)
        assert rounded.dtype == torch.float32  # the head and the Q-values stay float32
    assert not torch.equal(rounded, exact)  # the body really multiplied in bfloat16
    torch.testing.assert_close(rounded, exact, rtol=0.05, atol=0.05)
    assert torch.equal(net(obs), exact)  # outside the block, float32 again
    with bfloat16_body(enabled=False):
        assert torch.equal(net(obs), exact)


def test_bfloat16_training_serves_and_evaluates_in_float32():
    obs = np.random.default_rng(0).normal(size=(20, 1)).astype(np.float32)
    agents = [_agent(train_precision=p, dropout=0.0) for p in ("float32", "bfloat16")]
    # Same seed, same weights: the scores a user or an evaluation sees do not depend on the
    # training precision, only what the updates compute does.
    np.testing.assert_array_equal(agents[0].scores(obs), agents[1].scores(obs))
    assert all(p.dtype == torch.float32 for p in agents[1].online.parameters())
