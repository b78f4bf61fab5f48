"""In-process top-10 latency of `recommend` per policy, on a run trained on the built-in
default dataset (1,000 users, 500 items).

Trains a short run into a temporary folder (or uses `--run`), builds its serving arrays once
(`prepare_serving`, timed apart), loads them once (timed apart), then asks each policy for
the top 10 of `--users` users in turn through the recommend use case — the path the CLI,
the TUI Explore pane and an HTTP API share — and prints p50 / p99 in milliseconds.

    .venv/bin/python bench/recommend_latency.py
    .venv/bin/python bench/recommend_latency.py --run runs/my-run --users 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from trained_run import train_bench_run  # bench/, beside this script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run (default: train one)")
    parser.add_argument("--users", type=int, default=1000, help="users asked per policy")
    parser.add_argument("--steps", type=int, default=5000, help="training steps if training")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument(
        "--no-prepare",
        dest="prepare",
        action="store_false",
        help="build only what the timed policies need (prepare_serving fits every scorer)",
    )
    parser.add_argument(
        "--policies", help="comma-separated policies to time (default: all the run offers)"
    )
    args = parser.parse_args()

    from rlrec.engine.serving import artifacts
    from rlrec.engine.usecases.serving import POLICIES, load_for_serving, recommend

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run or train_bench_run(Path(scratch), args.steps)
        began = time.perf_counter()
        if args.prepare:
            artifacts.prepare_serving(run_dir)
        prepared = time.perf_counter() - began
        artifacts._LOADED.clear()  # time the first load as a fresh process would see it
        began = time.perf_counter()
        run = load_for_serving(run_dir)
        loaded = time.perf_counter() - began
        prep = f"{prepared:.2f} s (once)" if args.prepare else "skipped"
        print(f"run {run_dir}: prepare_serving {prep}, load {loaded:.3f} s")
        if run.dataset is None:
            users = [str(u) for u in range(min(args.users, run.start.n_users))]
            policies: tuple[str, ...] = ("agent",)
        else:
            ids = run.dataset.users["original_id"].astype(str).to_numpy()
            users = list(ids[: args.users])
            policies = POLICIES
        if args.policies:
            policies = tuple(p for p in args.policies.split(",") if p in policies)
        print(f"top-{args.k} for {len(users)} users, in-process, milliseconds per call")
        print("  wall = elapsed time; cpu = CPU time of the process (all threads) per call,")
        print("  which other work on the machine does not inflate")
        print(f"{'policy':<10} {'wall p50':>9} {'wall p99':>9} {'cpu p50':>8} {'cpu p99':>8}")
        for policy in policies:
            for user in users[:20]:  # warm caches: first numpy/torch calls, per-dataset arrays
                recommend(run_dir, user, args.k, policy=policy)
            wall, cpu = [], []
            for user in users:
                began, began_cpu = time.perf_counter(), time.process_time()
                recommend(run_dir, user, args.k, policy=policy)
                wall.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            w50, w99 = np.percentile(wall, [50, 99])
            c50, c99 = np.percentile(cpu, [50, 99])
            print(f"{policy:<10} {w50:9.2f} {w99:9.2f} {c50:8.2f} {c99:8.2f}")
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
