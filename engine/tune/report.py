"""A study as the faces show it: its trials (state, objective, parameters, seconds, run
folders, the curve the pruner saw), the best trial, parameter importances — read from the
study folder alone, so `rlrec tune --show` and the TUI read a study another process (or a Ray
cluster) is still growing exactly as they read a finished one.

Every backend leaves the same trial user attributes (names in `TrialAttrs`): the config values
of the trial's parameters, its run folders, seconds, env steps, normalised return, backend and
the process that ran it."""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import RlrecError
from rlrec.engine.tune.storage import (
    BEST_CONFIG,
    STUDY_DB,
    StudySpec,
    is_study,
    open_storage,
    read_spec,
)

if TYPE_CHECKING:
    import optuna

# A study whose database changed this recently counts as being run, even with no RUNNING
# trial in it yet (a worker between two trials).
ACTIVE_SECONDS = 30.0


class TrialAttrs:
    """Names of the user attributes every backend sets on a trial."""

    VALUES = "values"  # {dotted config key: value as the config takes it}
    RUN_DIRS = "run_dirs"  # [folder name inside the study folder, …]
    SECONDS = "seconds"  # wall seconds of the whole trial (all seeds)
    ENV_STEPS = "env_steps"  # summed over seeds
    NORMALISED = "normalised"  # mean normalised greedy return, None without references
    BACKEND = "backend"  # "optuna" | "ray"
    PID = "pid"
    HOST = "host"


STATE_NAMES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "RUNNING": "running",
    "FAIL": "failed",
    "WAITING": "waiting",
}


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # "complete" | "pruned" | "running" | "failed" | "waiting"
    value: float | None  # the objective (pruned: the last value it reported)
    params: dict[str, Any]  # dotted config key -> value, as the config takes it
    seconds: float | None
    env_steps: int | None
    normalised: float | None
    run_dirs: tuple[Path, ...]  # absolute; empty when the trial started no run
    intermediate: tuple[tuple[int, float], ...]  # (env steps, objective value), by step
    backend: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "value": _finite(self.value),
            "params": self.params,
            "seconds": _finite(self.seconds),
            "env_steps": self.env_steps,
            "normalised": _finite(self.normalised),
            "run_dirs": [str(p) for p in self.run_dirs],
            "intermediate": [[step, _finite(v)] for step, v in self.intermediate],
            "backend": self.backend,
        }


@dataclass(frozen=True)
class StudyReport:
    spec: StudySpec
    path: Path
    trials: tuple[TrialRow, ...]  # by trial number
    best: TrialRow | None  # the complete trial with the highest objective
    importances: dict[str, float]  # parameter -> share of the objective's variance; {} early
    counts: dict[str, int]  # state -> trials
    best_config: Path | None  # best.yaml, once written
    running: bool

    @property
    def finished_trials(self) -> int:
        """Trials that count towards `--trials`: complete and pruned."""
        return self.counts.get("complete", 0) + self.counts.get("pruned", 0)

    @property
    def pruned_share(self) -> float | None:
        finished = self.finished_trials
        return self.counts.get("pruned", 0) / finished if finished else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.spec.name,
            "path": str(self.path),
            "spec": self.spec.to_dict(),
            "counts": self.counts,
            "pruned_share": _finite(self.pruned_share),
            "best": None if self.best is None else self.best.to_dict(),
            "best_config": None if self.best_config is None else str(self.best_config),
            "importances": {k: _finite(v) for k, v in self.importances.items()},
            "running": self.running,
            "trials": [t.to_dict() for t in self.trials],
        }


@dataclass(frozen=True)
class StudySummary:
    name: str
    path: Path
    objective: str
    n_trials: int
    counts: dict[str, int]
    best_value: float | None
    updated: datetime
    running: bool


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def trial_row(trial: optuna.trial.FrozenTrial, folder: Path) -> TrialRow:
    """The row of a stored trial of the study in `folder`."""
    attrs = trial.user_attrs
    state = STATE_NAMES.get(trial.state.name, trial.state.name.lower())
    intermediate = tuple(sorted((int(s), float(v)) for s, v in trial.intermediate_values.items()))
    value = trial.value
    if value is None and state == "pruned" and intermediate:
        value = intermediate[-1][1]
    steps = attrs.get(TrialAttrs.ENV_STEPS)
    return TrialRow(
        number=trial.number,
        state=state,
        value=None if value is None else float(value),
        params=dict(attrs.get(TrialAttrs.VALUES) or trial.params),
        seconds=attrs.get(TrialAttrs.SECONDS),
        env_steps=None if steps is None else int(steps),
        normalised=attrs.get(TrialAttrs.NORMALISED),
        run_dirs=tuple(folder / name for name in attrs.get(TrialAttrs.RUN_DIRS) or ()),
        intermediate=intermediate,
        backend=str(attrs.get(TrialAttrs.BACKEND, "optuna")),
    )


def _importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importances (PED-ANOVA by default in Optuna 5; fANOVA before) over
    the complete trials; {} while fewer than two have finished or nothing varies."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2 or len({t.value for t in complete}) < 2:
        return {}
    try:
        raw = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {name: float(share) for name, share in raw.items()}


def process_alive(pid: Any, host: Any) -> bool | None:
    """Whether the process `pid` on `host` still runs; None when it is another machine's."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True


def read_study(path: str | Path, with_importances: bool = True) -> StudyReport:
    """The study in folder `path`. RlrecError: not a study folder, or a database Optuna
    cannot read (named with the file)."""
    import optuna

    folder = Path(path)
    if not is_study(folder):
        raise RlrecError(f"{folder}: not a study folder (no {STUDY_DB} and study.yaml)")
    spec = read_spec(folder)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(folder))
    except KeyError:
        # Made by an older command that wrote its request before the Optuna study, or being
        # made right now: a study with no trials yet.
        return StudyReport(spec, folder, (), None, {}, {}, None, running=True)
    except (ValueError, RuntimeError) as exc:
        raise RlrecError(f"{folder / STUDY_DB}: cannot read the study ({exc})") from None
    except Exception as exc:  # SQLAlchemy's errors: a damaged or foreign database
        raise RlrecError(
            f"{folder / STUDY_DB}: cannot read the study ({exc.__class__.__name__})"
        ) from None
    trials = tuple(trial_row(t, folder) for t in study.get_trials(deepcopy=False))
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    complete = [t for t in trials if t.state == "complete" and t.value is not None]
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    best_config = folder / BEST_CONFIG
    return StudyReport(
        spec=spec,
        path=folder,
        trials=trials,
        best=best,
        importances=_importances(study) if with_importances else {},
        counts=counts,
        best_config=best_config if best_config.is_file() else None,
        running=_running(folder, study),
    )


def _running(folder: Path, study: optuna.Study) -> bool:
    import optuna

    live = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in live:
        alive = process_alive(
            trial.user_attrs.get(TrialAttrs.PID), trial.user_attrs.get(TrialAttrs.HOST)
        )
        if alive or alive is None:
            return True
    try:
        return time.time() - (folder / STUDY_DB).stat().st_mtime < ACTIVE_SECONDS
    except OSError:
        return False


def list_studies(runs_dir: str | Path | None = None) -> list[StudySummary]:
    """The studies in the runs folder (default `default_runs_dir()`), most recently updated
    first; an unreadable one is left out rather than hiding the others."""
    from rlrec.engine.training.run_folder import default_runs_dir

    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not parent.is_dir():
        return []
    found = []
    for folder in parent.iterdir():
        if not is_study(folder):
            continue
        try:
            report = read_study(folder, with_importances=False)
            updated = (folder / STUDY_DB).stat().st_mtime
        except (RlrecError, OSError):
            continue
        found.append(
            StudySummary(
                name=folder.name,
                path=folder,
                objective=report.spec.objective,
                n_trials=len(report.trials),
                counts=report.counts,
                best_value=None if report.best is None else report.best.value,
                updated=datetime.fromtimestamp(updated, tz=UTC),
                running=report.running,
            )
        )
    return sorted(found, key=lambda s: (s.updated, s.name), reverse=True)
