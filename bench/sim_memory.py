"""Benchmark of the `default` simulator's memory: build it on a dataset folder, report seconds
and peak resident memory after the hidden truth and after the simulator, then env-steps/s of
a uniformly random policy.

Peak memory is getrusage's ru_maxrss (it sees numpy buffers, unlike tracemalloc), so run one
size per process:

    rlrec generate --users 100000 --items 10000 --out /tmp/d100k
    .venv/bin/python bench/sim_memory.py /tmp/d100k               # 1,024 sessions, 10 s
    .venv/bin/python bench/sim_memory.py /tmp/d100k --envs 256 --seconds 5 --json

A simulator that holds nothing users × items or items × items stays near the size of the
truth's factor tables plus the sessions' state (N × items for the mask and counts).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="dataset folder (e.g. from `rlrec generate`)")
    parser.add_argument("--envs", type=int, default=1024, help="parallel sessions")
    parser.add_argument("--seconds", type=float, default=10.0, help="random-policy stepping")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    import numpy as np

    from rlrec.data.store import load_dataset
    from rlrec.engine.sim.default import DefaultSimulator
    from rlrec.engine.truth.model import truth_from_dataset

    row: dict[str, float | int | str] = {"dataset": args.dataset, "envs": args.envs}
    start = time.perf_counter()
    dataset = load_dataset(args.dataset)
    row["users"], row["items"] = int(dataset.n_users), int(dataset.n_items)
    truth = truth_from_dataset(dataset, args.dataset)
    row["truth_s"] = time.perf_counter() - start
    row["truth_peak_rss_mib"] = peak_rss_bytes() / 2**20
    start = time.perf_counter()
    try:
        sim = DefaultSimulator(truth, n_envs=args.envs, seed=0)
    except MemoryError as exc:  # the dense tables of an older simulator
        row["error"] = f"MemoryError: {exc}"
        row["sim_peak_rss_mib"] = peak_rss_bytes() / 2**20
        print(json.dumps(row) if args.json else row)
        return 1
    row["sim_s"] = time.perf_counter() - start
    row["sim_peak_rss_mib"] = peak_rss_bytes() / 2**20

    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        sim.step(rng.integers(0, sim.n_items, args.envs))
        steps += args.envs
    row["env_steps_per_s"] = steps / (time.perf_counter() - start)
    row["final_peak_rss_mib"] = peak_rss_bytes() / 2**20
    if args.json:
        print(json.dumps(row))
    else:
        for key, value in row.items():
            print(f"{key:>20}  {value:,.1f}" if isinstance(value, float) else f"{key:>20}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
