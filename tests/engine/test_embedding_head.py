"""The item-embedding Q head, candidate sets on the agent side, compact replay, checkpoint
sizes, and serving items added after training."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from rlrec import data
from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig, dqn_memory_bytes
from rlrec.engine.agents.network import EmbeddingQNetwork
from rlrec.engine.agents.replay import ReplayBuffer
from rlrec.engine.sim import DefaultSimulator, parse_env_config
from rlrec.engine.truth.model import truth_from_dataset


class CandidateSim(DefaultSimulator):
    """A test double for a simulator offering candidate sets: k random items per session and
    step, from a generator of its own (the dynamics draw exactly as the base simulator's)."""

    k = 12

    def __init__(self, *args, seed=None, **kwargs):
        self._cand_rng = np.random.default_rng(1000 + (seed or 0))
        super().__init__(*args, seed=seed, **kwargs)

    def _draw(self) -> None:
        noise = self._cand_rng.random((self.n_envs, self.n_items))
        self._cands = np.argsort(noise, axis=1)[:, : self.k].astype(np.int64)

    def reset(self, seed=None):
        obs = super().reset(seed)
        self._draw()
        return obs

    def step(self, actions):
        offered = self._cands
        assert (offered == np.asarray(actions)[:, None]).any(axis=1).all(), "not a candidate"
        result = super().step(actions)
        self._draw()
        return result

    def candidates(self):
        return self._cands

    def candidate_mask(self):
        return np.take_along_axis(self.mask, self._cands, axis=1)


@pytest.fixture(scope="module")
def truth():
    return truth_from_dataset(data.default_dataset())


def candidate_sim(truth, n_envs=16, seed=0):
    env = parse_env_config({})
    return CandidateSim(truth, env, n_envs=n_envs, seed=seed)


def embedding_config(**overrides):
    base = dict(
        head="embedding",
        hidden=[32],
        embedding_dim=8,
        batch_size=16,
        replay_size=512,
        learning_starts=0,
        dropout=0.0,
    )
    return DQNConfig(**(base | overrides))


def embedding_agent(sim, **overrides):
    config = embedding_config(**overrides)
    return DQNAgent(
        sim.obs_dim,
        sim.n_items,
        config,
        seed=0,
        item_features=sim.observable_item_features,
        n_candidates=sim.k,
    )


# -- the network -----------------------------------------------------------------------------
@pytest.mark.parametrize("known", [50, 40])  # 40: the last 10 items came after training
@pytest.mark.parametrize("width", [6, 30])  # fewer candidates than items, and more in all
def test_candidate_scores_are_the_catalogue_scores_at_the_candidates(known, width):
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(50, 5, generator=gen)
    net = EmbeddingQNetwork(7, features, known, hidden=[16], dropout=0.0, dim=4,
                            init_generator=torch.Generator().manual_seed(1))  # fmt: skip
    with torch.no_grad():
        net.item_embedding.normal_(generator=gen)
        obs = torch.randn(3, 7, generator=gen)
        cands = torch.randint(0, 50, (3, width), generator=gen)
        full = net(obs)
        assert full.shape == (3, 50)
        torch.testing.assert_close(net.candidate_q(obs, cands), full.gather(1, cands))
        torch.testing.assert_close(net.q_at(obs, cands[:, 0]), full.gather(1, cands[:, :1])[:, 0])
        # An item added after training is scored from its features alone.
        from_features = net.phi(obs) @ net.feature_proj(features).T
        torch.testing.assert_close(full[:, known:], from_features[:, known:])


def test_candidate_scoring_never_builds_the_whole_catalogue(truth, monkeypatch):
    sim = candidate_sim(truth)
    agent = embedding_agent(sim)

    def whole(*args, **kwargs):
        raise AssertionError("scored the whole catalogue")

    monkeypatch.setattr(EmbeddingQNetwork, "forward", whole)
    monkeypatch.setattr(EmbeddingQNetwork, "item_table", whole)
    obs = sim.reset(seed=0)
    actions = agent.act_explore(obs, sim.candidate_mask(), 0.5, sim.candidates())
    assert np.isin(actions, sim.candidates()).all()
    agent.act_candidates(obs, sim.candidates(), sim.candidate_mask())
    for _ in range(3):
        actions = agent.act_explore(obs, sim.candidate_mask(), 0.5, sim.candidates())
        result = sim.step(actions)
        agent.remember(obs, actions, result.reward, result.obs, result.done,
                       sim.candidate_mask(), sim.candidates())  # fmt: skip
        obs = result.obs
    assert np.isfinite(agent.update())


def test_the_state_dict_holds_no_item_features(truth):
    sim = candidate_sim(truth)
    agent = embedding_agent(sim)
    assert not any("features" in key for key in agent.online.state_dict())
    assert agent.online.item_embedding.shape == (sim.n_items, 8 + 1)


def test_the_embedding_head_needs_item_features():
    with pytest.raises(RlrecError, match="agent.head: embedding"):
        DQNAgent(10, 20, DQNConfig(head="embedding", hidden=[8]), seed=0)


# -- acting among candidates -----------------------------------------------------------------
def test_exploration_picks_only_unmasked_candidates(truth):
    sim = candidate_sim(truth, n_envs=64)
    agent = embedding_agent(sim)
    obs = sim.reset(seed=0)
    cands = sim.candidates()
    mask = np.zeros_like(cands, dtype=bool)
    mask[:, :-1] = True  # only the last candidate is allowed
    for epsilon in (0.0, 1.0):
        actions = agent.act_explore(obs, mask, epsilon, cands)
        assert np.array_equal(actions, cands[:, -1])
    free = agent.act_explore(obs, None, 1.0, cands)
    assert len(np.unique(free == cands[:, 0])) == 2  # random positions, not always the first


def test_a_per_item_head_gathers_at_the_candidates(truth):
    sim = candidate_sim(truth)
    config = dataclasses.replace(embedding_config(), head="per_item")
    agent = DQNAgent(sim.obs_dim, sim.n_items, config, seed=0, n_candidates=sim.k)
    obs = sim.reset(seed=0)
    cands, mask = sim.candidates(), sim.candidate_mask()
    scores = agent.candidate_scores(obs, cands, mask)
    expected = np.take_along_axis(agent.scores(obs), cands, axis=1)
    assert np.allclose(scores, np.where(mask, -np.inf, expected))
    best = agent.act_candidates(obs, cands, mask)
    assert np.isin(best, cands).all()
    result = sim.step(agent.act_explore(obs, mask, 0.3, cands))
    agent.remember(obs, best, result.reward, result.obs, result.done,
                   sim.candidate_mask(), sim.candidates())  # fmt: skip
    assert np.isfinite(agent.update())


# -- the Double-DQN target over stored candidates --------------------------------------------
def test_the_target_maximises_over_the_next_states_stored_candidates(truth):
    sim = candidate_sim(truth)
    agent = embedding_agent(sim, gamma=0.9)
    n, k = 4, sim.k
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, sim.obs_dim)).astype(np.float32)
    cands = np.stack([rng.choice(sim.n_items, k, replace=False) for _ in range(n)])
    mask = np.zeros((n, k), bool)
    mask[:, 0] = True
    agent.remember(obs, cands[:, 1], np.zeros(n, np.float32), obs, np.zeros(n, bool), mask, cands)
    batch = agent.replay.sample(8, torch.Generator().manual_seed(0))
    assert batch["next_candidates"].shape == (8, k) and batch["next_mask"].shape == (8, k)
    value = agent._next_value(batch)
    with torch.no_grad():
        q = agent.online.candidate_q(batch["next_obs"], batch["next_candidates"])
        q[batch["next_mask"]] = -torch.inf
        picks = batch["next_candidates"].gather(1, q.argmax(1, keepdim=True))[:, 0]
        expected = agent.target.q_at(batch["next_obs"], picks)
    torch.testing.assert_close(value, expected)
    assert not torch.isin(picks, torch.as_tensor(cands[:, 0])).any()  # masked never chosen


# -- compact replay --------------------------------------------------------------------------
def test_bytes_per_transition_follows_candidates_and_dtype():
    full = ReplayBuffer.bytes_per_transition(100, 100_000)
    cands = ReplayBuffer.bytes_per_transition(100, 100_000, 200)
    half = ReplayBuffer.bytes_per_transition(100, 100_000, 200, "float16")
    assert full == 800 + 13 + 12_500
    assert cands == 800 + 13 + 800 + 25
    assert half == cands - 400
    for args in [(10, 50, 0, "float32"), (10, 50, 7, "float16")]:
        replay = ReplayBuffer(32, *args)
        assert replay.nbytes == 32 * ReplayBuffer.bytes_per_transition(*args)


def test_float16_replay_round_trips_through_its_state(truth):
    sim = candidate_sim(truth)
    agent = embedding_agent(sim, replay_dtype="float16")
    obs = sim.reset(seed=0)
    actions = agent.act_explore(obs, sim.candidate_mask(), 1.0, sim.candidates())
    result = sim.step(actions)
    agent.remember(obs, actions, result.reward, result.obs, result.done,
                   sim.candidate_mask(), sim.candidates())  # fmt: skip
    assert agent.replay.obs.dtype == torch.float16
    batch = agent.replay.sample(4, torch.Generator().manual_seed(0))
    assert batch["obs"].dtype == torch.float32
    stored = agent.replay.obs[: len(obs)].float().numpy()
    assert np.allclose(stored, obs, rtol=1e-3, atol=1e-3)
    other = embedding_agent(sim, replay_dtype="float16")
    other.replay.load_state_dict(agent.replay.state_dict())
    assert torch.equal(other.replay.next_candidates, agent.replay.next_candidates)
    with pytest.raises(ValueError, match="candidates"):
        agent.remember(obs, actions, result.reward, result.obs, result.done, sim.mask)


def test_the_memory_estimate_of_the_embedding_head_does_not_grow_with_candidates_times_items():
    config = DQNConfig(head="embedding", hidden=[64], embedding_dim=32, batch_size=256)
    per_item = DQNConfig(hidden=[64], batch_size=256)
    big = dqn_memory_bytes(100, 100_000, config, n_candidates=200, item_dim=40)
    assert big < dqn_memory_bytes(100, 100_000, per_item)
    assert big < 200 * 2**20


# -- the trainer with candidate sets -----------------------------------------------------------
def test_the_trainer_acts_among_candidates_and_stores_them(tmp_path, monkeypatch):
    from rlrec.engine.training import trainer as trainer_module
    from rlrec.engine.usecases.training import resolve_run_config

    built = []

    def make(env, n_envs, seed, dataset):
        sim = CandidateSim(truth_from_dataset(dataset), env, n_envs=n_envs, seed=seed)
        built.append(sim)
        return sim

    monkeypatch.setattr(trainer_module, "make_simulator", make)
    config = resolve_run_config(
        "default",
        overrides={
            "agent": {"head": "embedding", "hidden": [32], "embedding_dim": 8,
                      "batch_size": 32, "replay_size": 2000, "learning_starts": 64,
                      "replay_dtype": "float16"},
            "train": {"n_envs": 32, "steps": 640, "eval_every": 0, "eval_episodes": 20,
                      "checkpoint_replay": False},
        },
    )  # fmt: skip
    trainer = trainer_module.Trainer(config, tmp_path / "run")
    finished = trainer.run()
    assert finished.reason == "budget" and trainer.agent.updates > 0
    replay = trainer.agent.replay
    assert replay.n_candidates == CandidateSim.k and len(replay) == 640
    stored = replay.next_candidates[: len(replay)].numpy()
    assert stored.dtype == np.int32 and stored.max() < built[0].n_items
    assert trainer.checkpoint_bytes and trainer.checkpoint_bytes > 0
    timing = [json.loads(line) for line in (tmp_path / "run" / "timing.jsonl").open()]
    sizes = [line["bytes"] for line in timing if line["type"] == "Checkpointed"]
    assert sizes == [trainer.checkpoint_bytes]
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert '"bytes"' not in metrics  # sizes are measurements, kept out of the metrics
    from rlrec.engine.training.runs import summarise_run

    assert summarise_run(tmp_path / "run").checkpoint_bytes == trainer.checkpoint_bytes


def test_the_preflight_estimate_counts_the_head_candidates_and_replay_dtype():
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.engine.usecases.training_memory import training_memory

    config = resolve_run_config("default")
    per_item = training_memory(config)
    config.agent = dataclasses.replace(config.agent, head="embedding", replay_dtype="float16")
    config.env.candidates = 200  # what a simulator offering candidate sets is configured with
    embedding = training_memory(config)
    # The built-in dataset as the estimate sees it: user 8, history 2 × 19 item features,
    # context 8, the preset's session profile (19) and its fading profile (19).
    n_items, obs_dim = 500, 8 + 2 * 19 + 8 + 19 + 19
    per_transition = ReplayBuffer.bytes_per_transition(obs_dim, n_items, 200, "float16")
    assert embedding.parts["replay buffer"] == config.agent.replay_size * per_transition
    full_mask = ReplayBuffer.bytes_per_transition(obs_dim, n_items)
    assert per_item.parts["replay buffer"] == config.agent.replay_size * full_mask
    assert embedding.parts["agent"] == dqn_memory_bytes(obs_dim, n_items, config.agent, 200, 19)


def test_a_run_with_candidates_resumes_from_its_checkpoint(tmp_path, monkeypatch, truth):
    """Model, both optimisers, the replay's candidates and counters come back; training
    goes on."""
    from rlrec.engine.training import trainer as trainer_module
    from rlrec.engine.training.budget import Budget, BudgetKind
    from rlrec.engine.usecases.training import resolve_run_config

    def make(env, n_envs, seed, dataset):
        return CandidateSim(truth, env, n_envs=n_envs, seed=seed)

    monkeypatch.setattr(trainer_module, "make_simulator", make)
    config = resolve_run_config(
        "default",
        overrides={
            "agent": {"head": "embedding", "hidden": [16], "embedding_dim": 4,
                      "batch_size": 16, "replay_size": 1000, "learning_starts": 32},
            "train": {"n_envs": 16, "steps": 320, "eval_every": 0, "eval_episodes": 10},
        },
    )  # fmt: skip
    first = trainer_module.Trainer(config, tmp_path / "run")
    first.run()
    saved = first.agent.state_dict()
    resumed = trainer_module.Trainer.from_run(tmp_path / "run", Budget(BudgetKind.STEPS, 160))
    state = resumed.agent.state_dict()
    assert state["embedding_optimizer"]["state"] and state["updates"] == saved["updates"]
    for name, value in saved["online"].items():
        assert torch.equal(value, state["online"][name]), name
    assert np.array_equal(saved["replay"]["next_candidates"], state["replay"]["next_candidates"])
    finished = resumed.run()
    assert finished.env_steps == 480 and resumed.agent.updates > saved["updates"]


def test_the_replay_memory_line_reads_like_a_size():
    from rlrec.engine.usecases.training import format_bytes, replay_memory_line

    assert replay_memory_line(200_000, 1210) == "replay 200,000 × 1.21 kB = 242 MB"
    assert [format_bytes(b) for b in (812, 23_800_000, 5 * 10**9)] == ["812 B", "23.8 MB", "5 GB"]


def test_the_kept_item_table_follows_every_in_place_change_of_its_weights():
    """Serving ranks the whole catalogue from a kept ψ table; an update, a Polyak step or a
    load changes the weights in place, and the next ranking must use the new ones."""
    import copy

    features = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    net = EmbeddingQNetwork(4, features, 50, hidden=[8], dropout=0.0, dim=5)
    obs = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))

    def fresh() -> torch.Tensor:
        with torch.enable_grad():
            return net(obs).detach()

    with torch.inference_mode():
        before = net(obs)
    assert torch.equal(before, fresh())
    with torch.no_grad():
        net.item_embedding.add_(0.5)  # what an optimiser step does
    with torch.inference_mode():
        after = net(obs)
    assert not torch.equal(after, before) and torch.equal(after, fresh())

    twin = copy.deepcopy(net)  # a target net: its own tensors, versions counted anew
    with torch.no_grad():
        for _ in range(3):
            torch._foreach_lerp_(list(twin.parameters()), list(net.parameters()), 0.5)
            net.feature_proj.weight.add_(0.1)
    with torch.inference_mode():
        twin_scores = twin(obs)
    with torch.enable_grad():
        assert torch.equal(twin_scores, twin(obs).detach())
