"""engine.explain: nearest history items by cosine, category match, user list and profile."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.engine.serving import explain


def _tiny(with_preferences: bool = True) -> Dataset:
    """3 users, 5 items. Item vectors chosen so cosines are easy to compute by hand."""
    users = pd.DataFrame(
        {
            "user_id": np.arange(3, dtype=np.int32),
            "original_id": ["u-a", "u-b", "u-c"],
            "segment": ["Books", "Music", "Books"],
            "activity": ["High", "Low", "Medium"],
        }
    )
    if with_preferences:
        users["pref_books"] = np.float32([0.7, 0.1, 0.5])
        users["pref_music"] = np.float32([0.2, 0.6, 0.1])
        users["pref_home_garden"] = np.float32([0.1, 0.3, 0.4])
    items = pd.DataFrame(
        {
            "item_id": np.arange(5, dtype=np.int32),
            "original_id": [f"i{i}" for i in range(5)],
            "category": ["Books", "Books", "Music", "Home & Garden", "Music"],
            "title": ["Dune", "Emma", "Blue", "Rake", "Kind of Blue"],
        }
    )
    item_features = np.array(
        [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 2, 0]], dtype=np.float32
    )
    interactions = pd.DataFrame(
        {
            "user_id": np.int32([0, 0, 0, 0, 1]),
            "item_id": np.int32([0, 2, 3, 2, 4]),
            "event": ["rating", "view", "click", "purchase", "view"],
            "rating": np.float32([5, np.nan, np.nan, 4, np.nan]),
            "timestamp": np.int64([10, 20, 30, 40, 50]),
            "session_id": np.int64([1, 1, 2, 2, 3]),
        }
    )
    meta = {"name": "tiny", "categories": ["Books", "Music", "Home & Garden"]}
    return Dataset(users, items, interactions, np.zeros((3, 1), np.float32), item_features, meta)


def test_nearest_history_items_ranked_by_cosine():
    ds = _tiny()
    why = explain.explain_recommendation(ds, 0, 1, k=3)
    # item 1 = (1,1,0): cos with item 0 (1,0,0) = cos with item 2 (0,1,0) = 1/√2, item 3 = 0.
    sims = {n["item"]: n["similarity"] for n in why["nearest"]}
    assert sims[0] == pytest.approx(1 / math.sqrt(2))
    assert sims[2] == pytest.approx(1 / math.sqrt(2))
    assert sims[3] == pytest.approx(0.0)
    assert [n["item"] for n in why["nearest"]][-1] == 3
    # item 2 appears twice in the history (view then purchase): listed once, strongest event.
    two = next(n for n in why["nearest"] if n["item"] == 2)
    assert two["event"] == "purchase" and two["rating"] == 4.0
    assert not why["in_history"]


def test_k_limits_the_list_and_most_similar_comes_first():
    ds = _tiny()
    why = explain.explain_recommendation(ds, 0, 4, k=1)
    assert [n["item"] for n in why["nearest"]] == [2]  # (0,2,0) is parallel to (0,1,0)
    assert why["nearest"][0]["similarity"] == pytest.approx(1.0)
    assert "Blue" in why["summary"]


def test_category_match_uses_declared_preferences_and_segment():
    ds = _tiny()
    why = explain.explain_recommendation(ds, 0, 1)
    match = why["category_match"]
    assert match["category"] == "Books"
    assert match["rank"] == 1 and match["of"] == 3
    assert match["weight"] == pytest.approx(0.7)
    assert match["source"] == "declared"
    assert match["is_segment"] is True
    assert match["history_share"] == pytest.approx(1 / 4)
    other = explain.explain_recommendation(ds, 1, 1)["category_match"]
    assert other["rank"] == 3 and other["is_segment"] is False


def test_category_preferences_fall_back_to_history_shares():
    ds = _tiny(with_preferences=False)
    prefs = explain.category_preferences(ds, 0)
    assert prefs[0] == {"category": "Music", "weight": 0.5, "source": "history"}
    assert {p["category"]: p["weight"] for p in prefs} == {
        "Music": 0.5,
        "Books": 0.25,
        "Home & Garden": 0.25,
    }
    # A user with no history has zero weight everywhere (and still gets an explanation).
    prefs2 = explain.category_preferences(ds, 2)
    assert all(p["weight"] == 0 for p in prefs2)
    why = explain.explain_recommendation(ds, 2, 0)
    assert why["nearest"] == [] and "no history" in why["summary"]


def test_zero_vectors_have_zero_similarity_not_nan():
    ds = _tiny()
    vectors = np.zeros((5, 2), dtype=np.float32)
    why = explain.explain_recommendation(ds, 0, 1, item_vectors=vectors)
    assert all(n["similarity"] == 0.0 for n in why["nearest"])
    assert why["vectors"] == "given item vectors"


def test_bad_user_item_k_and_vectors_are_one_line_errors():
    ds = _tiny()
    with pytest.raises(RlrecError, match=r"user 3 is out of range \(allowed 0..2\)"):
        explain.explain_recommendation(ds, 3, 0)
    with pytest.raises(RlrecError, match="item -1 is out of range"):
        explain.explain_recommendation(ds, 0, -1)
    with pytest.raises(RlrecError, match="k = 0"):
        explain.explain_recommendation(ds, 0, 0, k=0)
    with pytest.raises(RlrecError, match="item vectors have 2 rows"):
        explain.explain_recommendation(ds, 0, 0, item_vectors=np.ones((2, 3)))


def test_user_overview_counts_and_filter():
    ds = _tiny()
    overview = explain.user_overview(ds)
    assert overview["interactions"].tolist() == [4, 1, 0]
    assert overview["segment"].tolist() == ["Books", "Music", "Books"]
    assert overview.attrs["segment_from"] == "segment"
    ml_like = _tiny()
    ml_like.users = ml_like.users.drop(columns=["segment"]).assign(occupation=["a", "b", "c"])
    assert explain.user_overview(ml_like)["segment"].tolist() == ["a", "b", "c"]
    assert explain.user_overview(ml_like).attrs["segment_from"] == "occupation"
    assert explain.filter_users(overview, "books")["user"].tolist() == [0, 2]
    assert explain.filter_users(overview, "BOOKS medium")["user"].tolist() == [2]
    assert explain.filter_users(overview, "u-b")["user"].tolist() == [1]
    assert explain.filter_users(overview, "  ")["user"].tolist() == [0, 1, 2]
    assert explain.filter_users(overview, "nobody").empty


def test_profile_and_history_newest_first():
    ds = _tiny()
    profile = explain.user_profile(ds, 0)
    assert profile["n_interactions"] == 4 and profile["distinct_items"] == 3
    assert profile["events"] == {"rating": 1, "view": 1, "click": 1, "purchase": 1}
    assert profile["attributes"]["segment"] == "Books"
    assert "pref_books" not in profile["attributes"]
    history = explain.user_history(ds, 0, limit=2)
    assert [h["timestamp"] for h in history] == [40, 30]
    assert history[0]["title"] == "Blue" and history[0]["rating"] == 4.0
    assert history[1]["rating"] is None


def test_works_on_a_generated_dataset():
    from rlrec.data.generator import generate

    ds = generate(n_users=40, n_items=30, seed=3)
    user = int(ds.interactions["user_id"].iloc[0])
    why = explain.explain_recommendation(ds, user, 5, k=4)
    assert 1 <= len(why["nearest"]) <= 4
    sims = [n["similarity"] for n in why["nearest"]]
    assert sims == sorted(sims, reverse=True)
    assert why["category_match"]["source"] == "declared"
    assert sum(p["weight"] for p in explain.category_preferences(ds, user)) == pytest.approx(1.0)


def test_original_ids_map_to_rows_and_unknown_ids_are_errors():
    ds = _tiny()
    assert explain.user_index(ds, "u-c") == 2
    assert explain.item_index(ds, "i3") == 3
    with pytest.raises(RlrecError, match="item 'nope' is not in the dataset"):
        explain.item_index(ds, "nope")
    plain = explain.plain_overview(4)
    assert plain["original_id"].tolist() == ["0", "1", "2", "3"]
    assert explain.filter_users(plain, "3")["user"].tolist() == [3]
