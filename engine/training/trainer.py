"""The training loop, usable from any thread.

`Trainer(config, run_dir).run()` collects experience from N sessions at once (one forward
for all of them), interleaves gradient updates at the configured replay ratio, and publishes
typed events (`engine.events`) to subscribers and to the run folder. `pause()`, `resume()` and
`stop()` may be called from any thread; the loop checks them between vector steps and between
updates, so they take effect within milliseconds. A non-finite loss stops the run ("diverged")
without overwriting the last good checkpoint.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlrec.data.errors import RlrecError
from rlrec.engine.agents.dqn import DQNAgent
from rlrec.engine.sim import make_simulator
from rlrec.engine.training import runs
from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    Event,
    Progress,
    RunFinished,
    RunStarted,
    StateChanged,
    from_record,
    to_record,
)
from rlrec.engine.training.run_config import RunConfig, dataset_fingerprint

CHECKPOINT_VERSION = 1


class Trainer:
    def __init__(
        self, config: RunConfig, run_dir: str | Path | None = None, *, _resuming: bool = False
    ) -> None:
        self.config = config
        if run_dir is not None and not _resuming:
            _refuse_used_folder(Path(run_dir))
        if config.dataset and not config.dataset_fingerprint:
            config.dataset_fingerprint = dataset_fingerprint(config.dataset)
        self.dataset = runs.load_run_dataset(config)
        train = config.train
        self.sim = make_simulator(
            config.env, n_envs=train.n_envs, seed=train.seed, dataset=self.dataset
        )
        self.agent = DQNAgent(self.sim.obs_dim, self.sim.n_items, config.agent, seed=train.seed)
        # Claim the folder only once everything is built, so a bad config leaves nothing.
        if run_dir is None:
            self.run_dir = runs.new_run_dir(None, config.preset)
        else:
            self.run_dir = Path(run_dir)
        if not _resuming:
            _refuse_used_folder(self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            runs.write_config(self.run_dir, config.to_dict())
        self.budget: dict[str, float] = dict(train.budget)
        self.resumed = False
        # Counters (restored from a checkpoint on resume).
        self.env_steps = 0
        self.episodes = 0
        self.update_credit = 0.0
        self.seconds_before = 0.0  # training seconds of earlier (resumed) parts
        self.eval_seconds = 0.0  # of this part, spent in periodic evaluations
        self._obs: np.ndarray | None = None
        self._window = _Window()
        self._next_log = train.log_every
        self._next_eval = train.eval_every or math.inf
        self._next_checkpoint = train.checkpoint_every or math.inf
        self._last_eval: Evaluation | None = None
        self._references: dict[str, float] | None = None
        self._eval_sim = None
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._final_evaluation = True
        self._running = threading.Event()
        self._running.set()
        self._state = "ready"
        self._writer: runs.MetricsWriter | None = None
        self._loaded_state: dict | None = None
        self._clock: Callable[[], float] = lambda: self.seconds_before
        self._paused_for = 0.0

    # -- construction from a run folder ------------------------------------------------------
    @classmethod
    def from_run(cls, run_dir: str | Path, budget: dict[str, float] | None = None) -> Trainer:
        """Continue a run from its checkpoint. Without `budget` the run goes on to its original
        budget; with one (e.g. {"steps": 100000}) it trains that much more."""
        run_dir = runs.require_run(run_dir)
        config = RunConfig.from_dict(
            runs.read_config(run_dir), origin=str(run_dir / runs.CONFIG_FILE)
        )
        state = runs.load_checkpoint(run_dir)
        trainer = cls(config, run_dir, _resuming=True)
        _restore(trainer, state, budget)
        return trainer

    # -- control from other threads ----------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """`callback(event)` runs on the training thread for every event; keep it quick."""
        self._subscribers.append(callback)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self, evaluate: bool = True) -> None:
        """Finish soon: checkpoint (and, unless `evaluate=False`, a final greedy evaluation —
        an app that is quitting skips it so it can exit within a second)."""
        self._final_evaluation = evaluate
        self._stop_requested.set()
        self._running.set()  # wake a paused loop so it can finish

    @property
    def state(self) -> str:
        """ "ready", "running", "paused", "stopping" or "finished"."""
        return self._state

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> RunFinished:
        """Train until the budget is spent or `stop()`; blocking. Returns the final event."""
        torch.set_num_threads(self.config.train.torch_threads)
        fresh = not self.resumed
        self._writer = runs.MetricsWriter(self.run_dir)
        self._set_state("running")
        started = time.monotonic()
        self._paused_for = 0.0
        self._clock = lambda: self.seconds_before + time.monotonic() - started - self._paused_for
        self._publish(
            RunStarted(
                run_dir=str(self.run_dir),
                preset=self.config.preset,
                n_items=self.sim.n_items,
                budget=dict(self.budget),
                resumed=not fresh,
                env_steps=self.env_steps,
            )
        )
        if self._obs is None:
            self._obs = self.sim.reset(seed=self.config.train.seed)
        self._window.start(self._clock(), self.env_steps)
        reason, message = "budget", ""
        try:
            while True:
                self._honour_pause()
                if self._stop_requested.is_set():
                    reason = "stopped"
                    break
                if self._budget_spent():
                    break
                self._collect()
                bad_loss = self._learn()
                if bad_loss is not None:
                    reason = "diverged"
                    message = (
                        f"loss became {bad_loss} at update {self.agent.updates + 1} "
                        f"(env step {self.env_steps}); kept the last good checkpoint — "
                        "try a lower agent.lr or agent.grad_clip"
                    )
                    break
                self._periodic()
        except Exception as exc:
            reason, message = "error", f"{exc.__class__.__name__}: {exc}"
            self._finish(reason, message)
            raise
        if self.env_steps > self._window.began_steps and reason != "diverged":
            self._publish(self._window.progress(self))  # the last, partial window
        # Training time ends here: the final evaluation and checkpoint are not training.
        trained_for = self._clock()
        self._clock = lambda: trained_for
        if reason != "diverged":
            self._set_state("stopping" if reason == "stopped" else self._state)
            if reason != "stopped" or self._final_evaluation:
                self._evaluate()
            self._checkpoint()
        return self._finish(reason, message)

    def _finish(self, reason: str, message: str) -> RunFinished:
        if self._last_eval is not None:
            runs.write_json(self.run_dir / runs.EVAL_FILE, self.eval_summary())
        event = RunFinished(
            reason=reason,
            env_steps=self.env_steps,
            updates=self.agent.updates,
            seconds=self._clock(),
            message=message,
        )
        self._publish(event)
        if self._writer is not None:
            self._writer.close()
        self._set_state("finished")
        return event

    def _honour_pause(self) -> None:
        """Block while paused (the pause does not count as training time)."""
        if self._running.is_set():
            return
        began = time.monotonic()
        self._set_state("paused")
        while not self._running.wait(0.05):
            pass
        self._paused_for += time.monotonic() - began
        if not self._stop_requested.is_set():
            self._set_state("running")

    def _budget_spent(self) -> bool:
        ((kind, amount),) = self.budget.items()
        if kind == "steps":
            return self.env_steps >= amount
        if kind == "episodes":
            return self.episodes >= amount
        return self._clock() >= amount

    def fraction_done(self) -> float:
        ((kind, amount),) = self.budget.items()
        done = {"steps": self.env_steps, "episodes": self.episodes}.get(kind)
        if done is None:
            done = self._clock()
        return float(min(1.0, done / amount))

    def _collect(self) -> None:
        agent, sim = self.agent, self.sim
        obs = self._obs
        mask = sim.mask.copy()
        actions = agent.act_explore(obs, mask, agent.epsilon(self.env_steps))
        result = sim.step(actions)
        agent.remember(obs, actions, result.reward, result.obs, result.done, sim.mask)
        self._obs = result.obs
        n = len(actions)
        self.env_steps += n
        finished = int(result.done.sum())
        self.episodes += finished
        self._window.add_step(result, finished)

    def _learn(self) -> float | None:
        """Updates owed at the replay ratio; the bad loss value if one was not finite."""
        agent = self.agent
        if (
            self.env_steps < agent.config.learning_starts
            or len(agent.replay) < agent.config.batch_size
        ):
            return None
        self.update_credit += self.sim.n_envs * agent.config.replay_ratio
        while self.update_credit >= 1.0 and not self._stop_requested.is_set():
            self._honour_pause()  # between updates too: a vector step may owe many
            loss = agent.update()
            if not math.isfinite(loss):
                return loss
            self.update_credit -= 1.0
            self._window.add_loss(loss)
        return None

    def _periodic(self) -> None:
        train = self.config.train
        if self.env_steps >= self._next_log:
            self._next_log = (self.env_steps // train.log_every + 1) * train.log_every
            self._publish(self._window.progress(self))
            self._window.start(self._clock(), self.env_steps)
        if self.env_steps >= self._next_eval:
            self._next_eval = (self.env_steps // train.eval_every + 1) * train.eval_every
            began = time.monotonic()
            self._evaluate()
            self.eval_seconds += time.monotonic() - began
        if self.env_steps >= self._next_checkpoint:
            self._next_checkpoint = (
                self.env_steps // train.checkpoint_every + 1
            ) * train.checkpoint_every
            self._checkpoint()

    # -- evaluation ----------------------------------------------------------------------------
    def evaluation_sim(self):
        train = self.config.train
        if self._eval_sim is None:
            from rlrec.engine.evaluation.online import evaluation_simulator

            self._eval_sim = evaluation_simulator(
                self.config.env, train.eval_episodes, train.eval_seed, self.dataset
            )
        return self._eval_sim

    def references(self) -> dict[str, float]:
        """Random and myopic-oracle returns on the evaluation sessions (for `normalised`)."""
        if self._references is None:
            from rlrec.engine.evaluation.online import reference_returns

            train = self.config.train
            random_return, oracle_return = reference_returns(
                self.config.env, train.eval_episodes, train.eval_seed, self.dataset
            )
            self._references = {"random": random_return, "oracle": oracle_return}
        return self._references

    def evaluate(self) -> Any:
        """A greedy `engine.evaluate.PolicyReport` of the agent on the evaluation seed."""
        from rlrec.engine.evaluation.online import evaluate_policy

        train = self.config.train
        ref = self.references()
        return evaluate_policy(
            self.agent,
            self.evaluation_sim(),
            train.eval_episodes,
            train.eval_seed,
            references=(ref["random"], ref["oracle"]),
            name="dqn",
        )

    def _evaluate(self) -> Evaluation:
        report = self.evaluate()
        event = Evaluation(
            env_steps=self.env_steps,
            episodes=report.episodes,
            return_mean=report.return_mean,
            return_ci95=report.return_ci95,
            ctr=report.ctr,
            session_length=report.session_length,
            normalised=report.normalised,
        )
        self._last_eval = event
        self._publish(event)
        return event

    def eval_summary(self) -> dict[str, Any]:
        e = self._last_eval
        ref = self.references()
        return {
            "env_steps": e.env_steps,
            "episodes": e.episodes,
            "return_mean": e.return_mean,
            "return_ci95": e.return_ci95,
            "ctr": e.ctr,
            "session_length": e.session_length,
            "normalised": e.normalised,
            "random_return": ref["random"],
            "oracle_return": ref["oracle"],
            "eval_seed": self.config.train.eval_seed,
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        metrics_offset, timing_offset = self._writer.offsets()
        state = {
            "version": CHECKPOINT_VERSION,
            "agent": self.agent.state_dict(include_replay=self.config.train.checkpoint_replay),
            "sim": self.sim,  # session state and RNG mid-episode, so a resume is exact
            "obs": self._obs,
            "counters": {
                "env_steps": self.env_steps,
                "episodes": self.episodes,
                "update_credit": self.update_credit,
                "seconds": self._clock(),
                "next_log": self._next_log,
                "next_eval": self._next_eval,
                "next_checkpoint": self._next_checkpoint,
            },
            "window": self._window.state(),
            "budget": dict(self.budget),
            "metrics_offset": metrics_offset,
            "timing_offset": timing_offset,
            "last_eval": None if self._last_eval is None else to_record(self._last_eval),
            "torch_rng": torch.get_rng_state(),
        }
        path = runs.save_checkpoint(self.run_dir, state)
        self._publish(Checkpointed(env_steps=self.env_steps, path=str(path)))

    # -- events ---------------------------------------------------------------------------------
    def _publish(self, event: Event) -> None:
        if self._writer is not None:
            self._writer.write(event)
        for callback in list(self._subscribers):
            callback(event)

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        if state in ("running", "paused", "stopping"):
            self._publish(StateChanged(state=state))


def _refuse_used_folder(path: Path) -> None:
    if runs.is_run(path):
        raise RlrecError(f"{path}: already a run (use `rlrec resume {path}` to continue it)")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RlrecError(f"{path}: exists and is not an empty folder; choose a new run folder")


def _restore(trainer: Trainer, state: dict, budget: dict[str, float] | None) -> None:
    """Put a checkpoint's state into a freshly built Trainer of the same run."""
    run_dir = trainer.run_dir
    trainer.resumed = True
    if state.get("version") != CHECKPOINT_VERSION:
        raise RlrecError(f"{run_dir}: checkpoint version {state.get('version')} is not supported")
    trainer.agent.load_state_dict(state["agent"])
    trainer.sim = state["sim"]
    trainer._obs = state["obs"]
    counters = state["counters"]
    trainer.env_steps = int(counters["env_steps"])
    trainer.episodes = int(counters["episodes"])
    trainer.update_credit = float(counters["update_credit"])
    trainer.seconds_before = float(counters["seconds"])
    trainer._next_log = counters["next_log"]
    trainer._next_eval = counters["next_eval"]
    trainer._next_checkpoint = counters["next_checkpoint"]
    trainer._window.load(state["window"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("last_eval"):
        trainer._last_eval = from_record(state["last_eval"])
    runs.truncate_logs(run_dir, int(state["metrics_offset"]), int(state["timing_offset"]))
    if budget:
        ((kind, amount),) = budget.items()
        base = {
            "steps": trainer.env_steps,
            "episodes": trainer.episodes,
            "seconds": trainer.seconds_before,
        }[kind]
        trainer.budget = {kind: base + amount}
    else:
        trainer.budget = dict(state["budget"])


class _Window:
    """Aggregates between two Progress events."""

    def __init__(self) -> None:
        self.start(0.0, 0)

    def start(self, now: float, env_steps: int) -> None:
        self.began, self.began_steps = now, env_steps
        self.returns = self.lengths = 0.0
        self.finished = 0
        self.engaged = self.impressions = 0
        self.loss_sum, self.loss_count = 0.0, 0

    def add_step(self, result, finished: int) -> None:
        self.engaged += int(result.engaged.sum())
        self.impressions += len(result.engaged)
        if finished:
            self.finished += finished
            self.returns += float(result.episode_return.sum(dtype=np.float64))
            self.lengths += float(result.episode_length.sum(dtype=np.float64))

    def add_loss(self, loss: float) -> None:
        self.loss_sum += loss
        self.loss_count += 1

    def progress(self, trainer: Trainer) -> Progress:
        now = trainer._clock()
        steps = trainer.env_steps - self.began_steps
        elapsed = max(now - self.began, 1e-9)
        speed = steps / elapsed
        fraction = trainer.fraction_done()
        ((kind, amount),) = trainer.budget.items()
        if kind == "seconds":
            eta = max(0.0, amount - now)
        elif kind == "steps":
            eta = max(0.0, amount - trainer.env_steps) / speed if speed > 0 else math.nan
        else:
            eta = now * (1 - fraction) / fraction if fraction > 0 else math.nan
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
            fraction_done=fraction,
            eta_seconds=eta,
        )

    def state(self) -> dict[str, Any]:
        return dict(vars(self))

    def load(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
