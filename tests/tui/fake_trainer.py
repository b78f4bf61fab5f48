"""A stand-in for `engine.trainer.Trainer` with the same public surface, for fast UI tests:
it publishes a scripted stream of real `engine.events` from whatever thread runs it and honours
pause / resume / stop within a few milliseconds. One test still trains for real (test_app_e2e)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    FinishReason,
    Progress,
    References,
    RunFinished,
    RunStarted,
    RunState,
    StateChanged,
)
from rlrec.tui.screen_text import screen_text  # noqa: F401  (re-exported for the tests)

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from rlrec.tui.app import RlrecApp
    from rlrec.tui.panes.train import TrainPane


@dataclass
class FakeAgent:
    lr: float = 0.001
    batch_size: int = 64
    gamma: float = 0.9
    hidden: list[int] = field(default_factory=lambda: [64, 32])


@dataclass
class FakeTrain:
    steps: int = 1000
    seconds: float = 30.0


@dataclass
class FakeConfig:
    preset: str = "default"
    agent: FakeAgent = field(default_factory=FakeAgent)
    train: FakeTrain = field(default_factory=FakeTrain)


class FakeTrainer:
    """Publishes Progress every `step_every` env steps, Evaluation every 4 Progress."""

    def __init__(
        self,
        config: Any,
        run_dir: Path | None,
        *,
        windows: int = 20,
        delay: float = 0.0,
        fail_at: int | None = None,
        hold: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir) if run_dir else None
        self.windows = windows
        self.delay = delay
        self.fail_at = fail_at
        self.hold = hold  # when given, the run waits for it before finishing (until stopped)
        self._subscribers: list = []
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.state = RunState.IDLE
        self.checkpoints: list[int] = []

    def subscribe(self, callback) -> None:
        self._subscribers.append(callback)

    def _publish(self, event) -> None:
        for callback in self._subscribers:
            callback(event)

    def pause(self) -> None:
        self._running.clear()
        self.state = RunState.PAUSED
        self._publish(StateChanged(RunState.PAUSED))

    def resume(self) -> None:
        self._running.set()
        self.state = RunState.RUNNING
        self._publish(StateChanged(RunState.RUNNING))

    def stop(self, evaluate: bool = True) -> None:
        self.final_evaluation = evaluate
        self._stop.set()
        self._running.set()

    def run(self) -> RunFinished:
        self.state = RunState.RUNNING
        self._publish(RunStarted(str(self.run_dir), "default", 500, {"steps": self.windows * 100}))
        self._publish(References(random_return=4.0, oracle_return=9.0))
        steps = 0
        for window in range(1, self.windows + 1):
            while not self._running.wait(0.01):
                pass
            if self._stop.is_set():
                break
            if self.fail_at is not None and window == self.fail_at:
                raise RuntimeError("simulated engine failure")
            steps = window * 100
            self._publish(
                Progress(
                    env_steps=steps,
                    updates=steps // 2,
                    episodes=window * 10,
                    seconds=window * 0.5,
                    episode_return=4.0 + math.log(window),
                    episode_length=10.0,
                    ctr=0.4 + window / 100,
                    epsilon=1.0 / window,
                    loss=1.0 / window if window > 1 else math.nan,
                    learning_rate=0.001,
                    steps_per_second=1234.0,
                    fraction_done=window / self.windows,
                    eta_seconds=(self.windows - window) * 0.5,
                )
            )
            if window % 4 == 0:
                self._publish(Evaluation(steps, 100, 5.0 + window / 10, 0.1, 0.5, 10.0, 0.5))
            if self.delay:
                time.sleep(self.delay)
        if self.hold is not None:
            while not self._stop.is_set() and not self.hold.wait(0.01):
                pass
        stopped = self._stop.is_set()
        self.checkpoints.append(steps)
        self._publish(Checkpointed(steps, str(self.run_dir)))
        reason = FinishReason.STOPPED if stopped else FinishReason.BUDGET
        finished = RunFinished(reason, steps, steps // 2, 10.0)
        self._publish(finished)
        self.state = RunState.FINISHED
        return finished


# -- helpers shared by the TUI-A tests ---------------------------------------------------------


def sync(test):
    """Run an async Pilot test without an async pytest plugin."""
    import asyncio
    import functools

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


def skip_dataset(monkeypatch) -> None:
    """Do not load the default dataset at launch: tests of Train and Runs do not need it, and
    the Dataset and Explore panes' work on it (EDA, user lists) would cost CPU in every test."""
    from rlrec.tui.app import RlrecApp

    def no_dataset(self) -> None:
        self._startup_step_done("dataset")  # nothing to wait for

    monkeypatch.setattr(RlrecApp, "load_dataset", no_dataset)


def use_fake_engine(monkeypatch, trainers: list | None = None, **trainer_kwargs) -> list:
    """Make the Train pane build a `FakeConfig` and a `FakeTrainer` (kwargs passed on).
    Returns the list the created trainers are appended to. (The default dataset still loads;
    tests that do not need it call `skip_dataset` too.)"""
    from rlrec.tui.panes import train as train_module

    made = [] if trainers is None else trainers

    def make_trainer(self, config, run_dir):
        trainer = FakeTrainer(config, run_dir, **trainer_kwargs)
        made.append(trainer)
        return trainer

    monkeypatch.setattr(train_module.TrainPane, "load_config", lambda self, p, o: FakeConfig())
    monkeypatch.setattr(train_module.TrainPane, "make_trainer", make_trainer)
    monkeypatch.setattr(train_module, "list_presets", lambda: ["default", "seed-classic"])
    return made


async def wait_for(pilot, condition, timeout: float = 120.0) -> None:
    """Let the app run until `condition()` holds (UI-driven state, not wall-clock asserts).
    The timeout only stops a hung test: it is generous because CI machines are shared and
    a worker thread can wait seconds for a core."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await pilot.pause(0.02)


@asynccontextmanager
async def app_without_dataset(
    monkeypatch,
    runs_dir: Path,
    size: tuple[int, int],
    *,
    message_hook: Callable[[Any], None] | None = None,
    **app_kwargs: Any,
) -> AsyncIterator[tuple[RlrecApp, Pilot]]:
    """The real app under a Pilot at `size`, without the default dataset (`skip_dataset`);
    `app_kwargs` go to `RlrecApp` (e.g. theme)."""
    from rlrec.tui.app import RlrecApp

    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=runs_dir, **app_kwargs)
    async with app.run_test(size=size, message_hook=message_hook) as pilot:
        yield app, pilot


@dataclass
class TrainApp:
    """The app on the scripted engine, its Train pane and the `FakeTrainer`s it made."""

    app: RlrecApp
    pilot: Pilot
    pane: TrainPane
    trainers: list[FakeTrainer]

    async def start_running(self) -> FakeTrainer:
        """Press `s` and wait until the run is running (give the trainer a `hold` to keep it
        there); returns its trainer."""
        await self.pilot.press("s")
        await wait_for(self.pilot, lambda: bool(self.trainers) and self.pane.run_state == "running")
        return self.trainers[0]

    async def finish(self) -> None:
        """Wait until the training worker ended and the pane has the run's last event."""
        await self.app.workers.wait_for_complete()
        await wait_for(self.pilot, lambda: self.pane.last_finished is not None)


@asynccontextmanager
async def train_app(
    monkeypatch,
    runs_dir: Path,
    size: tuple[int, int] = (120, 40),
    *,
    message_hook: Callable[[Any], None] | None = None,
    form_built: bool = True,
    **trainer_kwargs: Any,
) -> AsyncIterator[TrainApp]:
    """`app_without_dataset` on the scripted engine (`use_fake_engine(**trainer_kwargs)`);
    with `form_built`, entered once the Train pane's settings form is built."""
    from rlrec.tui.panes.train import TrainPane

    trainers = use_fake_engine(monkeypatch, **trainer_kwargs)
    async with app_without_dataset(monkeypatch, runs_dir, size, message_hook=message_hook) as (
        app,
        pilot,
    ):
        pane = app.query_one(TrainPane)
        if form_built:
            await wait_for(pilot, lambda: pane._form_built)
        yield TrainApp(app, pilot, pane, trainers)
