"""`rlrec train | resume | eval | recommend` end to end through the CLI entry point (in
process, for speed), and the crash test in a real subprocess killed with SIGKILL."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rlrec.engine.training import runs
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN

SMALL = {"agent": SMALL_AGENT, "train": {**SMALL_TRAIN, "eval_every": 0, "checkpoint_every": 3200}}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def rlrec(*args) -> Outcome:
    """Run `rlrec ARGS` through `engine.cli.main.main`, capturing what a user would see."""
    from rlrec.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return Outcome(int(code or 0), out.getvalue(), err.getvalue())


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({"preset": "seed-classic", **SMALL}))
    return path


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short seed-classic run shared by the eval / recommend tests."""
    root = tmp_path_factory.mktemp("runs")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump({"preset": "seed-classic", **SMALL}))
    out = rlrec(
        "train",
        "--config",
        config,
        "--steps",
        3200,
        "--seed",
        1,
        "--out",
        root,
        "--name",
        "r",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    return root / "r", json.loads(out.stdout)


def test_train_json_has_the_documented_keys(trained_run):
    run_dir, result = trained_run
    assert result["run"] == str(run_dir)
    assert result["env_steps"] == 3200 and result["updates"] > 0
    assert result["seconds"] > 0 and result["steps_per_second"] > 0
    assert set(result["eval"]) >= {"return_mean", "normalised"}
    assert runs.is_run(run_dir) and (run_dir / runs.CHECKPOINT_FILE).is_file()
    replay = result["replay"]
    assert replay["capacity"] > 0 and replay["bytes_per_transition"] > 0
    assert replay["bytes"] == replay["capacity"] * replay["bytes_per_transition"]
    on_disk = sum(p.stat().st_size for p in run_dir.glob("checkpoint*") if p.is_file())
    assert result["checkpoint_bytes"] == on_disk


def test_eval_prints_metrics_and_baselines(trained_run):
    run_dir, _ = trained_run
    out = rlrec("eval", run_dir, "--episodes", 50, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["eval"]) >= {
        "return_mean",
        "normalised",
        "ctr",
        "session_length",
        "coverage",
        "ild",
        "novelty",
    }
    assert {"random", "oracle"} <= set(result["baselines"])
    assert (
        result["baselines"]["oracle"]["return_mean"] > result["baselines"]["random"]["return_mean"]
    )


def test_recommend_lists_k_items(trained_run):
    run_dir, _ = trained_run
    out = rlrec("recommend", run_dir, "--user", 3, "-k", 10, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    items = result["items"]
    assert len(items) == 10 and len({i["item"] for i in items}) == 10
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (("recommend", "{run}", "--user", "999999", "-k", "10"), "999999"),
        (("recommend", "{run}", "--user", "3", "-k", "0"), "-k"),
        (("recommend", "{missing}", "--user", "3"), "no such run"),
        (("eval", "{not_a_run}"), "not a run"),
        (("resume", "{missing}"), "no such run"),
        (("train", "--preset", "nope", "--steps", "10"), "nope"),
        (("train", "--config", "{bad_config}", "--steps", "10"), "agent.gamma"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(trained_run, tmp_path, args, culprit):
    run_dir, _ = trained_run
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent:\n  gamma: 7\n")
    places = {
        "run": run_dir,
        "missing": tmp_path / "nothing",
        "not_a_run": tmp_path,
        "bad_config": bad,
    }
    out = rlrec(*(a.format(**places) for a in args), "--json")
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlrec: error:") and culprit in lines[0], (
        out.stderr
    )
    assert out.stdout == ""


def test_resume_after_sigkill_continues_from_the_last_checkpoint(tmp_path, small_config):
    run_dir = tmp_path / "runs" / "crash"
    args = [sys.executable, "-m", "rlrec.cli.main", "train", "--config", small_config]
    args += ["--steps", 200_000, "--out", tmp_path / "runs", "--name", "crash", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / runs.CHECKPOINT_FILE).exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        time.sleep(0.3)  # let it train on past the checkpoint
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    checkpoint = runs.load_checkpoint(run_dir)
    saved_steps = checkpoint["counters"]["env_steps"]
    assert 0 < saved_steps < 200_000
    out = rlrec("resume", run_dir, "--steps", 3200, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["env_steps"] == saved_steps + 3200
    events = runs.read_events(run_dir)
    restarts = [e for e in events if type(e).__name__ == "RunStarted"]
    assert [r.resumed for r in restarts] == [False, True] and restarts[1].env_steps == saved_steps
    progress_steps = [e.env_steps for e in events if type(e).__name__ == "Progress"]
    assert progress_steps == sorted(progress_steps)  # lines after the checkpoint were dropped
    assert runs.summarise_run(run_dir).status == "finished"


def test_train_with_no_files_uses_the_default_preset(tmp_path):
    out = rlrec("train", "--steps", 640, "--out", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert Path(result["run"]).name.endswith("-default")
    assert runs.read_config(result["run"])["preset"] == "default"


def test_eval_finds_a_run_by_its_name_and_prints_whole_labels_when_piped(
    trained_run, tmp_path, monkeypatch
):
    run_dir, _ = trained_run
    monkeypatch.setenv("RLREC_RUNS_DIR", str(run_dir.parent))
    monkeypatch.chdir(tmp_path)  # no ./r here: the name is looked up in the runs folder
    out = rlrec("eval", run_dir.name, "--episodes", 20)  # stdout is not a terminal
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "policy" in line)
    labels = ["return", "±95%", "norm", "CTR", "length", "coverage", "ILD", "novelty"]
    assert header.split("┃")[2:-1] and all(f" {label} " in header for label in labels), header
    assert "…" not in out.stdout


def test_an_unknown_run_name_says_where_it_looked_and_the_nearest_names(
    trained_run, tmp_path, monkeypatch
):
    run_dir, _ = trained_run
    runs_dir = run_dir.parent
    monkeypatch.setenv("RLREC_RUNS_DIR", str(runs_dir))
    monkeypatch.chdir(tmp_path)
    for args in (("eval", "rr"), ("eval", "rr", "--offline"), ("recommend", "rr", "--user", 3)):
        out = rlrec(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        line = lines[0]
        assert line.startswith("rlrec: error: rr: no such run"), line
        assert f"looked for rr and {runs_dir / 'rr'}" in line, line
        assert line.endswith(f"nearest in {runs_dir}: r"), line
