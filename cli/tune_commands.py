"""`rlrec tune`: hyperparameter search, and `rlrec tune --show STUDY` to read one.

Each finished trial is a line on stderr as it ends; the end result — the trials table, the
best trial, parameter importances and the ready `--config` file — goes to stdout, or exactly
one JSON object with --json. Ctrl+C or kill -9 leave the study as it was after its last
finished trial: the same command continues it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from rlrec.data.jsonsafe import strict_dumps

if TYPE_CHECKING:
    from rlrec.engine.tune.report import StudyReport, TrialRow


def register(commands: Any, bench: Any) -> None:
    tune = commands.add_parser(
        "tune",
        help="hyperparameter search (Optuna; --ray for a Ray cluster), or --show a study",
        description="Search run configs: each trial is a normal run folder inside the study "
        "folder <runs>/<study>/, the study an SQLite database beside them. Run the same "
        "command again to continue a study.",
    )
    tune.add_argument(
        "--space",
        default=None,
        metavar="FILE",
        help="search space YAML, or a shipped one: seed, seed-classic-4",
    )
    tune.add_argument("--show", default=None, metavar="STUDY", help="print a study and stop")
    tune.add_argument(
        "--preset",
        default=None,
        help="preset of every trial (default: default; large for a dataset past 2,000 items)",
    )
    tune.add_argument("--config", default=None, metavar="FILE", help="YAML on top of the preset")
    tune.add_argument("--dataset", default=None, metavar="DIR", help="dataset folder")
    tune.add_argument(
        "--trials", type=int, default=None, help="finished trials the study should reach"
    )
    tune.add_argument(
        "--seconds", type=float, default=None, help="wall-clock budget of this search"
    )
    tune.add_argument(
        "--trial-seconds",
        type=float,
        default=None,
        help="training budget of each run (default: the config's budget, 60 s in the presets)",
    )
    tune.add_argument("--trial-steps", type=int, default=None, help="env steps of each run")
    tune.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="trials in parallel processes (they share the cores: with a seconds budget each "
        "trains fewer steps)",
    )
    tune.add_argument(
        "--sampler",
        default="auto",
        help="grid | tpe | random (default auto: grid for a discrete space, else TPE)",
    )
    tune.add_argument("--pruner", default="median", help="median | hyperband | none")
    tune.add_argument(
        "--objective",
        default="return",
        help="return (greedy, unseen evaluation sessions) | ndcg@10 (validation part)",
    )
    tune.add_argument("--seeds", type=int, default=1, help="runs per trial, value = their mean")
    tune.add_argument("--study", default=None, metavar="NAME", help="study folder name")
    tune.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="runs folder (default: $RLREC_RUNS_DIR or ./runs)",
    )
    tune.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run the trials on a Ray cluster (auto, local or host:port); needs rlrec[ray]",
    )
    tune.add_argument("--json", action="store_true", help="print one JSON object")
    tune.set_defaults(handler=tune_command)


def tune_command(args: argparse.Namespace) -> int:
    from rlrec.data.errors import Option, RlrecError
    from rlrec.engine.usecases import tuning

    if args.show is not None:
        report = tuning.show_study(args.show, args.out)
        _print(report, args.json)
        return 0
    if args.space is None:
        raise RlrecError(
            [Option("space", None), " is required (a YAML file, or seed / seed-classic-4)"],
            option="space",
        )
    request = tuning.TuneRequest(
        space=args.space,
        trials=args.trials,
        seconds=args.seconds,
        preset=args.preset,
        config=args.config,
        dataset=args.dataset,
        jobs=args.jobs,
        sampler=args.sampler,
        pruner=args.pruner,
        objective=args.objective,
        seeds=args.seeds,
        study=args.study,
        runs_dir=args.out,
        ray=args.ray,
        trial_seconds=args.trial_seconds,
        trial_steps=args.trial_steps,
    )
    prepared = tuning.prepare_study(request)
    _say_start(prepared, request)
    searched = searched_keys(prepared.spec.space_params)
    try:
        result = tuning.tune(
            request, on_trial=lambda row: _say_trial(row, searched), prepared=prepared
        )
    except KeyboardInterrupt:
        print(
            f"rlrec: interrupted; the study {prepared.folder} keeps its finished trials and "
            "queues the interrupted ones: run the same command to continue",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(strict_dumps(result.to_dict()))
    else:
        _print_report(result.report)
        grid_done = (
            result.report.spec.sampler == "grid"
            and result.report.finished_trials >= prepared.space.grid_size
        )
        print(
            f"this command ran {_count(result.ran, 'trial')}; the study has "
            f"{result.report.finished_trials} finished"
            + (f" (its grid of {prepared.space.grid_size} points is done)" if grid_done else "")
        )
    return 0


def _say_start(prepared: Any, request: Any) -> None:
    spec = prepared.spec
    budget = ", ".join(f"{v:,g} {k}" for k, v in spec.trial_budget.items())
    how = (
        f"continued, {_count(prepared.finished_before, 'finished trial')}"
        if prepared.continued
        else "new"
    )
    limits = " and ".join(
        text
        for text in (
            _count(request.trials, "finished trial") if request.trials is not None else "",
            f"{request.seconds:g} s" if request.seconds is not None else "",
            f"the grid's {prepared.space.grid_size:,} points" if spec.sampler == "grid" else "",
        )
        if text
    )
    measured = (
        "greedy return on unseen evaluation sessions"
        if spec.objective == "return"
        else "NDCG@10 on the validation part"
    )
    lines = [
        f"study {spec.name} ({how}): {prepared.folder}",
        f"  {_count(len(searched_keys(spec.space_params)), 'parameter')} searched from "
        f"{spec.space} · preset {spec.preset}"
        + (f" · dataset {spec.dataset}" if spec.dataset else ""),
        f"  objective {spec.objective} ({measured}), {spec.seeds} seed(s) a trial, {budget} a run",
        f"  sampler {spec.sampler} · pruner {spec.pruner} · up to {limits} · "
        f"{request.jobs} job(s)" + (f" on Ray ({request.ray})" if request.ray else ""),
    ]
    if prepared.recovered:
        lines.append(
            f"  {_count(len(prepared.recovered), 'trial')} "
            f"({', '.join(map(str, prepared.recovered))}) killed mid-run: "
            "marked failed and queued again"
        )
    print("\n".join(lines), file=sys.stderr, flush=True)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def searched_keys(space_params: dict[str, Any]) -> list[str]:
    """The space's keys that vary (a `{value: x}` entry fixes a setting for every trial)."""
    return [k for k, v in space_params.items() if not (isinstance(v, dict) and "value" in v)]


def fixed_values(space_params: dict[str, Any]) -> dict[str, Any]:
    return {k: v["value"] for k, v in space_params.items() if isinstance(v, dict) and "value" in v}


def _params_text(params: dict[str, Any], keys: list[str] | None = None) -> str:
    shown = [k for k in (keys if keys is not None else params) if k in params]
    return ", ".join(f"{k.split('.')[-1]} {_value(params[k])}" for k in shown)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def _num(value: float | None, spec: str = ".4g") -> str:
    return "–" if value is None else format(value, spec)


def _say_trial(row: TrialRow, keys: list[str]) -> None:
    print(
        f"trial {row.number:>4} {row.state:<8} {_num(row.value):>9}  "
        f"{_num(row.seconds, '.1f')} s  {_params_text(row.params, keys)}",
        file=sys.stderr,
        flush=True,
    )


def _print(report: StudyReport, as_json: bool) -> None:
    if as_json:
        print(strict_dumps(report.to_dict()))
    else:
        _print_report(report)


def _print_report(report: StudyReport) -> None:
    from rich.console import Console
    from rich.table import Table

    spec = report.spec
    keys = searched_keys(spec.space_params) or sorted({k for t in report.trials for k in t.params})
    table = Table(title=f"study {spec.name}: {spec.objective}, preset {spec.preset}")
    table.add_column("trial", justify="right")
    table.add_column("state")
    table.add_column(spec.objective, justify="right")
    with_normalised = spec.objective == "return"
    if with_normalised:
        table.add_column("normalised", justify="right")
    for key in keys:
        table.add_column(key.split(".", 1)[-1], justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("env steps", justify="right")
    best = report.best.number if report.best is not None else None
    for trial in report.trials:
        marker = " *" if trial.number == best else ""
        value = _num(trial.value) + (" ‹" if trial.state == "pruned" else "")
        cells = [f"{trial.number}{marker}", trial.state, value]
        if with_normalised:
            cells.append(_num(trial.normalised, ".3f"))
        table.add_row(
            *cells,
            *(_value(trial.params[k]) if k in trial.params else "–" for k in keys),
            _num(trial.seconds, ".1f"),
            "–" if trial.env_steps is None else f"{trial.env_steps:,}",
        )
    # A terminal gets its own width (rich folds the table); a file or pipe the whole table.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 240)
    console.print(table)
    counts = " · ".join(f"{n} {state}" for state, n in sorted(report.counts.items()))
    finished = report.finished_trials
    pruned = report.counts.get("pruned", 0)
    share = (
        f" ({report.pruned_share:.0%} of {finished} finished)"
        if report.pruned_share is not None
        else ""
    )
    print(f"trials: {counts or 'none yet'}; pruned early: {pruned}{share}")
    if pruned:
        print(
            f"‹ a pruned trial's {spec.objective} is its last report, part-way through its budget"
        )
    if with_normalised:
        print("normalised: (return − random) / (myopic oracle − random), at the end of a run")
    fixed = fixed_values(spec.space_params)
    if fixed:
        print(f"fixed in every trial: {_params_text(fixed)}")
    if report.best is not None:
        print(
            f"best: trial {report.best.number}, {spec.objective} {report.best.value:.4g} — "
            f"{_params_text(report.best.params, keys)}"
        )
    if report.importances:
        shares = ", ".join(
            f"{k.split('.', 1)[-1]} {v:.2f}"
            for k, v in sorted(report.importances.items(), key=lambda kv: (-round(kv[1], 2), kv[0]))
            if k in keys
        )
        complete = report.counts.get("complete", 0)
        print(
            f"parameter importances (Optuna, over {_count(complete, 'complete trial')}): {shares}"
        )
    if report.best_config is not None:
        print(f"best config: {report.best_config} (rlrec train --config {report.best_config})")
