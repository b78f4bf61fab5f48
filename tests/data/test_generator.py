"""The synthetic generator: the seed's population, the choice model, and determinism."""

import numpy as np
import pandas as pd
import pytest

from rlrec.data import default_dataset
from rlrec.data.errors import RlrecError
from rlrec.data.generator import (
    CATEGORIES,
    EVENTS,
    MAX_INTERACTIONS,
    TIME_END,
    TIME_START,
    _GuidedSearch,
    _ItemSampler,
    category_slug,
    generate,
)


@pytest.fixture(scope="module")
def ds():
    return generate(n_users=3000, n_items=400, seed=3)


def test_shapes_and_schema(ds):
    assert ds.n_users == 3000 and ds.n_items == 400
    assert ds.users["user_id"].tolist() == list(range(3000))
    assert ds.items["item_id"].tolist() == list(range(400))
    assert ds.user_features.shape == (3000, len(ds.meta["user_feature_names"]))
    assert ds.item_features.shape == (400, len(ds.meta["item_feature_names"]))
    assert ds.user_latent.shape == (3000, 20) and ds.item_latent.shape == (400, 20)
    assert ds.user_latent.dtype == np.float32 and ds.item_features.dtype == np.float32
    assert ds.meta["n_interactions"] == len(ds.interactions)
    for column in ("segment", "price_sensitivity", "age", "gender", "income", "location"):
        assert column in ds.users
    for column in ("category", "price", "quality", "popularity", "brand_tier", "seasonality"):
        assert column in ds.items
    assert ds.items["title"].iloc[0].startswith(ds.items["category"].iloc[0] + " #")


def test_population_marginals_follow_the_issue(ds):
    ages = ds.users["age"].value_counts(normalize=True)
    assert ages[25] == pytest.approx(0.25, abs=0.03) and ages[65] == pytest.approx(0.05, abs=0.02)
    assert ds.users["gender"].value_counts(normalize=True)["O"] == pytest.approx(0.10, abs=0.02)
    assert ds.users["price_sensitivity"].mean() == pytest.approx(2 / 7, abs=0.02)
    prefs = ds.users[[f"pref_{category_slug(c)}" for c in CATEGORIES]].to_numpy()
    np.testing.assert_allclose(prefs.sum(axis=1), 1.0, atol=1e-5)
    # The segment's share is doubled then renormalised: E[2x / (1 + x)] ≈ 0.17 against 0.10.
    segment_col = pd.Categorical(ds.users["segment"], categories=CATEGORIES).codes
    segment_pref = prefs[np.arange(len(prefs)), segment_col]
    assert segment_pref.mean() == pytest.approx(0.17, abs=0.02)
    assert ds.items["quality"].between(1, 5).all()
    assert ds.items["popularity"].mean() == pytest.approx(0.2, abs=0.03)
    # Quality rises with price.
    assert np.corrcoef(np.log(ds.items["price"]), ds.items["quality"])[0, 1] > 0.3
    travel = ds.items.loc[ds.items["category"] == "Travel", "price"].median()
    books = ds.items.loc[ds.items["category"] == "Books", "price"].median()
    assert travel > 2.5 * books


def test_interactions_follow_the_issue(ds):
    inter = ds.interactions
    per_user = inter.groupby("user_id").size().reindex(range(ds.n_users), fill_value=0)
    assert per_user.min() >= 1 and per_user.max() <= MAX_INTERACTIONS
    means = per_user.groupby(ds.users["activity"]).mean()
    assert means["Low"] == pytest.approx(5, rel=0.15)
    assert means["High"] == pytest.approx(50, rel=0.1)
    assert set(inter["event"]) <= set(EVENTS)
    rated = inter["event"].isin(["purchase", "rating"])
    assert inter.loc[rated, "rating"].between(1, 5).all()
    assert inter.loc[~rated, "rating"].isna().all()
    assert inter["timestamp"].between(TIME_START, TIME_END - 1).all()
    # Time-ordered within each user; sessions are per user and hour.
    assert (inter.groupby("user_id")["timestamp"].diff().dropna() >= 0).all()
    hour = (inter["timestamp"] - TIME_START) // 3600
    assert inter.groupby("session_id")[["user_id"]].nunique().max().item() == 1
    assert (inter.groupby(["user_id", hour])["session_id"].nunique() == 1).all()


def test_item_sampler_matches_the_choice_model_exactly():
    """The rejection sampler draws from the issue's formula (checked against brute force)."""
    small = generate(n_users=3, n_items=12, seed=5)
    prefs = small.users[[f"pref_{category_slug(c)}" for c in CATEGORIES]].to_numpy(np.float64)
    ps = small.users["price_sensitivity"].to_numpy(np.float64)
    items = small.items.copy()
    items["price"] = np.linspace(10, 5000, 12).astype(np.float32)  # make the price term bite
    price = items["price"].to_numpy(np.float64)
    cat = pd.Categorical(items["category"], categories=CATEGORIES).codes
    weight = (
        prefs[0, cat]
        * np.maximum(0.1, 1 - ps[0] * price / 1000)
        * (1 + items["popularity"].to_numpy(np.float64))
        * items["quality"].to_numpy(np.float64)
        / 5
    )
    expected = weight / weight.sum()
    sampler = _ItemSampler(items, prefs, ps)
    draws = sampler.draw(np.random.default_rng(0), np.zeros(200_000, dtype=np.int64))
    observed = np.bincount(draws, minlength=12) / len(draws)
    np.testing.assert_allclose(observed, expected, atol=0.005)


@pytest.mark.parametrize(
    "weights",
    [
        np.random.default_rng(1).uniform(0.2, 2.0, 5000),  # the generator's item weights
        np.array([0.0, 1.0, 0.0, 0.0, 2.5, 0.0]),  # empty items: repeated cumulative values
        np.array([1.0]),
        np.r_[np.full(100, 1e-9), 1e6],  # skewed: many values share a bucket
    ],
)
def test_guided_search_is_searchsorted(weights):
    """The guide table gives exactly np.searchsorted(side="left"), including values equal to
    an entry, zero and values beyond the last entry."""
    cumulative = np.cumsum(weights)
    top = cumulative[-1]
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.random(20_000) * top, cumulative, np.nextafter(cumulative, 0), [0.0, top * 1.5]]
    )
    np.testing.assert_array_equal(
        _GuidedSearch(cumulative)(values), np.searchsorted(cumulative, values, "left")
    )


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate(200, 50, seed=1), generate(200, 50, seed=1), generate(200, 50, seed=2)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.items, b.items)
    np.testing.assert_array_equal(a.user_latent, b.user_latent)
    assert not a.interactions.equals(c.interactions)


def test_progress_reports_fractions_up_to_one():
    seen = []
    generate(100, 20, seed=0, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"n_users": 0}, "n_users=0"),
        ({"n_items": -5}, "n_items=-5"),
        ({"seed": -1}, "seed=-1"),
        ({"activity": 0.0}, "activity=0"),
        ({"activity": 21}, "activity=21"),
        ({"activity": "lots"}, "activity='lots'"),
    ],
)
def test_bad_sizes_name_the_argument(kwargs, culprit):
    with pytest.raises(RlrecError, match=culprit):
        generate(**kwargs)


def test_default_dataset_is_cached_and_seed_42():
    first = default_dataset()
    assert first is default_dataset()
    assert (first.n_users, first.n_items, first.meta["seed"]) == (1000, 500, 42)


def test_activity_scales_the_interaction_log_and_keeps_the_population():
    base = generate(n_users=400, n_items=60, seed=5)
    dense = generate(n_users=400, n_items=60, seed=5, activity=3.0)
    sparse = generate(n_users=400, n_items=60, seed=5, activity=0.25)
    ratio = len(dense.interactions) / len(base.interactions)
    assert 2.7 < ratio < 3.3  # Poisson means scale by 3 (the cap too)
    assert len(sparse.interactions) < 0.4 * len(base.interactions)
    assert sparse.interactions.groupby("user_id").size().min() >= 1  # nobody is left empty
    assert base.users.equals(dense.users) and base.items.equals(dense.items)
    assert dense.meta["activity"] == 3.0 and dense.name.endswith("-activity3")
    assert base.meta["activity"] == 1.0 and base.name == "synthetic-400x60-seed5"


def test_sizes_that_cannot_fit_are_refused_before_drawing(monkeypatch):
    """One line with the estimate and the limit, naming n_users; nothing is allocated."""
    from rlrec.data import memory
    from rlrec.data.errors import RlrecError
    from rlrec.data.generator import generate

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**30)  # 1 GiB left
    with pytest.raises(RlrecError, match=r"needs about [\d.]+ GiB .* more than the 1.0 GiB") as err:
        generate(1_000_000, 1000, 0)
    assert err.value.option == "n_users" and err.value.allowed[1] < 1_000_000
    assert generate(200, 50, 0).n_users == 200  # small sizes still fit
