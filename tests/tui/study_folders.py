"""Study folders for the TUI tests, made without training: the study database through Optuna
itself (`create_trial` + `add_trial` into `engine.tune.storage.open_storage`), the request with
`write_spec`, and each trial's run folder with engine.runs' own writer (`write_run`)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlrec.engine.tune.report import TrialAttrs
from rlrec.engine.tune.storage import StudySpec, open_storage, trial_run_name, write_spec
from tests.tui.test_runs import write_run

SPACE = {
    "agent.lr": {"float": [1.0e-4, 1.0e-3], "log": True},
    "agent.batch_size": {"choice": [32, 64, 128]},
    "agent.gamma": {"choice": [0.9, 0.95, 0.99]},
}


@dataclass
class Trial:
    """A trial to store: its state, final objective (complete trials), reports to the pruner
    (report number → value) and parameters."""

    state: str  # "complete" | "pruned" | "running" | "failed"
    value: float | None = None
    reports: list[float] = field(default_factory=list)
    lr: float = 3e-4
    batch_size: int = 64
    gamma: float = 0.95
    seconds: float = 12.0
    with_run: bool = True


def _distributions() -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    return {
        "agent.lr": FloatDistribution(1e-4, 1e-3, log=True),
        "agent.batch_size": CategoricalDistribution([32, 64, 128]),
        "agent.gamma": CategoricalDistribution([0.9, 0.95, 0.99]),
    }


def make_study(runs_dir: Path, name: str, objective: str = "return") -> Path:
    """An empty study folder (request and database) in `runs_dir`."""
    import optuna

    folder = runs_dir / name
    folder.mkdir(parents=True)
    write_spec(
        folder,
        StudySpec(
            name=name,
            space="seed-classic-4",
            preset="seed-classic",
            objective=objective,
            trial_budget={"seconds": 30.0},
            space_params=SPACE,
        ),
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=name, storage=open_storage(folder), direction="maximize")
    return folder


def add_trial(folder: Path, trial: Trial) -> Path | None:
    """Store `trial` as the study's next one, with its run folder (one evaluation per report,
    as a trial logs them); returns the run folder."""
    import optuna

    study = optuna.load_study(study_name=folder.name, storage=open_storage(folder))
    number = len(study.get_trials(deepcopy=False))
    params = {
        "agent.lr": trial.lr,
        "agent.batch_size": trial.batch_size,
        "agent.gamma": trial.gamma,
    }
    run_dir = None
    attrs: dict[str, Any] = {
        TrialAttrs.VALUES: params,
        TrialAttrs.BACKEND: "optuna",
        TrialAttrs.PID: os.getpid(),
        TrialAttrs.HOST: socket.gethostname(),
        TrialAttrs.RUN_DIRS: [],
    }
    if trial.with_run:
        name = trial_run_name(number)
        windows = max(1, len(trial.reports))
        last = trial.reports[-1] if trial.reports else (trial.value or 1.0)
        run_dir = write_run(
            folder,
            name,
            "seed-classic",
            last,
            windows=windows,
            finished=trial.state != "running",
            evaluations=trial.reports,
        )
        attrs[TrialAttrs.RUN_DIRS] = [name]
    if trial.state in ("complete", "pruned"):
        attrs[TrialAttrs.SECONDS] = trial.seconds
        attrs[TrialAttrs.ENV_STEPS] = 1000 * max(1, len(trial.reports))
    state = {
        "complete": optuna.trial.TrialState.COMPLETE,
        "pruned": optuna.trial.TrialState.PRUNED,
        "running": optuna.trial.TrialState.RUNNING,
        "failed": optuna.trial.TrialState.FAIL,
    }[trial.state]
    study.add_trial(
        optuna.trial.create_trial(
            state=state,
            value=trial.value if trial.state == "complete" else None,
            params=params,
            distributions=_distributions(),
            user_attrs=attrs,
            intermediate_values={n: v for n, v in enumerate(trial.reports, start=1)},
        )
    )
    return run_dir


def write_study(runs_dir: Path, name: str, trials: list[Trial], objective: str = "return") -> Path:
    folder = make_study(runs_dir, name, objective)
    for trial in trials:
        add_trial(folder, trial)
    return folder


def demo_trials() -> list[Trial]:
    """Six trials: four complete (the best is #3), a pruned one, one still running."""
    return [
        Trial("complete", 5.0, [2.0, 4.0, 5.0], lr=1e-4, batch_size=32, gamma=0.9),
        Trial("complete", 6.5, [3.0, 5.5, 6.5], lr=2e-4, batch_size=64, gamma=0.95),
        Trial("pruned", None, [1.0, 1.5], lr=9e-4, batch_size=128, gamma=0.99, seconds=4.0),
        Trial("complete", 8.25, [4.0, 7.0, 8.25], lr=4e-4, batch_size=64, gamma=0.95),
        Trial("complete", 7.0, [3.5, 6.0, 7.0], lr=5e-4, batch_size=32, gamma=0.99),
        Trial("running", None, [4.5], lr=3e-4, batch_size=128, gamma=0.9),
    ]
