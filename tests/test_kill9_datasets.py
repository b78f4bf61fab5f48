"""`rlrec generate` and `rlrec import` killed with SIGKILL at random moments: the output folder
is always either absent or a complete dataset (they write into a hidden folder and rename it
into place), and a `--force` replacement swaps the old and the new folder atomically, so a
dataset is always there. The moments are drawn from a seeded generator, so a failure can be replayed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.data.store import load_dataset

KILLS = 6  # per command: enough moments to land in every phase, quick enough for CI


def _killed_at(args: list[str], delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlrec", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _absent_or_whole(out: Path) -> str:
    if not out.exists():
        return "absent"
    try:
        load_dataset(out)
    except RlrecError as exc:  # pragma: no cover - the failure this test exists to catch
        pytest.fail(f"a killed command left a broken dataset at {out}: {exc}")
    return "whole"


def _log(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    lines = ["user,item,rating,ts"]
    lines += [
        f"{rng.integers(0, 3000)},{rng.integers(0, 800)},{rng.integers(1, 6)},{1_600_000_000 + i}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("command", ["generate", "import"])
def test_a_killed_dataset_command_leaves_nothing_or_a_whole_dataset(tmp_path, command):
    if command == "generate":
        args = ["generate", "--users", "20000", "--items", "2000", "--seed", "1"]
    else:
        log = _log(tmp_path / "log.csv", 60_000)
        args = ["import", "csv", str(log), "--user-col", "user", "--item-col", "item"]
        args += ["--rating-col", "rating", "--timestamp-col", "ts"]
    # One whole run first: it is the dataset a --force replacement must never lose, and its
    # duration places the kills inside the work (imports, drawing, writing, renaming).
    kept = tmp_path / "kept"
    began = time.monotonic()
    assert (
        subprocess.run([sys.executable, "-m", "rlrec", *args, "--out", str(kept)]).returncode == 0
    )
    duration = time.monotonic() - began
    moments = np.random.default_rng(7).uniform(0.05, 1.0, KILLS) * duration
    for number, delay in enumerate(moments):
        out = tmp_path / f"out{number}"
        _killed_at([*args, "--out", str(out)], float(delay))
        _absent_or_whole(out)
    for delay in moments[:3]:  # the old and the new folder are swapped in one atomic step
        _killed_at([*args, "--out", str(kept), "--force"], float(delay))
        assert _absent_or_whole(kept) == "whole"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    # Hidden partial folders may stay after a kill (nothing can remove them at that moment);
    # they never take the dataset's name.
    assert all(".partial-" in name or ".old-" in name for name in leftovers), leftovers
