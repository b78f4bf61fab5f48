"""`rlrec train | resume | eval | recommend` and `rlrec bench train`.

Results go to stdout (a summary, or exactly one JSON object with --json); the progress bar
and diagnostics go to stderr. Training runs in a worker thread so that Ctrl+C stops it
cleanly: the trainer writes a checkpoint and the final evaluation before returning.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.cli.console import stdout_console
from rlrec.cli.offline_eval import offline_eval_command
from rlrec.cli.phases import phases
from rlrec.data.errors import RlrecError
from rlrec.data.jsonsafe import strict_dumps
from rlrec.engine.training.budget import Budget, BudgetKind
from rlrec.engine.training.runs import find_run

if TYPE_CHECKING:  # the trainer imports torch: loaded by the handlers that train
    from rlrec.engine.training.events import Event
    from rlrec.engine.training.trainer import Trainer
    from rlrec.engine.usecases.training import TrainingResult


RUN_HELP = "run folder, or a run name in the runs folder ($RLREC_RUNS_DIR or ./runs)"


def register(commands: Any, bench: Any) -> None:
    from rlrec.engine.presets import PRESETS

    train = commands.add_parser(
        "train",
        help="train a DQN agent on a simulator preset",
        description="Train a DQN agent against a simulator preset, or one fitted to a dataset "
        "(--dataset), for one budget; writes a run folder (config, metrics, checkpoint, final "
        "evaluation) that `rlrec eval`, `rlrec-tui` and `rlrec serve` open by name.",
    )
    train.add_argument(
        "--preset",
        default=None,
        help=f"one of {', '.join(sorted(PRESETS))} (default: default; for a dataset past "
        "2,000 items, logs-large for a log and large for a generated one)",
    )
    train.add_argument("--config", default=None, metavar="FILE", help="YAML on top of the preset")
    _budget_flags(train)
    train.add_argument("--seed", type=int, default=None, help="seed of the run (default: config's)")
    train.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="runs folder (default: $RLREC_RUNS_DIR or ./runs)",
    )
    train.add_argument(
        "--name", default=None, help="run folder name (default: <YYYYmmdd-HHMMSS>-<preset>)"
    )
    train.add_argument(
        "--dataset", default=None, metavar="DIR", help="dataset folder for the default simulator"
    )
    train.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: config's)"
    )
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.set_defaults(handler=train_command)

    resume = commands.add_parser("resume", help="continue a run from its last checkpoint")
    resume.add_argument("run", metavar="RUN", help=RUN_HELP)
    _budget_flags(resume, extra=True)
    resume.add_argument("--json", action="store_true", help="print one JSON object")
    resume.set_defaults(handler=resume_command)

    evaluate = commands.add_parser("eval", help="evaluate a run greedily, beside the baselines")
    evaluate.add_argument("run", metavar="RUN", nargs="?", help=RUN_HELP)
    evaluate.add_argument(
        "--episodes", type=int, default=None, help="evaluation sessions (default: config's)"
    )
    evaluate.add_argument(
        "--seed", type=int, default=None, help="evaluation seed (default: config's)"
    )
    evaluate.add_argument("--no-baselines", action="store_true", help="skip the baseline table")
    evaluate.add_argument(
        "--offline", action="store_true", help="offline top-K metrics on a held-out split"
    )
    evaluate.add_argument("--split", default=None, help="split for --offline")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=eval_command)

    recommend = commands.add_parser("recommend", help="top-K items of a run for one user")
    recommend.add_argument("run", metavar="RUN", help=RUN_HELP)
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.add_argument(
        "--cold-start", action="store_true", help="unknown users get a fallback instead of an error"
    )
    recommend.add_argument(
        "--policy",
        default="agent",
        help="who ranks: agent (the run's DQN) or a reference policy by its registry name "
        "(a wrong name lists them)",
    )
    recommend.add_argument(
        "--fallback",
        default="content",
        help="where the agent has nothing (no user features): content (from demographics) or popular",
    )
    recommend.add_argument(
        "--dataset",
        default=None,
        metavar="DIR",
        help="a dataset whose catalogue grew since training (the run's items first, new ones "
        "appended): rank its items too (runs trained with agent.head: embedding)",
    )
    recommend.add_argument("--json", action="store_true", help="print one JSON object")
    recommend.set_defaults(handler=recommend_command)

    bench_train = bench.add_parser("train", help="DQN training speed and quality on a preset")
    bench_train.add_argument("--preset", default="seed-classic")
    bench_train.add_argument("--seconds", type=float, default=20.0)
    bench_train.add_argument("--seed", type=int, default=0)
    bench_train.add_argument("--threads", type=int, default=None)
    bench_train.add_argument("--json", action="store_true")
    bench_train.set_defaults(handler=bench_train_command)


def _budget_flags(parser: argparse.ArgumentParser, extra: bool = False) -> None:
    more = " more" if extra else ""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seconds", type=float, default=None, help=f"train for S{more} seconds")
    group.add_argument("--steps", type=int, default=None, help=f"train for N{more} env steps")
    group.add_argument("--episodes", type=int, default=None, help=f"train for N{more} sessions")


def _budget(args: argparse.Namespace) -> Budget | None:
    for name in ("seconds", "steps", "episodes"):
        value = getattr(args, name, None)
        if value is not None:
            return Budget(BudgetKind(name), value)  # checks the amount (nan, inf, <= 0)
    return None


# -- train / resume ------------------------------------------------------------------------
def train_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.training import resolve_run_config, start_training

    config = resolve_run_config(
        args.preset,
        args.config,
        dataset=args.dataset,
        budget=_budget(args),
        seed=args.seed,
        torch_threads=args.threads,
    )
    with phases(args.json) as say:
        trainer = start_training(config, args.out, args.name, on_phase=say)
    return _drive(trainer, args.json)


def resume_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.training import start_resume

    with phases(args.json) as say:
        trainer = start_resume(find_run(args.run), _budget(args), on_phase=say)
    return _drive(trainer, args.json)


def _drive(trainer: Trainer, as_json: bool) -> int:
    """Run the trainer in a thread with a progress bar; Ctrl+C stops it gracefully."""
    from rlrec.engine.training.events import Checkpointed, Evaluation, Progress, RunStarted
    from rlrec.engine.usecases.training import (
        TrainingResult,
        candidates_offered,
        format_bytes,
        ranking_line,
        replay_bytes_per_transition,
        replay_memory_line,
    )

    replay_line = replay_memory_line(
        trainer.agent.replay.capacity, replay_bytes_per_transition(trainer)
    )
    ranks = ranking_line(
        trainer.agent.config.head, candidates_offered(trainer), trainer.sim.n_items
    )
    outcome: dict[str, Any] = {}
    display = _ProgressDisplay()
    final_sessions = trainer.config.train.eval_episodes

    def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            display.update(event)
            if event.fraction_done >= 1.0 and not as_json:
                # The budget is spent; what follows is the final greedy evaluation (and the
                # random/oracle references the first time), which reports no progress.
                display.phase(f"final evaluation over {final_sessions:,} sessions…")
        elif isinstance(event, Evaluation):
            display.note(
                f"eval @ {event.env_steps:,} steps: return {event.return_mean:.3f} "
                f"± {event.return_ci95:.3f}, normalised {event.normalised:.3f}"
            )
        elif isinstance(event, RunStarted):
            verb = "resuming" if event.resumed else "training"
            display.note(
                f"{verb} {event.preset} in {event.run_dir} (budget {_fmt_budget(event.budget)}, "
                f"{ranks}, {replay_line})"
            )
        elif isinstance(event, Checkpointed) and event.bytes and not as_json:
            display.note(f"checkpoint at {event.env_steps:,} steps: {format_bytes(event.bytes)}")

    trainer.subscribe(on_event)

    def work() -> None:
        try:
            outcome["finished"] = trainer.run()
        except BaseException as exc:  # reported on the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="rlrec-train", daemon=True)
    display.start()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        display.note("stopping (checkpoint and final evaluation)…")
        trainer.stop()
        thread.join()
    finally:
        display.stop()
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(trainer.run_dir)  # a failed write names no file: the run does
        raise error
    result = TrainingResult.of(trainer, outcome["finished"])
    summary = _summary(result)
    if as_json:
        print(strict_dumps(summary))
    else:
        _print_summary(summary)
    return 0 if result.ok else 1


def _summary(result: TrainingResult) -> dict[str, Any]:
    seconds = result.seconds
    evaluation = result.evaluation
    return {
        "run": str(result.run_dir),
        "reason": str(result.reason),
        "message": result.message,
        "env_steps": result.env_steps,
        "updates": result.updates,
        "seconds": round(seconds, 3),
        "steps_per_second": round(result.env_steps / seconds, 1) if seconds > 0 else None,
        "replay": {
            "capacity": result.replay_capacity,
            "bytes_per_transition": result.replay_bytes_per_transition,
            "bytes": result.replay_bytes,
        },
        "checkpoint_bytes": result.checkpoint_bytes,
        "head": result.head,
        "candidates": result.candidates,
        "n_items": result.n_items,
        "eval": None
        if evaluation is None
        else {
            "episodes": evaluation.episodes,
            "return_mean": evaluation.return_mean,
            "return_ci95": evaluation.return_ci95,
            "ctr": evaluation.ctr,
            "session_length": evaluation.session_length,
            "normalised": evaluation.normalised,
        },
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"run        {summary['run']}")
    print(
        f"finished   {summary['reason']}"
        + (f": {summary['message']}" if summary["message"] else "")
    )
    print(
        f"env steps  {summary['env_steps']:,} ({summary['updates']:,} updates) in {summary['seconds']:.1f} s"
    )
    if summary["steps_per_second"]:
        print(f"speed      {summary['steps_per_second']:,.0f} env steps/s")
    from rlrec.engine.usecases.training import format_bytes, ranking_line, replay_memory_line

    if summary["head"]:
        print(
            f"ranks      {ranking_line(summary['head'], summary['candidates'], summary['n_items'])}"
        )
    replay = summary["replay"]
    print(f"memory     {replay_memory_line(replay['capacity'], replay['bytes_per_transition'])}")
    if summary["checkpoint_bytes"] is not None:
        print(f"checkpoint {format_bytes(summary['checkpoint_bytes'])}")
    ev = summary["eval"]
    if ev:
        print(
            f"eval       return {ev['return_mean']:.3f} ± {ev['return_ci95']:.3f} over {ev['episodes']} "
            f"sessions, normalised {_num(ev['normalised'])}, CTR {ev['ctr']:.3f}, "
            f"session length {ev['session_length']:.1f}"
        )


def _fmt_budget(budget: dict[str, float]) -> str:
    ((kind, amount),) = budget.items()
    return f"{amount:g} {kind}"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


class _ProgressDisplay:
    """A rich progress bar on stderr: fraction of the budget, return, ε, steps/s, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[stats]}"),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=1.0, stats="starting…")
        self.last_return = math.nan  # a short last window may finish no session
        self.current_phase = ""

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        if self.current_phase:  # the phase the bar names is over
            self.progress.update(self.task, stats="done")
        self.progress.stop()

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def phase(self, text: str) -> None:
        """Say once that a phase without progress of its own began: a line above the bar
        and the bar's text, so the last "ETA 0s" does not look stuck."""
        if text != self.current_phase:
            self.current_phase = text
            self.note(text)
        self.progress.update(self.task, stats=text)

    def update(self, event: Any) -> None:
        if math.isfinite(event.episode_return):
            self.last_return = event.episode_return
        eta = "—" if not math.isfinite(event.eta_seconds) else f"{event.eta_seconds:,.0f}s"
        stats = (
            f"return {_num(self.last_return, 2)}  ε {event.epsilon:.2f}  "
            f"loss {_num(event.loss, 4)}  {event.steps_per_second:,.0f} steps/s  ETA {eta}"
        )
        self.progress.update(self.task, completed=event.fraction_done, stats=stats)


# -- eval ----------------------------------------------------------------------------------
def eval_command(args: argparse.Namespace) -> int:
    if args.offline:
        return offline_eval_command(args)
    if args.run is None:
        raise RlrecError("eval: give a RUN (a run folder or a name in the runs folder)")
    from rlrec.engine.usecases.evaluation import evaluate_online

    with phases(args.json) as say:
        evaluation = evaluate_online(
            find_run(args.run),
            episodes=args.episodes,
            seed=args.seed,
            with_baselines=not args.no_baselines,
            on_phase=say,
        )
    if args.json:
        print(strict_dumps(evaluation.to_dict()))
        return 0
    episodes, seed = evaluation.episodes, evaluation.seed
    report, baselines = evaluation.agent, evaluation.baselines
    from rich.table import Table

    table = Table(title=f"{Path(evaluation.run).name}: {episodes} sessions, seed {seed}")
    columns = {
        "return_mean": "return",
        "return_ci95": "±95%",
        "normalised": "norm",
        "ctr": "CTR",
        "session_length": "length",
        "coverage": "coverage",
        "ild": "ILD",
        "novelty": "novelty",
    }
    table.add_column("policy")
    for heading in columns.values():
        table.add_column(heading, justify="right")
    for name, rep in {"dqn": report, **baselines}.items():
        row = rep.to_dict()
        table.add_row(name, *(_num(row[c], 2 if c == "session_length" else 3) for c in columns))
    stdout_console().print(table)
    return 0


# -- recommend -----------------------------------------------------------------------------
def recommend_command(args: argparse.Namespace) -> int:
    if args.k <= 0:
        raise RlrecError(f"-k = {args.k} is out of range (allowed: >= 1)")
    from rlrec.engine.usecases.serving import load_for_serving, recommend

    catalogue = getattr(args, "dataset", None)
    run = find_run(args.run)
    result = recommend(
        run if catalogue is None else load_for_serving(run, catalogue),
        args.user,
        args.k,
        policy=getattr(args, "policy", "agent"),
        fallback=getattr(args, "fallback", "content"),
        cold_start=args.cold_start,
    )
    payload = result.to_dict()
    if args.json:
        print(strict_dumps(payload))
        return 0
    print(
        f"user {payload.get('user')}"
        + (f"  ({payload['source']})" if payload.get("source") else "")
    )
    for rank, item in enumerate(payload.get("items", []), start=1):
        details = "  ".join(
            f"{k} {f'{v:.4g}' if isinstance(v, float) else v}"
            for k, v in item.items()
            if k not in ("item", "score")
        )
        print(f"{rank:>3}. item {item['item']:<8} score {_num(item.get('score'))}  {details}")
    return 0


# -- bench train -----------------------------------------------------------------------------
def bench_train_command(args: argparse.Namespace) -> int:
    import tempfile

    from rlrec.engine.usecases.training import resolve_run_config, start_training

    config = resolve_run_config(
        args.preset,
        overrides={"train": {"eval_every": 0}},
        budget=Budget(BudgetKind.SECONDS, args.seconds),
        seed=args.seed,
        torch_threads=args.threads,
    )
    with tempfile.TemporaryDirectory() as scratch:
        trainer = start_training(config, run_dir=Path(scratch) / "run")
        began = time.perf_counter()
        finished = trainer.run()
        wall = time.perf_counter() - began
        report = trainer.evaluate()
    result = {
        "preset": config.preset,
        "seconds": round(finished.seconds, 2),
        "env_steps": finished.env_steps,
        "updates": finished.updates,
        "steps_per_second": round(finished.env_steps / max(finished.seconds, 1e-9)),
        "updates_per_second": round(finished.updates / max(finished.seconds, 1e-9), 1),
        "wall_seconds": round(wall, 2),
        "return_mean": report.return_mean,
        "normalised": report.normalised,
        "torch_threads": config.train.torch_threads,
    }
    if args.json:
        print(strict_dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<20} {value}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(2)
