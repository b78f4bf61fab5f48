"""EASE and ItemKNN: on a log with planted item clusters they find the clusters and beat
random offline, choose their hyperparameter by what validation says, round-trip through plain
arrays, and a catalogue too large for EASE is one line (a note in the offline table)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.split import SplitConfig, split_dataset, train_view
from rlrec.engine.evaluation.offline import evaluate_offline
from rlrec.engine.policies import item_item
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.registry import ScorerInputs, fit_scorer, scorer_from_arrays
from rlrec.engine.policies.user_scorers import UserBatch
from rlrec.engine.sim import make_simulator
from tests.fixtures import tiny_dataset

CLUSTERS, CLUSTER_SIZE = 6, 10


def planted_dataset(n_users: int = 240, per_user: int = 8, noise: int = 1, seed: int = 3):
    """Users each engage `per_user` items of one cluster of `CLUSTER_SIZE` consecutive item
    ids, plus `noise` items from anywhere: the only item-item structure is the clusters."""
    rng = np.random.default_rng(seed)
    n_items = CLUSTERS * CLUSTER_SIZE
    base = tiny_dataset(n_users=n_users, n_items=n_items, n_interactions=100, seed=seed)
    cluster = rng.integers(0, CLUSTERS, n_users)
    users, items = [], []
    for user in range(n_users):
        own = cluster[user] * CLUSTER_SIZE + rng.choice(CLUSTER_SIZE, per_user, replace=False)
        users += [user] * (per_user + noise)
        items += [*own, *rng.integers(0, n_items, noise)]
    users_a, items_a = np.array(users), np.array(items)
    log = pd.DataFrame(
        {
            "user_id": users_a.astype(np.int32),
            "item_id": items_a.astype(np.int32),
            "event": np.full(len(users_a), "rating", dtype=object),
            "rating": np.full(len(users_a), 5.0, np.float32),
            "timestamp": rng.integers(1_600_000_000, 1_620_000_000, len(users_a)),
            "session_id": users_a.astype(np.int64),
        }
    )
    meta = dict(base.meta, n_interactions=len(log))
    return dataclasses.replace(base, interactions=log, meta=meta)


@pytest.fixture(scope="module")
def planted():
    dataset = planted_dataset()
    split = split_dataset(dataset, SplitConfig(cold_user_fraction=0.0, seed=1))
    return dataset, split


@pytest.fixture(scope="module")
def report(planted):
    dataset, split = planted
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    return evaluate_offline(dataset, split, sim, linucb_steps=5)


def same_cluster_share(neighbours: np.ndarray) -> float:
    """Share of each item's listed neighbours ((n_items, k) ids) that are in its cluster."""
    own = np.arange(len(neighbours))[:, None] // CLUSTER_SIZE
    return float((neighbours // CLUSTER_SIZE == own).mean())


def test_itemknn_recovers_the_planted_neighbours(planted):
    dataset, split = planted
    matrix = item_item.engaged_matrix(train_view(dataset, split))
    neighbours = item_item.knn_neighbours(matrix, CLUSTER_SIZE - 1)
    listed = np.stack([neighbours[i].indices for i in range(dataset.n_items)])
    assert same_cluster_share(listed) > 0.9  # random neighbours would be ~0.15


def test_ease_recovers_the_planted_neighbours(planted):
    dataset, split = planted
    matrix = item_item.engaged_matrix(train_view(dataset, split))
    active = item_item.active_items(matrix)
    assert len(active) == dataset.n_items
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    weights = item_item.ease_weights(gram, 100.0)  # ~4× the mean item count
    assert np.all(np.diag(weights) == 0)
    strongest = np.argsort(-weights, axis=0)[: CLUSTER_SIZE - 1].T  # per item (column)
    assert same_cluster_share(strongest) > 0.9


def test_ease_and_itemknn_beat_random_offline_and_say_what_they_chose(report):
    warm = report["results"]["warm"]
    for name in ("ease", "itemknn"):
        assert warm[name]["ndcg@10"] > 2 * warm["random"]["ndcg@10"]
        assert warm[name]["ndcg@10"] > warm["popular"]["ndcg@10"]
        assert "chosen by validation NDCG@10" in report["notes"][name]
    assert report["notes"]["ease"].startswith("λ = ")
    assert report["notes"]["itemknn"].startswith("k = ")


class TableAgent(Policy):
    """Scores the evaluated users with a fixed table, one row per user in evaluation order."""

    name = "table"

    def __init__(self, table):
        self.table, self.n_items = table, table.shape[1]

    def scores(self, obs, mask=None):
        return self.table.copy()


def test_itemknn_chooses_the_k_that_is_best_on_validation(planted):
    dataset, split = planted
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    train = item_item.engaged_matrix(train_view(dataset, split))
    widest = item_item.knn_neighbours(train, max(item_item.KNN_NEIGHBOURS))
    log = dataset.interactions
    in_validation = split.mask("validation")
    order = np.unique(log["user_id"].to_numpy()[in_validation])  # evaluate_offline's rows
    # Validation NDCG@10 of each k, measured by offline evaluation itself.
    measured = {}
    for k in (1, 3, *item_item.KNN_NEIGHBOURS):
        table = (train[order] @ item_item.first_neighbours(widest, k)).toarray()
        result = evaluate_offline(
            dataset, split, sim, TableAgent(table), part="validation", references=False
        )
        measured[k] = result["results"]["warm"]["dqn"]["ndcg@10"]
    assert len(set(measured.values())) > 1  # the grid matters on this log
    grid = (1, 3, 50)
    chosen, seen = item_item.choose(
        grid,
        lambda k: item_item.validation_ndcg(
            lambda h: (h @ item_item.first_neighbours(widest, int(k))).toarray(),
            item_item.validation_users(dataset, split, train),
        ),
    )
    for k in grid:
        assert seen[k] == pytest.approx(measured[k])
    assert measured[chosen] == max(measured[k] for k in grid)
    fitted = item_item.fit_itemknn(train_view(dataset, split), dataset, split)
    best = max(item_item.KNN_NEIGHBOURS, key=lambda k: (measured[k], -k))
    assert fitted.setting == best


def test_choose_takes_the_best_and_the_first_on_ties():
    assert item_item.choose((1, 2, 3), {1: 0.1, 2: 0.3, 3: 0.3}.__getitem__)[0] == 2
    assert item_item.choose((1, 2, 3), lambda v: float("nan"))[0] == 2  # the middle


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_scorers_round_trip_through_plain_arrays(planted, name, tmp_path):
    dataset, split = planted
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    inputs = ScorerInputs(log=dataset, dataset=dataset, split=split, sim=sim)
    scorer = fit_scorer(name, inputs)
    np.savez(tmp_path / "s.npz", **scorer.arrays())
    with np.load(tmp_path / "s.npz", allow_pickle=False) as stored:
        again = scorer_from_arrays(name, {k: stored[k] for k in stored.files})
    users = np.arange(0, dataset.n_users, 7)
    batch = UserBatch(
        users=users, obs=np.zeros((len(users), 0)), features=np.zeros((len(users), 0))
    )
    assert again.choice == scorer.choice and again.setting == scorer.setting
    np.testing.assert_allclose(again.scores(batch), scorer.scores(batch))
    # Served from the whole log: a user's history includes what the split held out.
    assert scorer.scores(batch).shape == (len(users), dataset.n_items)


def test_a_catalogue_too_large_for_ease_is_one_line(planted, monkeypatch):
    dataset, split = planted
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    monkeypatch.setattr(item_item, "EASE_MAX_ITEMS", dataset.n_items - 1)
    inputs = ScorerInputs(log=dataset, dataset=dataset, split=split, sim=sim)
    with pytest.raises(RlrecError) as refused:
        fit_scorer("ease", inputs)
    assert "\n" not in str(refused.value) and "EASE" in str(refused.value)
    report = evaluate_offline(dataset, split, sim, linucb_steps=5)
    assert "ease" not in report["results"]["warm"]
    assert report["notes"]["ease"] == f"left out: {refused.value}"
    assert "itemknn" in report["results"]["warm"]


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_a_batch_that_brings_its_history_is_scored_on_it(planted, name):
    """Offline evaluation passes what users engaged before the evaluated part; a scorer reads
    that, not the history of the log it was fitted on."""
    dataset, split = planted
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    inputs = ScorerInputs(log=train_view(dataset, split), dataset=dataset, split=split, sim=sim)
    scorer = fit_scorer(name, inputs)
    none = np.zeros((2, 0))
    users, others = np.array([0, 1]), np.array([5, 9])
    own = scorer.scores(UserBatch(users=others, obs=none, features=none))
    borrowed = UserBatch(users=users, obs=none, features=none, history=scorer.history[others])
    np.testing.assert_allclose(scorer.scores(borrowed), own)
    assert not np.allclose(scorer.scores(UserBatch(users=users, obs=none, features=none)), own)
