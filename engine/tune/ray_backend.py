"""The same search on a Ray cluster: Ray Tune runs the trials (anywhere on the cluster), the
study's own Optuna sampler proposes them, ASHA stops the weak ones, and every trial lands in
the study folder's Optuna study with the same numbers, run folders, states and user attributes
as the local backend's — `rlrec tune --show` and the TUI read a Ray search like any other.

One driver (this process) owns the study; workers only train:

- `_StudySearcher`, a Tune `Searcher`, asks the study for each trial exactly as the local
  backend does (`study.load_study` for the sampler, `study._next_trial` for the limits: the
  study's finished-trial count, the wall-clock budget, an exhausted grid). The trial thus has
  its number — hence its run folder — before it runs and shows as RUNNING to a follower; its
  pid/host are the driver's, so a killed driver's trials are recovered by the next command
  like a killed local search's. It records each evaluation as an intermediate value (step =
  report number, as the local pruner sees it) and tells the end: COMPLETE with the trial's
  value, PRUNED when ASHA stopped it, FAIL on an error or when the search ended under it.
  Ray's own `OptunaSearch` was not used: it keeps a study of its own making (its sampler, no
  limits), tells an ASHA-stopped trial COMPLETE with its last intermediate value and steps by
  Tune iteration; overriding every hook of it to fix that left nothing of it but coupling to
  its private state. A driver-side `tune.Callback` copying finished trials in would number
  them only at their end, after their run folders are named, and hide running ones.
- a worker runs `objective.run_trial` (the local backend's trial function) in the trial's run
  folders inside the study folder, sending each evaluation to Tune with `tune.report`; a last
  report marked `final` carries the outcome. Workers never open the database (on a real
  cluster the study folder must be on a filesystem every node shares).

Ray is an optional extra (`rlrec[ray]`), imported only here, lazily.
Sources: Li et al., "A System for Massively Parallel Hyperparameter Tuning" (ASHA), MLSys
2020; Ray Tune's `Searcher` and `ASHAScheduler` (docs.ray.io/en/latest/tune)."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import Option, RlrecError, error_line
from rlrec.engine.tune.objective import REPORTS
from rlrec.engine.tune.report import TrialAttrs, TrialRow, trial_row
from rlrec.engine.tune.storage import StudySpec, trial_run_names

if TYPE_CHECKING:
    import optuna

    from rlrec.engine.tune.space import SearchSpace
    from rlrec.engine.tune.study import Limits

# What a worker reports to Tune (its result keys).
METRIC = "objective"
REPORT = "report"  # the evaluation's number, 1 … REPORTS: ASHA's clock
STEPS = "env_steps"  # of the trial's runs so far
SECONDS = "seconds"  # since the trial began in its worker
FINAL = "final"  # 1 in the last report, which carries the trial's outcome
ERROR = "error"  # in the final report of a trial its config or trainer refused
NUMBER = "trial_number"  # in the config Tune hands a worker, with VALUES
VALUES = "values"

# ASHA's first rung after this many evaluations, then every `REDUCTION`× further, keeping the
# best 1/`REDUCTION` at each (Li et al. 2020, algorithm 2). The rungs lie before the last
# evaluation (max_t = REPORTS - 1: rungs 2 and 4 of 8), so a trial that spent its whole
# budget is finished, never "stopped early".
GRACE_PERIOD = 2
REDUCTION = 2
# A searcher refused a trial (limits reached while trials still run): ask the study again
# only after this long, not on every turn of Tune's loop.
RETRY_SECONDS = 1.0

ADDRESSES = ("auto", "local")  # or host:port of a running cluster's head


def ray_missing_error() -> RlrecError:
    return RlrecError([Option("ray"), " needs Ray: pip install 'rlrec[ray]'"], option="ray")


def require_ray() -> None:
    """RlrecError (one line naming the extra) when Ray Tune is not installed."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        from ray.tune.schedulers import ASHAScheduler  # noqa: F401
        from ray.tune.search import Searcher  # noqa: F401
    except ImportError:
        raise ray_missing_error() from None


def check_address(address: str) -> None:
    """Everything about `--ray ADDRESS` that can be checked before a study is made: Ray is
    installed, and the address is "auto", "local" or a host:port whose port answers.
    RlrecError (option "ray") otherwise."""
    require_ray()
    if address not in ADDRESSES:
        _check_reachable(address)


def connect(address: str) -> bool:
    """Join a Ray cluster; True when this call joined or started one (the caller shuts Ray
    down: that stops a cluster it started, and only leaves one it joined).

    `address`: "auto" = the running cluster this machine knows of (`ray start`, RAY_ADDRESS),
    else a new local one; "local" = always a new local instance; "host:port" = that
    cluster's head. A local instance has no dashboard, sends no usage statistics and keeps
    its logs in Ray's temp folder (/tmp/ray); its processes talk over this machine's own
    address (Ray resolves 127.0.0.1 to it) and, by Ray's default for a new local instance,
    with a token (~/.ray/auth_token). Ray joins a token-authenticated cluster found by "auto"
    with the token by itself, one given by address only with RAY_AUTH_MODE=token. Already
    connected in this process: kept as is.
    RlrecError when Ray is missing or the address cannot be reached."""
    check_address(address)
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
            found = _known_cluster()
            if found is not None and _answers(found):
                ray.init(address="auto", **quiet)  # "auto": Ray brings the cluster's token
                return True
            target = "local"  # none running (or a crashed one's stale address)
        if target == "local":
            ray.init(address="local", **quiet)
        else:
            ray.init(address=target, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RlrecError(
            [
                Option("ray", repr(address)),
                f": cannot join the Ray cluster ({exc}); a cluster started with token "
                "authentication (Ray's default) is joined by address with RAY_AUTH_MODE=token",
            ],
            option="ray",
            value=address,
        ) from None
    return True


# Seconds to wait for a cluster head's port to answer: Ray itself retries an unreachable
# address for minutes before it gives up.
REACH_SECONDS = 5.0


def _known_cluster() -> str | None:
    """The host:port of the cluster "auto" would join (RAY_ADDRESS, or the one `ray start`
    last noted in Ray's temp folder), None when there is none."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address("auto")
    except Exception:  # Ray's private helper moved or refused: let ray.init decide
        return None


def _answers(address: str) -> bool:
    return _refusal(address) is None


def _refusal(address: str) -> OSError | None:
    """Why a TCP connection to host:port `address` fails within REACH_SECONDS, or None."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError as exc:
        return exc
    return None


def _check_reachable(address: str) -> None:
    """RlrecError (option "ray") unless `address` is host:port and that port answers."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RlrecError(
            [Option("ray", repr(address)), ": expected auto, local or HOST:PORT"],
            option="ray",
            value=address,
            allowed=[*ADDRESSES, "HOST:PORT"],
        )
    refusal = _refusal(address)
    if refusal is not None:
        raise RlrecError(
            [Option("ray", repr(address)), f": no Ray cluster answers there ({refusal})"],
            option="ray",
            value=address,
        )


@dataclass(frozen=True)
class _TrialContext:
    """What every worker needs besides the trial's number and values (sent once)."""

    folder: Path  # the study folder, absolute
    spec: StudySpec


def _run_one_trial(config: dict[str, Any], context: _TrialContext) -> None:
    """Tune's trainable: one trial in a worker (any node of the cluster)."""
    from ray import tune

    from rlrec.engine.tune.objective import run_trial, trial_config
    from rlrec.engine.tune.space import overrides_for

    spec = context.spec
    names = trial_run_names(int(config[NUMBER]), spec.seeds)
    began = time.monotonic()
    current: list[Any] = []  # the trainer of the run in progress (its env steps)

    def report(number: int, value: float) -> bool:
        steps = int(current[0].env_steps) if current else 0
        progress = {STEPS: steps, SECONDS: time.monotonic() - began}
        try:
            tune.report({METRIC: float(value), REPORT: int(number), FINAL: 0, **progress})
        except SystemExit:  # ASHA stopped this trial: end its run cleanly (pruned)
            return True
        return False

    def keep(trainer: Any) -> None:
        current[:] = [trainer]

    try:
        run_config = trial_config(spec, overrides_for(config[VALUES]))
        folders = [context.folder / n for n in names]
        outcome = run_trial(run_config, folders, spec.objective, report, on_trainer=keep)
    except RlrecError as exc:
        # A combination the config or the trainer refuses fails this trial only, as locally.
        # (Tune refuses a result without the metric: NaN, which no scheduler ranks.)
        failed = {METRIC: math.nan, ERROR: error_line(exc), SECONDS: time.monotonic() - began}
        tune.report({**failed, FINAL: 1})
        return
    if outcome.pruned:
        return
    tune.report(
        {
            METRIC: outcome.value,
            FINAL: 1,
            "run_dirs": [p.name for p in outcome.run_dirs],
            SECONDS: outcome.seconds,
            STEPS: outcome.env_steps,
            "normalised": outcome.normalised,
            "report_env_steps": list(outcome.report_env_steps),
        }
    )


def _study_searcher(
    folder: Path,
    spec: StudySpec,
    space: SearchSpace,
    limits: Limits,
    stopped: set[str],
    on_trial: Callable[[TrialRow], None] | None,
) -> Any:
    """The Tune searcher that runs the study in `folder` (see the module's docstring)."""
    import optuna
    from ray.tune.search import Searcher

    from rlrec.engine.tune import study as tune_study
    from rlrec.engine.tune.space import decode

    states = optuna.trial.TrialState

    class StudySearcher(Searcher):
        def __init__(self) -> None:
            super().__init__(metric=METRIC, mode="max")
            seed = tune_study._sampler_seed(folder, 0)
            self.study = tune_study.load_study(folder, spec, space, seed=seed)
            self.deadline = limits.deadline(time.monotonic())
            self.live: dict[str, tuple[optuna.Trial, float]] = {}  # Tune id -> trial, start
            self.steps: dict[str, list[int]] = {}  # Tune id -> env steps at each report
            self.refused_at = -RETRY_SECONDS

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            now = time.monotonic()
            if self.live and now - self.refused_at < RETRY_SECONDS:
                return None
            trial = tune_study._next_trial(self.study, spec, space, limits, self.deadline, folder)
            if trial is None:
                # Running trials may yet fail and leave room for another: wait for them.
                self.refused_at = now
                # FINISHED: Tune's documented sentinel, a str its annotation leaves out.
                return None if self.live else Searcher.FINISHED  # type: ignore[return-value]
            values = tune_study._plain(decode(trial.params))
            trial.set_user_attr(TrialAttrs.BACKEND, "ray")
            trial.set_user_attr(TrialAttrs.VALUES, values)
            trial.set_user_attr(TrialAttrs.RUN_DIRS, trial_run_names(trial.number, spec.seeds))
            self.live[trial_id] = (trial, now)
            return {NUMBER: trial.number, VALUES: values}

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if trial_id in self.live and not result.get(FINAL) and REPORT in result:
                trial = self.live[trial_id][0]
                trial.report(float(result[METRIC]), int(result[REPORT]))
                self.steps.setdefault(trial_id, []).append(int(result.get(STEPS, 0)))

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id not in self.live:
                return
            result = result or {}
            final = bool(result.get(FINAL)) and not error
            if not final:
                self.on_trial_result(trial_id, result)  # ASHA's stopping report came here only
            trial, began = self.live.pop(trial_id)
            steps = self.steps.pop(trial_id, [])
            attrs = {TrialAttrs.SECONDS: result.get(SECONDS, time.monotonic() - began)}
            if final and ERROR not in result:
                attrs[TrialAttrs.RUN_DIRS] = result["run_dirs"]
                attrs[TrialAttrs.ENV_STEPS] = result[STEPS]
                attrs[TrialAttrs.NORMALISED] = result["normalised"]
                attrs["report_env_steps"] = result["report_env_steps"]
            elif ERROR in result:
                attrs["error"] = result[ERROR]
            elif steps:  # stopped after a report: its run went that far
                attrs[TrialAttrs.ENV_STEPS] = steps[-1]
                attrs["report_env_steps"] = steps
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            if final and ERROR not in result:
                self.study.tell(trial, float(result[METRIC]))
                with tune_study.study_lock(folder):
                    tune_study.write_best_config(self.study, spec, folder)
            elif trial_id in stopped and not error:
                # ASHA sees the first run only: the trial stopped there, before any other.
                trial.set_user_attr(
                    TrialAttrs.RUN_DIRS, trial_run_names(trial.number, spec.seeds)[:1]
                )
                self.study.tell(trial, state=states.PRUNED)
            else:  # an error, or the search ended under it (Ctrl+C, another trial's error)
                self.study.tell(trial, state=states.FAIL)
            if on_trial is not None:
                stored = self.study._storage.get_trial(trial._trial_id)
                on_trial(trial_row(stored, folder))

        # Tune checkpoints a searcher's state with these; this one's state is the study.
        def save(self, checkpoint_path: str) -> None:
            return None

        def restore(self, checkpoint_path: str) -> None:
            return None

        def abandon_unfinished(self) -> None:
            """FAIL the trials Tune never finished."""
            for trial_id in list(self.live):
                self.on_trial_complete(trial_id, None, error=True)

    return StudySearcher()


def _scheduler(pruner: str, stopped: set[str]) -> Any:
    """ASHA (FIFO for pruner "none"), noting in `stopped` the trials it stops: only those
    are PRUNED."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

    if pruner == "none":
        return FIFOScheduler()

    class NotingASHA(ASHAScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            action = super().on_trial_result(tune_controller, trial, result)
            if action == TrialScheduler.STOP:
                stopped.add(trial.trial_id)
            return str(action)

    return NotingASHA(
        metric=METRIC,
        mode="max",
        time_attr=REPORT,
        max_t=REPORTS - 1,
        grace_period=GRACE_PERIOD,
        reduction_factor=REDUCTION,
        stop_last_trials=False,  # the trial's own budget ends it
    )


def run_ray_search(
    folder: Path,
    spec: StudySpec,
    space: SearchSpace,
    address: str,
    *,
    limits: Limits,
    jobs: int = 1,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> int:
    """Run the study in `folder` on the Ray cluster at `address` (see `connect`) until
    `limits` (the study's finished trials, this command's wall-clock budget) or the grid say
    stop, `jobs` trials at a time, each taking one CPU of the cluster. Trials are run by
    `objective.run_trial` in their run folders inside `folder` and stopped early by ASHA
    unless `spec.pruner` is "none". `on_trial` hears of every trial that ends, in this
    process. Returns the number of trials this call ran. Ray is shut down at the end if this
    call started or joined it.

    A trial whose config or trainer is refused (RlrecError) fails alone, as locally; any
    other error in a trial ends the search and is raised here. RlrecError: Ray missing,
    address unreachable."""
    require_ray()
    import ray
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    folder = Path(folder).resolve()
    # Tune's progress tables would go to stdout, which holds our results (and --json); of its
    # per-trial logs only the JSON one is kept (Tune reads it back), not TensorBoard's.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # Ctrl+C raises KeyboardInterrupt here, as in the local backend (running trials are
    # marked failed and the same command continues the study), instead of Tune swallowing it.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    started = connect(address)
    try:
        stopped: set[str] = set()
        searcher = _study_searcher(folder, spec, space, limits, stopped, on_trial)
        trainable = tune.with_resources(
            tune.with_parameters(_run_one_trial, context=_TrialContext(folder, spec)),
            {"cpu": 1},
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=_scheduler(spec.pruner, stopped),
                num_samples=-1,  # the searcher says when to stop
                max_concurrent_trials=max(1, jobs),
            ),
            run_config=tune.RunConfig(
                # Tune's own bookkeeping, out of sight beside the trials.
                storage_path=str(folder / ".ray"),
                name=time.strftime("%Y%m%d-%H%M%S"),
                verbose=0,
                callbacks=[JsonLoggerCallback()],
                failure_config=tune.FailureConfig(fail_fast=True),
            ),
        )
        try:
            results = tuner.fit()
        finally:
            searcher.abandon_unfinished()
        if results.errors:
            error = results.errors[0]
            raise getattr(error, "cause", None) or error
        return len(results)
    finally:
        if started:
            ray.shutdown()
