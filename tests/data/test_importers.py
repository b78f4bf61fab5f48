"""MovieLens 100K / 1M and CSV imports: counts, ids, metadata, features."""

import numpy as np
import pandas as pd
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.importers import import_csv, import_movielens
from rlrec.data.store import load_dataset, save_dataset
from tests.data.ml_fixtures import write_csv_log, write_ml1m, write_ml100k


def test_movielens_100k_counts_ids_and_latin1_title(tmp_path):
    ds = import_movielens(write_ml100k(tmp_path / "ml"))
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 5, 6)
    assert ds.meta["source"] == "movielens-100k"
    assert ds.items["original_id"].tolist() == ["10", "20", "30", "40", "50"]
    assert ds.items.loc[1, "title"] == "Caf\u00e9 Society (1996)"
    assert ds.items["genres"].tolist() == [
        "Animation|Comedy",
        "Drama",
        "Action|Crime|Thriller",
        "unknown",
        "Comedy",
    ]
    assert ds.items["category"].tolist() == ["Animation", "Drama", "Action", "unknown", "Comedy"]
    assert ds.items["year"].tolist() == [1995, 1996, 1995, 1994, 1993]
    assert ds.users["occupation"].tolist() == ["technician", "other", "student"]
    assert (ds.interactions["event"] == "rating").all()
    # Original (user 3, item 10) is the earliest rating of user index 2.
    inter = ds.interactions
    first_of_3 = inter[inter["user_id"] == 2].iloc[0]
    assert (first_of_3["item_id"], first_of_3["rating"], first_of_3["timestamp"]) == (
        0,
        5.0,
        881250000,
    )
    names = ds.meta["item_feature_names"]
    drama = names.index("genre_Drama")
    assert ds.item_features[:, drama].tolist() == [0, 1, 0, 0, 0]
    assert ds.item_features.shape == (5, len(names))
    user_names = ds.meta["user_feature_names"]
    assert ds.user_features[2, user_names.index("age_under18")] == 1.0
    assert ds.user_features[1, user_names.index("age_50_55")] == 1.0


def test_movielens_1m_counts_and_codes(tmp_path):
    ds = import_movielens(write_ml1m(tmp_path / "ml1m") / "ratings.dat")  # a file works too
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 5, 7)
    assert ds.meta["source"] == "movielens-1m"
    assert ds.items["original_id"].tolist() == ["661", "1193", "2355", "3408", "9999"]
    assert ds.items.loc[4, "title"] == "Pok\u00e9mon (1999)"
    assert ds.items.loc[0, "genres"] == "Animation|Children's|Musical"
    assert ds.items.loc[0, "category"] == "Animation"
    assert ds.users["occupation"].tolist() == ["K-12 student", "self-employed", "homemaker"]
    assert ds.users["original_id"].tolist() == ["1", "2", "6"]
    per_user = ds.interactions.groupby("user_id").size().tolist()
    assert per_user == [2, 2, 3]


def test_csv_log_with_mapping(tmp_path):
    log = write_csv_log(tmp_path / "log.csv")
    ds = import_csv(
        log,
        user_col="visitor",
        item_col="product",
        rating_col="stars",
        event_col="kind",
        timestamp_col="when",
        category_col="section",
    )
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 3, 6)
    assert ds.users["original_id"].tolist() == ["alice", "bob", "carol, jr"]
    assert ds.items["original_id"].tolist() == ["sku-10", "sku-2", "sku-9"]
    assert ds.items["category"].tolist() == ["Books", "Toys", "Books"]
    counts = ds.interactions["event"].value_counts().to_dict()
    assert counts == {"click": 2, "view": 2, "purchase": 1, "rating": 1}
    carol = ds.interactions[ds.interactions["user_id"] == 2].iloc[0]
    assert carol["rating"] == 5.0 and carol["timestamp"] == 1709467200
    assert ds.meta["timestamp_unit"] == "iso 8601"
    assert "category_Books" in ds.meta["item_feature_names"]


def test_csv_without_optional_columns_uses_row_order_and_click(tmp_path):
    log = write_csv_log(tmp_path / "log.tsv", "u\ti\nb\tx\na\ty\nb\ty\n")
    ds = import_csv(log, user_col="u", item_col="i")
    assert (ds.n_users, ds.n_items) == (2, 2)
    assert (ds.interactions["event"] == "click").all()
    b = ds.interactions[ds.interactions["user_id"] == 1]
    assert b["timestamp"].tolist() == [0, 2]
    assert ds.meta["timestamp_unit"] == "row order"


def test_parquet_log_and_milliseconds(tmp_path):
    frame = pd.DataFrame(
        {"u": [7, 7, 3], "i": [1, 2, 1], "r": [1.5, 4.0, 3.0], "t": [1_700_000_000_000] * 3}
    )
    frame["t"] += [0, 1000, 2000]
    frame.to_parquet(tmp_path / "log.parquet")
    ds = import_csv(tmp_path / "log.parquet", "u", "i", rating_col="r", timestamp_col="t")
    assert ds.users["original_id"].tolist() == ["3", "7"]  # numeric ids sort numerically
    assert ds.interactions["timestamp"].min() == 1_700_000_000
    assert ds.meta["timestamp_unit"] == "unix milliseconds"


def test_duplicates_are_an_error_or_dropped_on_request(tmp_path):
    log = write_csv_log(tmp_path / "d.csv", "u,i,t\na,x,5\nb,x,6\na,x,5\n")
    with pytest.raises(RlrecError, match=r"d\.csv:4: duplicate of .*d\.csv:2"):
        import_csv(log, "u", "i", timestamp_col="t")
    ds = import_csv(log, "u", "i", timestamp_col="t", duplicates="keep-first")
    assert len(ds.interactions) == 2 and ds.meta["duplicates_dropped"] == 1


def test_imports_round_trip_through_the_store(tmp_path):
    ds = import_movielens(write_ml100k(tmp_path / "ml"))
    loaded = load_dataset(save_dataset(ds, tmp_path / "out"))
    pd.testing.assert_frame_equal(loaded.items, ds.items)
    assert loaded.user_latent is None
    np.testing.assert_array_equal(loaded.item_features, ds.item_features)


def test_shared_ml100k_like_fixture_imports(tmp_path):
    from tests.fixtures import write_ml100k_like

    folder = write_ml100k_like(tmp_path / "like", n_users=50, n_items=60, n_ratings=800)
    ds = import_movielens(folder)
    assert (ds.n_users, ds.n_items) == (50, 60)
    lines = (folder / "u.data").read_text().splitlines()
    assert len(ds.interactions) == len(lines)


def test_duplicate_rows_point_at_the_earliest_copy():
    from rlrec.data.assemble import duplicate_rows

    user = np.array([1, 2, 1, 1, 2, 3])
    item = np.array([5, 5, 5, 5, 5, 5])
    time = np.array([9, 8, 9, 9, 8, 9])
    rows, originals = duplicate_rows((user, item, time))
    assert rows.tolist() == [2, 3, 4]
    assert originals.tolist() == [0, 0, 1]


def test_movielens_latest_small_format(tmp_path):
    from tests.data.ml_fixtures import write_ml_latest

    ds = import_movielens(write_ml_latest(tmp_path / "latest"))
    assert ds.meta["source"] == "movielens-latest"
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (2, 3, 4)
    assert ds.items.loc[1, "title"] == "American President, The (1995)"
    assert ds.items["category"].tolist() == ["Adventure", "Comedy", "unknown"]
    assert sorted(ds.interactions["rating"].tolist()) == [0.5, 3.5, 4.0, 5.0]
    assert ds.meta["user_feature_names"] == ["log_activity_scaled", "mean_rating_scaled"]


def test_movielens_latest_rating_out_of_range(tmp_path):
    from tests.data.ml_fixtures import write_ml_latest

    folder = write_ml_latest(tmp_path / "latest")
    text = (folder / "ratings.csv").read_text().replace("5,2,5.0", "5,2,6.0")
    (folder / "ratings.csv").write_text(text)
    with pytest.raises(RlrecError, match=r"ratings\.csv:5: rating 6 is outside 0\.5\.\.5"):
        import_movielens(folder)


def test_fractional_unix_seconds_are_floored(tmp_path):
    log = write_csv_log(tmp_path / "f.csv", "u,i,t\na,x,1700000000.75\nb,x,1700000100\n")
    ds = import_csv(log, "u", "i", timestamp_col="t")
    assert sorted(ds.interactions["timestamp"].tolist()) == [1_700_000_000, 1_700_000_100]
    assert ds.meta["timestamp_unit"] == "unix seconds"


def test_missing_release_year_survives_the_store(tmp_path):
    from tests.data.ml_fixtures import U_ITEM

    folder = write_ml100k(tmp_path / "ml")
    (folder / "u.item").write_bytes(U_ITEM.replace("01-Jan-1993", "").encode("latin-1"))
    ds = import_movielens(folder)
    assert ds.items["year"].isna().tolist() == [False, False, False, False, True]
    loaded = load_dataset(save_dataset(ds, tmp_path / "out"))
    pd.testing.assert_frame_equal(loaded.items, ds.items)
