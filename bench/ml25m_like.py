"""Write a synthetic log in the MovieLens ml-25m layout, for measuring imports at that size.

The real ML-25M cannot be downloaded here, so this writes its shape: ratings.csv
(userId,movieId,rating,timestamp; half stars 0.5-5.0 written "4.0"/"3.5", Unix seconds,
rows sorted by user then movie, every (user, movie) once), movies.csv (movieId,title,genres;
sparse movie ids up to ~209k, titles with commas and quotes written quoted, "A|B" genres or
"(no genres listed)"), tags.csv (userId,movieId,tag,timestamp) and links.csv
(movieId,imdbId,tmdbId). Default size: ML-25M's 162,541 users x 62,423 movies x 25,000,095
ratings; item popularity is Zipf-like and user activity heavy-tailed (at least 20 each, as in
MovieLens). Deterministic per seed. Never commit what it writes.

    .venv/bin/python bench/ml25m_like.py /tmp/ml25m                     # ML-25M size
    .venv/bin/python bench/ml25m_like.py /tmp/ml2m --ratings 2000000    # users/movies scaled
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

USERS, MOVIES, RATINGS = 162_541, 62_423, 25_000_095
GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
WORDS = ("Love", "Night", "Return", "Story", "Man", "City", "Dark", "Life", "Last", "Girl")
MIN_PER_USER = 20
STARS = np.array([f"{s / 2:.1f}" for s in range(1, 11)])  # "0.5" .. "5.0"
STAR_WEIGHTS = np.array([1.6, 3.3, 1.8, 6.8, 5.1, 19.6, 13.2, 26.6, 8.8, 14.5])  # ML-25M-like


def ratings_pairs(rng: np.random.Generator, users: int, movies: int, n: int) -> np.ndarray:
    """`n` distinct keys user * movies + movie, sorted: per-user activity heavy-tailed with at
    least MIN_PER_USER each, movie popularity Zipf-like (exponent 0.9)."""
    activity = rng.pareto(1.2, users) + 1.0
    per_user = MIN_PER_USER + np.floor(activity / activity.sum() * (n - MIN_PER_USER * users))
    per_user = np.minimum(per_user, movies // 2).astype(np.int64)
    popularity = 1.0 / np.arange(1, movies + 1) ** 0.9
    cdf = np.cumsum(rng.permutation(popularity))
    cdf /= cdf[-1]
    keys = np.empty(0, dtype=np.int64)
    user_weight = per_user / per_user.sum()
    wanted = n
    first = True
    while len(keys) < n:
        if first:  # each user's share first, then top-ups drawn by the same weights
            who = np.repeat(np.arange(users, dtype=np.int64), per_user)
            first = False
        else:
            who = rng.choice(users, size=int(wanted * 1.1) + 1000, p=user_weight)
        what = np.searchsorted(cdf, rng.random(len(who)))
        keys = _sorted_distinct(np.concatenate([keys, who * movies + what]))
        wanted = n - len(keys)
    if len(keys) > n:  # drop a random few, keeping the sort
        keys = np.sort(rng.choice(keys, size=n, replace=False))
    return keys


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2.4's hashing unique is far slower on 25M distinct)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


def write_ratings(rng: np.random.Generator, folder: Path, keys: np.ndarray, movies: int,
                  movie_ids: np.ndarray) -> None:  # fmt: skip
    user = (keys // movies + 1).astype(np.int32)
    movie = movie_ids[keys % movies]
    # Each user rates over a stretch of time starting somewhere in 1995-2019.
    start = rng.integers(789_652_009, 1_574_327_703, size=int(user.max()) + 1)
    timestamp = start[user] + rng.integers(0, 86_400 * 30, size=len(user))
    stars = rng.choice(len(STARS), size=len(user), p=STAR_WEIGHTS / STAR_WEIGHTS.sum())
    rating = pa.DictionaryArray.from_arrays(pa.array(stars.astype(np.int8)), pa.array(STARS))
    table = pa.table({"userId": user, "movieId": movie, "rating": rating, "timestamp": timestamp})
    with open(folder / "ratings.csv", "wb") as file:
        file.write(b"userId,movieId,rating,timestamp\n")
        pacsv.write_csv(table, file, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def movie_table(rng: np.random.Generator, movies: int) -> tuple[np.ndarray, pa.Table]:
    ids = np.sort(rng.choice(np.arange(1, 209_172), size=movies, replace=False)).astype(np.int32)
    years = rng.integers(1902, 2020, size=movies)
    w = rng.integers(0, len(WORDS), size=(movies, 2))
    titles = []
    for i in range(movies):
        title = f"{WORDS[w[i, 0]]} {WORDS[w[i, 1]]} {i}"
        if i % 7 == 0:
            title = f"{title}, The"  # a comma: written quoted
        if i % 97 == 0:
            title = f'{title} "Director\'s Cut"'  # quotes inside a quoted field
        if i % 50 != 1:  # a few titles carry no year, as in MovieLens
            title = f"{title} ({years[i]})"
        titles.append(title)
    counts = rng.integers(1, 4, size=movies)
    picks = rng.integers(0, len(GENRES), size=(movies, 3))
    genres = [
        "(no genres listed)"
        if i % 40 == 3
        else "|".join(dict.fromkeys(GENRES[g] for g in picks[i, : counts[i]]))
        for i in range(movies)
    ]
    return ids, pa.table({"movieId": ids, "title": titles, "genres": genres})


def write_side_files(rng: np.random.Generator, folder: Path, keys: np.ndarray, movies: int,
                     movie_ids: np.ndarray) -> None:  # fmt: skip
    """tags.csv (a tag on ~0.4% of ratings, some with commas) and links.csv."""
    tagged = np.sort(rng.choice(keys, size=max(1, len(keys) // 250), replace=False))
    words = np.array(["funny", "dark", "twist ending", "based on a book", "visually, stunning"])
    tags = pa.table(
        {
            "userId": (tagged // movies + 1).astype(np.int32),
            "movieId": movie_ids[tagged % movies],
            "tag": words[rng.integers(0, len(words), size=len(tagged))],
            "timestamp": rng.integers(1_137_000_000, 1_574_000_000, size=len(tagged)),
        }
    )
    write_text_csv(tags, folder / "tags.csv")
    links = pa.table(
        {
            "movieId": movie_ids,
            "imdbId": [f"{n:07d}" for n in rng.integers(1, 9_999_999, size=len(movie_ids))],
            "tmdbId": rng.integers(1, 600_000, size=len(movie_ids)),
        }
    )
    write_text_csv(links, folder / "links.csv")


def write_text_csv(table: pa.Table, path: Path) -> None:
    """As MovieLens writes its small files: a plain header, fields quoted only when needed."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows(
            zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--ratings", type=int, default=RATINGS)
    parser.add_argument("--users", type=int, help="default: ML-25M's, scaled to --ratings")
    parser.add_argument("--movies", type=int, help="default: ML-25M's, scaled to --ratings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scale = args.ratings / RATINGS
    users = args.users or max(10, round(USERS * scale))
    movies = args.movies or max(10, round(MOVIES * scale**0.5))
    if args.ratings > users * movies // 2:
        parser.error("too many ratings for that many users and movies")
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    args.folder.mkdir(parents=True, exist_ok=True)
    movie_ids, movies_csv = movie_table(rng, movies)
    write_text_csv(movies_csv, args.folder / "movies.csv")
    keys = ratings_pairs(rng, users, movies, args.ratings)
    write_ratings(rng, args.folder, keys, movies, movie_ids)
    write_side_files(rng, args.folder, keys, movies, movie_ids)
    seconds = time.perf_counter() - start
    print(
        f"{args.folder}: {len(keys):,} ratings by {users:,} users of {movies:,} movies "
        f"in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
