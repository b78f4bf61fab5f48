"""What happens around the training loop, as callbacks: the Progress log, periodic greedy
evaluations and periodic checkpoints.

A callback is anything with `on_step(trainer) -> bool` (called after every vector step and its
updates; True asks the run to stop) and `on_end(trainer, reason)` (called once, after the loop,
with the training clock stopped). The trainer calls them in list order; the built-in three run
as log → evaluate → checkpoint, the order the run folder's `metrics.jsonl` records.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rlrec.engine.training.events import Evaluation, FinishReason, Progress

if TYPE_CHECKING:
    from pathlib import Path

    from rlrec.engine.agents.dqn import DQNAgent
    from rlrec.engine.evaluation.online import PolicyReport
    from rlrec.engine.sim.base import StepResult
    from rlrec.engine.training.budget import Budget
    from rlrec.engine.training.events import Event


class TrainingLoop(Protocol):
    """What a callback may read of the loop and ask of it (the `Trainer` is one); callbacks
    depend on this, not on the trainer module, so the two do not import each other."""

    env_steps: int
    episodes: int
    last_step: StepResult | None
    last_losses: list[float]
    agent: DQNAgent
    budget: Budget
    final_evaluation: bool

    def clock(self) -> float: ...

    def publish(self, event: Event) -> None: ...

    def evaluate(self) -> PolicyReport: ...

    def save_checkpoint(self) -> Path: ...


class Callback(Protocol):
    def on_step(self, trainer: TrainingLoop) -> bool:
        """After each vector step and the updates it owed; True stops the run ("stopped")."""
        ...

    def on_end(self, trainer: TrainingLoop, reason: FinishReason) -> None:
        """Once, after the loop and before RunFinished; the training clock no longer runs."""
        ...


def next_multiple(value: int, period: int) -> int:
    """The first multiple of `period` above `value` (the next time a periodic callback fires)."""
    return (value // period + 1) * period


class ProgressLog:
    """Aggregates the steps and losses of a window of `every` env steps and publishes a
    `Progress` event at its end (and one for the last, partial window)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.next_at: float = every
        self.window = ProgressWindow()

    def on_step(self, trainer: TrainingLoop) -> bool:
        self.window.add_step(trainer.last_step)
        for loss in trainer.last_losses:
            self.window.add_loss(loss)
        if trainer.env_steps >= self.next_at:
            self.next_at = next_multiple(trainer.env_steps, self.every)
            trainer.publish(self.window.progress(trainer))
            self.window.start(trainer.clock(), trainer.env_steps)
        return False

    def on_end(self, trainer: TrainingLoop, reason: FinishReason) -> None:
        if reason is not FinishReason.DIVERGED and trainer.env_steps > self.window.began_steps:
            trainer.publish(self.window.progress(trainer))


class PeriodicEvaluation:
    """A greedy evaluation every `every` env steps (0: never during training) and one at the
    end — unless the run diverged, or was stopped with `stop(evaluate=False)`."""

    def __init__(self, every: int) -> None:
        self.next_at: float = every or math.inf
        self.every = every
        self.last: Evaluation | None = None
        self.seconds = 0.0  # spent in periodic evaluations of this part (not training time)

    def on_step(self, trainer: TrainingLoop) -> bool:
        if trainer.env_steps >= self.next_at:
            self.next_at = next_multiple(trainer.env_steps, self.every)
            began = time.monotonic()
            self.evaluate(trainer)
            self.seconds += time.monotonic() - began
        return False

    def on_end(self, trainer: TrainingLoop, reason: FinishReason) -> None:
        if reason is FinishReason.DIVERGED:
            return
        if reason is FinishReason.STOPPED and not trainer.final_evaluation:
            return
        self.evaluate(trainer)

    def evaluate(self, trainer: TrainingLoop) -> Evaluation:
        report = trainer.evaluate()
        event = Evaluation(
            env_steps=trainer.env_steps,
            episodes=report.episodes,
            return_mean=report.return_mean,
            return_ci95=report.return_ci95,
            ctr=report.ctr,
            session_length=report.session_length,
            normalised=report.normalised,
        )
        self.last = event
        trainer.publish(event)
        return event


class PeriodicCheckpoint:
    """A checkpoint every `every` env steps (0: only at the end) and at the end — except after
    a divergence, so the last good checkpoint stays."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.next_at: float = every or math.inf

    def on_step(self, trainer: TrainingLoop) -> bool:
        if trainer.env_steps >= self.next_at:
            self.next_at = next_multiple(trainer.env_steps, self.every)
            trainer.save_checkpoint()
        return False

    def on_end(self, trainer: TrainingLoop, reason: FinishReason) -> None:
        if reason is not FinishReason.DIVERGED:
            trainer.save_checkpoint()


class ProgressWindow:
    """Sums between two Progress events: finished sessions' returns and lengths, engagements
    per impression, training losses."""

    def __init__(self) -> None:
        self.start(0.0, 0)

    def start(self, now: float, env_steps: int) -> None:
        self.began, self.began_steps = now, env_steps
        self.returns = self.lengths = 0.0
        self.finished = 0
        self.engaged = self.impressions = 0
        self.loss_sum, self.loss_count = 0.0, 0

    def add_step(self, result: StepResult | None) -> None:
        if result is None:
            return
        self.engaged += int(result.engaged.sum())
        self.impressions += len(result.engaged)
        finished = int(result.done.sum())
        if finished:
            self.finished += finished
            self.returns += float(result.episode_return.sum(dtype=np.float64))
            self.lengths += float(result.episode_length.sum(dtype=np.float64))

    def add_loss(self, loss: float) -> None:
        self.loss_sum += loss
        self.loss_count += 1

    def progress(self, trainer: TrainingLoop) -> Progress:
        now = trainer.clock()
        steps = trainer.env_steps - self.began_steps
        speed = steps / max(now - self.began, 1e-9)
        counters = (trainer.env_steps, trainer.episodes, now)
        nan = math.nan
        return Progress(
            env_steps=trainer.env_steps,
            updates=trainer.agent.updates,
            episodes=trainer.episodes,
            seconds=now,
            episode_return=self.returns / self.finished if self.finished else nan,
            episode_length=self.lengths / self.finished if self.finished else nan,
            ctr=self.engaged / self.impressions if self.impressions else nan,
            epsilon=trainer.agent.epsilon(trainer.env_steps),
            loss=self.loss_sum / self.loss_count if self.loss_count else nan,
            learning_rate=trainer.agent.learning_rate(),
            steps_per_second=speed,
            fraction_done=trainer.budget.fraction_done(*counters),
            eta_seconds=trainer.budget.eta_seconds(*counters, speed),
            gamma=trainer.agent.discount(),
        )

    def state(self) -> dict[str, Any]:
        return dict(vars(self))

    def load(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
