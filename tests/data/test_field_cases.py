"""The field cases of issue 11, each as a kind: encodings, Parquet like CSV, timestamps kept
to the millisecond and read per value, duplicates judged on what the file says, and rating
scales. Every test writes its own small files in the layout of the real ones."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from rlrec.data.errors import RlrecError
from rlrec.data.importers import import_csv, import_movielens
from rlrec.data.scale import positive_threshold, rating_scale
from rlrec.data.schema import positive_rows
from rlrec.data.store import load_dataset, save_dataset
from rlrec.engine.usecases.datasets import import_log_dataset, split_dataset_folder
from tests.data.ml_fixtures import U_DATA, U_USER, write_ml1m, write_ml100k

# -- 01: text encodings ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_movielens_100k_titles_in_either_encoding(tmp_path, encoding):
    folder = write_ml100k(tmp_path / "ml")
    item = "10|Caf\u00e9 Noir (1995)|01-Jan-1995||http://x|" + "|".join("0" * 19) + "\n"
    (folder / "u.item").write_bytes(item.encode(encoding))
    (folder / "u.data").write_text("1\t10\t5\t881250949\n", encoding="ascii")
    ds = import_movielens(folder)
    assert ds.items["title"].tolist() == ["Caf\u00e9 Noir (1995)"]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_movielens_1m_titles_with_crlf_in_either_encoding(tmp_path, encoding):
    folder = write_ml1m(tmp_path / "ml")
    movies = "661::Cr\u00e8me Br\u00fbl\u00e9e Club (1999)::Comedy\r\n"
    (folder / "movies.dat").write_bytes(movies.encode(encoding))
    ratings = "1::661::5::978302109\r\n"
    (folder / "ratings.dat").write_bytes(ratings.encode("ascii"))
    ds = import_movielens(folder)
    assert ds.items["title"].tolist() == ["Cr\u00e8me Br\u00fbl\u00e9e Club (1999)"]
    assert ds.items["genres"].tolist() == ["Comedy"]


def test_forced_encoding_is_used_as_given(tmp_path):
    log = tmp_path / "log.csv"
    log.write_bytes("user,item\nJos\u00e9,x\n".encode())
    assert import_csv(log, "user", "item").users["original_id"].tolist() == ["Jos\u00e9"]
    latin = import_csv(log, "user", "item", encoding="latin-1")
    assert latin.users["original_id"].tolist() == ["Jos\u00c3\u00a9"]
    with pytest.raises(RlrecError) as error:
        import_csv(log, "user", "item", encoding="ascii")
    assert error.value.option == "encoding"
    assert error.value.line == 2


# -- 07: every input format gives the same errors ----------------------------------------------


def _three_formats(tmp_path, frame: pd.DataFrame):
    """The same log as float Parquet, nullable-int Parquet and the CSV pandas writes."""
    paths = [tmp_path / "float.parquet", tmp_path / "nullable.parquet", tmp_path / "log.csv"]
    frame.to_parquet(paths[0])
    frame.astype({"user_id": "Int64"}).to_parquet(paths[1])
    frame.to_csv(paths[2], index=False)
    return paths


def test_null_id_is_one_line_in_every_format(tmp_path):
    frame = pd.DataFrame(
        {"user_id": [1.0, 2.0, 3.0, np.nan, 1.0, 2.0], "item_id": [10, 11, 12, 13, 14, 15],
         "ts": [100, 101, 102, 103, 104, 105]}
    )  # fmt: skip
    for path in _three_formats(tmp_path, frame):
        with pytest.raises(RlrecError) as error:
            import_csv(path, "user_id", "item_id", timestamp_col="ts")
        where = f"{path}:5" if path.suffix == ".csv" else f"{path}: row 4"
        assert str(error.value) == f"{where}: empty id in column 'user_id' (user_col)"
        assert (error.value.key, error.value.option) == ("user_id", "user_col")


def test_whole_float_ids_are_integers_in_every_format(tmp_path):
    frame = pd.DataFrame({"user_id": [1.0, 2.0, 3.0], "item_id": [10, 11, 12], "ts": [1, 2, 3]})
    for path in _three_formats(tmp_path, frame):
        ds = import_csv(path, "user_id", "item_id", timestamp_col="ts")
        assert ds.users["original_id"].tolist() == ["1", "2", "3"], path


def test_null_timestamp_names_its_own_row(tmp_path):
    path = tmp_path / "null_timestamp.parquet"
    frame = pd.DataFrame({"user": ["a", "b", "c", "d"], "item": ["x", "y", "z", "w"],
                          "ts": [1000.0, np.nan, 1002.0, 1003.0]})  # fmt: skip
    frame.to_parquet(path)
    with pytest.raises(RlrecError) as error:
        import_csv(path, "user", "item", timestamp_col="ts")
    assert str(error.value) == f"{path}: row 2: missing timestamp (timestamp_col ts)"
    assert error.value.row == 2


def test_parquet_timestamp_column_reads_as_dates(tmp_path):
    path = tmp_path / "dates.parquet"
    stamps = pd.to_datetime(["1969-12-31T23:59:59Z", "2024-03-01T10:00:00.250Z"], format="ISO8601")
    pq.write_table(pa.table({"u": ["a", "b"], "i": ["x", "y"], "t": stamps}), path)
    ds = import_csv(path, "u", "i", timestamp_col="t")
    assert sorted(ds.interactions["timestamp"]) == [-1, 1709287200]
    assert sorted(ds.interactions["timestamp_ms"]) == [-1000, 1709287200250]


# -- 05 and the timestamp kind: resolution, units, duplicates ----------------------------------

RETAILROCKET = (
    "timestamp,visitorid,event,itemid,transactionid\n"
    "1433221332117,900001,view,5001,\n"
    "1433224214164,900002,view,5002,\n"
    "1433226571001,900002,view,5002,\n"
    "1433227005006,900002,click,5002,\n"
    "1433227005007,900002,purchase,5002,4000\n"
    "1433230000000,900003,view,5001,\n"
    "1433230100000,900003,view,5003,\n"
)
RR_COLUMNS = {"event_col": "event", "timestamp_col": "timestamp"}


def test_milliseconds_are_kept_and_events_differ(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text(RETAILROCKET)
    for duplicates in ("error", "keep-first"):
        ds = import_csv(log, "visitorid", "itemid", **RR_COLUMNS, duplicates=duplicates)
        events = ds.interactions["event"].value_counts().to_dict()
        assert events == {"view": 5, "click": 1, "purchase": 1}
        assert ds.meta["duplicates_dropped"] == 0
    inter = ds.interactions
    assert inter["timestamp"].dtype == np.int64 and inter["timestamp_ms"].dtype == np.int64
    buy = inter[inter["event"] == "purchase"].iloc[0]
    assert (buy["timestamp"], buy["timestamp_ms"]) == (1433227005, 1433227005007)
    # The click comes before the purchase in the time order, whatever the file order.
    shuffled = tmp_path / "shuffled.csv"
    lines = RETAILROCKET.splitlines(keepends=True)
    shuffled.write_text(lines[0] + lines[5] + lines[4] + "".join(lines[1:4] + lines[6:]))
    inter = import_csv(shuffled, "visitorid", "itemid", **RR_COLUMNS).interactions
    user = inter[inter["user_id"] == 1]["event"].tolist()
    assert user == ["view", "view", "click", "purchase"]
    # Sessions are clock hours of the whole-second timestamp.
    assert (
        inter.groupby("session_id")["timestamp"].apply(lambda t: (t // 3600).nunique()).eq(1).all()
    )


def test_whole_second_logs_have_no_millisecond_column(tmp_path):
    log = tmp_path / "s.csv"
    log.write_text("u,i,t\na,x,1433227005000\nb,y,1433227006000\n")
    ds = import_csv(log, "u", "i", timestamp_col="t")
    assert "timestamp_ms" not in ds.interactions
    assert ds.meta["timestamp_unit"] == "unix milliseconds"


def test_keep_first_drops_only_true_repeats_and_lists_them(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text(RETAILROCKET + "1433227005007,900002,purchase,5002,4000\n")
    with pytest.raises(RlrecError) as error:
        import_csv(log, "visitorid", "itemid", **RR_COLUMNS)
    assert f"{log}:9: duplicate of {log}:6 (same user, item, event and time" in str(error.value)
    result = import_log_dataset(
        log, user_col="visitorid", item_col="itemid", duplicates="keep-first", **RR_COLUMNS
    )
    ds = result.dataset
    assert ds.interactions["event"].value_counts().to_dict() == {
        "view": 5, "click": 1, "purchase": 1}  # fmt: skip
    assert ds.meta["duplicates_dropped"] == 1
    assert ds.meta["duplicate_rows_dropped"] == [f"{log}:9 (same as {log}:6)"]
    assert result.notes == [
        f"dropped 1 duplicate row(s) (same user, item, event and time): {log}:9 (same as {log}:6)"
    ]
    assert result.summary()["notes"] == result.notes


@pytest.mark.parametrize(
    ("values", "expected_ms", "unit"),
    [
        (["-86400", "0", "86400.5"], [-86_400_000, 0, 86_400_500], "unix seconds"),
        (["1433227005006", "1433227005007"], [1433227005006, 1433227005007], "unix milliseconds"),
        (["1433227005006001"], [1433227005006], "unix microseconds"),
        (["1433227005006001002"], [1433227005006], "unix nanoseconds"),
        (["1960-01-01T00:00:00.123+02:00", "2024-03-01T10:00:00Z"],
         [-315626399877, 1709287200000], "iso 8601"),
    ],
)  # fmt: skip
def test_timestamp_units(values, expected_ms, unit):
    from rlrec.data.timestamps import parse_timestamps

    def fail(row, text, value):
        raise AssertionError(text)

    milliseconds, found = parse_timestamps(pd.Series(values), fail)
    assert milliseconds.tolist() == expected_ms
    assert found == unit


@pytest.mark.parametrize(
    ("column", "row", "text"),
    [
        (["1000", "1433227005006", "1001"], 3, "reads as unix milliseconds but most"),
        (["1433227005", "1433227005006", "1433227005007"], 2, "reads as unix seconds but most"),
        (["1000.0", "inf", "1002.0"], 3, "'inf' is neither a Unix time"),
        (["1000.0", "1001.0", "nan"], 4, "missing timestamp"),
        (["2024-01-01", "", "2024-01-02"], 3, "missing timestamp"),
        (["2024-01-01", "7"], 3, "is a Unix time but"),
    ],
)
def test_one_bad_timestamp_blames_its_own_line(tmp_path, column, row, text):
    log = tmp_path / "log.csv"
    body = "".join(f"u{n},i{n},{value}\n" for n, value in enumerate(column))
    log.write_text("u,i,t\n" + body)
    with pytest.raises(RlrecError) as error:
        import_csv(log, "u", "i", timestamp_col="t")
    assert str(error.value).startswith(f"{log}:{row}: ")
    assert text in str(error.value)
    assert error.value.line == row and error.value.option == "timestamp_col"


# -- 04: rating scales -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratings", "name", "threshold"),
    [
        ([0, 1, 1, 0, 1], "0/1 flags", 1.0),
        ([1, 2, 3, 4, 5], "1-5 stars", 4.0),
        ([0.5, 3.5, 5.0], "half stars up to 5", 4.0),
        ([1, 4, 7, 10], "1-10 scores", 7.0),
        ([0, 0, 0, 5, 8, 10], "1-10 scores, 0 = not rated", 7.0),
        ([1, 1, 74, 111, 11137], "numbers 1..11137", 74.0),
    ],
)
def test_rating_scale_gives_the_threshold(ratings, name, threshold):
    scale = rating_scale(np.asarray(ratings, dtype=np.float64))
    assert (scale.name, scale.threshold) == (name, threshold)


def _scored_log(tmp_path, name: str, values: np.ndarray) -> str:
    rng = np.random.default_rng(0)
    n = len(values)
    frame = pd.DataFrame({"user": rng.integers(0, 40, n), "item": rng.integers(0, 30, n),
                          "score": values, "ts": np.arange(n) + 1_600_000_000})  # fmt: skip
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_binary_likes_count_their_ones_and_meta_records_it(tmp_path):
    liked = (np.random.default_rng(1).random(480) < 0.6).astype(int)
    log = _scored_log(tmp_path, "likes.csv", liked)
    ds = import_csv(log, "user", "item", rating_col="score", timestamp_col="ts")
    assert ds.meta["positive_threshold"] == 1.0 and ds.meta["rating_scale"] == "0/1 flags"
    share = positive_rows(ds.interactions, positive_threshold(ds.meta)).mean()
    assert share == pytest.approx(liked.mean())
    save_dataset(ds, tmp_path / "likes")
    meta = yaml.safe_load((tmp_path / "likes" / "meta.yaml").read_text())
    assert meta["positive_threshold"] == 1.0
    assert positive_threshold(load_dataset(tmp_path / "likes").meta) == 1.0


def test_ten_point_scores_and_a_threshold_that_is_set(tmp_path):
    scores = np.random.default_rng(2).integers(1, 11, 480)
    log = _scored_log(tmp_path, "scores_1_to_10.csv", scores)
    ds = import_csv(log, "user", "item", rating_col="score", timestamp_col="ts")
    share = positive_rows(ds.interactions, positive_threshold(ds.meta)).mean()
    assert share == pytest.approx((scores >= 7).mean())
    ds = import_csv(log, "user", "item", rating_col="score", timestamp_col="ts",
                    positive_threshold=9)  # fmt: skip
    assert positive_threshold(ds.meta) == 9.0


def test_book_crossing_zero_is_an_implicit_interaction(tmp_path):
    log = tmp_path / "bx.csv"
    log.write_text("u,isbn,r\na,x,0\na,y,8\nb,x,0\nb,z,3\nc,y,0\n")
    ds = import_csv(log, "u", "isbn", rating_col="r")
    inter = ds.interactions
    assert inter["event"].tolist().count("click") == 3
    assert ds.meta["implicit_zero_ratings"] == 3
    assert positive_rows(inter, positive_threshold(ds.meta)).tolist() == [
        True, True, True, False, True]  # fmt: skip


def test_no_positives_stops_at_import_and_split(tmp_path):
    log = _scored_log(tmp_path, "likes.csv", np.zeros(20, dtype=int) + 1)
    with pytest.raises(RlrecError) as error:
        import_csv(log, "user", "item", rating_col="score", positive_threshold=4)
    assert str(error.value) == (
        f"{log}: no interaction counts as positive (ratings are 1..1, positive threshold 4); "
        "set positive_threshold"
    )
    # A dataset written before the threshold was recorded (default 4) stops at split.
    ds = import_csv(log, "user", "item", rating_col="score", timestamp_col="ts")
    del ds.meta["positive_threshold"]
    folder = save_dataset(ds, tmp_path / "old")
    with pytest.raises(RlrecError, match="no interaction counts as positive"):
        split_dataset_folder(str(folder))


def test_movielens_records_its_threshold(tmp_path):
    ds = import_movielens(write_ml100k(tmp_path / "ml"))
    assert (ds.meta["rating_scale"], ds.meta["positive_threshold"]) == ("1-5 stars", 4.0)
    folder = write_ml100k(tmp_path / "ml2")
    (folder / "u.data").write_text(U_DATA.replace("\t5\t", "\t3\t").replace("\t4\t", "\t3\t"))
    (folder / "u.user").write_text(U_USER)
    with pytest.raises(RlrecError, match=r"ratings are 1\.\.3, positive threshold 4"):
        import_movielens(folder)
