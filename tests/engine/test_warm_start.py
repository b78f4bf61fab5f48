"""The warm start teaches the Q network the log's next choices before simulated training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig
from rlrec.engine.agents.warm_start import (
    earlier_choices,
    logged_choices,
    states_before,
    warm_start_agent,
)
from rlrec.engine.sim.default import DefaultSimulator
from rlrec.engine.sim.default_config import DefaultConfig
from rlrec.engine.truth.fit import FitConfig, fit_simulator

N_USERS, N_ITEMS, LENGTH = 120, 40, 12


def chain_log(seed: int = 0) -> Dataset:
    """A planted log: every user engages a run of consecutive items s, s+1, s+2, … (mod the
    catalogue) in time order, from a random start s, so the next item is always the last
    one plus one; items carry random features that tell them apart."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, N_ITEMS, N_USERS)
    users = np.repeat(np.arange(N_USERS), LENGTH)
    items = (first[users] + np.tile(np.arange(LENGTH), N_USERS)) % N_ITEMS
    interactions = pd.DataFrame(
        {
            "user_id": users.astype(np.int32),
            "item_id": items.astype(np.int32),
            "event": np.full(len(users), "click", dtype=object),
            "rating": np.full(len(users), np.nan, np.float32),
            "timestamp": (1_600_000_000 + 1000 * np.tile(np.arange(LENGTH), N_USERS)).astype(
                np.int64
            ),
            "session_id": users.astype(np.int64),
        }
    )
    users_df = pd.DataFrame(
        {
            "user_id": np.arange(N_USERS, dtype=np.int32),
            "original_id": [f"u{u}" for u in range(N_USERS)],
        }
    )
    items_df = pd.DataFrame(
        {
            "item_id": np.arange(N_ITEMS, dtype=np.int32),
            "original_id": [f"i{i}" for i in range(N_ITEMS)],
            "category": ["c"] * N_ITEMS,
            "title": [f"Item {i}" for i in range(N_ITEMS)],
        }
    )
    meta = {
        "name": "chains",
        "source": "synthetic-test",
        "seed": seed,
        "n_users": N_USERS,
        "n_items": N_ITEMS,
        "n_interactions": len(interactions),
        "user_feature_names": ["one"],
        "item_feature_names": [f"f{j}" for j in range(8)],
        "schema_version": SCHEMA_VERSION,
    }
    user_features = np.ones((N_USERS, 1), np.float32)
    item_features = rng.normal(size=(N_ITEMS, 8)).astype(np.float32)
    return Dataset(users_df, items_df, interactions, user_features, item_features, meta)


def simulator(dataset: Dataset) -> DefaultSimulator:
    fitted = fit_simulator(dataset, config=FitConfig(factors=4, iterations=2, observable_dims=0))
    return DefaultSimulator(fitted.truth, DefaultConfig(history_window=1), n_envs=1, seed=0)


def agent_for(sim: DefaultSimulator, epochs: int) -> DQNAgent:
    config = DQNConfig(hidden=[64], dropout=0.0, warm_start_epochs=epochs, warm_start_lr=0.01)
    return DQNAgent(sim.obs_dim, sim.n_items, config, seed=0, with_replay=False)


def next_item_hits(agent: DQNAgent, sim: DefaultSimulator, k: int = 3) -> float:
    """Share of users whose next item (after the last of their train history) is in the
    served net's top-k from the state their sessions start in."""
    users = np.arange(N_USERS)
    last = sim.truth.latest_history(users, 1)[:, 0]
    top = np.argsort(-agent.scores(sim.session_start.fresh_observation(users)), axis=1)[:, :k]
    return float((top == ((last + 1) % N_ITEMS)[:, None]).any(axis=1).mean())


def test_logged_choices_follow_each_users_history_in_time_order():
    sim = simulator(chain_log())
    truth = sim.truth
    choices = logged_choices(truth)
    assert len(choices) == len(truth.history_items)
    # Each choice's state holds the item chosen just before it (window 1), none for the first.
    obs = states_before(sim.session_start, truth, choices.users, choices.positions)
    user_dim, item_dim = sim.session_start.user_dim, sim.session_start.item_dim
    history = obs[:, user_dim : user_dim + item_dim]
    later = choices.positions > 0
    previous = truth.history_items[np.flatnonzero(later) - 1]
    np.testing.assert_allclose(history[later], truth.item_observable[previous], atol=1e-6)
    assert np.all(history[~later] == 0)
    # The softmax leaves out exactly what the user engaged earlier.
    mask = earlier_choices(truth, choices.users, choices.positions, N_ITEMS)
    assert mask.sum(dim=1).tolist() == choices.positions.tolist()


def test_warm_started_agent_ranks_the_planted_next_items_better_than_an_unwarmed_one():
    sim = simulator(chain_log())
    cold = agent_for(sim, epochs=0)
    warm = agent_for(sim, epochs=30)
    assert warm_start_agent(cold, sim, seed=0) == []
    losses = warm_start_agent(warm, sim, seed=0)
    assert len(losses) == 30 and losses[-1] < losses[0]
    assert next_item_hits(cold, sim) < 0.3
    assert next_item_hits(warm, sim) > 0.8
    # The target and the served nets start from the warm-started weights.
    for net in (warm.target, warm.served):
        for a, b in zip(net.parameters(), warm.online.parameters(), strict=True):
            assert torch.equal(a, b)


def test_the_log_loss_joins_every_update_and_a_resumed_run_keeps_it_without_pretraining():
    sim = simulator(chain_log())
    config = DQNConfig(
        hidden=[64], dropout=0.0, warm_start_epochs=5, log_loss_weight=0.5, batch_size=32
    )
    agent = DQNAgent(sim.obs_dim, sim.n_items, config, seed=0, with_replay=False)
    before = [p.detach().clone() for p in agent.online.parameters()]
    assert warm_start_agent(agent, sim, seed=0, pretrain=False) == []  # resumed: no passes
    assert all(torch.equal(a, b) for a, b in zip(before, agent.online.parameters(), strict=True))
    assert agent.auxiliary_loss is not None
    loss = agent.auxiliary_loss(agent.online)
    assert loss.ndim == 0 and float(loss.detach()) > 0 and loss.requires_grad
    plain = DQNAgent(sim.obs_dim, sim.n_items, DQNConfig(hidden=[64]), seed=0, with_replay=False)
    warm_start_agent(plain, sim, seed=0)
    assert plain.auxiliary_loss is None


def test_a_large_catalogue_samples_its_softmax_and_still_learns_the_planted_next_items(
    monkeypatch,
):
    from rlrec.engine.agents import warm_start as module

    monkeypatch.setattr(module, "EXACT_SOFTMAX_ITEMS", 10)  # the chain's 40 items are "large"
    monkeypatch.setattr(module, "SAMPLED_NEGATIVES", 8)
    sim = simulator(chain_log())
    config = DQNConfig(
        hidden=[64], dropout=0.0, head="embedding", warm_start_epochs=40, warm_start_lr=0.01
    )
    agent = DQNAgent(
        sim.obs_dim,
        sim.n_items,
        config,
        seed=0,
        with_replay=False,
        item_features=sim.observable_item_features,
    )
    called = []
    original = module.sampled_next_item_loss
    monkeypatch.setattr(
        module, "sampled_next_item_loss", lambda *a, **k: called.append(1) or original(*a, **k)
    )
    warm_start_agent(agent, sim, seed=0)
    assert called
    assert next_item_hits(agent, sim) > 0.8


def test_the_pretraining_stops_when_asked_between_batches():
    sim = simulator(chain_log())
    agent = agent_for(sim, epochs=30)
    asked = []
    losses = warm_start_agent(agent, sim, seed=0, stop=lambda: len(asked) > 3 or asked.append(1))
    # Four batches of the first pass (the chain log's train choices make more), then it ends.
    assert len(losses) == 1 and len(asked) == 4


def test_an_embedding_head_learns_the_log_loss_beside_its_sparse_td_updates():
    sim = simulator(chain_log())
    config = DQNConfig(
        hidden=[32],
        dropout=0.0,
        head="embedding",
        log_loss_weight=0.5,
        batch_size=16,
        learning_starts=0,
    )
    agent = DQNAgent(
        sim.obs_dim, sim.n_items, config, seed=0, item_features=sim.observable_item_features
    )
    warm_start_agent(agent, sim, seed=0)
    sessions = DefaultSimulator(sim.truth, DefaultConfig(history_window=1), n_envs=16, seed=0)
    obs = sessions.reset(seed=0)
    for _ in range(3):
        actions = agent.act_explore(obs, sessions.mask.copy(), 1.0)
        step = sessions.step(actions)
        agent.remember(obs, actions, step.reward, step.obs, step.done, sessions.mask)
        obs = step.obs
    before = agent.online.state_proj.weight.detach().clone()
    ids_before = agent.online.item_embedding.detach().clone()
    assert np.isfinite(agent.update())
    assert not torch.equal(before, agent.online.state_proj.weight)
    # The id embeddings move only at the rows the TD batch touched (a sparse update).
    moved = (agent.online.item_embedding.detach() != ids_before).any(dim=1)
    assert 0 < int(moved.sum()) <= 16
