"""Kill `rlrec train`, `rlrec generate` and `rlrec import` with SIGKILL at seeded random
moments and check what each kill leaves behind.

For every kill the output must be either absent or whole: a dataset folder that loads, or a
run folder that `rlrec resume` continues. A run killed before its first checkpoint must be
refused by resume with one line ("not started, refused"), and `rlrec train --name` must be
able to take the name again. Prints one row per command: kills, how many left nothing, a whole result, a resumed
run, and the hidden leftovers still on disk after the next command in the same folder.

    python bench/kill9.py [--kills 20] [--seed 7]

Exit 1 if any kill left a broken result."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.data.store import load_dataset
from rlrec.engine.training.run_folder import LOCK_FILE

SMALL_TRAIN = """\
preset: seed-classic
agent: {hidden: [64, 64], batch_size: 64, replay_size: 20000, learning_starts: 256}
train: {n_envs: 64, log_every: 2048, checkpoint_every: 4096, eval_every: 0, torch_threads: 1}
"""


def rlrec(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rlrec", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def killed_at(args: list[str | Path], delay: float) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlrec", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def dataset_outcome(out: Path) -> str:
    if not out.exists():
        return "absent"
    try:
        load_dataset(out)
    except RlrecError as exc:
        return f"BROKEN: {exc}"
    return "whole"


def run_outcome(run_dir: Path, runs_dir: Path) -> str:
    if not run_dir.exists():
        return "absent"
    resumed = rlrec("resume", run_dir, "--steps", "512", "--json")
    if resumed.returncode == 0:
        return "resumed"
    lines = resumed.stderr.strip().splitlines()
    started = (
        ("checkpoint" in lines[0] or "killed while it started" in lines[0]) if lines else False
    )
    if resumed.returncode == 2 and len(lines) == 1 and started:
        # Killed before its first checkpoint: one line, and the name is free for a new run.
        again_args = ["--out", runs_dir, "--name", run_dir.name]
        again = rlrec("train", "--config", runs_dir / "small.yaml", "--steps", "512", *again_args)
        return "not started, refused" if again.returncode == 0 else "BROKEN: name taken"
    return f"BROKEN: resume exit {resumed.returncode}: {resumed.stderr.strip()[-200:]}"


def hidden_leftovers(folder: Path) -> list[str]:
    """Hidden temporary files and folders under `folder` (a run's own `.lock` is not one)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name != LOCK_FILE)


def timed(args: list[str | Path]) -> float:
    began = time.monotonic()
    done = rlrec(*args)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed before any kill: {done.stderr.strip()}")
    return time.monotonic() - began


def bench_dataset(command: str, kills: int, rng: np.random.Generator, root: Path) -> dict:
    root.mkdir()
    if command == "generate":
        args: list[str | Path] = ["generate", "--users", "20000", "--items", "2000", "--seed", "1"]
    else:
        log = root / "log.csv"
        gen = np.random.default_rng(0)
        rows = 300_000
        frame = np.column_stack(
            [
                gen.integers(0, 20_000, rows),
                gen.integers(0, 3_000, rows),
                gen.integers(1, 6, rows),
                1_600_000_000 + np.arange(rows),
            ]
        )
        np.savetxt(log, frame, fmt="%d", delimiter=",", header="user,item,rating,ts", comments="")
        args = ["import", "csv", log, "--user-col", "user", "--item-col", "item"]
        args += ["--rating-col", "rating", "--timestamp-col", "ts"]
    duration = timed([*args, "--out", root / f"{command}-first"])
    counts = {"absent": 0, "whole": 0, "broken": []}
    for number, delay in enumerate(rng.uniform(0.05, 1.0, kills) * duration):
        out = root / f"{command}-{number}"
        killed_at([*args, "--out", out], float(delay))
        outcome = dataset_outcome(out)
        if outcome.startswith("BROKEN"):
            counts["broken"].append(outcome)
        else:
            counts[outcome] += 1
    timed([*args, "--out", root / f"{command}-after"])  # the next write cleans stale partials
    counts["leftovers"] = hidden_leftovers(root)
    return counts


def bench_train(kills: int, rng: np.random.Generator, root: Path) -> dict:
    runs_dir = root / "runs"
    runs_dir.mkdir(parents=True)
    config = runs_dir / "small.yaml"
    config.write_text(SMALL_TRAIN)
    base = ["train", "--config", config, "--out", runs_dir]
    duration = timed([*base, "--steps", "60000", "--name", "first"])
    counts = {"absent": 0, "resumed": 0, "not started, refused": 0, "broken": []}
    for number, delay in enumerate(rng.uniform(0.05, 1.0, kills) * duration):
        name = f"killed-{number}"
        killed_at([*base, "--steps", "60000", "--name", name], float(delay))
        outcome = run_outcome(runs_dir / name, runs_dir)
        if outcome.startswith("BROKEN"):
            counts["broken"].append(outcome)
        else:
            counts[outcome] += 1
    counts["leftovers"] = hidden_leftovers(runs_dir)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    root = Path(tempfile.mkdtemp(prefix="rlrec-kill9-"))
    try:
        results = {
            "train": bench_train(args.kills, rng, root / "train"),
            "generate": bench_dataset("generate", args.kills, rng, root / "generate"),
            "import": bench_dataset("import", args.kills, rng, root / "import"),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'command':<10}{'kills':>6}  outcomes (leftovers = hidden files after the next run)")
    broken = 0
    for command, counts in results.items():
        bad = counts.pop("broken")
        leftovers = counts.pop("leftovers")
        broken += len(bad)
        outcomes = ", ".join(f"{name} {n}" for name, n in counts.items())
        print(
            f"{command:<10}{args.kills:>6}  {outcomes}, broken {len(bad)}, "
            f"leftovers {len(leftovers)}"
        )
        for line in bad + [f"leftover: {name}" for name in leftovers]:
            print(f"    {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
