"""A run trained by a child process (`start_training_process`), as the TUI starts one: its
events reach the subscribers through the run folder's logs, pause / resume / stop reach the
child, and the child's errors come back as errors. Also the `References` event the trainer
writes once per part, which the faces draw as the oracle and random lines."""

from __future__ import annotations

import os
import threading

import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.training import runs
from rlrec.engine.training.events import (
    Evaluation,
    Progress,
    References,
    RunFinished,
    RunStarted,
    RunState,
    StateChanged,
)
from rlrec.engine.training.trainer import Trainer
from rlrec.engine.usecases.training_process import TrainingProcess, start_training_process
from tests.engine.test_trainer import small_config


def test_the_trainer_writes_the_reference_returns_once_after_run_started(tmp_path):
    trainer = Trainer(small_config(), tmp_path / "run")
    trainer.run()
    events = runs.read_events(tmp_path / "run")
    kinds = [type(e) for e in events]
    assert kinds[:3] == [StateChanged, RunStarted, References]
    assert kinds.count(References) == 1
    ref = next(e for e in events if isinstance(e, References))
    assert ref.random_return < ref.oracle_return
    assert (ref.random_return, ref.oracle_return) == tuple(trainer.references().values())
    # Evaluation.normalised is measured against the same two returns.
    last = [e for e in events if isinstance(e, Evaluation)][-1]
    expected = (last.return_mean - ref.random_return) / (ref.oracle_return - ref.random_return)
    assert last.normalised == pytest.approx(expected)


def test_a_run_folder_written_before_references_still_reads(tmp_path):
    trainer = Trainer(small_config(steps=640, eval_every=0), tmp_path / "run")
    trainer.run()
    metrics = tmp_path / "run" / runs.METRICS_FILE
    lines = metrics.read_text().splitlines()
    metrics.write_text("".join(f"{line}\n" for line in lines if "References" not in line))
    events = runs.read_events(tmp_path / "run")
    assert not any(isinstance(e, References) for e in events)
    assert isinstance(events[-1], RunFinished)


def run_in_thread(process: TrainingProcess) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["finished"] = process.run()
        except Exception as exc:  # noqa: BLE001 — the test reads it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_a_child_process_trains_and_obeys_pause_resume_and_stop(tmp_path):
    config = small_config(steps=10_000_000, eval_every=0, checkpoint_every=0)
    process = start_training_process(config, tmp_path / "run")
    assert process.pid != os.getpid()
    seen: list = []
    paused, progressed_after_resume = threading.Event(), threading.Event()

    def on_event(event) -> None:
        seen.append(event)
        if isinstance(event, StateChanged) and event.state is RunState.PAUSED:
            paused.set()
        if isinstance(event, Progress) and paused.is_set():
            progressed_after_resume.set()

    process.subscribe(on_event)
    thread, outcome = run_in_thread(process)
    try:
        deadline = 120
        assert _wait_until(lambda: any(isinstance(e, Progress) for e in seen), deadline)
        process.pause()
        assert paused.wait(deadline)
        steps_when_paused = max(e.env_steps for e in seen if isinstance(e, Progress))
        process.resume()
        assert progressed_after_resume.wait(deadline)
        process.stop()
    finally:
        process.stop()
        thread.join(120)
    finished = outcome["finished"]
    assert finished.reason == "stopped" and finished.env_steps > steps_when_paused
    assert isinstance(seen[-1], RunFinished) and any(isinstance(e, References) for e in seen)
    assert any(isinstance(e, Evaluation) for e in seen)  # stop() evaluates at the end
    assert (tmp_path / "run" / "checkpoint.json").exists()
    assert process.state is RunState.FINISHED


def test_the_childs_refusal_comes_back_as_an_rlrec_error(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("not a run")  # the child refuses a used folder
    process = start_training_process(small_config(), run_dir)
    thread, outcome = run_in_thread(process)
    thread.join(120)
    assert isinstance(outcome["error"], RlrecError)
    assert "is not an empty folder" in str(outcome["error"])
    assert process.state is RunState.FINISHED


def _wait_until(condition, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
