"""RlrecError's structured fields, atomic writes and the JSON sanitiser (data layer)."""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from rlrec.data.errors import Option, RlrecError
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
