"""Offline evaluation: the metrics reward exactly the held-out engagements, consumed items
never count, cold users are asked with demographics only, and all reference policies run."""

import numpy as np
import pytest

from rlrec.data.schema import positive_rows
from rlrec.data.split import TEST, SplitConfig, split_dataset
from rlrec.engine.evaluation.offline import evaluate_offline
from rlrec.engine.policies.base import Policy
from rlrec.engine.sim import make_simulator
from tests.fixtures import tiny_dataset


@pytest.fixture(scope="module")
def setup():
    dataset = tiny_dataset(n_users=120, n_items=150, n_interactions=6000, seed=8, ratings=True)
    split = split_dataset(dataset, SplitConfig(cold_user_fraction=0.15, seed=1))
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    log = dataset.interactions
    users, items = log["user_id"].to_numpy(), log["item_id"].to_numpy()
    in_test = (split.labels == TEST) & positive_rows(log)
    eval_users = np.unique(users[in_test])  # the row order evaluate_offline uses
    row = {u: r for r, u in enumerate(eval_users)}
    relevant = np.zeros((len(eval_users), dataset.n_items))
    seen = np.zeros_like(relevant)
    for u, i in zip(users[in_test], items[in_test], strict=True):
        relevant[row[u], i] = 1
    for u, i in zip(users[split.labels < TEST], items[split.labels < TEST], strict=True):
        if u in row and u not in split.cold_users:
            seen[row[u], i] = 1
    return dataset, split, sim, relevant, seen


class Fixed(Policy):
    """Returns given scores row by row (the rows evaluate_offline asks about) and records
    the observations it was shown."""

    name = "fixed"

    def __init__(self, scores):
        self.table = scores
        self.n_items = scores.shape[1]
        self.seen_obs = None

    def scores(self, obs, mask=None):
        self.seen_obs = obs
        return self.table.copy()


def test_an_agent_that_knows_the_held_out_items_scores_one(setup):
    dataset, split, sim, relevant, _ = setup
    report = evaluate_offline(dataset, split, sim, agent=Fixed(relevant), linucb_steps=5)
    for group in ("warm", "cold"):
        dqn = report["results"][group]["dqn"]
        assert dqn["ndcg@10"] == pytest.approx(1.0) and dqn["hitrate@5"] == 1.0
        assert dqn["map@20"] == pytest.approx(1.0)


def test_consumed_items_are_excluded_before_scoring(setup):
    dataset, split, sim, relevant, seen = setup
    # Prefers what the user already consumed, then the held-out items: only exclusion of
    # consumed items lets the held-out ones reach the top.
    agent = Fixed(2.0 * seen + relevant)
    report = evaluate_offline(dataset, split, sim, agent=agent, linucb_steps=5)
    assert report["results"]["warm"]["dqn"]["ndcg@10"] == pytest.approx(1.0)


def test_cold_users_are_asked_with_demographics_only(setup):
    dataset, split, sim, relevant, _ = setup
    agent = Fixed(relevant)
    report = evaluate_offline(dataset, split, sim, agent=agent, linucb_steps=5)
    eval_users = np.unique(
        dataset.interactions["user_id"].to_numpy()[
            (split.labels == TEST) & positive_rows(dataset.interactions)
        ]
    )
    cold_rows = np.isin(eval_users, split.cold_users)
    assert report["users"] == {"warm": int((~cold_rows).sum()), "cold": int(cold_rows.sum())}
    u = sim.truth.user_observable.shape[1]
    f = sim.truth.item_observable.shape[1]
    history = agent.seen_obs[:, u : u + 2 * f]
    assert np.all(history[cold_rows] == 0)
    assert np.abs(history[~cold_rows]).sum(axis=1).min() > 0


def test_reference_policies_are_all_reported_and_ordered_sensibly(setup):
    dataset, split, sim, _, _ = setup
    report = evaluate_offline(dataset, split, sim, agent=None, linucb_steps=20)
    warm = report["results"]["warm"]
    assert set(warm) == {"mf", "popular", "linucb", "content", "random", "ease", "itemknn"}
    for name in ("mf", "ease", "itemknn"):
        assert warm[name]["ndcg@10"] > warm["random"]["ndcg@10"]
    assert warm["popular"]["ndcg@10"] > warm["random"]["ndcg@10"]
    assert warm["random"]["coverage@10"] > warm["popular"]["coverage@10"]
    for values in warm.values():
        assert set(values) >= {"precision@5", "recall@20", "map@10", "ild@10", "novelty@10"}


def test_a_warm_users_state_comes_from_their_earlier_history_only(setup):
    """Scrambling the evaluated (test) rows' items leaves every state the agent is asked
    about unchanged: the history part is built from train (and validation) rows."""
    import copy

    from rlrec.data.split import interactions_fingerprint

    dataset, split, sim, relevant, _ = setup
    first = Fixed(relevant)
    evaluate_offline(dataset, split, sim, agent=first, linucb_steps=5)
    scrambled = copy.deepcopy(dataset)
    log = scrambled.interactions
    in_test = split.labels == TEST
    log.loc[in_test, "item_id"] = (
        np.random.default_rng(3).integers(0, dataset.n_items, in_test.sum()).astype(np.int32)
    )
    moved_split = copy.deepcopy(split)
    moved_split.fingerprint = interactions_fingerprint(log)
    second = Fixed(relevant)
    evaluate_offline(scrambled, moved_split, sim, agent=second, linucb_steps=5)
    np.testing.assert_array_equal(first.seen_obs, second.seen_obs)


class Recorder(Policy):
    """Scores nothing in particular; records the observations it was asked about."""

    name = "recorder"

    def __init__(self, n_items):
        self.n_items = n_items
        self.seen_obs = None

    def scores(self, obs, mask=None):
        self.seen_obs = np.asarray(obs).copy()
        return np.zeros((len(obs), self.n_items))


def test_a_warm_user_is_asked_about_in_the_state_their_simulated_sessions_start_from(setup):
    from rlrec.data.split import VALIDATION, split_for

    dataset, _, sim, _, _ = setup
    split = split_for(dataset)  # the split the simulator's truth was fitted to
    agent = Recorder(dataset.n_items)
    evaluate_offline(dataset, split, sim, agent=agent, part="validation", linucb_steps=5)
    log = dataset.interactions
    in_part = (split.labels == VALIDATION) & positive_rows(log)
    eval_users = np.unique(log["user_id"].to_numpy()[in_part])
    warm = ~np.isin(eval_users, split.cold_users)
    assert warm.sum() > 10
    np.testing.assert_allclose(
        agent.seen_obs[warm], sim.fresh_observation(eval_users[warm]), atol=1e-6
    )


def test_users_scored_chunk_by_chunk_give_the_metrics_of_one_pass(setup, monkeypatch):
    """A big log is ranked a chunk of users at a time (never users × items at once); the
    report is the one a single pass gives."""
    import rlrec.engine.evaluation.offline as offline

    dataset, split, sim, _, _ = setup
    whole = evaluate_offline(dataset, split, sim, agent=None, linucb_steps=5)
    monkeypatch.setattr(offline, "CHUNK_USERS", 7)
    assert evaluate_offline(dataset, split, sim, agent=None, linucb_steps=5) == whole
