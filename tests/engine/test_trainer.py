"""The trainer: determinism, control from other threads, NaN guard, checkpoints, resume."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.training import runs
from rlrec.engine.training.budget import Budget, BudgetKind
from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    FinishReason,
    Progress,
    RunFinished,
    RunStarted,
    RunState,
    StateChanged,
)
from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.training.trainer import Trainer

torch.set_num_threads(1)


# A small net on seed-classic: a run of a few thousand env steps takes about a second.
SMALL_AGENT = {
    "hidden": [32, 32],
    "learning_starts": 256,
    "replay_ratio": 1 / 16,
    "batch_size": 32,
    "replay_size": 5000,
}
SMALL_TRAIN = {"n_envs": 64, "log_every": 640, "eval_episodes": 100, "torch_threads": 1}


def small_config(**train):
    train = {**SMALL_TRAIN, "steps": 6400, "eval_every": 3200, "checkpoint_every": 3200, **train}
    return load_run_config("seed-classic", overrides={"agent": SMALL_AGENT, "train": train})


def test_same_seed_same_config_gives_identical_metrics(tmp_path):
    for name in ("a", "b"):
        Trainer(small_config(), tmp_path / name).run()
    first = (tmp_path / "a" / runs.METRICS_FILE).read_bytes()
    assert first == (tmp_path / "b" / runs.METRICS_FILE).read_bytes()
    assert b"seconds" not in first  # wall clock lives in timing.jsonl
    Trainer(small_config(seed=1), tmp_path / "c").run()
    assert first != (tmp_path / "c" / runs.METRICS_FILE).read_bytes()


def test_events_reach_subscribers_and_the_run_folder(tmp_path):
    seen = []
    trainer = Trainer(small_config(), tmp_path / "run")
    trainer.subscribe(seen.append)
    finished = trainer.run()
    kinds = [type(e) for e in seen]
    assert kinds[0] is StateChanged and RunStarted in kinds and kinds[-1] is RunFinished
    assert finished.reason == "budget" and finished.env_steps == 6400
    progress = [e for e in seen if isinstance(e, Progress)]
    assert [p.env_steps for p in progress] == list(range(640, 6401, 640))
    assert progress[-1].fraction_done == 1.0 and np.isfinite(progress[-1].loss)
    assert sum(isinstance(e, Evaluation) for e in seen) == 3  # 3200, 6400, final
    # The reader merges wall-clock fields back and gives the same events.
    read = runs.read_events(tmp_path / "run")
    assert [type(e) for e in read] == [type(e) for e in seen]
    assert read[-1].seconds > 0 and all(
        p.steps_per_second > 0 for p in read if isinstance(p, Progress)
    )
    summary = runs.read_eval(tmp_path / "run")
    assert summary["env_steps"] == 6400 and summary["random_return"] < summary["oracle_return"]


def test_pause_resume_and_stop_from_another_thread(tmp_path):
    trainer = Trainer(
        small_config(steps=None, seconds=120.0, eval_every=0, checkpoint_every=0), tmp_path / "run"
    )
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("finished", trainer.run()))
    worker.start()
    _wait(lambda: trainer.env_steps > 1000)
    trainer.pause()
    _wait(lambda: trainer.state == "paused", within=0.5)
    steps = trainer.env_steps
    time.sleep(0.3)
    assert trainer.env_steps == steps  # nothing moves while paused
    trainer.resume()
    _wait(lambda: trainer.env_steps > steps, within=0.5)
    stop_at = time.monotonic()
    trainer.stop()
    _wait(lambda: trainer.state in ("stopping", "finished"), within=0.5)
    assert time.monotonic() - stop_at < 0.5
    worker.join(30)
    finished = result["finished"]
    assert finished.reason == "stopped"
    state = runs.load_checkpoint(tmp_path / "run")  # a stop writes a checkpoint
    assert state["counters"]["env_steps"] == finished.env_steps


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(small_config(steps=64_000, checkpoint_every=1280), tmp_path / "run")

    def poison_rewards_after_first_checkpoint(event):
        if isinstance(event, Checkpointed) and "good" not in poison:
            poison["good"] = event.env_steps
            trainer.agent.replay.reward.fill_(float("nan"))  # e.g. a broken reward signal

    poison = {}
    trainer.subscribe(poison_rewards_after_first_checkpoint)
    finished = trainer.run()
    assert finished.reason == "diverged" and "loss became nan" in finished.message
    # The message names what went non-finite and the checkpoint that is really kept.
    assert "the rewards in the replay memory hold NaN" in finished.message
    assert "kept the last good checkpoint (env step 1280)" in finished.message
    assert "agent.lr" not in finished.message  # a learning rate does not mend a NaN reward
    state = runs.load_checkpoint(tmp_path / "run")
    assert state["counters"]["env_steps"] == poison["good"] == 1280
    assert all(torch.isfinite(p).all() for p in state["agent"]["online"].values())
    assert runs.summarise_run(tmp_path / "run").status == "diverged"


def test_a_divergence_before_any_checkpoint_says_none_was_kept_and_names_the_weights(tmp_path):
    from rlrec.engine.training import checkpoint

    trainer = Trainer(small_config(steps=64_000, checkpoint_every=0), tmp_path / "run")

    def poison_weights_once_learning(event):
        if isinstance(event, Progress) and trainer.agent.updates > 0:
            with torch.no_grad():
                next(trainer.agent.online.parameters()).fill_(float("nan"))

    trainer.subscribe(poison_weights_once_learning)
    finished = trainer.run()
    assert finished.reason == "diverged"
    assert "the online network's weights" in finished.message and "hold NaN" in finished.message
    assert "no checkpoint was written" in finished.message
    assert "kept" not in finished.message
    assert not checkpoint.has_checkpoint(tmp_path / "run")


def test_divergence_diagnosis_names_q_values_that_overflow():
    from rlrec.engine.agents.dqn import DQNAgent, DQNConfig
    from rlrec.engine.training.divergence import diagnose

    agent = DQNAgent(4, 6, DQNConfig(hidden=[8], replay_size=64, batch_size=8), seed=0)
    n = 16
    obs = np.ones((n, 4), np.float32)
    agent.remember(obs, np.zeros(n, np.int64), np.zeros(n, np.float32), obs,
                   np.zeros(n, bool), np.zeros((n, 6), bool))  # fmt: skip
    assert diagnose(agent).what.startswith("the loss overflowed")
    with torch.no_grad():
        for parameter in agent.online.parameters():
            parameter.fill_(3e38)  # finite weights whose products are not
    found = diagnose(agent)
    assert found.what.startswith("the Q-values hold") and "agent.lr" in found.advice


def test_interrupted_checkpoint_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    runs.save_checkpoint(tmp_path, {"marker": "good", "weights": torch.ones(3)})
    before = sorted(p.name for p in tmp_path.iterdir())

    def half_written_then_crash(obj, handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_written_then_crash)
    with pytest.raises(OSError):
        runs.save_checkpoint(tmp_path, {"marker": "new", "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert runs.load_checkpoint(tmp_path)["marker"] == "good"
    # The manifest and the two data files it names; no half-written file left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert runs.CHECKPOINT_FILE in before and len(before) == 3


def test_resume_continues_exactly_from_the_checkpoint(tmp_path):
    straight = Trainer(small_config(checkpoint_every=3200), tmp_path / "straight")
    straight.run()
    # The same run, stopped at its 3200-step checkpoint (as if killed just after it).
    partial = Trainer(small_config(checkpoint_every=3200), tmp_path / "resumed")
    # … a kill leaves no final evaluation
    partial.subscribe(
        lambda e: partial.stop(evaluate=False) if isinstance(e, Checkpointed) else None
    )
    partial.run()
    state = runs.load_checkpoint(tmp_path / "resumed")
    assert state["counters"]["env_steps"] in (3200, 3264)
    resumed = Trainer.from_run(tmp_path / "resumed")
    seen = []
    resumed.subscribe(seen.append)
    finished = resumed.run()
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert started.resumed and started.env_steps == state["counters"]["env_steps"]
    assert finished.env_steps == 6400
    a = [p for p in runs.read_events(tmp_path / "straight") if isinstance(p, Progress)]
    b = [p for p in runs.read_events(tmp_path / "resumed") if isinstance(p, Progress)]
    assert [(p.env_steps, p.loss, p.episode_return) for p in a][-3:] == [
        (p.env_steps, p.loss, p.episode_return) for p in b
    ][-3:]


def _wait(condition, within=20.0):
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_a_callback_can_stop_the_run(tmp_path):
    class StopAfter:
        def __init__(self, steps):
            self.steps = steps

        def on_step(self, trainer):
            return trainer.env_steps >= self.steps

        def on_end(self, trainer, reason):
            self.reason = reason

    stopper = StopAfter(1280)
    trainer = Trainer(small_config(), tmp_path / "run", callbacks=[stopper])
    finished = trainer.run()
    assert finished.reason is FinishReason.STOPPED and finished.env_steps == 1280
    assert stopper.reason is FinishReason.STOPPED
    assert trainer.state is RunState.FINISHED
    assert runs.load_checkpoint(tmp_path / "run")["counters"]["env_steps"] == 1280


def test_budget_is_checked_in_one_place():
    steps = Budget.from_dict({"steps": 1000})
    assert steps.kind is BudgetKind.STEPS and steps.as_dict() == {"steps": 1000}
    assert not steps.spent(999, 50, 1e6) and steps.spent(1000, 0, 0.0)
    assert steps.fraction_done(250, 0, 0.0) == 0.25
    assert steps.extended_by(Budget(BudgetKind.EPISODES, 10), 500, 7, 3.0).as_dict() == {
        "episodes": 17
    }
    with pytest.raises(RlrecError, match="out of range"):
        Budget.from_dict({"seconds": 0})
    with pytest.raises(RlrecError, match="unknown kind"):
        Budget.from_dict({"hours": 1})


def test_use_cases_train_and_resume_return_results(tmp_path):
    from rlrec.engine.usecases.training import resolve_run_config, resume, train

    config = resolve_run_config(
        "seed-classic",
        overrides={"agent": SMALL_AGENT, "train": {**SMALL_TRAIN, "eval_every": 0}},
        budget=Budget(BudgetKind.STEPS, 1280),
        seed=3,
    )
    assert config.train.steps == 1280 and config.train.seconds is None and config.train.seed == 3
    seen = []
    result = train(config, runs_dir=tmp_path, name="run", on_event=seen.append)
    assert result.ok and result.reason is FinishReason.BUDGET and result.env_steps == 1280
    assert result.run_dir == tmp_path / "run" and result.evaluation is not None
    assert isinstance(seen[-1], RunFinished)
    more = resume(tmp_path / "run", Budget(BudgetKind.STEPS, 640))
    assert more.ok and more.env_steps == 1920
    with pytest.raises(RlrecError, match="no such dataset folder"):
        resolve_run_config("default", dataset=tmp_path / "missing")
