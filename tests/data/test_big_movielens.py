"""MovieLens in the ml-20m / ml-25m layout: half stars, '|' genres, quoted titles, side files,
and errors that name the file and line however deep in the file the bad row is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.movielens import import_movielens

STARS = ("0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0")
MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '11,"American President, The (1995)",Comedy|Drama|Romance\n'
    '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama\n'
    '32,"Twelve Monkeys (a.k.a. ""12 Monkeys"") (1995)",Mystery|Sci-Fi|Thriller\n'
    "131,Untitled,(no genres listed)\n"
    "209171,Women of Devil's Island (1962),Action|Adventure|Drama\n"
)
MOVIE_IDS = (1, 11, 29, 32, 131, 209171)


def _ratings(rows: int, seed: int = 0) -> list[str]:
    """`rows` ratings lines, sorted by user then movie as ML-25M's, each (user, movie) once."""
    rng = np.random.default_rng(seed)
    lines, user = [], 1
    while len(lines) < rows:
        movies = sorted(rng.choice(MOVIE_IDS, size=rng.integers(1, 7), replace=False))
        for movie in movies:
            star = STARS[rng.integers(0, len(STARS))]
            lines.append(f"{user},{movie},{star},{int(rng.integers(822_873_600, 1_574_000_000))}")
        user += 3  # sparse user ids, as after filtering
    return lines[:rows]


def write_ml25m_layout(folder: Path, rows: int = 3000, lines: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join(lines if lines is not None else _ratings(rows)) + "\n"
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + body)
    (folder / "movies.csv").write_text(MOVIES, encoding="utf-8")
    # Side files of ml-25m: not read (their shape does not matter to the import).
    (folder / "tags.csv").write_text(
        'userId,movieId,tag,timestamp\n4,29,"dark, visually stunning",1139045764\n4,131,,x\n'
    )
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,\n")
    return folder


def test_ml25m_layout_with_half_stars_genres_and_side_files(tmp_path):
    lines = _ratings(3000)
    ds = import_movielens(write_ml25m_layout(tmp_path / "ml", lines=lines))
    frame = pd.DataFrame([line.split(",") for line in lines], columns=["u", "m", "r", "t"])
    assert ds.meta["source"] == "movielens-latest"
    assert ds.meta["rating_scale"] == "half stars up to 5"
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (frame["u"].nunique(), 6, 3000)
    assert ds.users["original_id"].tolist() == sorted(frame["u"].unique(), key=int)
    assert ds.items["original_id"].tolist() == [str(m) for m in MOVIE_IDS]
    assert ds.items["title"].tolist()[1:4] == [
        "American President, The (1995)",
        "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
        'Twelve Monkeys (a.k.a. "12 Monkeys") (1995)',
    ]
    assert ds.items["category"].tolist() == [
        "Adventure", "Comedy", "Adventure", "Mystery", "unknown", "Action",
    ]  # fmt: skip
    assert set(ds.interactions["rating"].unique()) <= {float(s) for s in STARS}
    assert ds.interactions["rating"].sum() == pytest.approx(frame["r"].astype(float).sum())
    assert ds.interactions["user_id"].dtype == np.int32
    assert ds.interactions["rating"].dtype == np.float32
    names = ds.meta["item_feature_names"]
    twelve = ds.item_features[3]
    assert {n for n, v in zip(names, twelve, strict=True) if v == 1.0 and "genre" in n} == {
        "genre_Mystery", "genre_Sci-Fi", "genre_Thriller",
    }  # fmt: skip
    # Every rating kept once, per user in time order.
    inter = ds.interactions
    ordered = inter.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing)
    assert ordered.all()


def test_typed_reader_and_text_reader_give_the_same_dataset(tmp_path, monkeypatch):
    """The columnar reader (clean files) and the text reader (kept for its messages) agree."""
    import rlrec.data.movielens as movielens

    folder = write_ml25m_layout(tmp_path / "ml", rows=2000)
    fast = import_movielens(folder)
    monkeypatch.setattr(movielens, "read_number_columns", lambda *args, **kwargs: None)
    slow = import_movielens(folder)
    pd.testing.assert_frame_equal(fast.interactions, slow.interactions)
    pd.testing.assert_frame_equal(fast.users, slow.users)
    pd.testing.assert_frame_equal(fast.items, slow.items)
    np.testing.assert_array_equal(fast.user_features, slow.user_features)
    np.testing.assert_array_equal(fast.item_features, slow.item_features)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("4,11,abc,964982703", r"ratings\.csv:{line}: rating 'abc' is not a number"),
        ("4,11,5.5,964982703", r"ratings\.csv:{line}: rating 5\.5 is outside 0\.5\.\.5"),
        ("4,12,4.0,964982703", r"ratings\.csv:{line}: movieId 12 is not listed in movies\.csv"),
        ("4,11,4.0,", r"ratings\.csv:{line}: timestamp '\(empty\)' is not an integer"),
        ("4,11,4.0", r"ratings\.csv:{line}: expected 4 comma-separated fields"),
        ("x4,11,4.0,964982703", r"ratings\.csv:{line}: userId 'x4' is not an integer"),
    ],
)
def test_a_bad_row_deep_in_ratings_names_its_line(tmp_path, bad, message):
    lines = _ratings(5000)
    lines[4321] = bad  # data row 4321 is on line 4323 (the header is line 1)
    folder = write_ml25m_layout(tmp_path / "ml", lines=lines)
    with pytest.raises(RlrecError, match=message.format(line=4323)) as caught:
        import_movielens(folder)
    assert caught.value.line == 4323


def test_a_duplicate_deep_in_ratings_names_both_lines(tmp_path):
    lines = _ratings(5000)
    lines[4500] = lines[17]
    folder = write_ml25m_layout(tmp_path / "ml", lines=lines)
    with pytest.raises(RlrecError, match=r"ratings\.csv:4502: duplicate of .*ratings\.csv:19 "):
        import_movielens(folder)


def test_blank_lines_and_multi_line_quoted_fields_keep_line_numbers(tmp_path):
    lines = _ratings(3000)
    lines[100] += "\n"  # a blank line after data row 100
    lines[2000] = "4,11,x,964982703"  # on line 2000 + 2 + 1 (the blank line)
    folder = write_ml25m_layout(tmp_path / "ml", lines=lines)
    with pytest.raises(RlrecError, match=r"ratings\.csv:2003: rating 'x' is not a number"):
        import_movielens(folder)
    # A quoted note spanning two lines moves every later row one line down.
    noted = [line + ",ok" for line in _ratings(3000)]
    noted[10] = noted[10].removesuffix(",ok") + ',"two\nlines"'
    noted[2000] = "4,11,x,964982703,ok"
    header = "userId,movieId,rating,timestamp,note\n"
    (folder / "ratings.csv").write_text(header + "\n".join(noted) + "\n")
    with pytest.raises(RlrecError, match=r"ratings\.csv:2003: rating 'x' is not a number"):
        import_movielens(folder)


def test_a_title_spanning_lines_moves_later_movies_down(tmp_path):
    folder = write_ml25m_layout(tmp_path / "ml", rows=50)
    text = MOVIES.replace("Toy Story (1995)", '"Toy\nStory (1995)"')
    (folder / "movies.csv").write_text(text + "131,Again,Drama\n")
    # movie 131 again: data row 7, which starts on line 9 (header, 7 rows, one extra line)
    with pytest.raises(RlrecError, match=r"movies\.csv:9: movieId 131 is listed twice"):
        import_movielens(folder)


def test_duplicate_prefilter_matches_the_full_sort():
    from rlrec.data.assemble import _duplicates_by_sorting, duplicate_rows

    rng = np.random.default_rng(3)
    n = 5000
    keys = [rng.integers(0, 40, n), rng.integers(0, 30, n), rng.integers(0, 3, n)]
    rows, originals = duplicate_rows(keys)
    expected_rows, expected_originals = _duplicates_by_sorting(keys)
    assert len(rows) > 0
    assert rows.tolist() == expected_rows.tolist()
    assert originals.tolist() == expected_originals.tolist()


def testuser_time_order_matches_the_lexsort():
    from rlrec.data.assemble import user_time_order

    rng = np.random.default_rng(4)
    user, time = rng.integers(0, 50, 4000), rng.integers(10**9, 10**9 + 100, 4000)
    expected = np.lexsort((np.arange(4000), time, user))
    assert user_time_order(user, time).tolist() == expected.tolist()


HEADER = "userId,movieId,rating,timestamp"
ODD_FILES = {
    "crlf": lambda rows: HEADER + "\r\n" + "\r\n".join(rows) + "\r\n",
    "byte order mark": lambda rows: "\ufeff" + HEADER + "\n" + "\n".join(rows) + "\n",
    "no final newline": lambda rows: HEADER + "\n" + "\n".join(rows),
    "quoted numbers": lambda rows: (
        '"userId","movieId","rating","timestamp"\n'
        + "\n".join(",".join(f'"{v}"' for v in row.split(",")) for row in rows)
    ),
    "reordered, extra column": lambda rows: (
        "timestamp,rating,movieId,userId,x\n"
        + "\n".join(",".join(row.split(",")[::-1]) + ",z" for row in rows)
    ),
    "plus sign": lambda rows: HEADER + "\n+" + "\n".join(rows),
    "nan rating": lambda rows: HEADER + "\n" + "\n".join(rows) + "\n4,11,nan,9\n",
    "19-digit time": lambda rows: HEADER + "\n4,11,4.0,1234567890123456789\n" + "\n".join(rows),
    "blank lines at the end": lambda rows: HEADER + "\n" + "\n".join(rows) + "\n\n\n",
    "header only": lambda rows: HEADER + "\n",
}


@pytest.mark.parametrize("encoding", [None, "latin-1"])
@pytest.mark.parametrize("kind", sorted(ODD_FILES))
def test_odd_files_give_what_the_text_reader_gives(tmp_path, monkeypatch, kind, encoding):
    """Whatever the typed reader accepts, the text reader accepts alike; the rest it leaves
    to the text reader (same dataset, or the same error)."""
    import rlrec.data.movielens as movielens

    folder = write_ml25m_layout(tmp_path / "ml", rows=10)
    (folder / "ratings.csv").write_bytes(ODD_FILES[kind](_ratings(1200)).encode("utf-8"))

    def outcome():
        try:
            ds = import_movielens(folder, encoding=encoding)
        except RlrecError as exc:
            return str(exc)
        return ds.interactions, ds.users

    fast = outcome()
    monkeypatch.setattr(movielens, "read_number_columns", lambda *args, **kwargs: None)
    slow = outcome()
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast[0], slow[0])
        pd.testing.assert_frame_equal(fast[1], slow[1])


def test_side_files_and_the_tag_genome_are_accepted_and_reported(tmp_path):
    """ml-25m ships tags, links and the tag genome beside the ratings: the import reads the
    ratings and movies, never refuses the others, and says which it did not import."""
    from rlrec.engine.usecases.datasets import import_movielens_dataset

    folder = write_ml25m_layout(tmp_path / "ml-25m", rows=500)
    (folder / "genome-tags.csv").write_text("tagId,tag\n1,007\n2,007 (series)\n")
    (folder / "genome-scores.csv").write_text("movieId,tagId,relevance\n1,1,0.02875\n1,2,0.0\n")
    (folder / "README.txt").write_text("Summary\n=======\n")
    built = import_movielens_dataset(str(folder), out=str(tmp_path / "ds"))
    side = ["tags.csv", "links.csv", "genome-scores.csv", "genome-tags.csv"]
    assert built.dataset.meta["side_files"] == side
    assert built.notes == [f"not imported (MovieLens side files): {', '.join(side)}"]
    assert len(built.dataset.interactions) == 500


def test_ratings_and_movies_alone_report_no_side_files(tmp_path):
    folder = write_ml25m_layout(tmp_path / "ml", rows=300)
    for side in ("tags.csv", "links.csv"):
        (folder / side).unlink()
    ds = import_movielens(folder)
    assert "side_files" not in ds.meta
