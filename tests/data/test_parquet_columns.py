"""A Parquet log is read by the columns the mapping names; messages still see every column."""

from __future__ import annotations

import pandas as pd
import pytest

from rlrec.data.csvlog import import_csv
from rlrec.data.errors import RlrecError


def _wide_log(path):
    frame = pd.DataFrame(
        {
            "user": ["a", "b", "a", None],
            "item": [1, 2, 2, 1],
            "stars": [4.0, 5.0, 3.0, 1.0],
            "payload": [[1, 2], [3], [], [4]],  # a nested column no mapping asks for
        }
    )
    frame.iloc[:3].to_parquet(path)
    frame.to_parquet(path.with_name("null.parquet"))
    return path


def test_only_the_mapped_columns_are_read(tmp_path):
    ds = import_csv(_wide_log(tmp_path / "log.parquet"), "user", "item", rating_col="stars")
    assert ds.users["original_id"].tolist() == ["a", "b"]
    assert ds.items["original_id"].tolist() == ["1", "2"]
    assert sorted(ds.interactions["rating"].tolist()) == [3.0, 4.0, 5.0]


def test_a_missing_column_lists_every_column_of_the_file(tmp_path):
    path = _wide_log(tmp_path / "log.parquet")
    with pytest.raises(RlrecError, match=r"columns: user, item, stars, payload\)") as caught:
        import_csv(path, "user", "product")
    assert caught.value.allowed == ["user", "item", "stars", "payload"]


def test_a_null_id_is_named_by_its_row(tmp_path):
    _wide_log(tmp_path / "log.parquet")
    with pytest.raises(RlrecError, match=r"null\.parquet: row 4: empty id in column 'user'"):
        import_csv(tmp_path / "null.parquet", "user", "item")
