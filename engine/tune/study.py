"""The search loop on Optuna: ask the sampler for a trial's values, train and measure it
(`objective.run_trial`, reporting to the pruner), tell the study how it ended — in one process
or in `jobs` worker processes sharing the study's SQLite database.

- Samplers: grid (every point of a discrete space, in Optuna's random order), TPE (Bergstra
  et al., 2011, "Algorithms for Hyper-Parameter Optimization"), random; `auto` is grid for a
  discrete space, else TPE.
- Pruners: median (stop a trial whose value at a report is below the median of earlier
  trials' at the same report), Hyperband (Li et al., 2018) with the reports as resource.
- Limits: `trials` counts the study's finished (complete + pruned) trials, earlier commands'
  included, so running the same command again continues to the same total. `seconds` is a
  wall-clock budget: no trial starts that could not finish in it.
- A trial interrupted by Ctrl+C is marked failed; one whose process was killed (kill -9) is
  found by its dead PID when the next command starts, marked failed and queued again, so no
  point of the search is lost and no finished trial is repeated.
"""

from __future__ import annotations

import fcntl
import math
import multiprocessing
import os
import signal
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rlrec.data.errors import RlrecError, error_line
from rlrec.data.files import atomic_write_text
from rlrec.engine.config_base import deep_merge, load_yaml
from rlrec.engine.tune.objective import REPORTS, run_trial, trial_config
from rlrec.engine.tune.report import TrialAttrs, TrialRow, process_alive, trial_row
from rlrec.engine.tune.space import SearchSpace, decode, load_space, overrides_for
from rlrec.engine.tune.storage import (
    BEST_CONFIG,
    StudySpec,
    open_storage,
    trial_run_names,
)

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("auto", "grid", "tpe", "random")
PRUNERS = ("median", "hyperband", "none")
LOCK_FILE = ".tune.lock"  # serialises asking for a trial between worker processes
# Until a trial of this study has finished, what a trial costs beyond its training budget
# (building the simulator, evaluations, checkpoints), for the `seconds` limit.
FIRST_OVERHEAD_SECONDS = 10.0
# Trials the median pruner lets finish before it compares (Optuna's default is 5; a short
# search must start pruning sooner to pay for itself).
MEDIAN_STARTUP_TRIALS = 3
# Reports a trial makes before the median pruner may stop it (Optuna prunes from the step equal
# to this): the first report, at an eighth of the budget, mostly tells how fast the start was.
MEDIAN_WARMUP_REPORTS = 2

GRID_SEED = 0
# Seconds the workers of a parallel search get to end their trials after Ctrl+C.
WORKER_GRACE_SECONDS = 10.0

TrialCallback = Callable[[TrialRow], None]


@dataclass(frozen=True)
class Limits:
    trials: int | None = None  # finished trials the study should reach
    seconds: float | None = None  # wall-clock budget of this command

    def deadline(self, began: float) -> float:
        return math.inf if self.seconds is None else began + self.seconds


def resolve_sampler(name: str, space: SearchSpace) -> str:
    """`auto` made concrete: grid for a discrete space, TPE otherwise. RlrecError (option
    "sampler") for an unknown name or grid on a space with continuous parameters."""
    if name not in SAMPLERS:
        raise RlrecError(
            f"--sampler {name}: unknown (allowed: {', '.join(SAMPLERS)})",
            key="sampler",
            value=name,
            option="sampler",
        )
    if name == "auto":
        return "grid" if space.is_discrete else "tpe"
    if name == "grid" and not space.is_discrete:
        continuous = [p.key for p in space.params if p.grid_points is None]
        raise RlrecError(
            f"--sampler grid needs a discrete space; {continuous[0] if continuous else 'a key'} "
            "is continuous (give it choices, or an int range with a step)",
            key="sampler",
            option="sampler",
        )
    return name


def check_pruner(name: str) -> None:
    if name not in PRUNERS:
        raise RlrecError(
            f"--pruner {name}: unknown (allowed: {', '.join(PRUNERS)})",
            key="pruner",
            value=name,
            option="pruner",
        )


def make_sampler(name: str, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "grid":
        # One order for every process and command on the study: GridSampler numbers the
        # grid's points after shuffling them with its seed, so two seeds would disagree on
        # which points are done.
        return _grid_sampler(space.grid(), GRID_SEED)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _grid_sampler(grid: dict[str, list[Any]], seed: int | None) -> optuna.samplers.BaseSampler:
    """Optuna's GridSampler for ask-and-tell: its `after_trial` stops the study when the grid
    is used up, which only works inside `Study.optimize`; this loop checks `_grid_taken`
    before each trial instead."""
    import optuna

    class AskTellGridSampler(optuna.samplers.GridSampler):
        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return AskTellGridSampler(grid, seed=seed)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=MEDIAN_WARMUP_REPORTS
        )
    if name == "hyperband":
        # Its first rung after the second report: the first is warm-up, as for the median.
        return optuna.pruners.HyperbandPruner(
            min_resource=MEDIAN_WARMUP_REPORTS, max_resource=REPORTS, reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def load_study(
    folder: Path, spec: StudySpec, space: SearchSpace, seed: int | None = None
) -> optuna.Study:
    """The Optuna study in `folder` with the spec's sampler and pruner (created if new)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=spec.name,
        storage=open_storage(folder),
        direction="maximize",
        sampler=make_sampler(spec.sampler, space, seed),
        pruner=make_pruner(spec.pruner),
        load_if_exists=True,
    )


@contextmanager
def study_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the study folder across processes (fcntl; released on exit,
    even by a killed process)."""
    with open(folder / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Mark failed the RUNNING trials whose process on this machine is gone (killed) and queue
    their values again; returns their numbers."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    stale = []
    for trial in running:
        attrs = trial.user_attrs
        if process_alive(attrs.get(TrialAttrs.PID), attrs.get(TrialAttrs.HOST)) is False:
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            if trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            stale.append(trial.number)
    return stale


def _finished_and_running(study: optuna.Study) -> tuple[int, int, int]:
    import optuna

    states = optuna.trial.TrialState
    counts = {s: 0 for s in states}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state] += 1
    return (
        counts[states.COMPLETE] + counts[states.PRUNED],
        counts[states.RUNNING],
        counts[states.WAITING],
    )


def _grid_taken(study: optuna.Study, space: SearchSpace) -> bool:
    """Every grid point is finished or being run (GridSampler would hand a point that is
    still running to a second worker once none is left unstarted)."""
    taken = {
        t.system_attrs["grid_id"]
        for t in study.get_trials(deepcopy=False)
        if "grid_id" in t.system_attrs and t.state.name != "WAITING"
    }
    return len(taken) >= space.grid_size


def _expected_seconds(study: optuna.Study, spec: StudySpec) -> float:
    """What the next trial should take: its training budget plus the usual overhead seen
    (or the largest trial seen, for step and episode budgets)."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    seen = [float(t.user_attrs.get(TrialAttrs.SECONDS) or 0.0) for t in done]
    budget = spec.trial_budget.get("seconds")
    if budget is None:
        return max(seen, default=0.0)
    training = float(budget) * spec.seeds
    # The median: a process's first trial also pays one-off costs (the reference returns).
    overhead = statistics.median([s - training for s in seen]) if seen else FIRST_OVERHEAD_SECONDS
    return training + max(overhead, 0.0)


def _next_trial(
    study: optuna.Study,
    spec: StudySpec,
    space: SearchSpace,
    limits: Limits,
    deadline: float,
    folder: Path,
) -> optuna.Trial | None:
    """Ask for the next trial, or None when the limits say stop (under the study lock, so
    parallel workers never overshoot `limits.trials`)."""
    with study_lock(folder):
        finished, running, waiting = _finished_and_running(study)
        if limits.trials is not None and finished + running >= limits.trials:
            return None
        if time.monotonic() + _expected_seconds(study, spec) > deadline:
            return None
        if waiting == 0 and spec.sampler == "grid" and _grid_taken(study, space):
            return None
        trial = study.ask(fixed_distributions=space.distributions())
        trial.set_user_attr(TrialAttrs.PID, os.getpid())
        trial.set_user_attr(TrialAttrs.HOST, socket.gethostname())
        trial.set_user_attr(TrialAttrs.BACKEND, "optuna")
        return trial


def run_one(
    study: optuna.Study,
    trial: optuna.Trial,
    spec: StudySpec,
    space: SearchSpace,
    folder: Path,
    on_trainer: Callable[[Any], None] | None = None,
) -> TrialRow:
    """Train and measure `trial`, tell the study how it ended, and keep best.yaml current."""
    import optuna

    values = decode(trial.params)
    names = trial_run_names(trial.number, spec.seeds)
    trial.set_user_attr(TrialAttrs.VALUES, _plain(values))
    trial.set_user_attr(TrialAttrs.RUN_DIRS, names)
    began = time.monotonic()

    def report(step: int, value: float) -> bool:
        trial.report(value, step)
        return trial.should_prune()

    try:
        config = trial_config(spec, overrides_for(values))
        outcome = run_trial(
            config, [folder / n for n in names], spec.objective, report, on_trainer=on_trainer
        )
    except RlrecError as exc:
        # A sampled combination the config or the trainer refuses (or a run that diverged)
        # fails this trial only; the search goes on and the reason stays with the trial.
        trial.set_user_attr("error", error_line(exc))
        trial.set_user_attr(TrialAttrs.SECONDS, time.monotonic() - began)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return _stored_row(study, trial.number, folder)
    except BaseException:
        # Interrupted (Ctrl+C): failed, and its values queued for the next command, as a
        # killed trial's are (`recover_stale_trials`).
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        raise
    trial.set_user_attr(TrialAttrs.RUN_DIRS, [p.name for p in outcome.run_dirs])
    trial.set_user_attr(TrialAttrs.SECONDS, outcome.seconds)
    trial.set_user_attr(TrialAttrs.ENV_STEPS, outcome.env_steps)
    trial.set_user_attr(TrialAttrs.NORMALISED, outcome.normalised)
    trial.set_user_attr("report_env_steps", list(outcome.report_env_steps))
    if outcome.pruned or outcome.value is None:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, outcome.value)
        with study_lock(folder):
            write_best_config(study, spec, folder)
    return _stored_row(study, trial.number, folder)


def _stored_row(study: optuna.Study, number: int, folder: Path) -> TrialRow:
    stored = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    return trial_row(stored, folder)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def write_best_config(study: optuna.Study, spec: StudySpec, folder: Path) -> Path | None:
    """Write `best.yaml`: the study's preset (and --config file, dataset) with the best
    complete trial's values and the per-run budget — ready for `rlrec train --config`."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    scored = [t for t in complete if t.value is not None and math.isfinite(t.value)]
    if not scored:
        return None
    best = max(scored, key=lambda t: (t.value, -t.number))
    values = best.user_attrs.get(TrialAttrs.VALUES) or decode(best.params)
    raw: dict[str, Any] = load_yaml(spec.config) if spec.config else {}
    raw.pop("preset", None)
    raw = deep_merge(raw, overrides_for(values))
    raw = deep_merge(raw, {"train": dict(spec.trial_budget)})
    body: dict[str, Any] = {"preset": spec.preset}
    if spec.dataset:
        body["dataset"] = spec.dataset
    body.update(raw)
    seeds = f"mean of {spec.seeds} seeds" if spec.seeds > 1 else "one seed"
    header = (
        f"# Best trial {best.number} of study {spec.name}: {spec.objective} "
        f"{best.value:.4g} ({seeds}), out of {len(complete)} complete trials.\n"
        f"# Train it: rlrec train --config {(folder / BEST_CONFIG).resolve()}\n"
    )
    path = folder / BEST_CONFIG
    atomic_write_text(path, header + yaml.safe_dump(body, sort_keys=False))
    return path


def search(
    folder: Path,
    spec: StudySpec,
    space: SearchSpace,
    limits: Limits,
    *,
    worker: int = 0,
    on_trial: TrialCallback | None = None,
    on_trainer: Callable[[Any], None] | None = None,
) -> int:
    """Run trials in this process until `limits` (or the grid) say stop; returns how many
    it ran. KeyboardInterrupt marks the running trial failed and propagates."""
    study = load_study(folder, spec, space, seed=_sampler_seed(folder, worker))
    deadline = limits.deadline(time.monotonic())
    ran = 0
    while True:
        trial = _next_trial(study, spec, space, limits, deadline, folder)
        if trial is None:
            return ran
        row = run_one(study, trial, spec, space, folder, on_trainer)
        ran += 1
        if on_trial is not None:
            on_trial(row)


def _sampler_seed(folder: Path, worker: int) -> int:
    """A different sampler stream for every worker and every command on the same study
    (the same seed twice would propose the same values twice)."""
    return (os.getpid() * 7919 + worker * 104729 + int(time.time())) % (2**31 - 1)


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the search's main process dies (kill -9 of the
    command must not leave trials training on)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _worker_main(
    folder: str, spec_dict: dict[str, Any], space_arg: str, env_kind: str, limits: Limits, i: int
) -> None:
    _die_with_parent()
    spec = StudySpec.from_dict(spec_dict)
    space = load_space(space_arg, env_kind)
    try:
        search(Path(folder), spec, space, limits, worker=i)
    except KeyboardInterrupt:
        pass


def search_parallel(
    folder: Path,
    spec: StudySpec,
    space: SearchSpace,
    env_kind: str,
    limits: Limits,
    jobs: int,
    on_trial: TrialCallback | None = None,
    poll_seconds: float = 1.0,
) -> int:
    """`search` in `jobs` worker processes (spawned: each with its own torch threads) on the
    same study; this process reports each trial as it finishes. Returns trials run."""
    import optuna

    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=_worker_main,
            args=(str(folder), spec.to_dict(), spec.space, env_kind, limits, i),
            name=f"rlrec-tune-{i}",
        )
        for i in range(jobs)
    ]
    study = load_study(folder, spec, space)
    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    failed = (optuna.trial.TrialState.FAIL,)
    seen = {t.number for t in study.get_trials(deepcopy=False, states=done_states + failed)}
    ran = 0
    for process in workers:
        process.start()
    try:
        while True:
            alive = any(p.is_alive() for p in workers)
            for trial in study.get_trials(deepcopy=False, states=done_states + failed):
                if trial.number not in seen:
                    seen.add(trial.number)
                    ran += 1
                    if on_trial is not None:
                        on_trial(trial_row(trial, folder))
            if not alive:
                break
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        # The workers got the same Ctrl+C: give them a moment to mark their trials failed
        # and queue them again before they are made to stop.
        for process in workers:
            process.join(timeout=WORKER_GRACE_SECONDS)
        raise
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
        for process in workers:
            process.join(timeout=30)
        with study_lock(folder):
            recover_stale_trials(study)  # trials of workers that did not get to say so
    return ran
