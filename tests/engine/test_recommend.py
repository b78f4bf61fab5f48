"""recommend_for_user: original ids in and out, consumed history excluded, the source always
reported, cold-start users served, unknown users refused unless a fallback is asked for."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.policies.base import Policy, apply_mask
from rlrec.engine.serving.artifacts import serving_run_from
from rlrec.engine.serving.recommend import recommend_for_user as _recommend
from rlrec.engine.serving.recommend import recommend_for_users
from rlrec.engine.sim import make_simulator
from tests.fixtures import tiny_dataset


class HistoryEcho(Policy):
    """Scores items by similarity to the history part of the observation, so that the state
    built from a user's log matters (a stand-in for a trained DQN)."""

    name = "echo"

    def __init__(self, sim):
        self.n_items = sim.n_items
        self.items = sim.truth.item_observable
        self.user_dim = sim.truth.user_observable.shape[1]

    def scores(self, obs, mask=None):
        history = obs[:, self.user_dim : self.user_dim + self.items.shape[1]]
        return apply_mask((history @ self.items.T + 1e-3).astype(np.float32), mask)


def recommend_for_user(*args, **kwargs) -> dict[str, Any]:
    return _recommend(*args, **kwargs).to_dict()


@pytest.fixture(scope="module")
def run():
    dataset = tiny_dataset(n_users=80, n_items=100, n_interactions=3000, seed=5)
    # One user with no interactions at all: a cold-start user the dataset knows.
    log = dataset.interactions
    dataset.interactions = log[log["user_id"] != 7].reset_index(drop=True)
    sim = make_simulator({"kind": "default"}, n_envs=1, seed=0, dataset=dataset)
    return serving_run_from(Path("fake-run"), None, dataset, sim, HistoryEcho(sim))


def _history(run, original_id):
    index = int(np.flatnonzero(run.dataset.users["original_id"] == original_id)[0])
    log = run.dataset.interactions
    return set(
        run.dataset.items["original_id"].to_numpy()[log.loc[log.user_id == index, "item_id"]]
    )


def test_a_known_user_gets_k_unseen_items_with_details(run):
    result = recommend_for_user(run, "u3", 5)
    assert result["user"] == "u3" and result["source"] == "agent"
    items = result["items"]
    assert len(items) == 5
    assert not {entry["item"] for entry in items} & _history(run, "u3")
    for entry in items:
        assert entry["item"].startswith("i")
        assert {"score", "category", "price", "quality", "title", "true_preference"} <= set(entry)
        assert 0.0 <= entry["true_preference"] <= 1.0
    scores = [entry["score"] for entry in items]
    assert scores == sorted(scores, reverse=True)
    # The hidden truth of the ranked items only: the whole catalogue's values, item by item.
    everything = run.start.true_preference(np.array([3]))[0]
    assert [entry["true_preference"] for entry in items] == [
        float(everything[entry["item_id"]]) for entry in items
    ]


def test_history_shapes_the_agent_state(run):
    a = [e["item"] for e in recommend_for_user(run, "u3", 10)["items"]]
    b = [e["item"] for e in recommend_for_user(run, "u4", 10)["items"]]
    assert a != b


def test_a_user_without_history_is_served_from_demographics(run):
    result = recommend_for_user(run, "u7", 4)
    assert result["source"] == "agent (cold start: demographics only)"
    assert len(result["items"]) == 4


def test_unknown_user_is_an_error_unless_cold_start_is_asked_for(run):
    with pytest.raises(RlrecError, match="'nobody' is not in the run's dataset") as info:
        recommend_for_user(run, "nobody", 5)
    assert "\n" not in str(info.value)
    result = recommend_for_user(run, "nobody", 5, cold_start=True)
    assert result["source"].startswith("popular (fallback: unknown user")
    assert len(result["items"]) == 5
    assert all(entry["true_preference"] is None for entry in result["items"])


def test_missing_features_fall_back_and_say_so(run):
    features = run.dataset.user_features.copy()
    run.dataset.user_features[3] = np.nan
    try:
        result = recommend_for_user(run, "u3", 5, fallback="popular")
    finally:
        run.dataset.user_features[:] = features
    assert result["source"] == "popular (fallback: user features missing)"
    assert not {e["item"] for e in result["items"]} & _history(run, "u3")


@pytest.mark.parametrize("policy", ["popular", "content", "mf", "random"])
def test_baseline_sources_are_reported(run, policy):
    result = recommend_for_user(run, "u2", 3, policy=policy)
    assert result["source"] == policy and len(result["items"]) == 3
    assert not {e["item"] for e in result["items"]} & _history(run, "u2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, r"^k = 0 is out of range"),
        ({"k": -3}, r"^k = -3 is out of range"),
        ({"policy": "magic"}, "policy 'magic' is not allowed"),
        ({"fallback": "guess"}, "fallback 'guess' is not allowed"),
    ],
)
def test_bad_arguments_are_one_line_errors(run, kwargs, message):
    args = {"k": 5} | kwargs
    with pytest.raises(RlrecError, match=message):
        recommend_for_user(run, "u1", **args)


def test_a_prepared_run_serves_every_policy_without_fitting_or_simulating(tmp_path, monkeypatch):
    """Serving reads: once a run's serving arrays exist, no fit, simulator or warm-up runs."""
    from rlrec.cli.main import main
    from rlrec.engine.policies import baselines, registry
    from rlrec.engine.serving import artifacts
    from rlrec.engine.sim import ClassicSimulator, DefaultSimulator
    from rlrec.engine.training import runs
    from rlrec.engine.truth import fit
    from rlrec.engine.usecases.serving import POLICIES, recommend

    argv = ["train", "--preset", "default", "--steps", "600", "--seed", "0", "--threads", "1"]
    argv += ["--out", str(tmp_path), "--name", "run", "--json"]
    assert main(argv) == 0
    run_dir = tmp_path / "run"
    artifacts.prepare_serving(run_dir)
    artifacts._LOADED.clear()  # a fresh process: only the run folder is left
    assert {p.name for p in (run_dir / "serving").glob("scorer-*.npz")} == {
        f"scorer-{name}.npz" for name in registry.USER_SCORERS
    }

    def forbidden(*args, **kwargs):
        raise AssertionError("serving must not fit or build a simulator")

    for module, name in [
        (fit, "fit_simulator"), (fit, "fit_truth"), (fit, "labelled_pairs"),
        (baselines, "warm_up_linucb"), (registry, "warm_up_linucb"), (registry, "_fit_mf"),
        (runs, "load_run"), (DefaultSimulator, "__init__"), (ClassicSimulator, "__init__"),
    ]:  # fmt: skip
        monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr("rlrec.engine.sim.make_simulator", forbidden)
    for policy in POLICIES:
        result = recommend(run_dir, "0", 10, policy=policy)
        assert result.source == policy and len(result.items) == 10
        assert all(item.true_preference is not None for item in result.items)


def test_a_run_folder_that_cannot_be_written_is_served_from_memory(tmp_path, monkeypatch):
    """A read-only (shared, archived) run still serves every policy; nothing is written."""
    import errno
    import os

    from rlrec.cli.main import main
    from rlrec.engine.serving import artifacts
    from rlrec.engine.usecases.serving import POLICIES, recommend

    argv = ["train", "--preset", "default", "--steps", "600", "--seed", "0", "--threads", "1"]
    argv += ["--out", str(tmp_path), "--name", "run", "--json"]
    assert main(argv) == 0
    run_dir = tmp_path / "run"
    artifacts._LOADED.clear()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(artifacts, "atomic_write_bytes", read_only)
    monkeypatch.setattr(artifacts, "atomic_write_text", read_only)
    for policy in POLICIES:
        result = recommend(run_dir, "3", k=5, policy=policy)
        assert len(result.items) == 5, policy
    assert not any((run_dir / "serving").glob("*.npz"))


def test_a_slow_scorer_fit_does_not_hold_up_another_scorer(run, monkeypatch):
    """LinUCB's first fit (a warm-up on the simulator) runs for tens of seconds: meanwhile a
    request for another baseline is answered, not queued behind it."""
    import threading

    from rlrec.engine.serving import artifacts

    served = SimpleNamespace(name=None, released=None)
    release = threading.Event()

    def prepare(path, names, run=None):
        if names == ["linucb"]:
            # Under one shared lock `popular` waits for this, which waits for `popular`.
            served.released = release.wait(30)

    monkeypatch.setattr(artifacts, "_prepare_scorers", prepare)
    monkeypatch.setattr(artifacts, "_load_npz", lambda file: {})
    monkeypatch.setattr(artifacts, "scorer_from_arrays", lambda name, arrays: name)
    fitted = {name: run._scorers.pop(name, None) for name in ("linucb", "popular")}
    slow = threading.Thread(target=lambda: run.scorer("linucb"))
    slow.start()
    served.name = run.scorer("popular")  # would wait for the LinUCB fit under one shared lock
    release.set()
    slow.join()
    assert served.released, "the other scorer was held up while LinUCB fitted"
    assert served.name == "popular" and run._scorers["linucb"] == "linucb"
    # The module's run serves the tests after this one with its real scorers.
    for name, scorer in fitted.items():
        if scorer is None:
            run._scorers.pop(name)
        else:
            run._scorers[name] = scorer


@pytest.mark.parametrize("policy", ["agent", "popular", "content", "mf", "random", "linucb"])
@pytest.mark.parametrize("cold_start", [False, True])
def test_users_asked_together_get_what_each_gets_alone(run, policy, cold_start):
    # Known users, a repeat, a user without history (u7), an unknown id and a user whose
    # features are missing: the batch splits them by what serves them and keeps the order.
    features = run.dataset.user_features.copy()
    run.dataset.user_features[5] = np.nan
    users = ["u3", "u1", "u7", "nobody", "u3", "u5", "u40", "u12"]
    try:
        together = recommend_for_users(run, users, 6, policy, cold_start=cold_start)
        alone = []
        for user in users:
            try:
                alone.append(_recommend(run, user, 6, policy, cold_start=cold_start))
            except RlrecError as exc:
                alone.append(exc)
    finally:
        run.dataset.user_features[:] = features
    assert len(together) == len(users)
    for user, got, expected in zip(users, together, alone, strict=True):
        if isinstance(expected, RlrecError):
            assert isinstance(got, RlrecError) and str(got) == str(expected), user
            continue
        assert got.user == user and got.source == expected.source
        assert [i.item for i in got.items] == [i.item for i in expected.items], user
        np.testing.assert_allclose(
            [i.score for i in got.items], [i.score for i in expected.items], rtol=1e-5
        )


def test_a_bad_k_or_policy_refuses_the_whole_batch(run):
    with pytest.raises(RlrecError, match="policy 'magic' is not allowed"):
        recommend_for_users(run, ["u1", "u2"], 5, "magic")
