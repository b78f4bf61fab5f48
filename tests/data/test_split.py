"""The temporal split: no row of the future in train, cold users/items reported, stored with
the dataset, and one-line errors for bad fractions or tiny data."""

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.split import (
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    load_split,
    save_split,
    split_dataset,
    split_for,
    train_view,
)
from tests.fixtures import tiny_dataset


@pytest.fixture(scope="module")
def dataset():
    return tiny_dataset(n_users=50, n_items=60, n_interactions=1500, seed=1)


def test_global_cut_puts_every_train_row_before_every_test_row(dataset):
    split = split_dataset(dataset, SplitConfig(method="global", cold_user_fraction=0.0))
    times = dataset.interactions["timestamp"].to_numpy()
    assert times[split.labels == TRAIN].max() <= times[split.labels == VALIDATION].min()
    assert times[split.labels == VALIDATION].max() <= times[split.labels == TEST].min()
    shares = np.bincount(split.labels, minlength=3) / len(times)
    np.testing.assert_allclose(shares, [0.7, 0.1, 0.2], atol=0.01)


def test_per_user_split_holds_out_each_users_latest_rows(dataset):
    split = split_dataset(dataset, SplitConfig(method="per-user", cold_user_fraction=0.0))
    log = dataset.interactions.assign(split=split.labels)
    for _, rows in log.groupby("user_id"):
        if (rows["split"] == TEST).any():
            assert rows.loc[rows.split == TRAIN, "timestamp"].max() <= (
                rows.loc[rows.split == TEST, "timestamp"].min()
            )
    assert len(split.cold_users) == 0  # everyone keeps their early history


def test_cold_users_have_no_train_rows_and_are_reported(dataset):
    split = split_dataset(dataset, SplitConfig(cold_user_fraction=0.2, seed=3))
    users = dataset.interactions["user_id"].to_numpy()
    assert len(split.cold_users) == 10
    assert not np.isin(users[split.labels == TRAIN], split.cold_users).any()
    assert np.isin(split.cold_users, users[split.labels == TEST]).all()
    assert set(split.warm_users(dataset)).isdisjoint(split.cold_users)
    items = dataset.interactions["item_id"].to_numpy()
    assert not np.isin(items[split.labels == TRAIN], split.cold_items).any()


def test_same_config_gives_the_same_split(dataset):
    a = split_dataset(dataset, SplitConfig(seed=5))
    b = split_dataset(dataset, SplitConfig(seed=5))
    np.testing.assert_array_equal(a.labels, b.labels)


def test_split_round_trips_through_the_dataset_folder(dataset, tmp_path):
    split = split_dataset(dataset, SplitConfig(method="global", test_fraction=0.3))
    save_split(tmp_path, split)
    loaded = load_split(tmp_path, dataset)
    np.testing.assert_array_equal(loaded.labels, split.labels)
    assert loaded.config == split.config
    assert split_for(dataset, tmp_path).config.test_fraction == 0.3
    assert not list(tmp_path.glob("*.tmp"))


def test_stored_split_of_other_interactions_is_refused(dataset, tmp_path):
    save_split(tmp_path, split_dataset(dataset))
    other = tiny_dataset(n_users=50, n_items=60, n_interactions=1500, seed=2)
    with pytest.raises(RlrecError, match="does not match"):
        load_split(tmp_path, other)


def test_train_view_holds_only_train_rows(dataset):
    split = split_dataset(dataset)
    train = train_view(dataset, split)
    assert len(train.interactions) == int((split.labels == TRAIN).sum())
    assert train.n_users == dataset.n_users and train.n_items == dataset.n_items


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            SplitConfig(test_fraction=0.0),
            r"test_fraction = 0 is out of range \(allowed: \(0, 1\)\)",
        ),
        (SplitConfig(test_fraction=1.5), r"test_fraction = 1.5 is out of range"),
        (SplitConfig(validation_fraction=-0.1), r"validation_fraction = -0.1 is out of range"),
        (SplitConfig(validation_fraction=0.5, test_fraction=0.5), "leaves no training data"),
        (SplitConfig(method="random"), "split method = 'random' is not allowed"),
    ],
)
def test_bad_split_settings_are_one_line_errors(dataset, config, message):
    with pytest.raises(RlrecError, match=message) as info:
        split_dataset(dataset, config)
    assert "\n" not in str(info.value)


def test_too_small_a_dataset_is_refused():
    small = tiny_dataset(n_users=2, n_items=10, n_interactions=10, seed=0)
    small.interactions = small.interactions.iloc[:8]
    with pytest.raises(RlrecError, match="8 interactions, too few to split"):
        split_dataset(small)
