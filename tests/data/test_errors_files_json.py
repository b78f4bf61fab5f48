"""RlrecError's structured fields, atomic writes and the JSON sanitiser (data layer)."""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from rlrec.data.errors import Option, RlrecError, error_line
from rlrec.data.files import atomic_folder, atomic_write_bytes, atomic_write_text
from rlrec.data.importers import import_csv
from rlrec.data.jsonsafe import json_safe


def test_error_words_options_per_face_and_keeps_fields():
    error = RlrecError(
        ["log.csv:5: empty id in column 'u' (", Option("user_col"), ")"],
        file="log.csv",
        line=5,
        key="u",
        value="",
    )
    assert str(error) == "log.csv:5: empty id in column 'u' (user_col)"
    assert error.worded(lambda o: "--user-col") == "log.csv:5: empty id in column 'u' (--user-col)"
    assert (error.file, error.line, error.key, error.option) == (
        Path("log.csv"),
        5,
        "u",
        "user_col",
    )
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.option == "user_col" and again.line == 5


def test_error_message_is_one_line():
    assert str(RlrecError("two\nlines   here")) == "two lines here"


def test_csv_error_fields_name_file_line_column_and_option(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("u,i,e\na,x,view\nb,x,hover\n")
    with pytest.raises(RlrecError) as caught:
        import_csv(log, user_col="u", item_col="i", event_col="e")
    error = caught.value
    assert (error.file, error.line, error.key, error.value, error.option) == (
        log,
        3,
        "e",
        "hover",
        "event_col",
    )
    assert "--" not in str(error)  # the data layer names no CLI flag
    with pytest.raises(RlrecError) as caught:
        import_csv(log, user_col="u", item_col="item")
    assert caught.value.option == "item_col" and caught.value.key == "item"
    assert caught.value.allowed == ["u", "i", "e"]


def test_atomic_writes_replace_whole_files_and_leave_no_temp(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "one")
    atomic_write_bytes(target, lambda f: f.write(b"two"))
    assert target.read_text() == "two"

    def fail(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write_bytes(target, fail)
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_folder_replaces_or_leaves_the_old_one(tmp_path):
    target = tmp_path / "new" / "ds"
    atomic_folder(target, lambda folder: (folder / "x").write_text("1"))
    assert (target / "x").read_text() == "1"

    def broken(folder):
        (folder / "x").write_text("2")
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        atomic_folder(target, broken)
    assert (target / "x").read_text() == "1"
    assert sorted(p.name for p in target.parent.iterdir()) == ["ds"]


def test_json_safe_makes_strict_json():
    value = {
        "a": np.float32(0.5),
        "b": np.int64(3),
        "c": [math.nan, math.inf, 1.0],
        "d": np.array([[1, 2]]),
        "e": (np.bool_(True), None),
        np.int64(4): Path("p"),
    }
    safe = json_safe(value)
    assert json.dumps(safe, allow_nan=False) == (
        '{"a": 0.5, "b": 3, "c": [null, null, 1.0], "d": [[1, 2]], "e": [true, null], "4": "p"}'
    )


def test_published_files_and_folders_get_the_umask_modes_not_owner_only(tmp_path):
    from rlrec.data.files import (
        FILE_MODE,
        FOLDER_MODE,
        atomic_folder,
        atomic_write_text,
        atomic_write_with,
    )

    atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_with(tmp_path / "b.txt", lambda path: path.write_text("y"))
    folder = atomic_folder(tmp_path / "ds", lambda temp: (temp / "f").write_text("z"))
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == FILE_MODE
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == FILE_MODE
    assert folder.stat().st_mode & 0o777 == FOLDER_MODE
    mask = os.umask(0o022)
    os.umask(mask)
    assert FILE_MODE == 0o666 & ~mask and FOLDER_MODE == 0o777 & ~mask  # 0644/0755 at 0022


def test_replacing_a_folder_swaps_it_in_one_step_and_leaves_no_hidden_copy(tmp_path):
    atomic_folder(tmp_path / "ds", lambda temp: (temp / "f").write_text("old"))
    atomic_folder(tmp_path / "ds", lambda temp: (temp / "f").write_text("new"))
    assert (tmp_path / "ds" / "f").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


# -- numbers and long values in messages ---------------------------------------------------------
def test_numpy_scalars_read_as_plain_values_in_every_message():
    quoted = np.str_("it's")
    error = RlrecError(
        f"user {np.str_('2')!r} at {np.float64(1.5)!r}, {np.int32(-3)!r}, {np.True_!r}, "
        f"{quoted!r}, {np.float32('nan')!r}, {[np.int64(1), np.int64(2)]!r}"
    )
    assert str(error) == "user '2' at 1.5, -3, True, \"it's\", nan, [1, 2]"
    assert error_line(ValueError(f"bad {np.str_('x')!r}")) == "unexpected ValueError: bad 'x'"


def test_a_long_value_is_cut_to_its_ends_with_its_length():
    field = "a" * 1_000_000 + "END"
    error = RlrecError(["log.csv:3: rating ", repr(field), " is not a number (", Option("rating_col"), ")"])  # fmt: skip
    text = error.worded(lambda o: "--rating-col")
    assert text.startswith("log.csv:3: rating 'aaaa") and text.endswith(
        "aEND' (1,000,003 characters) is not a number (--rating-col)"
    )
    assert len(text) < 300
    unquoted = str(RlrecError(f"no such user {field}"))
    assert "(1,000,003 characters)" in unquoted and len(unquoted) < 300
    # many short values (a header of thousands of columns) are cut in the middle of the line
    many = str(RlrecError("columns: " + ", ".join(f"c{i}" for i in range(10_000)) + " (end)"))
    assert many.startswith("columns: c0, c1") and many.endswith("c9999 (end)")
    assert "characters cut" in many and len(many) < 1100
    # a short message, paths included, is left as it is
    path = "/tmp/" + "deep/" * 30 + "log.csv"
    assert str(RlrecError(f"{path}:3: empty id")) == f"{path}:3: empty id"
    assert len(error_line(RuntimeError("x" * 100_000))) < 300


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.mkdir(), "is a folder, expected a file"),
        (lambda p: p.symlink_to(p.parent / "gone"), "a broken link, expected a file"),
        (lambda p: None, "missing"),
    ],
    ids=["folder", "broken-link", "absent"],
)
def test_a_path_that_is_not_a_file_says_what_it_is(tmp_path, make, said):
    from rlrec.data.errors import require_file

    make(tmp_path / "u.data")
    with pytest.raises(RlrecError) as caught:
        require_file(tmp_path / "u.data", "missing", "MovieLens 100K needs u.data")
    assert str(caught.value) == f"{tmp_path / 'u.data'}: {said} (MovieLens 100K needs u.data)"
    assert caught.value.file == tmp_path / "u.data"


# -- leftovers of killed writers -------------------------------------------------------------------
def dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_go_at_the_next_write_and_a_live_writers_stay(tmp_path):
    import time

    from rlrec.data.files import process_start_time

    dead, live = dead_pid(), os.getpid()
    stale_file = tmp_path / f".checkpoint-ab.pt.tmp-{dead}-abcdefgh"
    older_checkpoint_temp = tmp_path / f".checkpoint.pt.tmp-{dead}"  # rlrec <= 0.1 names
    stale_folder = tmp_path / f".ds.partial-{dead}-abcdefgh"
    live_file = tmp_path / f".a.json.tmp-{live}-abcdefgh"
    live_folder = tmp_path / f".ds.partial-{live}-abcdefgh"
    reused_pid = tmp_path / f".b.json.tmp-{live}-zzzzzzzz"  # written before this process began
    fresh_unowned, old_unowned = (
        tmp_path / ".c.json.abcdefgh.tmp",
        tmp_path / ".d.json.abcdefgh.tmp",
    )
    for path in (stale_file, older_checkpoint_temp, live_file, reused_pid, fresh_unowned, old_unowned):  # fmt: skip
        path.write_bytes(b"half")
    for folder in (stale_folder, live_folder):
        folder.mkdir()
        (folder / "users.parquet").write_bytes(b"half")
    began = process_start_time(live)
    assert began is not None and began <= time.time()
    os.utime(reused_pid, (began - 3600, began - 3600))
    os.utime(old_unowned, (time.time() - 2 * 86400,) * 2)
    unrelated = tmp_path / ".lock"
    unrelated.write_text("1\n")

    atomic_write_text(tmp_path / "a.json", "{}")

    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"a.json", live_file.name, live_folder.name, fresh_unowned.name, ".lock"}


def test_a_folder_a_kill_left_aside_during_a_replacement_is_put_back(tmp_path):
    """A kill between the two renames of a replacement leaves the old dataset in `.old-*`:
    the next write into the folder puts it back before cleaning."""
    aside = tmp_path / f".ds.old-{dead_pid()}-abcdefgh"
    (aside / "ds").mkdir(parents=True)
    (aside / "ds" / "meta.yaml").write_text("name: ds\n")
    atomic_folder(tmp_path / "other", lambda temp: (temp / "f").write_text("x"))
    assert (tmp_path / "ds" / "meta.yaml").read_text() == "name: ds\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "other"]
