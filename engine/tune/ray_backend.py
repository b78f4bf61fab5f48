"""The same search on a Ray cluster: Ray Tune runs the trials (anywhere on the cluster), Optuna
samples them and ASHA stops the weak ones, and every trial lands in the study folder's own
Optuna study — same numbers, run folders, states and user attributes as the local backend —
so `rlrec tune --show` and the TUI read a Ray search as they read any other.

How it fits together (one driver, many workers):

- the driver owns the study: `_StudySearch`, an `OptunaSearch` on the study's SQLite storage,
  asks Optuna for each trial (the trial gets its number, hence its run folder, and shows as
  RUNNING at once), records the intermediate values with the env steps as the step, and
  tells the end with the right state — COMPLETE with the trial's value, PRUNED when ASHA
  stopped it, FAIL on an error. Ray's stock `OptunaSearch` tells an ASHA-stopped trial as
  COMPLETE with its last intermediate value and steps by Tune iteration, and knows nothing of
  run folders; a driver-side `tune.Callback` writing finished trials with `create_trial`
  would number trials only at their end (after their run folders are named) and hide
  running ones from a follower.
- a worker runs `objective.run_trial` (the same trial function as the local backend) in its
  run folders inside the study folder, sending each periodic evaluation to Tune with
  `tune.report`; a last report marked `final` carries the trial's value. Workers never open
  the database: on a real cluster the study folder must be on a filesystem every node
  shares, the database is only ever written by the driver.

Ray is an optional extra (`rlrec[ray]`) imported only here, lazily.
Sources: Li et al., "A System for Massively Parallel Hyperparameter Tuning" (ASHA), MLSys
2020; Ray Tune's `OptunaSearch` and `ASHAScheduler` (docs.ray.io/en/latest/tune)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import Option, RlrecError
from rlrec.engine.tune.report import TrialAttrs
from rlrec.engine.tune.storage import StudySpec, open_storage, trial_run_name

if TYPE_CHECKING:
    import optuna

    from rlrec.engine.training.run_config import RunConfig
    from rlrec.engine.tune.space import SearchSpace

# What a worker reports to Tune (its result keys).
METRIC = "objective"
FINAL = "final"  # 1 in the report carrying the trial's value, after its last evaluation
STEPS = "env_steps"
EVALUATION = "evaluation"  # 1, 2, … : ASHA's clock (the final report has none)
NUMBER = "_trial_number"  # the Optuna trial number, added to the config Tune hands a worker

# Periodic evaluations per trial; ASHA's rungs are counted in them.
REPORTS = 8
# ASHA: the first rung after this many evaluations, then every `REDUCTION`× further, keeping
# the best 1/`REDUCTION` at each rung (Li et al. 2020, algorithm 2). Rungs lie strictly
# before the last evaluation (max_t = REPORTS - 1 gives rungs 2 and 4 of 8): a trial that
# has spent its whole budget is finished, not stopped early.
GRACE_PERIOD = 2
REDUCTION = 2

ADDRESSES = ("auto", "local")  # or host:port of a running cluster's head


def ray_missing_error() -> RlrecError:
    return RlrecError([Option("ray"), " needs Ray: pip install 'rlrec[ray]'"], option="ray")


def require_ray() -> None:
    """RlrecError (one line naming the extra) when Ray Tune is not installed."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError:
        raise ray_missing_error() from None


def connect(address: str) -> bool:
    """Join a Ray cluster; True when this call joined or started one (the caller shuts Ray
    down: that stops a cluster it started, and only leaves one it joined).

    `address`: "auto" = the running cluster this machine knows of (`ray start`, RAY_ADDRESS),
    else a new local one; "local" = always a new local instance; "host:port" = that
    cluster's head. A local instance listens on 127.0.0.1 only, has no dashboard, and keeps
    its logs in Ray's temp folder (/tmp/ray). Already connected in this process: kept as is.
    RlrecError when Ray is missing or the address cannot be reached."""
    require_ray()
    import ray

    if ray.is_initialized():
        return False
    # Ray would otherwise report usage statistics over the network.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": False,  # workers' output stays in their logs; stdout is ours
        "configure_logging": True,
    }
    target = address
    try:
        if target == "auto":
            try:
                ray.init(address="auto", **quiet)
                return True
            except ConnectionError:  # no cluster running: start one here
                target = "local"
        if target == "local":
            ray.init(address="local", _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address=target, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RlrecError(
            [Option("ray", repr(address)), f": cannot join the Ray cluster ({exc})"],
            option="ray",
            value=address,
        ) from None
    return True


@dataclass(frozen=True)
class _TrialContext:
    """What every worker needs besides the sampled parameters (sent once to the cluster)."""

    folder: Path  # the study folder, absolute
    base: RunConfig
    space: SearchSpace
    objective: str
    seeds: int


def run_dir_names(number: int, seeds: int) -> list[str]:
    """The run folders of trial `number` inside the study folder."""
    if seeds <= 1:
        return [trial_run_name(number)]
    return [trial_run_name(number, i) for i in range(seeds)]


def _run_one_trial(config: dict[str, Any], context: _TrialContext) -> None:
    """Tune's trainable: one trial in a worker (any node), reporting to the driver."""
    from ray import tune

    from rlrec.engine.tune.objective import run_trial, trial_config

    number = int(config[NUMBER])
    params = context.space.decode({k: v for k, v in config.items() if k != NUMBER})
    run_config = trial_config(context.base, params)
    folders = [context.folder / name for name in run_dir_names(number, context.seeds)]
    who = {"pid": os.getpid(), "host": socket.gethostname()}
    evaluations = [0]

    def report(steps: int, value: float) -> bool:
        evaluations[0] += 1
        result = {METRIC: float(value), STEPS: int(steps), EVALUATION: evaluations[0]}
        try:
            tune.report({**result, FINAL: 0, **who})
        except SystemExit:  # ASHA stopped this trial: end its runs cleanly
            return True
        return False

    outcome = run_trial(run_config, folders, context.objective, report, reports=REPORTS)
    if outcome.pruned or outcome.value is None:
        return
    tune.report(
        {
            METRIC: float(outcome.value),
            STEPS: int(outcome.env_steps),
            FINAL: 1,
            "seconds": float(outcome.seconds),
            "normalised": outcome.normalised,
            **who,
        }
    )


def _sampler(name: str, space: SearchSpace) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "grid":
        return optuna.samplers.GridSampler(space.grid())
    if name == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def _study_search(
    storage: optuna.storages.BaseStorage,
    spec: StudySpec,
    space: SearchSpace,
    seeds: int,
    deadline: float | None,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None,
) -> Any:
    """The `OptunaSearch` that keeps the study folder's study (see the module's docstring)."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(
                space=space.distributions(),
                metric=METRIC,
                mode="max",
                sampler=_sampler(spec.sampler, space),
                study_name=spec.name,
                storage=storage,
            )
            self._started: dict[str, float] = {}
            self._steps: dict[str, set[int]] = {}

        def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
            if deadline is not None and time.monotonic() >= deadline:
                # Like Optuna's timeout: no new trial, the running ones finish.
                return OptunaSearch.FINISHED
            config = super().suggest(trial_id)
            if config is None:
                return None
            trial = self._ot_trials[trial_id]
            trial.set_user_attr(TrialAttrs.VALUES, space.decode(dict(trial.params)))
            trial.set_user_attr(TrialAttrs.RUN_DIRS, run_dir_names(trial.number, seeds))
            trial.set_user_attr(TrialAttrs.BACKEND, "ray")
            self._started[trial_id] = time.monotonic()
            self._steps[trial_id] = set()
            return {**config, NUMBER: trial.number}

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            self._record(trial_id, result)

        def _record(self, trial_id: str, result: dict[str, Any]) -> None:
            trial = self._ot_trials[trial_id]
            seen = self._steps[trial_id]
            if not seen and "pid" in result:
                trial.set_user_attr(TrialAttrs.PID, result["pid"])
                trial.set_user_attr(TrialAttrs.HOST, result["host"])
            if result.get(FINAL) or METRIC not in result:
                return
            step = int(result[STEPS])
            if step not in seen:
                seen.add(step)
                trial.report(float(result[METRIC]), step)

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id in self._completed_trials or trial_id not in self._ot_trials:
                return
            trial = self._ot_trials[trial_id]
            if result:
                self._record(trial_id, result)  # ASHA's stopping result is not sent before
            final = bool(result and result.get(FINAL)) and not error
            seconds = (result or {}).get("seconds")
            if seconds is None:
                seconds = time.monotonic() - self._started.get(trial_id, time.monotonic())
            trial.set_user_attr(TrialAttrs.SECONDS, float(seconds))
            if result and STEPS in result:
                trial.set_user_attr(TrialAttrs.ENV_STEPS, int(result[STEPS]))
            if final:
                trial.set_user_attr(TrialAttrs.NORMALISED, result.get("normalised"))  # type: ignore[union-attr]
                self._ot_study.tell(trial, float(result[METRIC]))  # type: ignore[index]
            else:
                state = optuna.trial.TrialState.FAIL if error else optuna.trial.TrialState.PRUNED
                self._ot_study.tell(trial, state=state)
            self._completed_trials.add(trial_id)
            if on_trial is not None:
                on_trial(self._ot_study._storage.get_trial(trial._trial_id))

    return StudySearch()


def run_ray_search(
    folder: Path,
    spec: StudySpec,
    space: SearchSpace,
    base: RunConfig,
    address: str,
    *,
    trials: int | None,
    seconds: float | None,
    jobs: int = 1,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> int:
    """Run up to `trials` new trials (or until `seconds` of wall time) of the study in
    `folder` on the Ray cluster at `address` (see `connect`), `jobs` at a time, each taking
    one CPU. Trials are `base` with the sampled parameters, run by `objective.run_trial` in
    their run folders inside `folder`, stopped early by ASHA when `spec.pruner` is not
    "none". `on_trial` is told each finished trial (in the driver, as it ends). Returns the
    number of trials Tune ran. Ray is shut down at the end if this call started it.
    RlrecError: Ray missing, address unreachable."""
    require_ray()
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    folder = Path(folder).resolve()
    # Tune's progress tables would go to stdout, which holds our results (and --json).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = connect(address)
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        search = _study_search(open_storage(folder), spec, space, spec.seeds, deadline, on_trial)
        scheduler: Any = (
            FIFOScheduler()
            if spec.pruner == "none"
            else ASHAScheduler(
                time_attr=EVALUATION,
                max_t=REPORTS - 1,
                grace_period=GRACE_PERIOD,
                reduction_factor=REDUCTION,
                stop_last_trials=False,  # the trial's own budget ends it
            )
        )
        context = _TrialContext(folder, base, space, spec.objective, spec.seeds)
        trainable = tune.with_resources(
            tune.with_parameters(_run_one_trial, context=context), {"cpu": 1}
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=METRIC,
                mode="max",
                search_alg=search,
                scheduler=scheduler,
                num_samples=-1 if trials is None else trials,
                max_concurrent_trials=max(1, jobs),
            ),
            run_config=tune.RunConfig(
                # Tune's own bookkeeping, kept out of sight beside the trials.
                storage_path=str(folder / ".ray"),
                name=time.strftime("%Y%m%d-%H%M%S"),
                verbose=0,
                log_to_file=True,
            ),
        )
        results = tuner.fit()
        return len(results)
    finally:
        if started:
            ray.shutdown()
