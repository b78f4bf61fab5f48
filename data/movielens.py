"""MovieLens 100K, 1M and the ratings.csv releases (ml-latest, ml-latest-small, ml-20m,
ml-25m), read from the user's own copy (nothing is downloaded or shipped).

100K: u.data (user TAB item TAB rating TAB timestamp), u.item (pipe-separated: id,
title, release date, video release date, IMDb URL, 19 genre flags), u.user (id|age|gender|
occupation|zip). 1M: ratings.dat, movies.dat (id::title::A|B genres) and users.dat
(id::gender::age code::occupation code::zip), all '::'-separated. Text files are read as
UTF-8 when valid, else Latin-1 (the original files' encoding), unless an encoding is given.

Every rating becomes an interaction with event "rating". Items keep title, genres ("A|B"),
category (the first genre) and year; users keep age, gender, occupation and zip. Features:
multi-hot genres and a scaled release year for items; one-hot age bucket, gender and
occupation for users.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from rlrec.data.assemble import (
    activity_features,
    build_interactions,
    one_hot,
    reject_duplicates,
    stack_features,
)
from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.data.errors import RlrecError, require_file
from rlrec.data.logtable import (
    CsvTable,
    check_import_fits,
    read_csv_table,
    read_number_columns,
)
from rlrec.data.scale import check_threshold, require_positives
from rlrec.data.schema import DEFAULT_POSITIVE_RATING
from rlrec.data.textio import (
    ConsecutiveLines,
    Fields,
    check_encoding,
    check_range,
    parse_floats,
    parse_ints,
    read_text,
    split_fields,
)

Progress = Callable[[float, str], None]

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
GENRES_1M = GENRES_100K[1:]
# ML-1M occupation codes (from its README).
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
# ML-1M age codes are the lower bounds of these buckets; 100K exact ages are bucketed alike.
AGE_BUCKET_BOUNDS = (1, 18, 25, 35, 45, 50, 56)
AGE_BUCKET_NAMES = ("under18", "18_24", "25_34", "35_44", "45_49", "50_55", "56plus")
RATING_RANGE = (1.0, 5.0)

FILES_100K = ("u.data", "u.item", "u.user")
FILES_1M = ("ratings.dat", "movies.dat", "users.dat")
FILES_LATEST = ("ratings.csv", "movies.csv")
RATING_RANGE_LATEST = (0.5, 5.0)  # half stars
# Files of the ml-20m / ml-25m releases besides ratings and movies: accepted, listed in
# meta.yaml ("side_files") and the import's notes, not read (tags and the tag genome
# describe movies by free text, links point to other sites).
SIDE_FILES_LATEST = ("tags.csv", "links.csv", "genome-scores.csv", "genome-tags.csv")


def detect_format(path: Path) -> tuple[str, Path]:
    """('100k' | '1m' | 'latest', folder) for a MovieLens folder or one of its files."""
    if not path.exists():
        raise RlrecError(f"{path}: no such file or folder", file=path)
    folder = path if path.is_dir() else path.parent
    if (folder / "u.data").exists():
        return "100k", folder
    if (folder / "ratings.dat").exists():
        return "1m", folder
    if (folder / "ratings.csv").exists():
        return "latest", folder
    raise RlrecError(
        f"{folder}: not a MovieLens folder (expected u.data, u.item, u.user for 100K, "
        f"ratings.dat, movies.dat, users.dat for 1M, or ratings.csv, movies.csv for ml-latest, ml-latest-small, ml-20m or ml-25m)"
    )


def import_movielens(
    path: str | Path,
    name: str | None = None,
    progress: Progress | None = None,
    encoding: str | None = None,
    positive_threshold: float | None = None,
) -> Dataset:
    """Import a MovieLens 100K, 1M or ratings.csv (ml-latest, ml-latest-small, ml-20m, ml-25m)
    folder (detected from its file names).

    Text is decoded as `encoding`, or, when None, as UTF-8 if valid else Latin-1 (the original
    files are Latin-1; copies re-saved as UTF-8 are common). `positive_threshold` None: 4 on
    MovieLens' 1-5 star scale."""
    report = progress or (lambda fraction, message: None)
    encoding = check_encoding(encoding)
    threshold = check_threshold(positive_threshold)
    kind, folder = detect_format(Path(path))
    if kind == "latest":
        ds = _import_latest(folder, name, report, encoding)
        return _with_threshold(ds, threshold)
    files = FILES_100K if kind == "100k" else FILES_1M
    for file in files:
        require_file(folder / file, "missing", f"MovieLens {kind.upper()} needs {', '.join(files)}")
    sep = "\t" if kind == "100k" else "::"
    check_import_fits(folder / files[0], sep)  # the ratings: the only large file
    report(0.0, f"reading {files[2]}")
    if kind == "100k":
        users = _users_100k(folder / "u.user", encoding)
    else:
        users = _users_1m(folder / "users.dat", encoding)
    report(0.1, f"reading {files[1]}")
    if kind == "100k":
        items = _items_100k(folder / "u.item", encoding)
    else:
        items = _items_1m(folder / "movies.dat", encoding)
    report(0.2, f"reading {files[0]}")
    ratings = split_fields(folder / files[0], read_text(folder / files[0], encoding), sep, 4)
    report(0.6, "checking ratings")
    user_orig = parse_ints(ratings, ratings.columns[0], "user id")
    item_orig = parse_ints(ratings, ratings.columns[1], "item id")
    rating = parse_floats(ratings, ratings.columns[2], "rating")
    timestamp = parse_ints(ratings, ratings.columns[3], "timestamp")
    check_range(ratings, rating, "rating", *RATING_RANGE)
    user_id = _lookup(ratings, user_orig, users, "user id", files[2])
    item_id = _lookup(ratings, item_orig, items, "item id", files[1])
    reject_duplicates(ratings.where, ratings.location, (user_id, item_id, timestamp))
    report(0.8, "building the dataset")
    events = np.full(len(user_id), "rating", dtype=object)
    interactions = build_interactions(user_id, item_id, events, rating, timestamp)
    genres = GENRES_100K if kind == "100k" else GENRES_1M
    report(1.0, "done")
    ds = _dataset(users, items, interactions, genres, f"movielens-{kind}", name, folder)
    return _with_threshold(ds, threshold)


def _with_threshold(ds: Dataset, threshold: float | None) -> Dataset:
    """Record the positive threshold (4 on the star scale unless given); refuse a dataset
    where nothing counts as positive."""
    chosen = DEFAULT_POSITIVE_RATING if threshold is None else threshold
    require_positives(ds.interactions, chosen, str(ds.meta["imported_from"]), option=True)
    ds.meta["rating_scale"] = (
        "1-5 stars" if ds.meta["source"] != "movielens-latest" else ("half stars up to 5")
    )
    ds.meta["positive_threshold"] = chosen
    return ds


def _dataset(
    users: pd.DataFrame,
    items: pd.DataFrame,
    interactions: pd.DataFrame,
    genres: tuple[str, ...],
    source: str,
    name: str | None,
    folder: Path,
    rating_range: tuple[float, float] = RATING_RANGE,
) -> Dataset:
    """The Dataset with features and meta, shared by every MovieLens format."""
    item_features, item_names = _item_features(items, genres)
    if {"age", "gender", "occupation"} <= set(users.columns):
        user_features, user_names = _user_features(users)
    else:  # ML-latest has no user file: describe users by their activity
        user_features, user_names = activity_features(
            interactions, "user_id", len(users), "activity"
        )
    meta = {
        "name": name or source,
        "source": source,
        "seed": None,
        "n_users": len(users),
        "n_items": len(items),
        "n_interactions": len(interactions),
        "user_feature_names": user_names,
        "item_feature_names": item_names,
        "schema_version": SCHEMA_VERSION,
        "imported_from": str(folder),
        "rating_range": list(rating_range),
    }
    return Dataset(users, items, interactions, user_features, item_features, meta)


def _import_latest(
    folder: Path, name: str | None, report: Progress, encoding: str | None
) -> Dataset:
    """ml-latest / ml-latest-small: ratings.csv (userId,movieId,rating,timestamp) and
    movies.csv (movieId,title,genres), comma-separated with a header and quoted titles."""
    for file in FILES_LATEST:
        require_file(folder / file, "missing", "MovieLens latest needs ratings.csv, movies.csv")
    check_import_fits(folder / "ratings.csv", ",", typed=True)  # the text reader checks again
    report(0.0, "reading movies.csv")
    movies = read_csv_table(folder / "movies.csv", ",", encoding)
    assert movies.line is not None  # a text file: every row has a line number
    movie_fields = Fields(movies.path, [], movies.line)
    movie_ids = parse_ints(movie_fields, _column(movies, "movieId"), "movieId")
    title = _column(movies, "title")
    genres = _column(movies, "genres").replace({"(no genres listed)": "unknown", "": "unknown"})
    year = pd.to_numeric(title.str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    items = pd.DataFrame(
        {
            "original_id": movie_ids.astype(str),
            "title": title.to_numpy(dtype=object).astype(str),
            "category": genres.str.split("|").str[0].to_numpy(dtype=object).astype(str),
            "genres": genres.to_numpy(dtype=object).astype(str),
            "year": year.astype("Int32").array,
        }
    )
    items = _with_ids(items.iloc[_sorted_by_id(movie_fields, movie_ids, "movieId")], "item_id")
    report(0.2, "reading ratings.csv")
    fields, user_orig, item_orig, rating, timestamp = _latest_ratings(folder, encoding)
    report(0.6, "checking ratings")
    check_range(fields, rating, "rating", *RATING_RANGE_LATEST)
    user_catalogue, user_id = _distinct_codes(user_orig)
    users = _with_ids(pd.DataFrame({"original_id": user_catalogue.astype(str)}), "user_id")
    catalogue = items["original_id"].to_numpy(dtype=object).astype(np.int64)  # sorted
    item_id = _lookup_sorted(fields, item_orig, catalogue, "movieId", "movies.csv")
    del user_orig, item_orig
    reject_duplicates(fields.where, fields.location, (user_id, item_id, timestamp))
    report(0.8, "building the dataset")
    interactions = build_interactions(user_id, item_id, "rating", rating, timestamp)
    source = "movielens-latest"
    report(1.0, "done")
    ds = _dataset(users, items, interactions, GENRES_1M, source, name, folder, RATING_RANGE_LATEST)
    side = [file for file in SIDE_FILES_LATEST if (folder / file).exists()]
    if side:
        ds.meta["side_files"] = side
    return ds


def _latest_ratings(
    folder: Path, encoding: str | None
) -> tuple[Fields, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(where each row is, userId, movieId, rating, timestamp) of ratings.csv.

    A clean file (the usual case, 25M rows for ML-25M) is read typed and columnar; anything
    unusual (a bad value, a blank line, a missing column) is read as text, which names the
    file, line and value of the first problem."""
    path = folder / "ratings.csv"
    types = {"userId": pa.int64(), "movieId": pa.int64(), "rating": pa.float64(),
             "timestamp": pa.int64()}  # fmt: skip
    columns = read_number_columns(path, types, ",", encoding)
    if columns is not None:
        rows = len(columns["userId"])
        fields = Fields(path, [], ConsecutiveLines(2, rows))
        return fields, *(columns[name] for name in types)  # type: ignore[return-value]
    check_import_fits(path, ",")  # the text reader keeps every cell as text
    ratings = read_csv_table(path, ",", encoding)
    assert ratings.line is not None
    fields = Fields(ratings.path, [], ratings.line)
    user_orig = parse_ints(fields, _column(ratings, "userId"), "userId")
    item_orig = parse_ints(fields, _column(ratings, "movieId"), "movieId")
    rating = parse_floats(fields, _column(ratings, "rating"), "rating")
    timestamp = parse_ints(fields, _column(ratings, "timestamp"), "timestamp")
    return fields, user_orig, item_orig, rating, timestamp


def _distinct_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, each row's int32 index into them) of int64 `ids`, in linear
    time through a presence table when the ids span a range not much larger than the rows."""
    low, high = int(ids.min()), int(ids.max())
    if high - low > 4 * len(ids) + 1024:
        distinct, codes = np.unique(ids, return_inverse=True)
        return distinct, codes.astype(np.int32)
    present = np.zeros(high - low + 1, dtype=bool)
    offsets = ids - low
    present[offsets] = True
    index = (np.cumsum(present, dtype=np.int64) - 1).astype(np.int32)
    return np.flatnonzero(present) + low, index[offsets]


def _lookup_sorted(
    fields: Fields, original: np.ndarray, catalogue: np.ndarray, what: str, file: str
) -> np.ndarray:
    """Each row's int32 index into the sorted int64 `catalogue`; an id not in it raises
    RlrecError on its row."""
    low, high = int(catalogue[0]), int(catalogue[-1])
    position: np.ndarray
    if high - low <= 4 * len(original) + 1024:  # a table over the id range: no search
        table = np.full(high - low + 1, -1, dtype=np.int32)
        table[catalogue - low] = np.arange(len(catalogue), dtype=np.int32)
        inside = (original >= low) & (original <= high)
        position = table[np.where(inside, original - low, 0)]
        position[~inside] = -1
        missing = np.flatnonzero(position < 0)
    else:
        position = np.searchsorted(catalogue, original)
        np.minimum(position, len(catalogue) - 1, out=position)
        missing = np.flatnonzero(catalogue[position] != original)
    if len(missing):
        row = int(missing[0])
        raise RlrecError(
            f"{fields.where(row)}: {what} {original[row]} is not listed in {file}",
            **fields.location(row),
        )
    return position.astype(np.int32)


def _column(table: CsvTable, name: str) -> pd.Series:
    if name not in table.frame.columns:
        found = ", ".join(map(str, table.frame.columns))
        raise RlrecError(f"{table.path}:1: missing column {name!r} (header: {found})")
    return table.frame[name].astype(str).str.strip()


def _lookup(fields: Fields, original: np.ndarray, table: pd.DataFrame, what: str, file: str):
    catalogue = pd.Index(table["original_id"].to_numpy(dtype=object).astype(np.int64))
    codes = catalogue.get_indexer(pd.Index(original))
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        row = int(missing[0])
        raise RlrecError(
            f"{fields.where(row)}: {what} {original[row]} is not listed in {file}",
            **fields.location(row),
        )
    return codes


def _sorted_by_id(fields: Fields, ids: np.ndarray, what: str) -> np.ndarray:
    """Row order that sorts by numeric id; a repeated id is an error."""
    order = np.argsort(ids, kind="stable")
    repeat = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if len(repeat):
        row = int(order[repeat[0] + 1])
        raise RlrecError(
            f"{fields.where(row)}: {what} {ids[row]} is listed twice", **fields.location(row)
        )
    return order


def _users_100k(path: Path, encoding: str | None) -> pd.DataFrame:
    fields = split_fields(path, read_text(path, encoding), "|", 5)
    ids = parse_ints(fields, fields.columns[0], "user id")
    age = parse_ints(fields, fields.columns[1], "age")
    check_range(fields, age, "age", 1, 120)
    frame = pd.DataFrame(
        {
            "original_id": ids.astype(str),
            "age": age.astype(np.int32),
            "gender": fields.columns[2].to_numpy(dtype=object).astype(str),
            "occupation": fields.columns[3].to_numpy(dtype=object).astype(str),
            "zip": fields.columns[4].to_numpy(dtype=object).astype(str),
        }
    )
    return _with_ids(frame.iloc[_sorted_by_id(fields, ids, "user id")], "user_id")


def _users_1m(path: Path, encoding: str | None) -> pd.DataFrame:
    fields = split_fields(path, read_text(path, encoding), "::", 5)
    ids = parse_ints(fields, fields.columns[0], "user id")
    age = parse_ints(fields, fields.columns[2], "age code")
    occupation = parse_ints(fields, fields.columns[3], "occupation code")
    check_range(fields, occupation, "occupation code", 0, len(OCCUPATIONS_1M) - 1)
    frame = pd.DataFrame(
        {
            "original_id": ids.astype(str),
            "age": age.astype(np.int32),
            "gender": fields.columns[1].to_numpy(dtype=object).astype(str),
            "occupation": np.asarray(OCCUPATIONS_1M)[occupation],
            "zip": fields.columns[4].to_numpy(dtype=object).astype(str),
        }
    )
    return _with_ids(frame.iloc[_sorted_by_id(fields, ids, "user id")], "user_id")


def _items_100k(path: Path, encoding: str | None) -> pd.DataFrame:
    fields = split_fields(path, read_text(path, encoding), "|", 5 + len(GENRES_100K))
    ids = parse_ints(fields, fields.columns[0], "item id")
    flag_columns = fields.columns[5:]
    flags = np.stack([c.to_numpy(dtype=object).astype(str) for c in flag_columns], axis=1)
    bad = np.argwhere((flags != "0") & (flags != "1"))
    if len(bad):
        row, col = bad[0]
        raise RlrecError(
            f"{fields.where(row)}: genre flag {flags[row, col]!r} for {GENRES_100K[col]} "
            f"(field {col + 6}) is not 0 or 1"
        )
    flagged = pd.DataFrame(flags == "1", columns=list(GENRES_100K))
    genres = flagged.astype(int).dot(pd.Series([g + "|" for g in GENRES_100K], index=GENRES_100K))
    genres = genres.str.rstrip("|").replace("", "unknown")
    release = fields.columns[2]
    year = pd.to_numeric(release.str[-4:], errors="coerce")
    frame = pd.DataFrame(
        {
            "original_id": ids.astype(str),
            "title": fields.columns[1].to_numpy(dtype=object).astype(str),
            "category": genres.str.split("|").str[0].to_numpy(dtype=object).astype(str),
            "genres": genres.to_numpy(dtype=object).astype(str),
            "year": year.astype("Int32").array,
            "release_date": release.to_numpy(dtype=object).astype(str),
        }
    )
    return _with_ids(frame.iloc[_sorted_by_id(fields, ids, "item id")], "item_id")


def _items_1m(path: Path, encoding: str | None) -> pd.DataFrame:
    fields = split_fields(path, read_text(path, encoding), "::", 3)
    ids = parse_ints(fields, fields.columns[0], "item id")
    title = fields.columns[1]
    genres = fields.columns[2].replace("", "unknown")
    year = pd.to_numeric(title.str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    frame = pd.DataFrame(
        {
            "original_id": ids.astype(str),
            "title": title.to_numpy(dtype=object).astype(str),
            "category": genres.str.split("|").str[0].to_numpy(dtype=object).astype(str),
            "genres": genres.to_numpy(dtype=object).astype(str),
            "year": year.astype("Int32").array,
        }
    )
    return _with_ids(frame.iloc[_sorted_by_id(fields, ids, "item id")], "item_id")


def _with_ids(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, id_column, np.arange(len(frame), dtype=np.int32))
    return frame


def _age_bucket(age: pd.Series) -> pd.Series:
    index = np.searchsorted(AGE_BUCKET_BOUNDS, age.to_numpy(), side="right") - 1
    return pd.Series(np.asarray(AGE_BUCKET_NAMES)[np.clip(index, 0, None)])


def _user_features(users: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    return stack_features(
        [
            one_hot(_age_bucket(users["age"]), "age", AGE_BUCKET_NAMES),
            one_hot(users["gender"], "gender"),
            one_hot(users["occupation"], "occupation"),
        ],
        len(users),
    )


def _item_features(items: pd.DataFrame, genres: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    known = list(genres) + sorted(
        set(items["genres"].str.split("|").explode().unique()) - set(genres)
    )
    multi_hot = items["genres"].str.get_dummies(sep="|").reindex(columns=known, fill_value=0)
    year = items["year"].astype("float64")
    filled = year.fillna(year.mean() if year.notna().any() else 0.0).to_numpy()
    span = filled.max() - filled.min()
    year_scaled = (filled - filled.min()) / span if span > 0 else np.zeros(len(items))
    return stack_features(
        [
            (multi_hot.to_numpy(np.float32), [f"genre_{g}" for g in known]),
            (year_scaled.astype(np.float32)[:, None], ["year_scaled"]),
        ],
        len(items),
    )
