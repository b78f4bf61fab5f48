"""Baselines behind the Policy interface, and the evaluation loop that scores them."""

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.evaluation.online import _quotas, evaluate_policy
from rlrec.engine.policies.baselines import (
    FarsightedPolicy,
    LinUCBPolicy,
    MyopicOraclePolicy,
    PopularityPolicy,
    RandomPolicy,
)
from rlrec.engine.policies.registry import SIMULATION_BASELINES as BASELINES
from rlrec.engine.policies.registry import baselines_for
from rlrec.engine.policies.registry import build_for_simulation as make_baseline
from rlrec.engine.presets import load_preset
from rlrec.engine.sim import make_simulator, parse_env_config


@pytest.fixture(scope="module")
def classic():
    return make_simulator(parse_env_config(load_preset("seed-classic")["env"]), n_envs=64, seed=0)


@pytest.fixture(scope="module")
def default():
    return make_simulator(parse_env_config(load_preset("default")["env"]), n_envs=64, seed=0)


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_respects_the_mask(name, default):
    policy = make_baseline(name, default, seed=0)
    obs = default.reset(0)
    mask = np.zeros((64, default.n_items), dtype=bool)
    mask[:, : default.n_items - 3] = True  # only the last three items are allowed
    actions = policy.act(obs, mask)
    assert actions.shape == (64,) and np.all(actions >= default.n_items - 3)
    top = policy.top_k(obs, 3, mask)
    assert sorted(top[0].tolist()) == [
        default.n_items - 3,
        default.n_items - 2,
        default.n_items - 1,
    ]


def test_oracle_picks_the_best_expected_item(classic):
    classic.reset(0)
    oracle = MyopicOraclePolicy(classic)
    actions = oracle.act(np.zeros((64, classic.obs_dim)))
    best = classic.true_preference(classic.user_ids).argmax(axis=1)
    assert np.array_equal(actions, best)
    with pytest.raises(RlrecError):
        oracle.scores(np.zeros((3, classic.obs_dim)))  # not the bound simulator's sessions


def test_popularity_ranks_everyone_the_same():
    policy = PopularityPolicy(np.array([0.1, 0.9, 0.5]))
    assert policy.top_k(np.zeros((2, 4)), 3).tolist() == [[1, 2, 0], [1, 2, 0]]


def test_random_policy_is_reproducible_per_evaluation():
    policy = RandomPolicy(50, seed=3)
    first = policy.act(np.zeros((10, 2)))
    policy.begin_episodes()
    assert np.array_equal(policy.act(np.zeros((10, 2))), first)


def test_linucb_learns_a_contextual_bandit():
    """Two kinds of user, each liking one kind of item: LinUCB must learn the pairing from
    feedback, generalising across the items of a kind through their features."""
    rng = np.random.default_rng(0)
    item_kind = np.arange(20) % 2
    item_features = np.eye(2)[item_kind] + 0.01 * rng.standard_normal((20, 2))
    contexts = np.eye(2)
    policy = LinUCBPolicy(item_features, contexts[rng.integers(0, 2, 200)], 3, 3, exploration=0.2)
    for _ in range(30):
        kind = rng.integers(0, 2, 64)
        actions = policy.act(contexts[kind])
        rewards = (item_kind[actions] == kind).astype(float)
        policy.observe(contexts[kind], actions, rewards, rewards > 0)
    chosen = policy.top_k(contexts, 5)
    assert np.all(item_kind[chosen[0]] == 0) and np.all(item_kind[chosen[1]] == 1)
    policy.begin_episodes()  # forgets between evaluations
    assert np.allclose(policy.theta, 0)


def test_linucb_beats_random_on_seed_classic():
    sim = make_simulator(parse_env_config(load_preset("seed-classic")["env"]), n_envs=300, seed=0)
    linucb = evaluate_policy(make_baseline("linucb", sim), sim, 300, seed=2)
    random = evaluate_policy(make_baseline("random", sim), sim, 300, seed=2)
    assert linucb.return_mean > random.return_mean + 1.0


def test_farsighted_needs_session_dynamics(classic, default):
    assert "farsighted" not in baselines_for(classic)
    assert "farsighted" in baselines_for(default)
    with pytest.raises(RlrecError, match="farsighted"):
        FarsightedPolicy(classic)
    with pytest.raises(RlrecError, match="unknown baseline 'best'"):
        make_baseline("best", classic)


def test_quotas_split_episodes_evenly():
    assert _quotas(10, 4).tolist() == [3, 3, 2, 2]
    assert _quotas(3, 8).sum() == 3


def test_evaluation_counts_each_episode_once_without_favouring_short_ones(default):
    """With fewer slots than episodes, every slot runs its quota: the mean session length
    matches a run with one slot per episode (a naive 'first N to finish' would be shorter)."""
    policy = make_baseline("random", default, seed=0)
    few_slots = evaluate_policy(policy, default, 256, seed=1)
    wide = make_simulator(default.config, n_envs=256, seed=1)
    all_slots = evaluate_policy(make_baseline("random", wide, seed=0), wide, 256, seed=1)
    assert few_slots.episodes == 256
    assert few_slots.session_length == pytest.approx(all_slots.session_length, rel=0.15)
    assert 0 < few_slots.ctr < 1 and few_slots.coverage > 0.9 and few_slots.ild > 0.5


def test_evaluation_is_reproducible(classic):
    oracle = MyopicOraclePolicy(classic)
    a = evaluate_policy(oracle, classic, 128, seed=5)
    b = evaluate_policy(oracle, classic, 128, seed=5)
    assert a.return_mean == b.return_mean and a.novelty == b.novelty
