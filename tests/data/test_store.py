"""The dataset folder: atomic, byte-identical, and validated on load."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml

from rlrec.data.errors import RlrecError
from rlrec.data.generator import generate
from rlrec.data.store import load_dataset, save_dataset


@pytest.fixture(scope="module")
def small():
    return generate(n_users=120, n_items=40, seed=9)


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_round_trip_keeps_every_table_and_array(small, tmp_path):
    save_dataset(small, tmp_path / "ds")
    loaded = load_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(loaded.users, small.users)
    pd.testing.assert_frame_equal(loaded.items, small.items)
    pd.testing.assert_frame_equal(loaded.interactions, small.interactions)
    np.testing.assert_array_equal(loaded.user_features, small.user_features)
    np.testing.assert_array_equal(loaded.item_latent, small.item_latent)
    assert loaded.meta["user_feature_names"] == small.meta["user_feature_names"]
    assert loaded.meta["n_interactions"] == len(small.interactions)


def test_same_seed_gives_byte_identical_files(tmp_path):
    save_dataset(generate(150, 30, seed=7), tmp_path / "a")
    save_dataset(generate(150, 30, seed=7), tmp_path / "b")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert sorted(a) == sorted(
        [
            "users.parquet",
            "items.parquet",
            "interactions.parquet",
            "user_features.npy",
            "item_features.npy",
            "user_latent.npy",
            "item_latent.npy",
            "meta.yaml",
        ]
    )
    assert a == b


def test_existing_folder_needs_force_and_is_left_untouched(small, tmp_path):
    target = save_dataset(small, tmp_path / "ds")
    before = _digests(target)
    with pytest.raises(RlrecError, match="exists"):
        save_dataset(generate(10, 5, seed=1), target)
    assert _digests(target) == before
    save_dataset(generate(10, 5, seed=1), target, force=True)
    assert load_dataset(target).n_users == 10
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp folders left


def test_failed_write_leaves_nothing(small, tmp_path):
    broken = generate(10, 5, seed=1)
    broken.user_features = np.zeros((10, 3), dtype=object)  # np.save refuses object arrays
    broken.user_features[0, 0] = {"not": "a number"}
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is left
        save_dataset(broken, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "items.parquet").unlink(), r"items\.parquet: missing"),
        (lambda d: (d / "users.parquet").write_bytes(b"garbage"), "not a readable Parquet"),
        (lambda d: (d / "meta.yaml").write_text("name: [unclosed"), "not valid YAML"),
        (lambda d: _edit_meta(d, schema_version=99), "schema_version 99"),
        (lambda d: _edit_meta(d, n_users=5), "n_users: 5 but the table has 120"),
        (lambda d: np.save(d / "item_features.npy", np.zeros((40, 2))), "2 columns"),
        (lambda d: np.save(d / "user_latent.npy", np.zeros((3, 20))), "3 rows"),
        (lambda d: _edit_table(d, "interactions.parquet", "item_id", 1, 400), "row 2: item_id 400"),
        (lambda d: _edit_table(d, "interactions.parquet", "event", 2, "hover"), "row 3: event"),
        (lambda d: _edit_table(d, "users.parquet", "user_id", 3, 77), "row 4: user_id is 77"),
        (lambda d: _drop_column(d, "items.parquet", "category"), "missing column 'category'"),
    ],
)
def test_load_names_what_is_wrong(small, tmp_path, damage, message):
    folder = save_dataset(small, tmp_path / "ds")
    damage(folder)
    with pytest.raises(RlrecError, match=message):
        load_dataset(folder)


def test_load_of_missing_folder(tmp_path):
    with pytest.raises(RlrecError, match="no such dataset folder"):
        load_dataset(tmp_path / "nope")


def _edit_meta(folder, **changes):
    meta = yaml.safe_load((folder / "meta.yaml").read_text())
    meta.update(changes)
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))


def _edit_table(folder, name, column, row, value):
    frame = pd.read_parquet(folder / name)
    frame.loc[row, column] = value
    frame.to_parquet(folder / name, index=False)


def _drop_column(folder, name, column):
    pd.read_parquet(folder / name).drop(columns=column).to_parquet(folder / name, index=False)


def test_force_never_replaces_a_folder_that_is_not_a_dataset(small, tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(RlrecError, match="not an rlrec dataset folder"):
        save_dataset(small, precious, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_dataset(save_dataset(small, empty, force=True)).n_users == 120


def test_failed_write_removes_the_parents_it_created(tmp_path):
    broken = generate(10, 5, seed=1)
    broken.item_features = np.zeros((5, 2), dtype=object)
    broken.item_features[0, 0] = {"x": 1}
    with pytest.raises(Exception):  # noqa: B017 - the failure itself is not the point
        save_dataset(broken, tmp_path / "a" / "b" / "out")
    assert list(tmp_path.iterdir()) == []
