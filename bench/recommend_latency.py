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
import tempfile
import time
from pathlib import Path

import numpy as np


def _train(folder: Path, steps: int) -> Path:
    from rlrec.cli.main import main

    argv = ["train", "--preset", "default", "--steps", str(steps), "--seed", "0"]
    argv += ["--threads", "1", "--out", str(folder), "--name", "bench", "--json"]
    if main(argv) != 0:
        raise SystemExit("training the benchmark run failed")
    return folder / "bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run (default: train one)")
    parser.add_argument("--users", type=int, default=200, help="users asked per policy")
    parser.add_argument("--steps", type=int, default=5000, help="training steps if training")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument(
        "--policies", help="comma-separated policies to time (default: all the run offers)"
    )
    args = parser.parse_args()

    from rlrec.engine.serving import artifacts
    from rlrec.engine.usecases.serving import POLICIES, load_for_serving, recommend

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run or _train(Path(scratch), args.steps)
        began = time.perf_counter()
        artifacts.prepare_serving(run_dir)
        prepared = time.perf_counter() - began
        artifacts._LOADED.clear()  # time the first load as a fresh process would see it
        began = time.perf_counter()
        run = load_for_serving(run_dir)
        loaded = time.perf_counter() - began
        print(f"run {run_dir}: prepare_serving {prepared:.2f} s (once), load {loaded:.3f} s")
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
        print(f"{'policy':<10} {'p50':>8} {'p99':>8} {'max':>8}")
        for policy in policies:
            recommend(run_dir, users[0], args.k, policy=policy)  # warm caches (first numpy call)
            times = []
            for user in users:
                began = time.perf_counter()
                recommend(run_dir, user, args.k, policy=policy)
                times.append((time.perf_counter() - began) * 1000)
            p50, p99 = np.percentile(times, [50, 99])
            print(f"{policy:<10} {p50:8.2f} {p99:8.2f} {max(times):8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
