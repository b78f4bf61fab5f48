"""`rlrec generate | import | info` end to end, and every bad input the data layer must reject
with one line naming the file:line or the flag, exit status 2, no traceback, nothing written."""

import hashlib
import json
from pathlib import Path

import pytest

from rlrec.cli.main import main
from tests.data.ml_fixtures import U_DATA, write_csv_log, write_ml1m, write_ml100k


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# -- what works ---------------------------------------------------------------------------


def test_generate_twice_gives_identical_files(tmp_path, capsys):
    for name in ("A", "B"):
        code, out, err = run(
            capsys, "generate", "--users", 200, "--items", 50, "--seed", 7, "--out", tmp_path / name
        )
        assert code == 0 and err == ""
        assert "200 users, 50 items" in out
    a, b = digests(tmp_path / "A"), digests(tmp_path / "B")
    assert len(a) == 8 and a == b


def test_generate_json_and_force(tmp_path, capsys):
    out_dir = tmp_path / "ds"
    code, out, _ = run(capsys, "generate", "--users", 30, "--items", 10, "--out", out_dir, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["n_users"] == 30 and summary["path"] == str(out_dir)
    code, out, _ = run(
        capsys, "generate", "--users", 40, "--items", 10, "--out", out_dir, "--force", "--json"
    )
    assert code == 0 and json.loads(out)["n_users"] == 40


@pytest.mark.parametrize("wanted", [1_000, 10_000, 60_000])
def test_generate_about_n_interactions(tmp_path, capsys, wanted):
    # The activity is set so that `wanted` is the expected count: the drawn count is close.
    code, out, _ = run(
        capsys, "generate", "--users", 500, "--items", 100, "--interactions", wanted,
        "--out", tmp_path / "ds", "--json",
    )  # fmt: skip
    assert code == 0
    assert abs(json.loads(out)["n_interactions"] - wanted) < 0.05 * wanted


def test_import_movielens_and_info(tmp_path, capsys):
    code, out, err = run(
        capsys, "import", "movielens", write_ml100k(tmp_path / "ml"), "--out", tmp_path / "ds"
    )
    assert code == 0, err
    assert "3 users, 5 items, 6 interactions" in out
    code, out, _ = run(capsys, "info", tmp_path / "ds", "--json")
    info = json.loads(out)
    assert info["eda"]["counts"]["interactions"] == 6
    assert info["eda"]["item_price"] is None
    code, out, _ = run(capsys, "info", tmp_path / "ds")
    assert code == 0
    assert "interactions  6" in out and "Ratings" in out
    assert "Items by price (log-spaced bins): not in this dataset" in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


def test_import_movielens_1m(tmp_path, capsys):
    code, out, _ = run(
        capsys, "import", "movielens", write_ml1m(tmp_path / "m"), "--out", tmp_path / "o", "--json"
    )
    assert code == 0 and json.loads(out)["source"] == "movielens-1m"


def test_import_csv_with_mapping(tmp_path, capsys):
    log = write_csv_log(tmp_path / "log.csv")
    code, out, err = run(
        capsys, "import", "csv", log, "--user-col", "visitor", "--item-col", "product",
        "--rating-col", "stars", "--event-col", "kind", "--timestamp-col", "when",
        "--out", tmp_path / "ds", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["n_interactions"] == 6


def test_info_of_the_default_dataset(capsys):
    code, out, _ = run(capsys, "info", "--json")
    assert code == 0
    eda = json.loads(out)["eda"]
    assert eda["counts"]["users"] == 1000 and eda["counts"]["items"] == 500
    assert eda["user_age"]["labels"] == ["18", "25", "35", "45", "55", "65"]


# -- bad inputs ---------------------------------------------------------------------------


def _ml(tmp_path: Path, u_data: bytes | str) -> list:
    folder = write_ml100k(tmp_path / "ml")
    data = u_data.encode() if isinstance(u_data, str) else u_data
    (folder / "u.data").write_bytes(data)
    return ["import", "movielens", folder]


def _csv(tmp_path: Path, text: bytes | str, *mapping: str, name: str = "log.csv") -> list:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return ["import", "csv", path, *(mapping or ("--user-col", "u", "--item-col", "i"))]


GOOD_CSV = "u,i,r,t\na,x,4,100\nb,y,5,200\n"

BAD_INPUTS = {
    "missing movielens folder": (
        lambda t: ["import", "movielens", t / "nowhere"],
        ["nowhere: no such file or folder"],
    ),
    "missing csv file": (lambda t: ["import", "csv", t / "gone.csv", "--user-col", "u", "--item-col", "i"], ["gone.csv: no such file"]),
    "missing u.item": (
        lambda t: (write_ml100k(t / "ml") / "u.item").unlink() or ["import", "movielens", t / "ml"],
        ["u.item: missing"],
    ),
    "wrong separator in u.data": (
        lambda t: _ml(t, U_DATA.replace("\t", ",")),
        ["u.data:1:", "expected 4 tab-separated fields, found 1", "comma-separated"],
    ),
    "wrong --sep for a csv": (
        lambda t: _csv(t, GOOD_CSV.replace(",", ";"), "--user-col", "u", "--item-col", "i", "--sep", ","),
        ["--user-col 'u'", "wrong --sep", "semicolon-separated"],
    ),
    "non-numeric user id": (
        lambda t: _ml(t, U_DATA.replace("2\t10\t4", "x7\t10\t4")),
        ["u.data:3:", "user id 'x7' is not an integer"],
    ),
    "rating out of range": (
        lambda t: _ml(t, U_DATA.replace("1\t20\t3", "1\t20\t7")),
        ["u.data:2:", "rating 7 is outside 1..5"],
    ),
    "truncated last line": (
        lambda t: _ml(t, U_DATA + "3\t10"),
        ["u.data:7:", "found 2", "truncated"],
    ),
    "truncated csv line": (
        lambda t: _csv(t, GOOD_CSV + "c,z\n", "--user-col", "u", "--item-col", "i"),
        ["log.csv:4:", "expected 4", "found 2", "truncated"],
    ),
    "empty u.data": (lambda t: _ml(t, ""), ["u.data: empty file"]),
    "empty csv": (lambda t: _csv(t, "\n\n"), ["log.csv: empty file"]),
    "header in u.data": (
        lambda t: _ml(t, "user_id\titem_id\trating\ttimestamp\n" + U_DATA),
        ["u.data:1:", "looks like a header", "u.data has no header"],
    ),
    "unknown column in the mapping": (
        lambda t: _csv(t, GOOD_CSV, "--user-col", "u", "--item-col", "product"),
        ["--item-col 'product'", "no such column", "columns: u, i, r, t"],
    ),
    "undecodable bytes in csv under --encoding utf-8": (
        lambda t: [*_csv(t, b"u,i\na,x\nb,\xff\xfey\n"), "--encoding", "utf-8"],
        ["log.csv:3:", "byte 0xff at column 3", "utf-8", "--encoding"],
    ),
    "latin-1 u.item under --encoding utf-8": (
        lambda t: [*_ml(t, U_DATA), "--encoding", "utf-8"],
        ["u.item:2:", "byte 0xe9 at column 7 is not valid utf-8", "--encoding"],
    ),
    "latin-1 bytes in u.data where an id should be": (
        lambda t: _ml(t, U_DATA.encode() + b"3\t\xe9\t1\t5\n"),
        ["u.data:7:", "item id '\u00e9' is not an integer"],
    ),
    "unknown --encoding": (
        lambda t: [*_csv(t, GOOD_CSV), "--encoding", "klingon"],
        ["--encoding 'klingon'", "not a known text encoding"],
    ),
    "null timestamp names its own row": (
        lambda t: _csv(t, "u,i,t\na,x,1000\nb,y,\nc,z,1002\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:3: missing timestamp (--timestamp-col t)"],
    ),
    "nan timestamp names its own row": (
        lambda t: _csv(t, "u,i,t\na,x,1000.0\nb,y,1001.0\nc,z,nan\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:4: missing timestamp"],
    ),
    "inf timestamp": (
        lambda t: _csv(t, "u,i,t\na,x,1000\nb,y,inf\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:3: timestamp 'inf' is neither a Unix time nor an ISO 8601 date"],
    ),
    "seconds and milliseconds in one column": (
        lambda t: _csv(t, "u,i,t\na,x,1433227005006\nb,y,1433227005\nc,z,1433227005008\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:3: timestamp '1433227005' reads as unix seconds", "most of the column (2 of 3 values) reads as unix milliseconds", "one unit per column"],
    ),
    "dates and numbers in one column": (
        lambda t: _csv(t, "u,i,t\na,x,2024-03-01T10:00:00+02:00\nb,y,1433227005\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:3: timestamp '1433227005' is a Unix time but most of the column is an ISO 8601 date (one format per column)"],
    ),
    "20-digit timestamp": (
        lambda t: _csv(t, "u,i,t\na,x,12345678901234567890\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:2: timestamp '12345678901234567890' is too large"],
    ),
    "0/1 flags with --positive-threshold 4": (
        lambda t: [*_csv(t, "u,i,r\na,x,1\nb,y,0\n", "--user-col", "u", "--item-col", "i", "--rating-col", "r"), "--positive-threshold", "4"],
        ["no interaction counts as positive (ratings are 0..1, positive threshold 4)", "--positive-threshold"],
    ),
    "--positive-threshold nan": (
        lambda t: [*_csv(t, GOOD_CSV), "--positive-threshold", "nan"],
        ["--positive-threshold nan", "finite number"],
    ),
    "duplicate user-item-timestamp in csv": (
        lambda t: _csv(t, GOOD_CSV + "a,x,3,100\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:4: duplicate of", "log.csv:2", "--duplicates keep-first"],
    ),
    "duplicate rating in u.data": (
        lambda t: _ml(t, U_DATA + "1\t10\t5\t881250949\n"),
        ["u.data:7: duplicate of", "u.data:1"],
    ),
    "item not in u.item": (
        lambda t: _ml(t, U_DATA + "1\t99\t5\t881250949\n"),
        ["u.data:7:", "item id 99 is not listed in u.item"],
    ),
    "unknown event": (
        lambda t: _csv(t, "u,i,e\na,x,view\nb,x,hover\n", "--user-col", "u", "--item-col", "i", "--event-col", "e"),
        ["log.csv:3:", "event 'hover'", "--event-col e"],
    ),
    "bad timestamp": (
        lambda t: _csv(t, "u,i,t\na,x,2024-01-01\nb,x,yesterday\n", "--user-col", "u", "--item-col", "i", "--timestamp-col", "t"),
        ["log.csv:3:", "timestamp 'yesterday'"],
    ),
    "non-numeric csv rating": (
        lambda t: _csv(t, "u,i,r\na,x,4\nb,x,five\n", "--user-col", "u", "--item-col", "i", "--rating-col", "r"),
        ["log.csv:3:", "rating 'five' is not a number"],
    ),
    "bad --sep": (
        lambda t: _csv(t, GOOD_CSV, "--user-col", "u", "--item-col", "i", "--sep", "::"),
        ["--sep '::'"],
    ),
    "negative --users": (lambda t: ["generate", "--users", "-5"], ["--users -5", "between 1 and"]),
    "negative --items": (lambda t: ["generate", "--items", "-1"], ["--items -1", "between 1 and"]),
    "zero --users": (lambda t: ["generate", "--users", "0"], ["--users 0"]),
    "negative --seed": (lambda t: ["generate", "--seed", "-3"], ["--seed -3"]),
    "--activity too high": (
        lambda t: ["generate", "--activity", "50"],
        ["--activity 50", "between 0.05 and 20"],
    ),
    "--activity nan": (lambda t: ["generate", "--activity", "nan"], ["--activity nan"]),
    "--interactions beyond what the activity range gives": (
        lambda t: ["generate", "--users", "100", "--interactions", "10000000"],
        ["--interactions 10000000", "between 153 and 46,000"],
    ),
    "info of a missing folder": (lambda t: ["info", t / "nothing"], ["nothing: no such dataset folder"]),
    "info of a broken folder": (
        lambda t: (t / "broken").mkdir() or ["info", t / "broken"],
        ["meta.yaml: missing"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case):
    build, fragments = BAD_INPUTS[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    argv = build(inputs)
    out_dir = tmp_path / "out"
    if argv[0] != "info":
        argv = [*argv, "--out", out_dir]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rlrec: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out_dir.exists()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # no temp folders either


@pytest.mark.parametrize("command", ["generate", "movielens", "csv"])
def test_existing_output_folder_needs_force(tmp_path, capsys, command):
    out_dir = tmp_path / "taken"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    argv = {
        "generate": ["generate", "--users", 10, "--items", 5],
        "movielens": ["import", "movielens", write_ml100k(tmp_path / "ml")],
        "csv": ["import", "csv", write_csv_log(tmp_path / "log.csv"), "--user-col", "visitor", "--item-col", "product"],
    }[command]  # fmt: skip
    code, out, err = run(capsys, *argv, "--out", out_dir)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"rlrec: error: --out {out_dir}: folder exists (pass --force to replace it)"
    ]
    assert [p.name for p in out_dir.iterdir()] == ["keep.txt"]


def test_non_integer_size_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--users", "many", "--out", "x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--users: invalid int value: 'many'" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u,i\n\n", "log.csv: no data rows after the header"),
        ("u,u,i\na,b,c\n", "log.csv:1: column 'u' appears more than once in the header"),
        ("u,i\n,x\n", "log.csv:2: empty id in column 'u' (--user-col)"),
    ],
)
def test_more_bad_csv_logs(tmp_path, capsys, text, message):
    argv = _csv(tmp_path, text)
    code, out, err = run(capsys, *argv, "--out", tmp_path / "out")
    assert code == 2 and out == "" and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1 and message in err


def test_force_refuses_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    code, out, err = run(capsys, "generate", "--users", 5, "--items", 3, "--out", folder, "--force")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"rlrec: error: --out {folder}: not an rlrec dataset folder (no meta.yaml); "
        "refusing to replace it"
    ]
    assert (folder / "notes.txt").read_text() == "keep me"
