"""Candidate sets of the default simulator, its compact per-session state on large
catalogues, and the baselines that score only the candidates."""

import numpy as np
import pytest

from rlrec import data
from rlrec.data.errors import RlrecError
from rlrec.engine.evaluation.online import baseline_table, evaluate_policy
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.baselines import (
    FarsightedPolicy,
    LinUCBPolicy,
    MyopicOraclePolicy,
    PopularityPolicy,
    RandomPolicy,
    observation_sample,
)
from rlrec.engine.sim import DefaultConfig, DefaultSimulator
from rlrec.engine.sim import base as sim_base
from rlrec.engine.sim.default import default_session_bytes, default_simulator_bytes
from rlrec.engine.truth.model import truth_from_dataset

N = 24


@pytest.fixture(scope="module")
def truth():
    return truth_from_dataset(data.default_dataset())


def make(truth, seed=3, sparse=None, n=N, **env):
    config = DefaultConfig(**{"candidates": 40, "exploration_bonus": 0.2, **env})
    return DefaultSimulator(truth, config, n_envs=n, seed=seed, sparse_sessions=sparse)


def pick(sim, rng):
    """A random candidate per session."""
    candidates = sim.candidates()
    return candidates[np.arange(sim.n_envs), rng.integers(0, candidates.shape[1], sim.n_envs)]


@pytest.mark.parametrize("sparse", [False, True])
def test_candidates_are_distinct_allowed_items_redrawn_every_step(truth, sparse):
    sim = make(truth, sparse=sparse)
    rng = np.random.default_rng(0)
    previous = None
    for _ in range(60):
        candidates, excluded = sim.candidates(), sim.candidate_mask()
        assert candidates.shape == (N, 40) and candidates.dtype == np.int64
        assert candidates.min() >= 0 and candidates.max() < truth.n_items
        assert all(len(np.unique(row)) == 40 for row in candidates)
        assert not excluded.any()  # 500 items: always enough allowed ones
        assert not sim.mask[np.arange(N)[:, None], candidates].any()
        if previous is not None:
            assert not np.array_equal(previous, candidates)
        previous = candidates.copy()
        sim.step(pick(sim, rng))


def test_an_exhausted_catalogue_fills_rows_with_excluded_items_and_flags_them(truth):
    sim = make(truth, candidates=truth.n_items, n=4)
    rng = np.random.default_rng(1)
    for _ in range(10):
        candidates = sim.candidates()
        assert (np.sort(candidates, axis=1) == np.arange(truth.n_items)).all()
        expected = sim.mask[np.arange(4)[:, None], candidates]
        np.testing.assert_array_equal(sim.candidate_mask(), expected)
        assert expected.any()  # the users' logged items
        sim.step(pick(sim, rng))


def test_same_seed_same_candidates_other_seed_others(truth):
    a, b, c = make(truth, seed=5), make(truth, seed=5), make(truth, seed=6)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    np.testing.assert_array_equal(a.candidates(), b.candidates())
    assert not np.array_equal(a.candidates(), c.candidates())
    for _ in range(5):
        a.step(pick(a, rng_a))
        b.step(pick(b, rng_b))
        np.testing.assert_array_equal(a.candidates(), b.candidates())
    a.reset(11)
    b.reset(11)
    np.testing.assert_array_equal(a.candidates(), b.candidates())


def test_offering_candidates_does_not_move_the_dynamics_draws(truth):
    plain = DefaultSimulator(truth, DefaultConfig(), n_envs=N, seed=9)
    offered = DefaultSimulator(truth, DefaultConfig(candidates=30), n_envs=N, seed=9)
    assert plain.candidates() is None and plain.candidate_mask() is None
    rng = np.random.default_rng(2)
    for _ in range(40):
        actions = rng.integers(0, truth.n_items, N)
        first, second = plain.step(actions), offered.step(actions)
        np.testing.assert_array_equal(first.obs, second.obs)
        np.testing.assert_array_equal(first.reward, second.reward)
        np.testing.assert_array_equal(first.done, second.done)


def test_without_candidates_a_rollout_is_what_it_always_was(truth):
    # Reward sums per step of this rollout, recorded before candidate sets existed.
    expected = [
        6.099999904632568, 3.8937530517578125, 3.7902638912200928, 7.111950874328613,
        3.729635000228882, 1.5151989459991455, 7.0142822265625, 3.706300973892212,
        1.5279029607772827, 3.774653911590576, 3.546428918838501, 4.706614017486572,
        3.7826340198516846, 3.748542070388794, 7.0074639320373535, -0.6052950024604797,
        5.962937831878662, 5.889407157897949, 5.8286027908325195, 6.995213985443115,
        0.4531620144844055, 4.748058795928955, 5.7814860343933105, 2.5251009464263916,
        4.62306022644043, 2.688230037689209, 3.6718180179595947, 2.462264060974121,
        5.84195613861084, 4.825272083282471,
    ]  # fmt: skip
    from rlrec.engine.sim import make_simulator, parse_env_config

    sim = make_simulator(parse_env_config({}), n_envs=16, seed=7)
    rng = np.random.default_rng(0)
    sim.reset(7)
    sums = [float(sim.step(rng.integers(0, sim.n_items, 16)).reward.sum()) for _ in range(30)]
    np.testing.assert_allclose(sums, expected, rtol=1e-6)
    assert int(sim.mask.sum()) == 305


def test_the_mix_takes_its_shares_from_each_source(truth):
    sim = make(truth, candidates=50, candidate_popular=0.3, candidate_neighbours=0.5)
    assert sim._retrieval.counts == (15, 25, 10)

    def mean_over_steps(measure, **mix):
        sim = make(truth, n=64, **mix)
        rng, values = np.random.default_rng(0), []
        for _ in range(20):
            values.append(measure(sim, sim.candidates()))
            sim.step(pick(sim, rng))
        return float(np.mean(values))

    only = {"random": (0.0, 0.0), "popular": (1.0, 0.0), "neighbours": (0.0, 1.0)}
    mixes = {k: {"candidate_popular": p, "candidate_neighbours": q} for k, (p, q) in only.items()}

    def popularity(sim, candidates):  # share drawn from the most popular items
        return np.isin(candidates, sim._retrieval.popular_pool).mean()

    def affinity(sim, candidates):
        users = sim.user_ids
        return (truth.user_latent[users][:, None, :] * truth.item_latent[candidates]).sum(-1).mean()

    assert mean_over_steps(popularity, **mixes["popular"]) > 0.95
    assert mean_over_steps(popularity, **mixes["random"]) < 0.5
    assert mean_over_steps(affinity, **mixes["neighbours"]) > mean_over_steps(
        affinity, **mixes["random"]
    ) + 0.5 * np.std(truth.user_latent @ truth.item_latent[:50].T)


def test_bad_candidate_settings_are_refused(truth):
    with pytest.raises(RlrecError, match="exceeds the catalogue"):
        make(truth, candidates=truth.n_items + 1)
    with pytest.raises(RlrecError, match="exceeds 1"):
        make(truth, candidate_popular=0.6, candidate_neighbours=0.6)


def test_sparse_session_state_behaves_exactly_as_the_dense_tables(truth):
    dense, sparse = make(truth, sparse=False), make(truth, sparse=True)
    assert sparse._sparse and not dense._sparse
    rng = np.random.default_rng(4)
    for _ in range(150):
        np.testing.assert_array_equal(dense.candidates(), sparse.candidates())
        np.testing.assert_array_equal(dense.mask, sparse.mask)
        candidates = dense.candidates()
        np.testing.assert_array_equal(
            dense.expected_reward(candidates), sparse.expected_reward(candidates)
        )
        np.testing.assert_array_equal(dense.expected_reward(), sparse.expected_reward())
        actions = pick(dense, rng)
        first, second = dense.step(actions), sparse.step(actions)
        np.testing.assert_array_equal(first.obs, second.obs)
        np.testing.assert_array_equal(first.reward, second.reward)
        np.testing.assert_array_equal(first.done, second.done)


def test_candidate_values_are_the_whole_catalogue_values_gathered(truth):
    sim = make(truth)
    rng = np.random.default_rng(5)
    for _ in range(20):
        sim.step(pick(sim, rng))
    candidates = sim.candidates()
    for method in ("expected_reward", "engagement_probability", "expected_satisfaction_change"):
        whole, some = getattr(sim, method)(), getattr(sim, method)(candidates)
        assert some.shape == candidates.shape
        np.testing.assert_array_equal(np.take_along_axis(whole, candidates, axis=1), some)


def test_large_catalogues_keep_no_sessions_by_items_state(truth, monkeypatch):
    monkeypatch.setattr(sim_base, "DENSE_TABLE_LIMIT", 1000)
    sim = make(truth)
    assert sim._sparse
    rng = np.random.default_rng(0)
    for _ in range(5):
        sim.step(pick(sim, rng))
    state = sim.session_state()
    for name, value in state.items():
        if isinstance(value, np.ndarray):
            assert truth.n_items not in value.shape[1:], name
    # Estimates: the sessions' part does not grow with the catalogue.
    small = default_session_bytes(10_000, 1024, 200)
    assert small == default_session_bytes(1_000_000, 1024, 200)
    assert default_session_bytes(500, 64, 0) == 64 * 500 * 5  # tables, as always
    kept, _ = default_simulator_bytes(1_000_000, 100_000, 1024, 200)
    assert kept < 2**30


@pytest.mark.parametrize("sparse", [False, True])
def test_a_checkpointed_session_state_continues_with_the_same_candidates(truth, sparse):
    sim = make(truth, sparse=sparse)
    rng = np.random.default_rng(6)
    for _ in range(7):
        sim.step(pick(sim, rng))
    state = sim.session_state()
    assert "candidate_rng" in state and "_candidates" in state
    actions = [pick(sim, rng) for _ in range(8)]

    def play(s):
        out = []
        for a in actions:
            result = s.step(a)
            out.append((result.reward.copy(), s.candidates().copy(), s.candidate_mask().copy()))
        return out

    first = play(sim)
    resumed = make(truth, seed=99, sparse=sparse)
    resumed.restore_session_state(state)
    second = play(resumed)
    for (r1, c1, m1), (r2, c2, m2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(m1, m2)

    broken = dict(state)
    del broken["candidate_rng"]
    with pytest.raises(RlrecError, match="candidate_rng"):
        make(truth, sparse=sparse).restore_session_state(broken)


class Spy(Policy):
    """Wraps a policy and records whether every action was among the offered candidates."""

    def __init__(self, inner: Policy, sim):
        self.inner, self.sim, self.n_items = inner, sim, inner.n_items
        self.name, self.outside = inner.name, 0

    def scores(self, obs, mask=None):
        raise AssertionError("the whole catalogue was scored")

    def act_candidates(self, obs, candidates, mask=None):
        actions = self.inner.act_candidates(obs, candidates, mask)
        self.outside += int((candidates != actions[:, None]).all(axis=1).sum())
        return actions

    def observe(self, obs, actions, rewards, engaged):
        self.inner.observe(obs, actions, rewards, engaged)

    def begin_episodes(self):
        self.inner.begin_episodes()


def test_baselines_score_only_the_candidates_and_act_among_them(truth):
    sim = make(truth, n=32)
    builders = {
        "random": lambda: RandomPolicy(truth.n_items, seed=0),
        "popular": lambda: PopularityPolicy(sim.item_popularity),
        "linucb": lambda: LinUCBPolicy(sim.observable_item_features, observation_sample(sim, 0)),
        "oracle": lambda: MyopicOraclePolicy(sim),
        "farsighted": lambda: FarsightedPolicy(sim),
    }
    returns = {}
    for name, build in builders.items():
        spy = Spy(build(), sim)
        returns[name] = evaluate_policy(spy, sim, 64, seed=0).return_mean
        assert spy.outside == 0, name
    assert returns["oracle"] > returns["random"]
    assert returns["farsighted"] > returns["random"]


def test_candidate_scores_agree_with_the_whole_catalogue_scores(truth):
    sim = make(truth)
    obs = sim.reset(3)
    rows = np.arange(N)[:, None]
    linucb = LinUCBPolicy(sim.observable_item_features, observation_sample(sim, 0))
    actions = pick(sim, np.random.default_rng(0))
    result = sim.step(actions)
    linucb.observe(obs, actions, result.reward, result.engaged)  # a non-trivial A⁻¹ and θ
    obs, candidates = result.obs, sim.candidates()
    np.testing.assert_allclose(
        linucb.candidate_scores(obs, candidates),
        linucb.scores(obs)[rows, candidates],
        rtol=1e-5,
        atol=1e-6,
    )
    popular = PopularityPolicy(sim.item_popularity)
    np.testing.assert_array_equal(
        popular.candidate_scores(obs, candidates), popular.scores(obs)[rows, candidates]
    )
    oracle = MyopicOraclePolicy(sim)
    mask = np.zeros(candidates.shape, bool)
    mask[:, 0] = True
    scores = oracle.candidate_scores(obs, candidates, mask)
    assert np.isneginf(scores[:, 0]).all()
    np.testing.assert_array_equal(scores[:, 1:], oracle.scores(obs)[rows, candidates][:, 1:])


def test_the_baselines_table_runs_on_a_candidate_simulator():
    reports = baseline_table({"candidates": 30}, 32, 0, names=["random", "popular", "oracle"])
    assert reports["oracle"].return_mean > reports["random"].return_mean
    assert 0 < reports["popular"].coverage <= 1
