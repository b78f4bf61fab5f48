"""The training loop, usable from any thread.

`Trainer(config, run_dir).run()` reads like CleanRL's `dqn.py`: each turn of the loop
collects one vector step from N sessions at once (one forward for all of them), stores the
transitions in the replay buffer, learns (the gradient updates owed at the replay ratio) and
then calls the callbacks — the Progress log, periodic evaluation, periodic checkpoints
(`engine.training.callbacks`) — any of which may stop the run. The `Budget` is checked in one
place, at the top of the loop.

Events (`engine.training.events`) go to `metrics.jsonl` and to subscribers. `pause()`,
`resume()` and `stop()` may be called from any thread; the loop checks them between vector
steps and between updates, so they take effect within milliseconds. A non-finite loss ends the
run as DIVERGED without overwriting the last good checkpoint; its message names what went
non-finite first (`engine.training.divergence`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rlrec.data.errors import RlrecError, error_line
from rlrec.engine.agents.dqn import DQNAgent, item_features_for
from rlrec.engine.agents.warm_start import WARM_START_SHARE, warm_start_agent
from rlrec.engine.sim import make_simulator
from rlrec.engine.training import checkpoint, runs
from rlrec.engine.training.budget import Budget
from rlrec.engine.training.callbacks import (
    Callback,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    ProgressLog,
)
from rlrec.engine.training.divergence import diagnose
from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    Event,
    FinishReason,
    References,
    RunFinished,
    RunStarted,
    RunState,
    StateChanged,
    from_record,
    to_record,
)
from rlrec.engine.training.run_config import RunConfig, dataset_fingerprint

if TYPE_CHECKING:
    from rlrec.engine.evaluation.online import PolicyReport
    from rlrec.engine.sim.base import StepResult


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path | None = None,
        *,
        callbacks: list[Callback] | None = None,
        _resuming_with: runs.RunLock | None = None,  # from_run: the lock it holds
    ) -> None:
        """Build the simulator and agent of `config` and claim `run_dir` (a new folder under
        the runs dir when None; locked until `run()` returns, see `runs.RunLock`). `callbacks`
        run after the built-in log, evaluation and checkpoint callbacks. Raises RlrecError
        for a used or locked folder or a changed dataset."""
        self.config = config
        self._lock = _resuming_with
        if run_dir is not None and _resuming_with is None:
            _refuse_used_folder(Path(run_dir))
        if config.dataset and not config.dataset_fingerprint:
            config.dataset_fingerprint = dataset_fingerprint(config.dataset)
        self.dataset = runs.load_run_dataset(config)
        train = config.train
        self.sim = make_simulator(
            config.env, n_envs=train.n_envs, seed=train.seed, dataset=self.dataset
        )
        # The sessions are started by now, so the first candidate sets tell their width.
        offered = self.sim.candidates()
        self.agent = DQNAgent(
            self.sim.obs_dim,
            self.sim.n_items,
            config.agent,
            seed=train.seed,
            item_features=item_features_for(self.sim, config.agent),
            n_candidates=0 if offered is None else int(offered.shape[1]),
        )
        # Claim the folder only once everything is built, so a bad config leaves nothing.
        if run_dir is None:
            self.run_dir = runs.new_run_dir(None, config.preset)
        else:
            self.run_dir = Path(run_dir)
        if _resuming_with is None:
            _refuse_used_folder(self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock = runs.RunLock(self.run_dir).acquire()
            try:
                runs.write_config(self.run_dir, config.to_dict())
            except BaseException:
                self._lock.release()
                raise
        # What a killed trainer left here (temp files, unreferenced checkpoint data) goes now
        # that this one holds the lock; the checkpoint the manifest names stays.
        checkpoint.remove_leftovers(self.run_dir, keep=checkpoint.referenced(self.run_dir))
        self.budget = Budget.from_dict(train.budget)
        self.resumed = False
        # Counters (restored from a checkpoint on resume).
        self.env_steps = 0
        self.episodes = 0
        self.update_credit = 0.0
        self.seconds_before = 0.0  # training seconds of earlier (resumed) parts
        self.checkpointed_at: int | None = None  # env steps of the run's last checkpoint
        self.checkpoint_bytes: int | None = None  # its size on disk, once this part wrote one
        # What the last turn of the loop did, for the callbacks.
        self.last_step: StepResult | None = None
        self.last_losses: list[float] = []
        self.progress_log = ProgressLog(train.log_every)
        self.evaluations = PeriodicEvaluation(train.eval_every)
        self.checkpoints = PeriodicCheckpoint(train.checkpoint_every)
        self.callbacks: list[Callback] = [
            self.progress_log,
            self.evaluations,
            self.checkpoints,
            *(callbacks or []),
        ]
        self.final_evaluation = True  # stop(evaluate=False) skips the end's evaluation
        self._obs: np.ndarray | None = None
        self._references: dict[str, float] | None = None
        self._eval_sim: Any = None
        self._subscribers: list[Callable[[Event], None]] = []
        self._stop_requested = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._state = RunState.IDLE
        self._writer: runs.MetricsWriter | None = None
        self._clock: Callable[[], float] = lambda: self.seconds_before
        self._paused_for = 0.0

    # -- construction from a run folder ------------------------------------------------------
    @classmethod
    def from_run(cls, run_dir: str | Path, budget: Budget | None = None) -> Trainer:
        """Continue a run from its checkpoint. Without `budget` the run goes on to its original
        budget; with one (e.g. Budget(STEPS, 100000)) it trains that much more.
        A run killed before its first checkpoint starts again from step 0. RlrecError: not a
        run, locked by a live trainer, an older/damaged checkpoint, or one that does not fit.
        """
        run_dir = runs.require_run(run_dir)
        lock = runs.RunLock(run_dir).acquire()  # before reading: no writer can be mid-way
        try:
            config = RunConfig.from_dict(
                runs.read_config(run_dir), origin=str(run_dir / runs.CONFIG_FILE)
            )
            fresh = not checkpoint.has_checkpoint(run_dir)
            if fresh and (run_dir / checkpoint.LEGACY_FILE).is_file():
                raise checkpoint.older_rlrec_error(run_dir, 1)
            state = None if fresh else runs.load_checkpoint(run_dir)
            trainer = cls(config, run_dir, _resuming_with=lock)
            if state is None:
                runs.truncate_logs(run_dir, 0, 0)  # its logs end before any checkpoint
                if budget is not None:
                    trainer.budget = budget
                return trainer
            try:
                _restore(trainer, state, budget)
            except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
                raise checkpoint.mismatch(run_dir, exc) from None
            except RlrecError as exc:
                raise checkpoint.mismatch(run_dir, exc) from None
        except BaseException:
            lock.release()
            raise
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
        self.final_evaluation = evaluate
        self._stop_requested.set()
        self._running.set()  # wake a paused loop so it can finish

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def eval_seconds(self) -> float:
        """Seconds of this part spent in periodic evaluations (they count as training time)."""
        return self.evaluations.seconds

    @property
    def last_evaluation(self) -> Evaluation | None:
        return self.evaluations.last

    def clock(self) -> float:
        """Training seconds so far, earlier resumed parts included, pauses excluded."""
        return self._clock()

    @contextmanager
    def off_the_clock(self) -> Iterator[None]:
        """What runs inside does not count as training time (like a pause): a measurement
        an outside observer takes — a search's objective — must not eat the run's budget."""
        began = time.monotonic()
        try:
            yield
        finally:
            self._paused_for += time.monotonic() - began

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> RunFinished:
        """Train until the budget is spent, `stop()` or a callback stops it; blocking.
        Returns the final event (an exception is raised again after RunFinished("error")).
        The run folder's lock is released when it returns."""
        try:
            return self._train()
        finally:
            if self._lock is not None:
                self._lock.release()

    def _train(self) -> RunFinished:
        torch.set_num_threads(self.config.train.torch_threads)
        self._start()
        agent, sim = self.agent, self.sim
        # On the run's clock: a warm-started run gets no more time than another.
        fresh = not self.resumed and agent.updates == 0 and self.env_steps == 0
        warm_start_agent(
            agent,
            sim,
            self.config.train.seed,
            pretrain=fresh,
            stop=lambda: self._stop_requested.is_set() or self.fraction_done() >= WARM_START_SHARE,
        )
        if self._obs is None:
            self._obs = sim.reset(seed=self.config.train.seed)
        reason, message = FinishReason.BUDGET, ""
        try:
            while True:
                self._honour_pause()
                if self._stop_requested.is_set():
                    reason = FinishReason.STOPPED
                    break
                if self.budget.spent(self.env_steps, self.episodes, self._clock()):
                    break
                # Collect: one ε-greedy action per session (among its candidates when the
                # simulator offers a set), one step of every session.
                agent.budget_fraction = self.fraction_done()  # for budget-tied schedules
                obs, epsilon = self._obs, agent.epsilon(self.env_steps)
                candidates = sim.candidates()
                if candidates is None:
                    actions = agent.act_explore(obs, sim.mask.copy(), epsilon)
                else:
                    actions = agent.act_explore(obs, sim.candidate_mask(), epsilon, candidates)
                result = sim.step(actions)
                # Store: the transitions go to the replay buffer, with what the next states
                # may choose from (their mask, or their candidates and its mask).
                next_candidates = sim.candidates()
                next_mask = sim.mask if next_candidates is None else sim.candidate_mask()
                agent.remember(
                    obs, actions, result.reward, result.obs, result.done, next_mask, next_candidates
                )
                self._obs = result.obs
                self.env_steps += len(actions)
                agent.env_steps = self.env_steps  # for the γ schedule
                self.episodes += int(result.done.sum())
                self.last_step = result
                # Learn: the updates this step owes at the replay ratio.
                self.last_losses = []
                bad_loss = self._learn()
                if bad_loss is not None:
                    reason = FinishReason.DIVERGED
                    message = self._divergence_message(bad_loss)
                    break
                # Callbacks: log, evaluate, checkpoint; every one runs, any may stop the run.
                stop_asked = [callback.on_step(self) for callback in self.callbacks]
                if any(stop_asked):
                    reason = FinishReason.STOPPED
                    break
            # Training time ends here: the final evaluation and checkpoint are not training.
            trained_for = self._clock()
            self._clock = lambda: trained_for
            if reason is FinishReason.STOPPED:
                self._set_state(RunState.STOPPING)
            for callback in self.callbacks:
                callback.on_end(self, reason)
        except Exception as exc:
            self._finish(FinishReason.ERROR, error_line(exc))  # one line, however long
            raise
        return self._finish(reason, message)

    def _start(self) -> None:
        self._writer = runs.MetricsWriter(self.run_dir)
        self._set_state(RunState.RUNNING)
        started = time.monotonic()
        self._paused_for = 0.0
        self._clock = lambda: self.seconds_before + time.monotonic() - started - self._paused_for
        self.publish(
            RunStarted(
                run_dir=str(self.run_dir),
                preset=self.config.preset,
                n_items=self.sim.n_items,
                budget=self.budget.as_dict(),
                resumed=self.resumed,
                env_steps=self.env_steps,
            )
        )
        # Where the agent stands, for the faces' charts: measured before the first step and
        # off the clock (the first evaluation would need it anyway).
        with self.off_the_clock():
            ref = self.references()
        self.publish(References(ref["random"], ref["oracle"], env_steps=self.env_steps))
        self.progress_log.window.start(self._clock(), self.env_steps)

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
            self.last_losses.append(loss)
        return None

    def _divergence_message(self, bad_loss: float) -> str:
        """One line: when the loss went non-finite, what in it did first, whether a good
        checkpoint is kept (a divergence never writes one), and what to change."""
        found = diagnose(self.agent)
        if self.checkpointed_at is None:
            kept = "no checkpoint was written (the run diverged before its first)"
        else:
            kept = f"kept the last good checkpoint (env step {self.checkpointed_at})"
        return (
            f"loss became {bad_loss} at update {self.agent.updates + 1} (env step "
            f"{self.env_steps}): {found.what}; {kept} — {found.advice}"
        )

    def _honour_pause(self) -> None:
        """Block while paused (the pause does not count as training time)."""
        if self._running.is_set():
            return
        began = time.monotonic()
        self._set_state(RunState.PAUSED)
        while not self._running.wait(0.05):
            pass
        self._paused_for += time.monotonic() - began
        if not self._stop_requested.is_set():
            self._set_state(RunState.RUNNING)

    def _finish(self, reason: FinishReason, message: str) -> RunFinished:
        if self.last_evaluation is not None:
            runs.write_json(self.run_dir / runs.EVAL_FILE, self.eval_summary())
        event = RunFinished(
            reason=reason,
            env_steps=self.env_steps,
            updates=self.agent.updates,
            seconds=self._clock(),
            message=message,
        )
        self.publish(event)
        if self._writer is not None:
            self._writer.close()
        self._set_state(RunState.FINISHED)
        return event

    def fraction_done(self) -> float:
        """Of the budget, in [0, 1]."""
        return self.budget.fraction_done(self.env_steps, self.episodes, self._clock())

    # -- evaluation ----------------------------------------------------------------------------
    def evaluation_sim(self) -> Any:
        """The simulator of the fixed evaluation sessions (built once)."""
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
                self.config.env,
                train.eval_episodes,
                train.eval_seed,
                self.dataset,
                dataset_key=self.config.dataset_fingerprint,
            )
            self._references = {"random": random_return, "oracle": oracle_return}
        return self._references

    def evaluate(self) -> PolicyReport:
        """A greedy `PolicyReport` of the agent on the evaluation seed."""
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

    def eval_summary(self) -> dict[str, Any]:
        """The last evaluation with its references: the run folder's `eval.json`."""
        e = self.last_evaluation
        if e is None:
            raise RlrecError(f"{self.run_dir}: no evaluation yet")
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
    def save_checkpoint(self) -> Path:
        """Write the checkpoint (data only, crash-safe; see `engine.training.checkpoint`) and
        publish Checkpointed."""
        if self._writer is None:
            raise RlrecError(f"{self.run_dir}: no checkpoint before the run has started")
        metrics_offset, timing_offset = self._writer.offsets()
        last_eval = self.last_evaluation
        state = {
            "agent": self.agent.state_dict(include_replay=self.config.train.checkpoint_replay),
            # The sessions mid-episode and their RNG, so a resume is exact; the simulator
            # itself is rebuilt from the config and dataset.
            "sim": self.sim.session_state(),
            "obs": self._obs,
            "counters": {
                "env_steps": self.env_steps,
                "episodes": self.episodes,
                "update_credit": self.update_credit,
                "seconds": self._clock(),
                "next_log": self.progress_log.next_at,
                "next_eval": self.evaluations.next_at,
                "next_checkpoint": self.checkpoints.next_at,
            },
            "window": self.progress_log.window.state(),
            "budget": self.budget.as_dict(),
            "metrics_offset": metrics_offset,
            "timing_offset": timing_offset,
            "last_eval": None if last_eval is None else to_record(last_eval),
        }
        path = runs.save_checkpoint(self.run_dir, state)
        self.checkpointed_at = self.env_steps
        self.checkpoint_bytes = checkpoint.checkpoint_bytes(self.run_dir)
        self.publish(
            Checkpointed(env_steps=self.env_steps, path=str(path), bytes=self.checkpoint_bytes)
        )
        return path

    # -- events ---------------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Append `event` to the run's logs, then hand it to every subscriber."""
        if self._writer is not None:
            self._writer.write(event)
        for callback in list(self._subscribers):
            callback(event)

    def _set_state(self, state: RunState) -> None:
        if state == self._state:
            return
        self._state = state
        if state in (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING):
            self.publish(StateChanged(state=state))


def _refuse_used_folder(path: Path) -> None:
    if runs.is_run(path):
        raise RlrecError(f"{path}: already a run (use `rlrec resume {path}` to continue it)")
    if path.exists() and not runs.is_unused_folder(path):
        raise RlrecError(f"{path}: exists and is not an empty folder; choose a new run folder")


def _restore(trainer: Trainer, state: dict[str, Any], budget: Budget | None) -> None:
    """Put a checkpoint's state into a freshly built Trainer of the same run."""
    run_dir = trainer.run_dir
    trainer.resumed = True
    trainer.agent.load_state_dict(state["agent"])
    trainer.sim.restore_session_state(state["sim"])
    obs = np.asarray(state["obs"])
    if obs.shape != (trainer.sim.n_envs, trainer.sim.obs_dim) or obs.dtype != np.float32:
        raise ValueError(f"observations of shape {obs.shape} {obs.dtype}")
    trainer._obs = obs
    counters = state["counters"]
    trainer.env_steps = trainer.agent.env_steps = int(counters["env_steps"])
    trainer.checkpointed_at = trainer.env_steps
    trainer.episodes = int(counters["episodes"])
    trainer.update_credit = float(counters["update_credit"])
    trainer.seconds_before = float(counters["seconds"])
    trainer.progress_log.next_at = float(counters["next_log"])
    trainer.evaluations.next_at = float(counters["next_eval"])
    trainer.checkpoints.next_at = float(counters["next_checkpoint"])
    window, expected = state["window"], trainer.progress_log.window.state()
    if not isinstance(window, dict) or set(window) != set(expected):
        raise ValueError("the progress window's fields differ")
    if not all(isinstance(v, (int, float)) for v in window.values()):
        raise ValueError("the progress window holds a non-number")
    trainer.progress_log.window.load(window)
    if state.get("last_eval"):
        last = from_record(state["last_eval"])
        trainer.evaluations.last = last if isinstance(last, Evaluation) else None
    runs.truncate_logs(run_dir, int(state["metrics_offset"]), int(state["timing_offset"]))
    if budget is None:
        trainer.budget = Budget.from_dict(state["budget"])
    else:
        trainer.budget = trainer.budget.extended_by(
            budget, trainer.env_steps, trainer.episodes, trainer.seconds_before
        )
