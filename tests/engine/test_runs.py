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
    with pytest.raises(RlrecError, match="already exists"):
        runs.new_run_dir(tmp_path, "seed-classic", first.name)


def test_default_runs_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RLREC_RUNS_DIR", str(tmp_path))
    assert runs.default_runs_dir() == tmp_path
    monkeypatch.delenv("RLREC_RUNS_DIR")
    assert str(runs.default_runs_dir()) == "runs"


def _pickle_under_old_names(monkeypatch, state, classes, old_module):
    """torch.save `state` as a pre-move rlrec did: `classes` named under `old_module`."""
    import io
    import sys
    import types

    real = sys.modules[classes[0].__module__]
    parts = old_module.split(".")
    for depth in range(1, len(parts)):  # stub parents, so pickle can import the old path
        monkeypatch.setitem(sys.modules, ".".join(parts[:depth]), types.ModuleType("stub"))
    monkeypatch.setitem(sys.modules, old_module, real)
    for cls in classes:
        monkeypatch.setattr(cls, "__module__", old_module)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    monkeypatch.undo()
    assert old_module not in sys.modules
    return buffer.getvalue()


def test_checkpoint_written_before_the_package_move_still_loads(
    finished_run, tmp_path, monkeypatch
):
    import shutil

    from rlrec.engine.sim.classic import ClassicConfig, ClassicSimulator

    run = tmp_path / "old-run"
    shutil.copytree(finished_run / "20260101-000000-seed-classic", run)
    state = runs.load_checkpoint(run)
    old_bytes = _pickle_under_old_names(
        monkeypatch, state, [ClassicSimulator, ClassicConfig], "engine.sim.classic"
    )
    assert b"engine.sim.classic" in old_bytes and b"rlrec.engine.sim" not in old_bytes
    (run / runs.CHECKPOINT_FILE).write_bytes(old_bytes)

    reloaded = runs.load_checkpoint(run)
    assert type(reloaded["sim"]) is ClassicSimulator
    assert runs.load_run(run).policy is not None  # eval / recommend path
    trainer = Trainer.from_run(run, None)  # resume path
    assert trainer.env_steps == state["counters"]["env_steps"]


def test_unreadable_checkpoint_is_one_line_naming_the_run(finished_run, tmp_path):
    import shutil

    run = tmp_path / "broken-run"
    shutil.copytree(finished_run / "20260101-000000-seed-classic", run)
    (run / runs.CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(RlrecError) as caught:
        runs.load_checkpoint(run)
    message = str(caught.value)
    assert "\n" not in message and str(run) in message and "rlrec train" in message


def test_legacy_module_names_map_to_the_new_layout():
    from rlrec.engine.training.legacy_names import current_module

    assert current_module("engine.sim.truth") == "rlrec.engine.truth.model"
    assert current_module("engine.sim.default") == "rlrec.engine.sim.default"
    assert current_module("data.dataset") == "rlrec.data.dataset"
    assert current_module("engine.agents.dqn") == "rlrec.engine.agents.dqn"
    assert current_module("numpy.random._pickle") == "numpy.random._pickle"
