"""In-process top-10 latency of `recommend` per policy, on a run trained on the built-in
default dataset (1,000 users, 500 items) or on the run given with `--run`.

Trains a short run into a temporary folder (or uses `--run`), builds its serving arrays once
(`prepare_serving`, timed apart), loads them once (timed apart), then asks each policy for
the top 10 of `--users` users in turn through the recommend use case — the path the CLI,
the TUI Explore pane and an HTTP API share — and prints p50 / p99 in milliseconds
(`--json`: one JSON object, which bench/scale.py reads).

    .venv/bin/python bench/recommend_latency.py
    .venv/bin/python bench/recommend_latency.py --run runs/my-run --users 500
    .venv/bin/python bench/recommend_latency.py --run runs/my-run --policies agent --json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _train(folder: Path, steps: int) -> Path:
    from rlrec.cli.main import main

    argv = ["train", "--preset", "default", "--steps", str(steps), "--seed", "0"]
    argv += ["--threads", "1", "--out", str(folder), "--name", "bench", "--json"]
    if main(argv) != 0:
        raise SystemExit("training the benchmark run failed")
    return folder / "bench"


def measure(
    run_dir: Path, n_users: int, k: int = 10, policies: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Latency of top-`k` for the first `n_users` users of the run in `run_dir`, per policy
    (default: every serving policy; the agent only when the run has no dataset). Returns
    {"prepare_seconds", "load_seconds", "users", "k", "policies": {name: {"p50_ms",
    "p99_ms", "max_ms"}}}; milliseconds are wall time per `recommend` call, after one warm-up
    call per policy. With `policies` named, only what they need is built (the first load
    builds the agent's part, a scorer is fitted by its warm-up call) and prepare_seconds is
    None; without, `prepare_serving` fits every scorer first, timed apart."""
    from rlrec.engine.serving import artifacts
    from rlrec.engine.usecases.serving import POLICIES, load_for_serving, recommend

    prepared = None
    if policies is None:  # every scorer fitted now (MF fits a simulator: slow and large)
        began = time.perf_counter()
        artifacts.prepare_serving(run_dir)
        prepared = time.perf_counter() - began
        artifacts._LOADED.clear()  # time the first load as a fresh process would see it
    began = time.perf_counter()
    run = load_for_serving(run_dir)
    loaded = time.perf_counter() - began
    if run.dataset is None:
        users = [str(u) for u in range(min(n_users, run.start.n_users))]
        policies = ("agent",)
    else:
        ids = run.dataset.users["original_id"].astype(str).to_numpy()
        users = list(ids[:n_users])
        policies = policies or POLICIES
    measured: dict[str, Any] = {}
    for policy in policies:
        recommend(run_dir, users[0], k, policy=policy)  # warm caches (first numpy call)
        times = []
        for user in users:
            began = time.perf_counter()
            recommend(run_dir, user, k, policy=policy)
            times.append((time.perf_counter() - began) * 1000)
        p50, p99 = np.percentile(times, [50, 99])
        measured[policy] = {"p50_ms": float(p50), "p99_ms": float(p99), "max_ms": max(times)}
    return {
        "prepare_seconds": prepared,
        "load_seconds": loaded,
        "users": len(users),
        "k": k,
        "policies": measured,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run (default: train one)")
    parser.add_argument("--users", type=int, default=200, help="users asked per policy")
    parser.add_argument("--steps", type=int, default=5000, help="training steps if training")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--policies", help="comma-separated policies (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    policies = tuple(p for p in (args.policies or "").split(",") if p) or None

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run or _train(Path(scratch), args.steps)
        result = measure(run_dir, args.users, args.k, policies)
    if args.json:
        print(json.dumps({"run": str(run_dir), **result}, allow_nan=False))
        return 0
    prepared = result["prepare_seconds"]
    prepare = "" if prepared is None else f"prepare_serving {prepared:.2f} s (once), "
    print(f"run {run_dir}: {prepare}load {result['load_seconds']:.3f} s")
    print(f"top-{args.k} for {result['users']} users, in-process, milliseconds per call")
    print(f"{'policy':<10} {'p50':>8} {'p99':>8} {'max':>8}")
    for policy, ms in result["policies"].items():
        print(f"{policy:<10} {ms['p50_ms']:8.2f} {ms['p99_ms']:8.2f} {ms['max_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
