"""A short `default` run for the serving benchmarks (`recommend_latency.py`, `serve.py`)."""

from __future__ import annotations

from pathlib import Path


def train_bench_run(folder: Path, steps: int) -> Path:
    """Train the `default` preset for `steps` env steps (seed 0, 1 torch thread) into
    `folder/bench` with `rlrec train`; that run folder. SystemExit if training fails."""
    from rlrec.cli.main import main

    argv = ["train", "--preset", "default", "--steps", str(steps), "--seed", "0"]
    argv += ["--threads", "1", "--out", str(folder), "--name", "bench", "--json"]
    if main(argv) != 0:
        raise SystemExit("training the benchmark run failed")
    return folder / "bench"
