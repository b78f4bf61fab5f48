"""`rlrec baselines` (the baseline table of a preset) and `rlrec bench env` (simulator speed).

    rlrec baselines --preset default --episodes 1000 --seed 0 [--config FILE] [--json]
    rlrec bench env [--preset NAME ...] [--sizes 1,256,1024] [--seconds 1.0] [--json]

A `--config FILE` YAML may name its own `preset:` and override any `env` field, and may set
`eval: {episodes, seed}`; flags given explicitly win over the file.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.data.jsonsafe import strict_dumps
from rlrec.engine.config_base import deep_merge, from_dict, load_yaml, param

DEFAULT_PRESET = "default"
BENCH_SIZES = (1, 256, 1024)


@dataclass
class BaselinesEvalConfig:
    """The `eval` section as `rlrec baselines` reads it."""

    episodes: int = param(1000, low=1, high=1_000_000, help="sessions per baseline")
    seed: int = param(0, low=0, high=2**31 - 1, help="seed of the evaluation sessions")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range (allowed: [1, inf))")
    return value


def seed_type(text: str) -> int:
    """argparse type of every --seed: a whole number in 0..2**31-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{value} is out of range (allowed: [0, 2147483647])")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(part) for part in text.split(",") if part.strip())


def register(commands: Any, bench: Any) -> None:
    parser = commands.add_parser(
        "baselines",
        help="evaluate every baseline policy on a preset (return ± CI, CTR, coverage, ...)",
        description="Greedy sessions of random, most-popular, LinUCB, the myopic oracle and "
        "(where the simulator has session dynamics) the farsighted heuristic.",
    )
    parser.add_argument("--preset", help=f"preset name or YAML file (default: {DEFAULT_PRESET})")
    parser.add_argument("--config", metavar="FILE", help="YAML overriding the preset")
    parser.add_argument("--dataset", metavar="DIR", help="dataset folder for the default simulator")
    parser.add_argument(
        "--episodes", type=_positive_int, help="sessions per baseline (default 1000)"
    )
    parser.add_argument(
        "--seed", type=seed_type, help="seed of the evaluation sessions (default 0)"
    )
    parser.add_argument("--policies", help="comma-separated subset of the baselines")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_baselines)

    env_bench = bench.add_parser("env", help="simulator env-steps/s with random actions")
    env_bench.add_argument(
        "--preset", action="append", help="preset to measure (repeatable; default: all)"
    )
    env_bench.add_argument("--sizes", type=_sizes, default=BENCH_SIZES, help="e.g. 1,256,1024")
    env_bench.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    env_bench.add_argument("--json", action="store_true", help="print one JSON object")
    env_bench.set_defaults(handler=run_bench_env)


# -- rlrec baselines --------------------------------------------------------------------------
def resolve_baselines_config(args: argparse.Namespace) -> tuple[str, Any, BaselinesEvalConfig]:
    """(preset name, env config, eval config) from preset ← --config ← flags."""
    from rlrec.engine.presets import check_sections, load_preset
    from rlrec.engine.sim import parse_env_config

    file_raw: dict[str, Any] = load_yaml(args.config, "config") if args.config else {}
    check_sections(file_raw, str(args.config))
    preset = args.preset or file_raw.pop("preset", None) or DEFAULT_PRESET
    file_raw.pop("preset", None)
    raw = deep_merge(load_preset(preset), file_raw)
    env_raw = dict(raw.get("env") or {})
    dataset = args.dataset or raw.get("dataset")
    if args.dataset:
        from rlrec.engine.usecases.datasets import require_dataset_folder

        require_dataset_folder(args.dataset, "dataset")
    if dataset:
        if env_raw.get("kind", "default") != "default":
            raise RlrecError(
                f"--dataset {dataset}: the {env_raw.get('kind')!r} simulator has its own data; "
                "use a preset whose env kind is 'default'"
            )
        env_raw["dataset"] = str(dataset)
    env = parse_env_config(env_raw)
    eval_config = from_dict(BaselinesEvalConfig, raw.get("eval"), prefix="eval")
    if args.episodes is not None:
        eval_config.episodes = args.episodes
    if args.seed is not None:
        eval_config.seed = args.seed
    return str(preset), env, eval_config


def _policy_names(args: argparse.Namespace, env: Any) -> tuple[str, ...] | None:
    if not args.policies:
        return None
    from rlrec.engine.policies.registry import SIMULATION_BASELINES as BASELINES

    names = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    for name in names:
        if name not in BASELINES:
            raise RlrecError(
                f"--policies: unknown baseline '{name}' (baselines: {', '.join(BASELINES)})"
            )
    if "farsighted" in names and getattr(env, "kind", "") != "default":
        raise RlrecError(
            "--policies: 'farsighted' needs a simulator with session dynamics (env.kind: default)"
        )
    return names


def run_baselines(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlrec.engine.config_base import to_dict
    from rlrec.engine.evaluation.online import baseline_table

    preset, env, eval_config = resolve_baselines_config(args)
    names = _policy_names(args, env)
    if getattr(env, "dataset", ""):  # a fitted or large truth: refuse before building it
        from rlrec.engine.usecases.evaluation import check_simulation_fits

        check_simulation_fits(env.dataset, eval_config.episodes)
    err = Console(stderr=True)
    started = time.perf_counter()
    with err.status(f"evaluating baselines on {preset} ({eval_config.episodes} sessions each)…"):
        reports = baseline_table(
            env,
            eval_config.episodes,
            eval_config.seed,
            names=names,
            on_done=lambda name, r: err.print(f"{name}: return {r.return_mean:.2f}", style="dim"),
        )
    seconds = time.perf_counter() - started
    if args.json:
        out = {
            "preset": preset,
            "episodes": eval_config.episodes,
            "seed": eval_config.seed,
            "seconds": round(seconds, 3),
            "env": to_dict(env),
            "policies": {name: report.to_dict() for name, report in reports.items()},
        }
        print(strict_dumps(out))
        return 0
    _print_table(preset, eval_config, reports)
    err.print(f"[dim]{seconds:.1f} s[/dim]")
    return 0


def _fmt(value: float, digits: int = 2) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _print_table(preset: str, eval_config: BaselinesEvalConfig, reports: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"baselines · {preset} · {eval_config.episodes} sessions · seed {eval_config.seed}"
    )
    for column in (
        "policy",
        "return ± 95% CI",
        "engaged",
        "CTR",
        "conv.",
        "length",
        "coverage",
        "ILD",
        "novelty",
        "normalised",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, r in reports.items():
        table.add_row(
            name,
            f"{_fmt(r.return_mean)} ± {_fmt(r.return_ci95)}",
            _fmt(r.engagements_mean),
            _fmt(r.ctr, 3),
            _fmt(r.conversion, 3),
            _fmt(r.session_length, 1),
            _fmt(r.coverage, 3),
            _fmt(r.ild, 3),
            _fmt(r.novelty, 2),
            _fmt(r.normalised, 2),
        )
    Console(file=sys.stdout, width=max(120, Console().width)).print(table)


# -- rlrec bench env --------------------------------------------------------------------------
def env_steps_per_second(preset: str, n_envs: int, seconds: float = 1.0, seed: int = 0) -> float:
    """Env steps per second of a preset's simulator with uniformly random actions."""
    from rlrec.engine.sim import make_simulator
    from rlrec.engine.sim.gym_api import resolve_env_config

    sim = make_simulator(resolve_env_config(preset), n_envs=n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    # Actions drawn in advance so the figure is the simulator's, not the random generator's.
    actions = rng.integers(0, sim.n_items, size=(64, n_envs))
    for row in actions[:4]:  # warm-up
        sim.step(row)
    steps, started = 0, time.perf_counter()
    while True:
        for row in actions:
            sim.step(row)
        steps += len(actions) * n_envs
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return steps / elapsed


def run_bench_env(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from rlrec.engine.presets import PRESETS

    if not args.seconds > 0:
        raise RlrecError(f"--seconds = {args.seconds} is out of range (allowed: (0, inf))")
    presets = args.preset or [p for p in ("seed-classic", "default") if p in PRESETS]
    figures: dict[str, dict[str, float]] = {}
    err = Console(stderr=True)
    for preset in presets:
        figures[preset] = {}
        for size in args.sizes:
            with err.status(f"{preset} N={size}…"):
                figures[preset][str(size)] = env_steps_per_second(preset, size, args.seconds)
    if args.json:
        print(strict_dumps({"env_steps_per_second": figures, "seconds_each": args.seconds}))
        return 0
    table = Table(title="simulator env-steps/s (random actions)")
    table.add_column("preset")
    for size in args.sizes:
        table.add_column(f"N={size}", justify="right")
    for preset, row in figures.items():
        table.add_row(preset, *(f"{row[str(s)]:,.0f}" for s in args.sizes))
    Console(file=sys.stdout).print(table)
    return 0
