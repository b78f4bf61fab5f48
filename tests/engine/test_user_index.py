"""engine.serving.user_index: finding and searching users without scanning the population."""

from __future__ import annotations

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.generator import generate
from rlrec.engine.serving import explain
from rlrec.engine.serving.user_index import (
    UserIndex,
    build_user_index,
    plain_user_index,
    user_index_for,
)


def _index() -> UserIndex:
    ids = np.array(["u-B", "u-a", "x7", "12", "1", "120", "u-ab"])
    segment = np.array(["Books", "Music", "Books", "Home & Garden", "Music", "Books", "Music"])
    activity = np.array(["high", "low", "medium", "low", "high", "low", "medium"])
    return UserIndex(ids, segment, activity, np.array([3, 0, 5, 1, 2, 9, 4]))


def _brute(index: UserIndex, query: str) -> list[int]:
    """The search's rule, one user at a time."""
    out = []
    for row in range(index.n_users):
        original, segment, activity, _ = index.rows(np.array([row]))[0]
        if all(
            original.lower().startswith(w)
            or str(row).startswith(w)
            or w in segment.lower()
            or w in activity.lower()
            for w in query.lower().split()
        ):
            out.append(row)
    return out


def test_find_is_exact_on_the_original_id():
    index = _index()
    assert index.find("u-B") == 0 and index.find("u-ab") == 6 and index.find("12") == 3
    assert index.find("u-b") is None  # ids are compared exactly, case included
    assert index.find("u") is None and index.find("") is None
    assert index.find(12) == 3  # a number finds the id spelt that way


@pytest.mark.parametrize(
    "query",
    [
        "",
        "u-a",
        "U-A",
        "u-",
        "u-b",
        "1",
        "12",
        "120",
        "x",
        "books",
        "BOOKS low",
        "mus",
        "&",
        "0",
        "6",
        "low 1",
        "nobody",
        "garden h",
    ],
)
def test_search_matches_the_rule_user_by_user(query):
    index = _index()
    assert index.search(query).tolist() == _brute(index, query)


def test_search_specifics():
    index = _index()
    assert index.search("u-a").tolist() == [1, 6]  # prefix: "u-ab" too, not "u-B"
    # Row 1 by its index; rows 3, 4, 5 by their ids 12, 1 and 120.
    assert index.search("1").tolist() == [1, 3, 4, 5]
    assert index.search("books low").tolist() == [5]
    assert index.search("   ").tolist() == list(range(7))
    assert index.search("zzz").size == 0


def test_row_indices_are_searched_by_prefix_too():
    index = plain_user_index(1205)
    assert index.search("120").tolist() == [120, *range(1200, 1205)]
    assert index.search("0").tolist() == [0]
    assert index.search("07").size == 0  # no index is written with a leading zero
    assert index.rows(np.array([3]))[0] == ("3", "", "", None)


def test_rows_give_the_cells_in_the_order_asked():
    index = _index()
    assert index.rows(np.array([5, 0])) == [("120", "Books", "low", 9), ("u-B", "Books", "high", 3)]
    assert index.max_id_length == 4 and index.max_interactions == 9


@pytest.mark.parametrize("shuffle", [False, True])
def test_interaction_rows_are_the_users_rows_in_log_order(shuffle):
    rng = np.random.default_rng(0)
    users = np.sort(rng.integers(0, 50, 400))
    if shuffle:
        users = rng.permutation(users)
    index = UserIndex(np.arange(60).astype(str), log_users=users)
    for user in (0, 7, 49, 55):  # 55: no interactions
        assert index.interaction_rows(user).tolist() == np.flatnonzero(users == user).tolist()
    with pytest.raises(ValueError):
        plain_user_index(3).interaction_rows(0)


def test_a_generated_dataset_and_the_explainer_agree_with_scans():
    dataset = generate(n_users=300, n_items=40, seed=3)
    index = build_user_index(dataset)
    assert index.segment_from == "segment"
    assert (
        index.interactions.tolist()
        == np.bincount(dataset.interactions["user_id"].to_numpy(), minlength=300).tolist()
    )
    segment = str(dataset.users["segment"].iloc[17])
    assert (
        index.search(segment).tolist()
        == np.flatnonzero(
            dataset.users["segment"].astype(str).str.lower().str.contains(segment.lower())
        ).tolist()
    )
    assert user_index_for(dataset) is user_index_for(dataset)  # built once per dataset
    original = str(dataset.users["original_id"].iloc[123])
    assert explain.user_index(dataset, original) == 123
    with pytest.raises(RlrecError, match="not in the dataset"):
        explain.user_index(dataset, "no-such-user")
    log = dataset.interactions
    expected = log[log["user_id"] == 123].sort_values("timestamp", ascending=False, kind="stable")
    history = explain.user_history(dataset, 123)
    assert [h["item"] for h in history] == expected["item_id"].astype(int).tolist()
