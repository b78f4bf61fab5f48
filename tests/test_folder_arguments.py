"""A file given where a folder is expected (and the reverse): one line that names the flag
and says what is wrong, for every command taking --out, --dataset, --config or a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.files import check_folder_target
from tests.test_cli_train import rlrec


@pytest.fixture
def afile(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "adir").mkdir()
    return tmp_path / "afile"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["generate", "--users", "30", "--out", "afile"],
            "--out afile: is a file, expected a folder",
        ),
        (
            ["generate", "--users", "30", "--out", "afile/ds"],
            "--out afile/ds: afile is a file, so no folder can be made inside it",
        ),
        (["train", "--steps", "5", "--out", "afile"], "--out afile: is a file, expected a folder"),
        (
            ["train", "--steps", "5", "--out", "afile/runs"],
            "--out afile/runs: afile is a file, so no folder can be made inside it",
        ),
        (
            ["train", "--steps", "5", "--dataset", "afile"],
            "--dataset afile: is a file, not a dataset folder",
        ),
        (["train", "--steps", "5", "--dataset", "nods"], "--dataset nods: no such dataset folder"),
        (
            ["train", "--steps", "5", "--config", "adir"],
            "--config adir: is a folder, expected a file",
        ),
        (["baselines", "--dataset", "afile"], "--dataset afile: is a file, not a dataset folder"),
        (["baselines", "--config", "adir"], "--config adir: is a folder, expected a file"),
        (["ab", "random", "popular", "--dataset", "afile"], "--dataset afile: is a file, not a"),
        (["info", "afile"], "afile: is a file, not a dataset folder"),
        (["split", "afile"], "afile: is a file, not a dataset folder"),
        (["calibrate", "afile"], "afile: is a file, not a dataset folder"),
        (["eval", "afile"], "afile: is a file, not a run folder"),
        (["resume", "afile"], "afile: is a file, not a run folder"),
        (["recommend", "afile", "--user", "1"], "afile: is a file, not a run folder"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_file_where_a_folder_is_expected(afile, argv, line):
    out = rlrec(*argv)
    assert out.returncode == 2
    assert out.stderr.startswith(f"rlrec: error: {line}"), out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert afile.read_text() == "x\n"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_parent_names_the_flag_and_the_parent(tmp_path):
    out = rlrec("generate", "--users", "30", "--out", "/proc/rlrec-ds")
    assert out.returncode == 2
    assert out.stderr.startswith(
        "rlrec: error: --out /proc/rlrec-ds: cannot create a folder in /proc"
    )


def test_check_folder_target_names_the_culprit(tmp_path):
    (tmp_path / "f").write_text("")
    assert check_folder_target(tmp_path / "new" / "deeper", "out") == tmp_path / "new" / "deeper"
    with pytest.raises(RlrecError) as info:
        check_folder_target(tmp_path / "f" / "a" / "b", "out")
    assert info.value.option == "out" and info.value.file == tmp_path / "f"
