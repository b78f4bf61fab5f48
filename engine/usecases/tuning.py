"""Use cases of hyperparameter search: run (or continue) a study, show one, list them.

`rlrec tune` and the TUI call exactly these. A request is checked whole before anything is
written — the space against the config's own ranges, the objective against the data, the
budget, the memory of `jobs` runs at once, and, for an existing study, that it was made with
the same request — so a bad command leaves no study folder behind.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option, RlrecError
from rlrec.engine.config_base import MAX_RUN_SECONDS
from rlrec.engine.training.run_folder import default_runs_dir
from rlrec.engine.tune.report import StudyReport, StudySummary, TrialRow, list_studies, read_study
from rlrec.engine.tune.storage import StudySpec, is_study, read_spec, study_dir, write_spec

MAX_JOBS = 64
MAX_SEEDS = 100
MAX_TRIALS = 1_000_000


@dataclass(frozen=True)
class TuneRequest:
    """What `rlrec tune` was asked. Exactly the arguments of the command line."""

    space: str
    trials: int | None = None
    seconds: float | None = None  # the search's wall-clock budget
    preset: str | None = None
    config: str | None = None
    dataset: str | None = None
    jobs: int = 1
    sampler: str = "auto"
    pruner: str = "median"
    objective: str = "return"
    seeds: int = 1
    study: str | None = None
    runs_dir: str | Path | None = None
    ray: str | None = None  # a Ray address ("auto", "local", host:port) or None
    trial_seconds: float | None = None  # each run's budget; default: the config's budget
    trial_steps: int | None = None


@dataclass(frozen=True)
class PreparedStudy:
    folder: Path
    spec: StudySpec
    space: Any  # SearchSpace
    env_kind: str
    continued: bool  # the study existed: this command continues it
    finished_before: int  # its finished trials before this command
    recovered: list[int] = field(default_factory=list)  # killed trials found and re-queued


@dataclass(frozen=True)
class TuneResult:
    report: StudyReport
    ran: int  # trials this command ran
    continued: bool
    finished_before: int
    recovered: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "ran": self.ran,
            "continued": self.continued,
            "finished_before": self.finished_before,
            "recovered": list(self.recovered),
        }


def default_study_name(space: str, preset: str, dataset: str | None, objective: str) -> str:
    """`<space>-<preset>[-<dataset folder>]-<objective>`: the same command names the same
    study, so running it again continues it."""
    parts = [Path(space).stem if space.endswith((".yaml", ".yml")) else space, preset]
    if dataset:
        parts.append(Path(dataset).name)
    parts.append(objective.replace("@", ""))
    return "-".join(parts)


def _check_count(name: str, value: Any, low: float, high: float, whole: bool = True) -> None:
    """RlrecError (option `name`) unless `value` is a finite number in [low, high] (a whole
    one when `whole`); a real-valued count is open at `low` (a budget of 0 s is none)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    inside = ok and (low <= value <= high if whole else low < value <= high)
    if not inside or (whole and float(value) != int(value)):
        kind = "a whole number" if whole else "a number"
        left = "[" if whole else "("
        raise RlrecError(
            [
                Option(name, f"{value:g}" if isinstance(value, float) else str(value)),
                f" is out of range (allowed: {kind} in {left}{low:g}, {high:g}])",
            ],
            key=name,
            value=value,
            allowed=(low, high),
            option=name,
        )


def _trial_budget(request: TuneRequest, config: Any) -> dict[str, float]:
    from rlrec.engine.config_base import MAX_RUN_STEPS

    if request.trial_seconds is not None and request.trial_steps is not None:
        raise RlrecError(
            "give one trial budget, not both --trial-seconds and --trial-steps",
            option="trial_steps",
        )
    if request.trial_seconds is not None:
        _check_count("trial_seconds", request.trial_seconds, 0, MAX_RUN_SECONDS, whole=False)
        return {"seconds": float(request.trial_seconds)}
    if request.trial_steps is not None:
        _check_count("trial_steps", request.trial_steps, 1, MAX_RUN_STEPS)
        return {"steps": int(request.trial_steps)}
    return dict(config.train.budget)


def _check_room_for_a_trial(request: TuneRequest, trial_budget: dict[str, float]) -> None:
    """RlrecError (option "seconds") when the search's wall-clock budget cannot hold one
    trial of a seconds budget: the search would start nothing and end at once."""
    from rlrec.engine.tune.study import FIRST_OVERHEAD_SECONDS

    per_run = trial_budget.get("seconds")
    if request.seconds is None or per_run is None:
        return
    needed = per_run * request.seeds + FIRST_OVERHEAD_SECONDS
    if request.seconds < needed:
        raise RlrecError(
            [
                Option("seconds", f"{request.seconds:g}"),
                f" cannot hold one trial (about {needed:g} s: {per_run * request.seeds:g} s "
                f"of training and ~{FIRST_OVERHEAD_SECONDS:g} s to build and measure)",
            ],
            key="seconds",
            value=request.seconds,
            option="seconds",
        )


def prepare_study(request: TuneRequest) -> PreparedStudy:
    """Check `request` and create (or reopen) its study folder. RlrecError (exit 2 in the
    CLI) naming the culprit: a bad space key, a bad flag value, a dataset folder, a study of
    the same name made with another request, a search that would not fit in memory."""
    import optuna

    from rlrec.engine.tune import study as tune_study
    from rlrec.engine.tune.objective import check_eval_seed, check_objective
    from rlrec.engine.tune.space import load_space
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.engine.usecases.training_memory import check_training_fits

    if request.trials is not None:
        _check_count("trials", request.trials, 1, MAX_TRIALS)
    if request.seconds is not None:
        _check_count("seconds", request.seconds, 0, MAX_RUN_SECONDS, whole=False)
    _check_count("jobs", request.jobs, 1, MAX_JOBS)
    _check_count("seeds", request.seeds, 1, MAX_SEEDS)
    tune_study.check_pruner(request.pruner)
    dataset = str(Path(request.dataset).expanduser().resolve()) if request.dataset else None
    base = resolve_run_config(request.preset, request.config, dataset=dataset)
    env_kind = str(getattr(base.env, "kind", "default"))
    check_objective(request.objective, base.dataset is not None)
    space = load_space(request.space, env_kind)
    sampler = tune_study.resolve_sampler(request.sampler, space)
    if request.trials is None and request.seconds is None and sampler != "grid":
        raise RlrecError(
            "give a search budget: --trials N (finished trials of the study) or --seconds S "
            "(a grid search may run to the end of its grid without either)",
            option="trials",
        )
    trial_budget = _trial_budget(request, base)
    _check_room_for_a_trial(request, trial_budget)
    check_eval_seed(base, request.seeds)
    if request.ray:
        from rlrec.engine.tune.ray_backend import check_address

        check_address(request.ray)  # Ray installed, the address answers: before any folder
    check_training_fits(base)
    if request.jobs > 1:
        _check_parallel_memory(base, request.jobs)
    name = (
        request.study
        if request.study is not None
        else default_study_name(request.space, base.preset, dataset, request.objective)
    )
    runs_dir = Path(request.runs_dir) if request.runs_dir is not None else default_runs_dir()
    folder = study_dir(runs_dir, name)
    spec = StudySpec(
        name=name,
        space=request.space,
        preset=base.preset,
        objective=request.objective,
        trial_budget=trial_budget,
        config=str(Path(request.config).resolve()) if request.config else None,
        dataset=dataset,
        seeds=int(request.seeds),
        sampler=sampler,
        # On Ray, trials are stopped by Tune's ASHA scheduler (unless --pruner none).
        pruner="asha" if request.ray and request.pruner != "none" else request.pruner,
        backend="ray" if request.ray else "optuna",
        space_params=space.to_dict(),
    )
    continued = is_study(folder)
    if continued:
        stored = read_spec(folder)
        differ = stored.differences(spec)
        if differ:
            raise RlrecError(
                [
                    f"{folder}: this study was made with another request ({differ[0]}: "
                    f"{getattr(stored, differ[0])!r}, now {getattr(spec, differ[0])!r}); "
                    "use the same settings to continue it, or ",
                    Option("study", "NAME"),
                    " for a new one",
                ],
                key=differ[0],
                option="study",
            )
        # How to search may change between commands (sampler, pruner, backend); what is
        # searched and measured may not.
        spec = dataclasses.replace(
            stored, sampler=spec.sampler, pruner=spec.pruner, backend=spec.backend
        )
    elif folder.exists() and any(folder.iterdir()):
        raise RlrecError(
            [f"{folder}: exists and is not a study; choose another ", Option("study", "NAME")],
            file=folder,
            option="study",
        )
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tune_study.study_lock(folder):
            # The Optuna study first, its request last: a folder counts as a study (for a
            # reader in another process) only once both exist.
            study = tune_study.load_study(folder, spec, space)
            write_spec(folder, spec)
            recovered = tune_study.recover_stale_trials(study)
            states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            finished = len(study.get_trials(deepcopy=False, states=states))
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return PreparedStudy(folder, spec, space, env_kind, continued, finished, recovered)


def _check_parallel_memory(config: Any, jobs: int) -> None:
    """RlrecError when `jobs` runs of `config` at once would not fit in memory."""
    from rlrec.data.memory import check_bytes_fit
    from rlrec.engine.usecases.training_memory import training_memory

    estimate = training_memory(config)
    check_bytes_fit(
        estimate.peak * jobs,
        f"--jobs {jobs}",
        f"to train {jobs} trials at once ({jobs} × {estimate.breakdown()})",
        key="jobs",
        value=jobs,
        option="jobs",
    )


def tune(
    request: TuneRequest,
    on_trial: Callable[[TrialRow], None] | None = None,
    prepared: PreparedStudy | None = None,
) -> TuneResult:
    """Run (or continue) the search `request` describes until its limits; `on_trial` hears of
    every trial that ends (in the process that called, whatever process ran it). Blocking;
    Ctrl+C marks running trials failed — the same command continues the study."""
    from rlrec.engine.tune import study as tune_study

    prepared = prepared or prepare_study(request)
    limits = tune_study.Limits(trials=request.trials, seconds=request.seconds)
    if request.ray:
        from rlrec.engine.tune.ray_backend import run_ray_search

        ran = run_ray_search(
            prepared.folder,
            prepared.spec,
            prepared.space,
            request.ray,
            limits=limits,
            jobs=request.jobs,
            on_trial=on_trial,
        )
    elif request.jobs > 1:
        ran = tune_study.search_parallel(
            prepared.folder,
            prepared.spec,
            prepared.space,
            prepared.env_kind,
            limits,
            request.jobs,
            on_trial,
        )
    else:
        ran = tune_study.search(
            prepared.folder, prepared.spec, prepared.space, limits, on_trial=on_trial
        )
    return TuneResult(
        report=read_study(prepared.folder),
        ran=ran,
        continued=prepared.continued,
        finished_before=prepared.finished_before,
        recovered=prepared.recovered,
    )


def show_study(study: str | Path, runs_dir: str | Path | None = None) -> StudyReport:
    """The study named `study` in the runs folder, or at the path `study`. RlrecError
    (option "show") naming it and the studies there are when there is none."""
    path = Path(study)
    if not is_study(path):
        parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        candidate = parent / str(study)
        if is_study(candidate):
            path = candidate
        else:
            known = [s.name for s in list_studies(parent)]
            listed = (
                f" (studies in {parent}: {', '.join(known)})" if known else f" (none in {parent})"
            )
            raise RlrecError(
                [Option("show", str(study)), f": no such study{listed}"],
                key="show",
                value=str(study),
                option="show",
            )
    return read_study(path)


def studies(runs_dir: str | Path | None = None) -> list[StudySummary]:
    """The studies in the runs folder, most recently updated first."""
    return list_studies(runs_dir)
