"""Preset `default`: the hidden truth, the session dynamics, and the proof that it rewards
planning over myopic play."""

import dataclasses

import numpy as np
import pytest

from rlrec import data
from rlrec.data.errors import RlrecError
from rlrec.engine.evaluation.online import (
    baseline_table,
    evaluate_policy,
    evaluation_simulator,
    reference_returns,
)
from rlrec.engine.policies.base import Policy, apply_mask
from rlrec.engine.presets import load_preset
from rlrec.engine.sim import DefaultConfig, DefaultSimulator, make_simulator, parse_env_config
from rlrec.engine.truth.model import truth_from_dataset


@pytest.fixture(scope="module")
def truth():
    return truth_from_dataset(data.default_dataset())


def default_env(**overrides):
    env = parse_env_config(load_preset("default")["env"])
    return dataclasses.replace(env, **overrides)


def test_truth_is_aligned_with_the_dataset(truth):
    ds = data.default_dataset()
    assert truth.user_latent.shape == (ds.n_users, 20)
    assert truth.item_latent.shape == (ds.n_items, 20)
    assert truth.item_value.min() >= -1 and truth.item_value.max() <= 1
    # Lasting value follows the listed quality; clickbait appeal runs against it.
    quality = ds.items["quality"].to_numpy()
    assert np.corrcoef(truth.item_value, quality)[0, 1] > 0.99
    assert np.corrcoef(truth.item_appeal, truth.item_value)[0, 1] < -0.3
    assert truth.item_popularity.max() == pytest.approx(1.0) and truth.item_popularity.min() > 0
    # The agent can see quality among the item features.
    assert "sim_quality" in truth.item_feature_names
    column = truth.item_feature_names.index("sim_quality")
    assert np.allclose(truth.item_observable[:, column], truth.item_value)


def test_alpha_blends_latent_and_content(truth):
    latent = truth.with_alpha(1.0).hybrid_score(np.arange(5))
    content = truth.with_alpha(0.0).hybrid_score(np.arange(5))
    half = truth.with_alpha(0.5).hybrid_score(np.arange(5))
    assert np.allclose(half, 0.5 * latent + 0.5 * content, atol=1e-5)
    expected = (
        truth.user_latent[:5] @ truth.item_latent.T - truth.latent_shift
    ) * truth.latent_scale
    assert np.allclose(latent, expected, atol=1e-4)


def test_observation_layout(truth):
    plain = default_env(session_profile=False, profile_decay=0.0)
    sim = DefaultSimulator(truth, plain, n_envs=8, seed=0)
    obs = sim.reset(0)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    assert obs.shape == (8, u + 2 * f + 8) and obs.dtype == np.float32
    assert np.allclose(obs[:, :u], truth.user_observable[sim.user_ids])
    # A session starts from the user's logged history: its mean is the history block.
    recent = truth.latest_history(sim.user_ids, 5)
    pad = np.vstack([truth.item_observable, np.zeros((1, f))])
    filled = np.maximum((recent < truth.n_items).sum(axis=1), 1)[:, None]
    assert np.allclose(obs[:, u : u + f], pad[recent].sum(axis=1) / filled, atol=1e-5)
    assert np.all(obs[:, u + 2 * f : u + 2 * f + 4] == 0)  # nothing happened in the session yet
    clock = obs[:, u + 2 * f + 4 :]
    assert np.allclose(clock[:, 0] ** 2 + clock[:, 1] ** 2, 1, atol=1e-5)
    assert np.abs(obs).max() <= sim.observation_bound


def test_empty_session_history_starts_from_a_blank_slate(truth):
    sim = DefaultSimulator(truth, default_env(session_history="empty"), n_envs=8, seed=0)
    obs = sim.reset(0)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    assert np.all(obs[:, u : u + 2 * f] == 0)


def test_latest_history_is_the_users_last_engaged_train_items_in_time_order(truth):
    ds = data.default_dataset()
    from rlrec.data.schema import positive_rows
    from rlrec.data.split import split_for, train_view

    train = train_view(ds, split_for(ds)).interactions
    engaged = train.loc[positive_rows(train)].sort_values("timestamp", kind="stable")
    counts = engaged.groupby("user_id").size()
    heavy, light = int(counts.idxmax()), int(counts.idxmin())
    history = truth.latest_history(np.array([heavy, light]), 4)
    heavy_items = engaged.loc[engaged.user_id == heavy, "item_id"].to_numpy()[-4:]
    assert history[0].tolist() == heavy_items.tolist()
    light_items = engaged.loc[engaged.user_id == light, "item_id"].to_numpy()[-4:]
    pad = [truth.n_items] * (4 - len(light_items))
    assert history[1].tolist() == pad + light_items.tolist()
    never = np.setdiff1d(np.arange(ds.n_users), counts.index.to_numpy())
    if len(never):
        assert np.all(truth.latest_history(never[:1], 4) == truth.n_items)


def test_a_session_masks_what_the_user_already_consumed_in_train(truth):
    ds = data.default_dataset()
    from rlrec.data.split import split_for, train_view

    train = train_view(ds, split_for(ds)).interactions
    sim = DefaultSimulator(truth, default_env(), n_envs=32, seed=5)
    sim.reset(5)
    for row, user in enumerate(sim.user_ids):
        consumed = np.unique(train.loc[train.user_id == user, "item_id"].to_numpy())
        assert np.flatnonzero(sim.mask[row]).tolist() == consumed.tolist()
    blank = DefaultSimulator(truth, default_env(session_history="empty"), n_envs=32, seed=5)
    blank.reset(5)
    assert not blank.mask.any()


def test_consumed_lists_each_users_train_items_in_order_of_the_given_ids(truth):
    rows, items = truth.consumed(np.array([3, 0, 3]))
    for row, user in enumerate([3, 0, 3]):
        start, end = truth.consumed_offsets[user], truth.consumed_offsets[user + 1]
        assert items[rows == row].tolist() == truth.consumed_items[start:end].tolist()


def test_logged_history_does_not_count_towards_the_diversity_penalty(truth):
    cfg = default_env(noise_std=0.0, diversity_penalty=1.0, exploration_bonus=0.0)
    sim = DefaultSimulator(truth, cfg, n_envs=64, seed=3)
    sim.reset(3)
    # Recommend each user's latest logged item again: similar to its history, yet new in
    # the session, so the first step carries no penalty.
    latest = truth.latest_history(sim.user_ids, 1)[:, 0]
    has = latest < truth.n_items
    result = sim.step(np.where(has, latest, 0))
    plain = np.where(result.engaged, cfg.reward_engaged, cfg.reward_ignored)
    assert has.any() and np.allclose(result.reward[has], plain[has], atol=1e-6)
    # The second time the same item is in the session's history: now it is penalised.
    again = sim.step(np.where(has, latest, 0))
    repeat = has & result.engaged & ~again.done
    assert repeat.any() and np.all(
        again.reward[repeat] < np.where(again.engaged, 1.0, -0.1)[repeat]
    )


def test_history_features_average_the_last_engaged_items(truth):
    sim = DefaultSimulator(
        truth,
        default_env(noise_std=0.0, history_window=2, session_history="empty"),
        n_envs=1,
        seed=4,
    )
    sim.reset(4)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    engaged = []
    for _ in range(12):
        item = int(np.argmax(np.where(sim.mask[0], -np.inf, sim.engagement_probability()[0])))
        result = sim.step(np.array([item]))
        if result.done[0]:
            break
        if result.engaged[0]:
            engaged.append(item)
        if engaged:
            expected = truth.item_observable[engaged[-2:]].mean(axis=0)
            assert np.allclose(result.obs[0, u : u + f], expected, atol=1e-5)
    assert len(engaged) >= 2


def test_clickbait_wears_patience_down_and_good_items_restore_it(truth):
    cfg = default_env(noise_std=0.0, fatigue=0.0, ignore_cost=0.0, satisfaction_jitter=0.0)
    sim = DefaultSimulator(truth, cfg, n_envs=256, seed=1)
    sim.reset(1)
    worst, best = int(np.argmin(truth.item_value)), int(np.argmax(truth.item_value))
    before = sim.satisfaction.copy()
    result = sim.step(np.full(256, worst))
    change = sim.satisfaction - before
    assert np.allclose(change[result.engaged], cfg.value_gain * truth.item_value[worst])
    assert np.all(change[~result.engaged] == 0)
    before = sim.satisfaction.copy()
    result = sim.step(np.full(256, best))
    assert np.all((sim.satisfaction - before)[result.engaged] > 0)


def test_session_ends_when_patience_runs_out(truth):
    cfg = default_env(
        ignore_cost=1.0, initial_satisfaction=2.5, satisfaction_jitter=0.0, fatigue=0.0
    )
    sim = DefaultSimulator(truth, cfg, n_envs=64, seed=2)
    sim.reset(2)
    worst_for_each = np.argmin(sim.engagement_probability(), axis=1)
    lengths = []
    for _ in range(cfg.max_length):
        result = sim.step(worst_for_each)
        lengths.extend(result.episode_length[result.done])
        if len(lengths) >= 64:
            break
    # Three ignored recommendations in a row exhaust 2.5 units of patience.
    assert np.median(lengths) == 3


def test_satiation_lowers_a_category_after_engagement_and_decays(truth):
    cfg = default_env(noise_std=0.0, satisfaction_weight=0.0)  # isolate satiation from mood
    sim = DefaultSimulator(truth, cfg, n_envs=512, seed=3)
    sim.reset(3)
    item = int(np.argmax(truth.item_popularity))
    same_category = np.flatnonzero(truth.item_category == truth.item_category[item])
    other = int(np.flatnonzero(truth.item_category != truth.item_category[item])[0])
    before = sim.engagement_probability()
    result = sim.step(np.full(512, item))
    after = sim.engagement_probability()
    engaged = result.engaged & ~result.done
    assert engaged.sum() > 50
    assert np.all(after[engaged][:, same_category] < before[engaged][:, same_category])
    assert np.allclose(after[engaged, other], before[engaged, other])
    assert np.allclose(
        after[~result.engaged & ~result.done], before[~result.engaged & ~result.done]
    )
    # One step later the satiation has decayed a little: probability recovers.
    sim.step(np.full(512, other))
    recovered = sim.engagement_probability()[:, item]
    still = engaged & ~sim.mask[:, other]
    assert np.all(recovered[still] > after[still, item])


def test_same_seed_same_sessions(truth):
    a = DefaultSimulator(truth, default_env(), n_envs=32, seed=9)
    b = DefaultSimulator(truth, default_env(), n_envs=32, seed=9)
    actions = np.random.default_rng(0).integers(0, truth.n_items, (30, 32))
    for row in actions:
        ra, rb = a.step(row), b.step(row)
        assert np.array_equal(ra.obs, rb.obs) and np.array_equal(ra.reward, rb.reward)


def test_expected_reward_matches_realised_reward(truth):
    cfg = default_env()
    sim = make_simulator(cfg, n_envs=4096, seed=5)
    sim.reset(5)
    actions = np.random.default_rng(1).integers(0, sim.n_items, 4096)
    expected = sim.expected_reward()[np.arange(4096), actions]
    realised = sim.step(actions).reward
    assert realised.mean() == pytest.approx(expected.mean(), abs=0.03)


def test_farsighted_beats_the_myopic_oracle_with_longer_sessions():
    """Issue 3 acceptance: farsighted ≥ 1.10 × myopic oracle's return, longer sessions."""
    reports = baseline_table(default_env(), 400, 0, names=("random", "oracle", "farsighted"))
    oracle, farsighted = reports["oracle"], reports["farsighted"]
    assert farsighted.return_mean >= 1.10 * oracle.return_mean
    assert farsighted.session_length > oracle.session_length
    assert oracle.return_mean > 2 * reports["random"].return_mean
    assert farsighted.normalised > 1.1


def test_alpha_out_of_range_is_rejected(truth):

    with pytest.raises(RlrecError, match=r"env.alpha = 1.5 is out of range \(allowed: \[0, 1\]\)"):
        parse_env_config({"kind": "default", "alpha": 1.5})
    with pytest.raises(RlrecError, match="alpha"):
        DefaultSimulator(truth, DefaultConfig(alpha=-0.1))


class ObservationOnlyPolicy(Policy):
    """Reads nothing hidden: the user's category preferences from the observation, and each
    item's category, listed quality and popularity from its observable features."""

    name = "observation-only"

    def __init__(self, truth, quality_weight=0.2, popularity_weight=0.3):
        user_names, item_names = truth.user_feature_names, truth.item_feature_names
        categories = [n for n in item_names if n.startswith("category_")]
        self.pref_columns = [
            user_names.index("pref_" + c.removeprefix("category_")) for c in categories
        ]
        features = truth.item_observable
        self.item_category = features[:, [item_names.index(c) for c in categories]]
        self.item_bonus = (
            quality_weight * features[:, item_names.index("sim_quality")]
            + popularity_weight * features[:, item_names.index("sim_log_popularity")]
        )
        self.n_items = truth.n_items

    def scores(self, obs, mask=None):
        return apply_mask(obs[:, self.pref_columns] @ self.item_category.T + self.item_bonus, mask)


def test_an_observation_only_policy_can_beat_the_myopic_oracle():
    """What a learner sees is enough to beat the oracle that reads the hidden truth: the
    preset leaves room for a DQN to win by planning."""
    env = default_env()
    sim = evaluation_simulator(env, 400, 0)
    seen_only = evaluate_policy(ObservationOnlyPolicy(sim.truth), sim, 400, seed=0)
    random_return, oracle_return = reference_returns(env, 400, 0)
    assert seen_only.return_mean >= 1.08 * oracle_return
    assert seen_only.return_mean > 3 * random_return


def test_history_features_stay_exact_over_long_runs_from_logged_histories(truth):
    # The history mean is kept as a running sum: after many steps (sessions ending and
    # restarting from the log) it must still equal the mean of the slots' features.
    sim = DefaultSimulator(truth, default_env(), n_envs=64, seed=6)
    sim.reset(6)
    rng = np.random.default_rng(6)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    pad = np.vstack([truth.item_observable, np.zeros((1, f))])
    for _ in range(300):
        probs = np.where(sim.mask, -np.inf, sim.engagement_probability() + rng.random((64, 1)))
        result = sim.step(probs.argmax(axis=1))
    recent = sim._recent
    filled = np.maximum((recent < truth.n_items).sum(axis=1), 1)[:, None]
    np.testing.assert_allclose(
        result.obs[:, u : u + f], pad[recent].sum(axis=1) / filled, atol=1e-5
    )


def test_session_profile_makes_the_hidden_satisfaction_readable_from_the_observation(truth):
    cfg = default_env(session_profile=True, profile_decay=0.0, satisfaction_jitter=0.0)
    sim = DefaultSimulator(truth, cfg, n_envs=64, seed=4)
    obs = sim.reset(4)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    profile = slice(u + 2 * f + 8, u + 3 * f + 8)
    assert obs.shape == (64, u + 3 * f + 8)
    assert np.all(obs[:, profile] == 0)  # nothing engaged in the session yet
    quality = truth.item_feature_names.index("sim_quality")
    rng = np.random.default_rng(4)
    for _ in range(12):
        result = sim.step(rng.integers(0, truth.n_items, 64))
        going = ~result.done
        steps = result.obs[:, u + 2 * f] * cfg.max_length
        ignored = np.rint(result.obs[:, u + 2 * f + 2] * steps)
        gained = result.obs[:, profile][:, quality] * cfg.max_length * cfg.value_gain
        readable = (
            cfg.initial_satisfaction + gained - cfg.ignore_cost * ignored - cfg.fatigue * steps
        )
        assert np.allclose(readable[going], sim.satisfaction[going], atol=1e-4)
        assert np.all(result.obs[result.done][:, profile] == 0)  # a new session starts empty
    # Serving builds the same fresh-session state, with an empty profile.
    served = sim.fresh_observation(np.arange(5))
    assert served.shape[1] == obs.shape[1] and np.all(served[:, profile] == 0)


def test_profile_decay_at_the_satiation_rate_makes_satiation_readable(truth):
    """With d = satiation_decay the fading profile's category columns are each category's
    hidden satiation, times (1 − d): every step, engaged or not, and across session starts."""
    cfg = default_env(session_profile=True, profile_decay=0.8, satiation_decay=0.8)
    sim = DefaultSimulator(truth, cfg, n_envs=64, seed=7)
    obs = sim.reset(7)
    u, f = truth.user_observable.shape[1], truth.item_observable.shape[1]
    fading = slice(u + 3 * f + 8, u + 4 * f + 8)
    assert obs.shape == (64, u + 4 * f + 8)
    assert np.all(obs[:, fading] == 0)
    # Which feature columns are the category one-hot: the category's own column is 1.
    features = truth.item_observable
    columns = [
        int(np.flatnonzero(np.all(features[truth.item_category == c] == 1, axis=0))[0])
        for c in range(sim.n_categories)
    ]
    rng = np.random.default_rng(7)
    for _ in range(30):
        result = sim.step(rng.integers(0, truth.n_items, 64))
        readable = result.obs[:, fading][:, columns] / (1 - cfg.profile_decay)
        np.testing.assert_allclose(readable, sim._satiation, atol=1e-4)
    served = sim.fresh_observation(np.arange(5))
    assert served.shape[1] == obs.shape[1] and np.all(served[:, fading] == 0)
    # Checkpointed with the sessions, and refused by name where it is missing.
    other = DefaultSimulator(truth, cfg, n_envs=64, seed=9)
    other.restore_session_state(sim.session_state())
    actions = np.arange(64)
    assert np.array_equal(sim.step(actions).obs, other.step(actions).obs)
    plain = DefaultSimulator(
        truth, default_env(session_profile=True, profile_decay=0.0), n_envs=64, seed=7
    )
    with pytest.raises(RlrecError, match="_decayed_sum"):
        other.restore_session_state(plain.session_state())


def test_session_profile_survives_a_checkpoint_of_the_sessions(truth):
    cfg = default_env(session_profile=True)
    sim = DefaultSimulator(truth, cfg, n_envs=16, seed=5)
    sim.reset(5)
    for _ in range(4):
        sim.step(np.random.default_rng(5).integers(0, truth.n_items, 16))
    state = sim.session_state()
    other = DefaultSimulator(truth, cfg, n_envs=16, seed=9)
    other.restore_session_state(state)
    actions = np.arange(16)
    assert np.array_equal(sim.step(actions).obs, other.step(actions).obs)
    # A checkpoint from a simulator without the profile cannot fill it: refused by name.
    plain = DefaultSimulator(truth, default_env(session_profile=False), n_envs=16, seed=5)
    plain = plain.session_state()
    with pytest.raises(RlrecError, match="_session_sum"):
        other.restore_session_state(plain)
