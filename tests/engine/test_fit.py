"""The fitted simulator: calibrated on held-out train pairs, blind to validation/test rows,
and sensible for cold users."""

import copy

import numpy as np
import pytest

from rlrec.data.split import TRAIN, SplitConfig, interactions_fingerprint, split_dataset
from rlrec.engine.truth.calibration import calibration_table, predicted_probability
from rlrec.engine.truth.fit import FitConfig, fit_simulator, fit_truth, labelled_pairs
from tests.fixtures import tiny_dataset

FAST = FitConfig()


@pytest.fixture(scope="module", params=[False, True], ids=["events", "ratings"])
def dataset(request):
    return tiny_dataset(
        n_users=300, n_items=400, n_interactions=20000, seed=4, ratings=request.param
    )


def test_every_decile_is_calibrated_within_five_points(dataset):
    fitted = fit_simulator(dataset, config=FAST)
    table = calibration_table(fitted.truth, fitted.calibration_pairs)
    assert len(table) == 10
    for row in table:
        assert abs(row["predicted"] - row["observed"]) <= 0.05, row
    # And the ranking carries information: the top decile engages far more than the bottom.
    assert table[-1]["observed"] > 0.25 and table[0]["observed"] < 0.02


def test_labels_follow_the_feedback_kind(dataset):
    pairs = labelled_pairs(dataset, FAST)
    rated = dataset.interactions["rating"].notna().all()
    assert pairs.feedback == ("explicit" if rated else "implicit")
    logged = pairs.logged
    # Sampled negatives are never logged pairs and always negative.
    logged_keys = set(zip(pairs.users[logged], pairs.items[logged], strict=True))
    sampled = zip(pairs.users[~logged], pairs.items[~logged], strict=True)
    assert not logged_keys.intersection(sampled)
    assert (pairs.labels[~logged] == 0).all()
    assert 0.2 < pairs.labels[logged].mean() < 0.95


def test_nothing_from_validation_or_test_reaches_the_fitted_truth(dataset):
    split = split_dataset(dataset, SplitConfig(seed=1))
    baseline = fit_truth(dataset, split=split)

    # Scramble everything outside train: other items, other ratings, other events.
    perturbed = tiny_dataset(
        n_users=300,
        n_items=400,
        n_interactions=20000,
        seed=4,
        ratings=dataset.interactions["rating"].notna().all(),
    )
    held = split.labels != TRAIN
    rng = np.random.default_rng(9)
    log = perturbed.interactions
    log.loc[held, "item_id"] = rng.integers(0, 400, held.sum()).astype(np.int32)
    log.loc[held, "rating"] = np.float32(5.0)
    log.loc[held, "event"] = "purchase"
    # The split labels rows; keep the same labels for the perturbed log.
    split.fingerprint = interactions_fingerprint(log)
    changed = fit_truth(perturbed, split=split)

    for name in ("user_latent", "item_latent", "user_profile", "item_content", "item_popularity"):
        np.testing.assert_array_equal(getattr(baseline, name), getattr(changed, name), err_msg=name)
    assert baseline.alpha == changed.alpha and baseline.logit_offset == changed.logit_offset


def test_cold_users_get_a_demographic_profile_not_the_average(dataset):
    split = split_dataset(dataset, SplitConfig(cold_user_fraction=0.2, seed=2))
    fitted = fit_simulator(dataset, split=split, config=FAST)
    cold = split.cold_users
    assert len(cold) > 0 and not fitted.warm_users[cold].any()
    profiles = fitted.truth.user_profile[cold]
    assert np.allclose(np.linalg.norm(profiles, axis=1), 1.0, atol=1e-4)
    # Different demographics → different tastes.
    assert np.unique(np.round(profiles, 3), axis=0).shape[0] > 1
    probability = predicted_probability(
        fitted.truth,
        np.repeat(cold, dataset.n_items),
        np.tile(np.arange(dataset.n_items), len(cold)),
    )
    assert np.isfinite(probability).all() and probability.std() > 0.01


def test_the_default_simulator_engages_with_the_calibrated_probability(dataset):
    from rlrec.engine.sim import make_simulator

    sim = make_simulator({"kind": "default"}, n_envs=2, seed=0, dataset=dataset)
    fitted = fit_simulator(dataset)
    users = np.arange(0, dataset.n_users, 7)
    expected = predicted_probability(
        fitted.truth,
        np.repeat(users, dataset.n_items),
        np.tile(np.arange(dataset.n_items), len(users)),
    ).reshape(len(users), -1)
    np.testing.assert_allclose(sim.true_preference(users), expected, atol=1e-4)


def test_the_simulator_an_agent_trains_in_is_blind_to_held_out_rows(dataset):
    from rlrec.engine.sim import make_simulator

    split = split_dataset(dataset, SplitConfig())
    perturbed = copy.deepcopy(dataset)
    held = split.labels != TRAIN
    log = perturbed.interactions
    log.loc[held, "item_id"] = (
        np.random.default_rng(1).integers(0, 400, held.sum()).astype(np.int32)
    )
    log.loc[held, "event"] = "purchase"
    log.loc[held, "rating"] = np.float32(1.0)
    a = make_simulator({"kind": "default"}, n_envs=4, seed=0, dataset=dataset)
    b = make_simulator({"kind": "default"}, n_envs=4, seed=0, dataset=perturbed)
    everyone = np.arange(a.n_users)
    np.testing.assert_array_equal(a.true_preference(everyone), b.true_preference(everyone))
    np.testing.assert_array_equal(a.truth.item_observable, b.truth.item_observable)
    np.testing.assert_array_equal(a.truth.user_observable, b.truth.user_observable)
    # Sessions start from the logged history and mask what was consumed: train rows only.
    for name in ("history_items", "history_offsets", "consumed_items", "consumed_offsets"):
        np.testing.assert_array_equal(getattr(a.truth, name), getattr(b.truth, name), err_msg=name)
    np.testing.assert_array_equal(a.reset(), b.reset())
    np.testing.assert_array_equal(a.mask, b.mask)


def test_positive_rows_by_feedback_kind():
    import pandas as pd

    from rlrec.data.schema import positive_rows

    def log(events, ratings):
        return pd.DataFrame({"event": events, "rating": np.array(ratings, dtype=np.float32)})

    nan = float("nan")
    explicit = log(["rating"] * 4, [5, 4, 3, 1])
    np.testing.assert_array_equal(positive_rows(explicit), [True, True, False, False])
    events = log(["view", "click", "purchase", "rating"], [nan, nan, nan, 4])
    np.testing.assert_array_equal(positive_rows(events), [False, True, True, True])
    clicks_only = log(["click", "click"], [nan, nan])
    np.testing.assert_array_equal(positive_rows(clicks_only), [True, True])
    assert positive_rows(clicks_only).dtype == bool


def test_a_synthetic_datasets_simulator_is_blind_to_held_out_rows():
    """Synthetic datasets keep their generator's latent factors, but popularity, item value,
    user profiles and observables come from the train part of the split only."""
    from rlrec.data.generator import generate
    from rlrec.engine.sim import make_simulator

    dataset = generate(n_users=120, n_items=80, seed=3)
    split = split_dataset(dataset, SplitConfig())
    held = split.labels != TRAIN
    assert held.any()
    perturbed = copy.deepcopy(dataset)
    log = perturbed.interactions
    # Pile every held-out row onto one item, rated 5 and purchased: a leak would make it a hit.
    log.loc[held, "item_id"] = np.int32(0)
    log.loc[held, "event"] = "purchase"
    if "rating" in log:
        log.loc[held, "rating"] = np.float32(5.0)
    assert split_dataset(perturbed, SplitConfig()).labels.tolist() == split.labels.tolist()
    a = make_simulator({"kind": "default"}, n_envs=4, seed=0, dataset=dataset)
    b = make_simulator({"kind": "default"}, n_envs=4, seed=0, dataset=perturbed)
    for name in (
        "item_popularity", "item_value", "user_profile", "item_observable",
        "history_items", "history_offsets", "consumed_items", "consumed_offsets",
    ):  # fmt: skip
        np.testing.assert_array_equal(getattr(a.truth, name), getattr(b.truth, name), err_msg=name)
    everyone = np.arange(a.n_users)
    np.testing.assert_array_equal(a.true_preference(everyone), b.true_preference(everyone))
    np.testing.assert_array_equal(a.reset(), b.reset())
    np.testing.assert_array_equal(a.mask, b.mask)
