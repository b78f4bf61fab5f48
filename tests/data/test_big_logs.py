"""The generic log importer read columnar: the same dataset and the same file:line errors as
the text it replaces, with unmapped columns, blank rows, quoted line breaks, other encodings
and Parquet copies of the same log."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlrec.data.csvlog import import_csv
from rlrec.data.errors import RlrecError
from rlrec.engine.usecases.datasets import import_log_dataset

MAPPING = {"user_col": "user", "item_col": "item", "timestamp_col": "time", "event_col": "event"}
EVENTS = ("view", "click", "purchase")


def _rows(n: int) -> list[tuple[str, str, str, str, str]]:
    """(user, item, ISO time, event, note) rows with distinct times and text ids."""
    rows = []
    for r in range(n):
        second = 1_546_300_800 + 7 * r
        time = pd.Timestamp(second, unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append((f"u{r % 37:03d}", f"sku-{(r * 13) % 101}", time, EVENTS[r % 3], f"n{r}"))
    return rows


def _write(path, rows, sep=",", encoding="utf-8") -> None:
    lines = [sep.join(("user", "item", "time", "event", "note"))] + [sep.join(r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.items, b.items)


def test_event_log_with_text_ids_iso_times_and_an_unmapped_column(tmp_path):
    rows = _rows(3000)
    _write(tmp_path / "log.csv", rows)
    ds = import_csv(tmp_path / "log.csv", **MAPPING)
    assert len(ds.interactions) == 3000
    assert ds.meta["timestamp_unit"] == "iso 8601"
    assert sorted(ds.users["original_id"]) == sorted({r[0] for r in rows})
    assert set(ds.interactions["event"].unique()) == set(EVENTS)
    first = ds.interactions.sort_values("timestamp").iloc[0]
    assert first["timestamp"] == 1_546_300_800
    assert ds.users["original_id"][first["user_id"]] == "u000"
    assert ds.items["original_id"][first["item_id"]] == "sku-0"


def test_a_bad_timestamp_deep_in_the_log_names_file_line_column_and_value(tmp_path):
    rows = _rows(5000)
    rows[4321] = (*rows[4321][:2], "2019-13-45T00:00:00Z", *rows[4321][3:])
    _write(tmp_path / "log.csv", rows)
    with pytest.raises(RlrecError) as error:
        import_csv(tmp_path / "log.csv", **MAPPING)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'log.csv'}:4323: timestamp '2019-13-45T00:00:00Z'")
    assert "timestamp_col" in message and "\n" not in message
    assert error.value.line == 4323 and error.value.value == "2019-13-45T00:00:00Z"


def test_quoted_line_breaks_in_an_unmapped_column_keep_line_numbers(tmp_path):
    rows = _rows(400)
    rows[10] = (*rows[10][:4], '"two\nlines"')
    rows[300] = (*rows[300][:3], "browse", rows[300][4])
    _write(tmp_path / "log.csv", rows)
    with pytest.raises(RlrecError, match=r"log\.csv:303: event 'browse' is not one of"):
        import_csv(tmp_path / "log.csv", **MAPPING)


def test_blank_rows_are_skipped_and_later_rows_keep_their_lines(tmp_path):
    rows = _rows(200)
    _write(tmp_path / "clean.csv", rows)
    blank = rows[:50] + [("", "", "", "", "")] + rows[50:]
    _write(tmp_path / "blank.csv", blank)
    _same(
        import_csv(tmp_path / "blank.csv", **MAPPING), import_csv(tmp_path / "clean.csv", **MAPPING)
    )
    blank[150] = (blank[150][0], "", *blank[150][2:])
    _write(tmp_path / "blank.csv", blank)
    with pytest.raises(RlrecError, match=r"blank\.csv:152: empty id in column 'item'"):
        import_csv(tmp_path / "blank.csv", **MAPPING)


@pytest.mark.parametrize(
    ("encoding", "given"),
    [("latin-1", None), ("latin-1", "latin-1"), ("utf-16", "utf-16"), ("utf-8-sig", None)],
)
def test_other_encodings_give_the_same_dataset(tmp_path, encoding, given):
    rows = [(f"usér{r[0]}", *r[1:]) for r in _rows(500)]
    _write(tmp_path / "utf8.csv", rows, sep=";")
    _write(tmp_path / "other.csv", rows, sep=";", encoding=encoding)
    ds = import_csv(tmp_path / "other.csv", encoding=given, **MAPPING)
    _same(ds, import_csv(tmp_path / "utf8.csv", **MAPPING))
    assert ds.users["original_id"][0].startswith("usér")


def test_a_byte_the_given_encoding_cannot_decode_names_its_line(tmp_path):
    rows = [(f"usér{r[0]}", *r[1:]) for r in _rows(100)]
    _write(tmp_path / "latin.csv", rows, encoding="latin-1")
    with pytest.raises(RlrecError, match=r"latin\.csv:2: byte 0xe9 at column 3 is not valid"):
        import_csv(tmp_path / "latin.csv", encoding="utf-8", **MAPPING)


def test_parquet_copy_with_typed_times_gives_the_same_dataset(tmp_path):
    rows = _rows(2000)
    _write(tmp_path / "log.csv", rows)
    frame = pd.DataFrame(rows, columns=["user", "item", "time", "event", "note"])
    stamps = pa.array(pd.to_datetime(frame["time"]), type=pa.timestamp("us", tz="UTC"))
    table = pa.table({"user": frame["user"], "item": frame["item"], "time": stamps,
                      "event": frame["event"]})  # fmt: skip
    pq.write_table(table, tmp_path / "log.parquet")
    from_parquet = import_csv(tmp_path / "log.parquet", **MAPPING)
    _same(from_parquet, import_csv(tmp_path / "log.csv", **MAPPING))
    assert from_parquet.meta["timestamp_unit"] == "iso 8601"


def test_a_failed_import_writes_nothing(tmp_path):
    rows = _rows(1000)
    rows[777] = (*rows[777][:2], "", *rows[777][3:])
    _write(tmp_path / "log.csv", rows)
    with pytest.raises(RlrecError, match=r"log\.csv:779: missing timestamp"):
        import_log_dataset(tmp_path / "log.csv", out=tmp_path / "ds", **MAPPING)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_a_null_time_in_a_typed_parquet_column_names_its_row(tmp_path):
    stamps = pa.array([1_546_300_800_000 + 1000 * r for r in range(40)], pa.timestamp("ms"))
    stamps = pa.array([None if r == 29 else v for r, v in enumerate(stamps.to_pylist())],
                      pa.timestamp("ms"))  # fmt: skip
    table = pa.table({"user": [f"u{r % 5}" for r in range(40)], "item": ["a", "b"] * 20,
                      "time": stamps, "event": ["view"] * 40})  # fmt: skip
    pq.write_table(table, tmp_path / "log.parquet")
    with pytest.raises(RlrecError, match=r"log\.parquet: row 30: missing timestamp"):
        import_csv(tmp_path / "log.parquet", **MAPPING)


def test_dates_read_in_blocks_equal_pandas_reading_the_whole_column(monkeypatch):
    """Blocks of zoned, naive, mixed and sub-millisecond dates: Arrow or pandas per block,
    the same instants as pandas on the whole column; a bad date is blamed on its own row."""
    from rlrec.data import timestamps

    monkeypatch.setattr(timestamps, "ISO_BLOCK_ROWS", 4)
    values = [
        "2019-01-01T00:00:00Z", "2019-01-01T01:00:00+02:00", "2019-01-02T00:00:00.5Z",
        "2019-01-03T00:00:00Z",  # block 1: all zoned (Arrow)
        "2019-02-01", "2019-02-01 10:00", "2019-02-01T10:00:00.250", "1969-12-31T23:59:59",
        "2019-03-01T00:00:00Z", "2019-03-01T00:00:00", "2019-03-01T00:00:00.123456Z",
        "1960-06-01T12:00:00-05:00",  # block 3: mixed and finer than ms (pandas)
        "2020-02-29T12:00:00Z",
    ]  # fmt: skip
    raw = pd.Series(pd.array(values, dtype="str"))

    def fail(row, text, value):
        raise AssertionError(text)

    got, unit = timestamps.parse_timestamps(raw, fail)
    whole = pd.to_datetime(raw, utc=True, format="ISO8601").dt.tz_convert(None)
    assert unit == "iso 8601"
    assert got.tolist() == whole.to_numpy().astype("datetime64[ms]").astype("int64").tolist()
    bad = pd.Series(pd.array([*values[:9], "2019-02-30T00:00:00Z", *values[10:]], dtype="str"))

    def blame(row, text, value):
        raise RlrecError(f"row {row + 1}: {value!r}: {text}")

    with pytest.raises(RlrecError, match=r"row 10: '2019-02-30T00:00:00Z': .* neither"):
        timestamps.parse_timestamps(bad, blame)
