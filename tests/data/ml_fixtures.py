"""Tiny MovieLens-format folders and a CSV log, written byte by byte for the importer tests."""

from __future__ import annotations

from pathlib import Path

GENRE_FLAGS_100K = 19


def _flags(*on: int) -> str:
    return "|".join("1" if i in on else "0" for i in range(GENRE_FLAGS_100K))


# u.data: 6 ratings by 3 users on 4 of the 5 items (item 5 is in the catalogue, unrated).
U_DATA = (
    "1\t10\t5\t881250949\n"
    "1\t20\t3\t881250950\n"
    "2\t10\t4\t881251000\n"
    "2\t30\t1\t881254000\n"
    "3\t40\t2\t881260000\n"
    "3\t10\t5\t881250000\n"
)
# Item 20's title has a Latin-1 byte (0xE9, é); genres: 1 Action, 5 Comedy, 8 Drama.
U_ITEM = (
    f"10|Toy Story (1995)|01-Jan-1995||http://x/10|{_flags(3, 5)}\n"
    f"20|Caf\u00e9 Society (1996)|01-Jan-1996||http://x/20|{_flags(8)}\n"
    f"30|Heat (1995)|01-Jan-1995||http://x/30|{_flags(1, 6, 16)}\n"
    f"40|No Genre (1994)|01-Jan-1994||http://x/40|{_flags()}\n"
    f"50|Unrated (1993)|01-Jan-1993||http://x/50|{_flags(5)}\n"
)
U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n3|17|M|student|32067\n"


def write_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(U_DATA, encoding="ascii")
    (folder / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    (folder / "u.user").write_text(U_USER, encoding="ascii")
    return folder


RATINGS_DAT = (
    "1::1193::5::978300760\n"
    "1::661::3::978302109\n"
    "2::1193::4::978298413\n"
    "2::3408::4::978299000\n"
    "6::3408::1::978300000\n"
    "6::661::2::978300001\n"
    "6::2355::5::978300002\n"
)
MOVIES_DAT = (
    "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    "2355::A Bug's Life (1998)::Animation|Children's|Comedy\n"
    "3408::Erin Brockovich (2000)::Drama\n"
    "9999::Pok\u00e9mon (1999)::Animation\n"
)
USERS_DAT = "1::F::1::10::48067\n2::M::56::16::70072\n6::F::50::9::55117\n"


def write_ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text(RATINGS_DAT, encoding="ascii")
    (folder / "movies.dat").write_bytes(MOVIES_DAT.encode("latin-1"))
    (folder / "users.dat").write_text(USERS_DAT, encoding="ascii")
    return folder


CSV_LOG = (
    "visitor,product,kind,stars,when,section\n"
    "alice,sku-9,view,,2024-03-01T10:00:00Z,Books\n"
    "alice,sku-2,purchase,4,2024-03-01T10:05:00Z,Toys\n"
    "bob,sku-9,click,,2024-03-02T08:00:00Z,Books\n"
    '"carol, jr",sku-2,rating,5,2024-03-03T12:00:00Z,Toys\n'
    "bob,sku-10,VIEW,,2024-03-02T08:30:00Z,Books\n"
    "\n"
    "alice,sku-10,click,,2024-03-04T09:00:00Z,Books\n"
)


def write_csv_log(path: Path, text: str = CSV_LOG) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LATEST_RATINGS = (
    "userId,movieId,rating,timestamp\n"
    "1,1,4.0,964982703\n"
    "1,3,3.5,964981247\n"
    "5,1,0.5,964982224\n"
    "5,2,5.0,964983815\n"
)
LATEST_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '2,"American President, The (1995)",Comedy|Drama|Romance\n'
    "3,Grumpier Old Men (1995),(no genres listed)\n"
)


def write_ml_latest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text(LATEST_RATINGS, encoding="utf-8")
    (folder / "movies.csv").write_text(LATEST_MOVIES, encoding="utf-8")
    return folder
