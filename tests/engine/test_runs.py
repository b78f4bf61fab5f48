"""Run folders: the logs another process can follow, listings, loading a trained policy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.training import runs
from rlrec.engine.training.events import Evaluation, Progress, RunStarted
from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.training.trainer import Trainer

torch.set_num_threads(1)


def _progress(env_steps, seconds):
    return Progress(
        env_steps=env_steps, updates=1, episodes=2, seconds=seconds, episode_return=1.5,
        episode_length=10.0, ctr=0.5, epsilon=0.9, loss=math.nan, learning_rate=1e-3,
        steps_per_second=100.0, fraction_done=0.5, eta_seconds=3.0,
    )  # fmt: skip


def test_follower_tails_a_growing_log_and_waits_for_partial_lines(tmp_path):
    writer = runs.MetricsWriter(tmp_path)
    follower = runs.RunFollower(tmp_path)
    assert follower.poll() == []
    writer.write(RunStarted(run_dir=str(tmp_path), preset="p", n_items=5, budget={"steps": 10}))
    writer.write(_progress(10, 1.25))
    events = follower.poll()
    assert [type(e) for e in events] == [RunStarted, Progress]
    assert events[0].run_dir == str(tmp_path.resolve())
    assert events[1].seconds == 1.25 and math.isnan(events[1].loss)  # timing merged back
    # A writer caught half-way through a line: nothing until the line is complete.
    record = json.dumps({"type": "Evaluation", "env_steps": 20, "episodes": 3, "return_mean": 2.0,
                         "return_ci95": 0.1, "ctr": 0.4, "session_length": 9.0, "normalised": 0.5})  # fmt: skip
    with open(tmp_path / runs.METRICS_FILE, "a") as handle:
        handle.write(record[:15])
        handle.flush()
        assert follower.poll() == []
        handle.write(record[15:] + "\n")
    assert follower.poll() == [Evaluation(20, 3, 2.0, 0.1, 0.4, 9.0, 0.5)]
    writer.close()


def test_metrics_file_has_no_wall_clock_and_strict_json(tmp_path):
    writer = runs.MetricsWriter(tmp_path)
    writer.write(_progress(10, 1.0))
    writer.close()
    line = json.loads((tmp_path / runs.METRICS_FILE).read_text())
    assert "seconds" not in line and "steps_per_second" not in line and line["loss"] is None
    timing = json.loads((tmp_path / runs.TIMING_FILE).read_text())
    assert timing == {"type": "Progress", "env_steps": 10, "seconds": 1.0, "steps_per_second": 100.0,
                      "eta_seconds": 3.0, "fraction_done": 0.5}  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    config = load_run_config(
        "seed-classic",
        overrides={
            "agent": {
                "hidden": [32],
                "learning_starts": 128,
                "batch_size": 32,
                "replay_size": 2000,
            },
            "train": {
                "n_envs": 64,
                "steps": 1280,
                "log_every": 640,
                "eval_every": 0,
                "eval_episodes": 50,
            },
        },
    )
    root = tmp_path_factory.mktemp("runs")
    Trainer(config, root / "20260101-000000-seed-classic").run()
    return root


def test_list_runs_summarises_each_run(finished_run):
    (summary,) = runs.list_runs(finished_run)
    assert summary.preset == "seed-classic" and summary.status == "finished"
    assert summary.env_steps == 1280 and summary.eval_return is not None
    assert runs.list_runs(finished_run / "nowhere") == []


def test_load_run_gives_a_greedy_policy_that_matches_the_checkpoint(finished_run):
    loaded = runs.load_run(finished_run / "20260101-000000-seed-classic")
    assert loaded.dataset is None and loaded.sim.n_envs == 1
    obs = loaded.sim.fresh_observation(np.array([0, 1, 2]))
    top = loaded.policy.top_k(obs, 10)
    assert top.shape == (3, 10)
    assert np.array_equal(top[:, 0], loaded.policy.act(obs))


def test_load_run_refuses_missing_and_non_run_folders(tmp_path):
    with pytest.raises(RlrecError, match="no such run folder"):
        runs.load_run(tmp_path / "missing")
    with pytest.raises(RlrecError, match="not a run folder"):
        runs.load_run(tmp_path)


def test_new_run_dirs_never_collide(tmp_path):
    first = runs.new_run_dir(tmp_path, "seed-classic", None)
    second = runs.new_run_dir(tmp_path, "seed-classic", None)
    assert first != second and first.name.endswith("seed-classic")
    # A named folder left empty (a run killed while it started) is claimed again …
    assert runs.new_run_dir(tmp_path, "seed-classic", first.name) == first
    # … but a run is never reused.
    (first / runs.CONFIG_FILE).write_text("preset: seed-classic\n")
    with pytest.raises(RlrecError, match="already exists"):
        runs.new_run_dir(tmp_path, "seed-classic", first.name)


def test_a_run_killed_while_starting_is_refused_by_resume_and_swept_later(tmp_path):
    import os
    import time

    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / runs.LOCK_FILE).write_text("12345\n")  # what a start killed before its config leaves
    with pytest.raises(
        RlrecError, match="not a run folder.*killed while it started.*--name killed"
    ):
        runs.load_run(killed)
    fresh = tmp_path / "fresh"  # maybe a start in progress right now: kept
    fresh.mkdir()
    (fresh / runs.LOCK_FILE).write_text("1\n")
    old = time.time() - 2 * runs.ABANDONED_AFTER_SECONDS
    os.utime(killed, (old, old))
    runs.new_run_dir(tmp_path, "seed-classic", None)
    assert not killed.exists() and fresh.exists()


def test_default_runs_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RLREC_RUNS_DIR", str(tmp_path))
    assert runs.default_runs_dir() == tmp_path
    monkeypatch.delenv("RLREC_RUNS_DIR")
    assert str(runs.default_runs_dir()) == "runs"


def test_unreadable_checkpoint_is_one_line_naming_the_run(finished_run, tmp_path):
    import shutil

    run = tmp_path / "broken-run"
    shutil.copytree(finished_run / "20260101-000000-seed-classic", run)
    (run / runs.CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(RlrecError) as caught:
        runs.load_checkpoint(run)
    message = str(caught.value)
    assert "\n" not in message and str(run) in message and "rlrec train" in message
