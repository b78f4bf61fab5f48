"""Nothing outside a training run changes it: building or loading agents in another thread
(serving, the Explore pane) while it trains, a second trainer on the same run folder, damaged
log lines; and run names that would become paths outside the runs folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent, DQNConfig
from rlrec.engine.training import runs
from rlrec.engine.training.events import Checkpointed
from rlrec.engine.training.trainer import Trainer
from rlrec.engine.usecases.training import start_training
from tests.engine.test_trainer import small_config

torch.set_num_threads(1)


def test_building_and_loading_agents_elsewhere_never_changes_a_training_run(tmp_path):
    Trainer(small_config(checkpoint_every=640), tmp_path / "alone").run()

    trainer = Trainer(small_config(checkpoint_every=640), tmp_path / "busy")
    checkpoints = threading.Event()
    trainer.subscribe(lambda e: checkpoints.set() if isinstance(e, Checkpointed) else None)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    loads = 0
    while worker.is_alive():
        # What serving and the Explore pane do, as often as we can, and a global reseed.
        DQNAgent(42, 500, DQNConfig(hidden=[32, 32]), seed=loads)
        torch.manual_seed(loads)
        torch.rand(1000)
        if checkpoints.is_set():
            runs.load_run(tmp_path / "busy")
            loads += 1
        time.sleep(0.001)
    worker.join()
    assert loads >= 2  # the loads really overlapped the training
    alone = (tmp_path / "alone" / runs.METRICS_FILE).read_bytes()
    assert (tmp_path / "busy" / runs.METRICS_FILE).read_bytes() == alone


def test_the_same_seed_gives_the_same_initial_weights_whatever_the_global_rng():
    torch.manual_seed(1)
    a = DQNAgent(10, 20, DQNConfig(hidden=[8]), seed=3, with_replay=False)
    torch.manual_seed(2)
    b = DQNAgent(10, 20, DQNConfig(hidden=[8]), seed=3, with_replay=False)
    state = torch.get_rng_state()
    DQNAgent(10, 20, DQNConfig(hidden=[8]), seed=4, with_replay=False)
    assert torch.equal(torch.get_rng_state(), state)  # building draws nothing from it
    for key, value in a.online.state_dict().items():
        assert torch.equal(value, b.online.state_dict()[key])


def test_a_second_trainer_on_a_run_is_refused_with_one_line(tmp_path):
    run = tmp_path / "run"
    Trainer(small_config(steps=1280), run).run()
    first = Trainer.from_run(run)
    with pytest.raises(RlrecError) as caught:
        Trainer.from_run(run)
    message = str(caught.value)
    assert (
        "\n" not in message and str(os.getpid()) in message and "already being trained" in message
    )
    first.run()  # releases the lock
    Trainer.from_run(run).run()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    Trainer(small_config(steps=1280), run).run()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / runs.LOCK_FILE).write_text(f"{dead.pid}\n")
    trainer = Trainer.from_run(run)
    assert (run / runs.LOCK_FILE).read_text().strip() == str(os.getpid())
    trainer.run()


def test_a_lock_held_by_another_live_process_refuses(tmp_path):
    run = tmp_path / "run"
    Trainer(small_config(steps=1280), run).run()
    holder = subprocess.Popen(
        [sys.executable, "-c", "from rlrec.engine.training.runs import RunLock; import sys, time; "
         f"lock = RunLock({str(run)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(RlrecError, match=f"process {holder.pid}"):
            Trainer.from_run(run)
    finally:
        holder.kill()
        holder.wait()
    Trainer.from_run(run).run()  # the kernel dropped the dead holder's lock


@pytest.mark.parametrize("name", ["", ".", "..", "../escape", "a/b", ".hidden", "x\\y", "a\x00b"])
def test_run_names_that_are_not_one_folder_name_are_refused(tmp_path, name):
    with pytest.raises(RlrecError) as caught:
        runs.new_run_dir(tmp_path / "runs", "default", name)
    assert "\n" not in str(caught.value) and "run name" in str(caught.value)
    assert not (tmp_path / "escape").exists()


def test_a_run_killed_before_its_config_leaves_a_reusable_name(tmp_path):
    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    (folder / runs.LOCK_FILE).write_text("123\n")  # all a kill at startup leaves
    trainer = start_training(small_config(steps=640), tmp_path / "runs", "mine")
    assert trainer.run_dir == folder
    trainer.run()
    assert runs.is_run(folder)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(small_config(steps=1280), run)
    trainer.run()
    for path in run.glob("checkpoint*"):
        path.unlink()  # as if killed before the first checkpoint
    resumed = Trainer.from_run(run)
    assert resumed.env_steps == 0
    resumed.run()
    assert runs.load_checkpoint(run)["counters"]["env_steps"] == 1280
    started = [e for e in runs.read_events(run) if type(e).__name__ == "RunStarted"]
    assert len(started) == 1  # the logs of the lost part were dropped


BAD_LINES = [
    "[1, 2, 3]",
    '"just a string"',
    "42",
    "null",
    '{"type": "Progress", "env_steps": 10}',  # fields missing
    '{"type": "Evaluation", "env_steps": "ten", "episodes": 1, "return_mean": 1.0, '
    '"return_ci95": 0.0, "ctr": 0.1, "session_length": 1.0, "normalised": 0.1}',
    '{"type": ["Progress"], "env_steps": [1]}',
    '{"type": "RunFinished", "reason": "exploded", "env_steps": 1, "updates": 1}',
    "{not json",
]


def test_damaged_metrics_lines_are_skipped_and_counted(tmp_path):
    good = tmp_path / "good"
    Trainer(small_config(steps=1280), good).run()
    bad = tmp_path / "bad"
    Trainer(small_config(steps=1280), bad).run()
    with open(bad / runs.METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write("\n".join(BAD_LINES) + "\n")
    with open(bad / runs.TIMING_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"type": "Progress", "env_steps": [1, 2]}\n[]\n')
    follower = runs.RunFollower(bad)
    events = follower.poll()
    assert len(events) == len(runs.read_events(good))
    assert follower.skipped == len(BAD_LINES) + 1  # +1: the timing line that is not an object
    listed = {summary.path.name: summary for summary in runs.list_runs(tmp_path)}
    assert set(listed) == {"good", "bad"}  # one damaged run hides no other
    assert listed["bad"].status == "finished" and listed["bad"].skipped_lines > 0
    assert json.loads(json.dumps(listed["bad"].env_steps)) == 1280


def test_a_start_that_fails_before_its_config_leaves_no_folder(tmp_path, monkeypatch):
    def disk_full(run_dir, config):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "write_config", disk_full)
    with pytest.raises(OSError):
        start_training(small_config(steps=640), tmp_path / "runs", "mine")
    assert not (tmp_path / "runs" / "mine").exists()
