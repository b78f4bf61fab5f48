"""bench/scale.py's own machinery: a child's peak memory is its own, a failing stage marks
its cells and the stages that need its output instead of stopping the table, and every
cell reaches the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import scale  # noqa: E402

ALLOCATE = "import numpy; a = numpy.ones(300 * 2**20 // 8); print(a.sum())"


def test_the_peak_memory_is_the_childs(tmp_path):
    run = scale.run_measured([sys.executable, "-c", ALLOCATE], "allocating", tmp_path / "a.log")
    assert run.peak_rss_bytes >= 300 * 2**20
    assert run.cpu_seconds >= 0 and run.output.strip() == f"{300 * 2**20 // 8:.1f}"


def test_a_failing_command_names_itself_and_the_end_of_its_output(tmp_path):
    command = [sys.executable, "-c", "import sys; print('why it failed'); sys.exit(3)"]
    with pytest.raises(scale.StageFailed, match=r"(?s)oops failed \(exit 3\): .*why it failed"):
        scale.run_measured(command, "oops", tmp_path / "f.log")


def _stages(tmp_path: Path) -> list[scale.Stage]:
    def make(ctx: scale.Context) -> dict:
        ctx.outputs["dataset"] = tmp_path
        return {"made_seconds": 1.5}

    def fail(ctx: scale.Context) -> dict:
        raise scale.StageFailed("train failed (exit 1): rlrec train …")

    column = scale.Column
    return [
        scale.Stage("make", (column("made_seconds", "made s", scale._seconds),), make),
        scale.Stage("na", (column("na_seconds", "na s"),), lambda ctx: None, ("dataset",)),
        scale.Stage("train", (column("steps", "steps/s"),), fail, ("dataset",)),
        scale.Stage("eval", (column("greedy", "greedy"),), make, ("run",)),
    ]


def test_a_failed_stage_is_marked_and_the_table_goes_on(tmp_path, capsys):
    stages = _stages(tmp_path)
    row = scale.measure_row(scale.SIZES["small"], tmp_path / "small", 0, stages)
    assert row.values["made_seconds"] == 1.5
    assert row.values["na_seconds"] is scale.SKIPPED  # does not apply to the row
    assert row.values["steps"] == scale.FAILED
    assert row.values["greedy"] is scale.SKIPPED  # needs the run the failed stage makes
    assert "rlrec train" in row.errors["train"] and "rlrec train" in capsys.readouterr().err
    header, line = scale.render([row], stages).splitlines()
    assert header.split() == ["size", "made", "s", "na", "s", "steps/s", "greedy"]
    assert line.split()[-4:] == ["1.5", "-", "FAIL", "-"]


def test_json_has_every_cell_and_the_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(scale, "STAGES", _stages(tmp_path))
    code = scale.main(["--sizes", "small", "--work", str(tmp_path), "--json"])
    assert code == 1  # a stage failed
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["steps"] == "failed" and row["na_seconds"] is None and row["greedy"] is None
    assert row["size"] == "small" and list(row["errors"]) == ["train"]


def test_sizes_and_stages_are_checked():
    with pytest.raises(SystemExit):
        scale.main(["--sizes", "small,huge"])
    assert {"small", "100k", "1m", "ml25m"} <= set(scale.SIZES)
    assert scale.SIZES["ml25m"].imported and not scale.SIZES["1m"].imported


def test_merge_takes_a_later_measured_cell_over_an_earlier_failure(tmp_path, capsys):
    first = {"size": "100k", "users": 1, "items": 1, "rows": 5, "top10_p50_ms": "failed"}
    first["errors"] = {"latency": "latency 100k failed (exit -9)"}
    second = {"size": "100k", "users": 1, "items": 1, "top10_p50_ms": 25.0, "errors": {}}
    small = {"size": "small", "users": 1, "items": 1, "rows": 7, "errors": {}}
    for name, rows in (("a", [first]), ("b", [second, small])):
        (tmp_path / f"{name}.json").write_text(json.dumps({"rows": rows}))
    argv = ["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]
    assert scale.main(argv) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["size"] for row in rows] == ["small", "100k"]  # the order of SIZES
    assert rows[1]["rows"] == 5 and rows[1]["top10_p50_ms"] == 25.0 and rows[1]["errors"] == {}
