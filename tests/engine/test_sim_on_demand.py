"""The hidden truth scores the (user, item) pairs asked for, and a simulator beyond the dense
table limit holds nothing users × items or items × items."""

import dataclasses

import numpy as np
import pytest

from rlrec import data
from rlrec.engine.sim import base as sim_base
from rlrec.engine.sim.classic import ClassicConfig, ClassicSimulator
from rlrec.engine.sim.default import DefaultConfig, DefaultSimulator
from rlrec.engine.truth.model import HiddenTruth, truth_from_dataset


@pytest.fixture(scope="module")
def truth():
    return truth_from_dataset(data.default_dataset()).with_alpha(0.3)


def dense_logits(truth: HiddenTruth, appeal_weight: float) -> np.ndarray:
    """The formula the simulator used to precompute for every user and item."""
    latent = (truth.user_latent @ truth.item_latent.T - truth.latent_shift) * truth.latent_scale
    cosine = (truth.user_profile @ truth.item_content.T - truth.cosine_shift) * truth.cosine_scale
    hybrid = truth.alpha * latent + (1 - truth.alpha) * cosine
    return truth.logit_scale * hybrid + truth.logit_offset + appeal_weight * truth.item_appeal


def test_on_demand_logits_equal_the_dense_formula(truth):
    users = np.arange(truth.n_users)
    np.testing.assert_allclose(
        truth.logits(users, None, 0.5), dense_logits(truth, 0.5), rtol=1e-5, atol=1e-5
    )


def test_a_pair_scores_the_same_whatever_else_is_in_the_batch(truth):
    rng = np.random.default_rng(0)
    users = rng.integers(0, truth.n_users, 64)
    full = truth.logits(users, None, 0.5)
    pairs = rng.integers(0, truth.n_items, 64)
    candidates = rng.integers(0, truth.n_items, (64, 7))
    rows = np.arange(64)
    np.testing.assert_array_equal(truth.logits(users, pairs, 0.5), full[rows, pairs])
    np.testing.assert_array_equal(
        truth.logits(users, candidates, 0.5), full[rows[:, None], candidates]
    )
    np.testing.assert_array_equal(truth.logits(users[5:6], None, 0.5)[0], full[5])


def test_item_similarity_is_the_clipped_cosine_of_content(truth):
    unit = truth.item_content
    items = np.arange(truth.n_items)
    similarity = truth.item_similarity(items[:, None], items[None, :])
    np.testing.assert_allclose(similarity, np.maximum(unit @ unit.T, 0), atol=1e-6)
    assert similarity.min() >= 0


def numpy_arrays(obj, seen=None):
    """Every numpy array reachable through the attributes of `obj` (dataclasses, objects,
    dicts, lists), with the path it was found at."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield "", obj
        return
    if isinstance(obj, dict):
        children = obj.items()
    elif isinstance(obj, list | tuple):
        children = enumerate(obj)
    elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        children = vars(obj).items()
    else:
        return
    for name, value in children:
        for path, array in numpy_arrays(value, seen):
            yield f".{name}{path}", array


def test_a_large_simulator_holds_nothing_users_by_items(truth, monkeypatch):
    monkeypatch.setattr(sim_base, "DENSE_TABLE_LIMIT", 0)
    sim = DefaultSimulator(truth, DefaultConfig(diversity_penalty=0.5), n_envs=8, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(20):
        sim.step(rng.integers(0, truth.n_items, 8))
    sim.expected_reward()
    sim.true_preference(np.arange(3))
    users, items = truth.n_users, truth.n_items
    found = list(numpy_arrays(sim))
    assert any(path.startswith(".truth.user_latent") for path, _ in found)  # the walk works
    for path, array in found:
        assert array.size not in (users * items, items * items), path


def test_the_on_demand_simulator_plays_like_the_dense_one(truth, monkeypatch):
    config = DefaultConfig(diversity_penalty=0.5)
    dense = DefaultSimulator(truth, config, n_envs=256, seed=3)
    monkeypatch.setattr(sim_base, "DENSE_TABLE_LIMIT", 0)
    lean = DefaultSimulator(truth, config, n_envs=256, seed=3)
    assert dense._logit_table is not None and lean._logit_table is None
    rng = np.random.default_rng(0)
    for _ in range(40):
        np.testing.assert_allclose(lean.expected_reward(), dense.expected_reward(), atol=1e-6)
        actions = rng.integers(0, truth.n_items, 256)
        a, b = dense.step(actions), lean.step(actions)
        # The same clicks (a probability an ulp apart never meets a draw in 10k steps here)
        # and rewards equal to the last bit or two.
        np.testing.assert_array_equal(a.engaged, b.engaged)
        np.testing.assert_allclose(a.reward, b.reward, atol=1e-6)
        np.testing.assert_array_equal(a.obs, b.obs)


def test_seed_classic_beyond_the_limit_computes_preferences_on_demand(monkeypatch):
    config = ClassicConfig(n_users=300, n_items=200)
    dense = ClassicSimulator(config, n_envs=64, seed=2)
    monkeypatch.setattr(sim_base, "DENSE_TABLE_LIMIT", 0)
    lean = ClassicSimulator(config, n_envs=64, seed=2)
    for path, array in numpy_arrays(lean):
        assert array.size != 300 * 200, path
    np.testing.assert_allclose(lean.item_popularity, dense.item_popularity, atol=1e-12)
    np.testing.assert_allclose(lean.true_preference(np.arange(300)), dense._table, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        np.testing.assert_allclose(lean.expected_reward(), dense.expected_reward(), atol=1e-12)
        actions = rng.integers(0, 200, 64)
        a, b = dense.step(actions), lean.step(actions)
        np.testing.assert_array_equal(a.engaged, b.engaged)
        np.testing.assert_array_equal(a.reward, b.reward)
