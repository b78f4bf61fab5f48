"""Benchmark of the synthetic generator: seconds and peak memory per size.

Each size runs in a fresh Python process so that its peak resident memory (getrusage
ru_maxrss, which sees numpy and Arrow buffers, unlike tracemalloc) is its own. The child
generates the dataset, then writes it to a temporary folder with `data.store`.

    .venv/bin/python bench/generate.py                 # 1,000×500 and 100,000×10,000
    .venv/bin/python bench/generate.py --size 20000x2000 --json

Acceptance: 100,000 users × 10,000 items in ≤ 30 s and ≤ 4 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = ("1000x500", "100000x10000")
LIMIT_SECONDS = 30.0
LIMIT_BYTES = 4 * 2**30

CHILD = """
import json, resource, sys, tempfile, time
sys.path.insert(0, {root!r})
from rlrec.data.generator import generate
from rlrec.data.store import save_dataset
started = time.perf_counter()
ds = generate({users}, {items}, seed={seed})
generated = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    save_dataset(ds, folder + "/ds")
saved = time.perf_counter()
print(json.dumps({{
    "users": {users}, "items": {items}, "interactions": len(ds.interactions),
    "generate_seconds": generated - started, "save_seconds": saved - generated,
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}}))
"""


def parse_size(text: str) -> tuple[int, int]:
    try:
        users, items = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size {text!r}: expected USERSxITEMS, e.g. 1000x500"
        ) from None
    if users < 1 or items < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: users and items must be at least 1")
    return users, items


def measure(users: int, items: int, seed: int) -> dict:
    code = CHILD.format(root=str(ROOT), users=users, items=items, seed=seed)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/generate.py: {users}x{items} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", type=parse_size, help="USERSxITEMS (repeatable)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    sizes = args.size or [parse_size(s) for s in DEFAULT_SIZES]
    results = []
    for users, items in sizes:
        print(f"measuring {users:,} users × {items:,} items …", file=sys.stderr)
        result = measure(users, items, args.seed)
        result["total_seconds"] = result["generate_seconds"] + result["save_seconds"]
        result["within_limits"] = (
            result["total_seconds"] <= LIMIT_SECONDS and result["peak_rss_bytes"] <= LIMIT_BYTES
        )
        results.append(result)
    if args.json:
        print(json.dumps({"benchmark": "generate", "results": results}))
        return 0
    print(f"{'users':>9} {'items':>7} {'interactions':>13} {'generate s':>10} {'save s':>7} "
          f"{'total s':>8} {'peak RSS':>10}")  # fmt: skip
    for r in results:
        print(
            f"{r['users']:>9,} {r['items']:>7,} {r['interactions']:>13,} "
            f"{r['generate_seconds']:>10.2f} {r['save_seconds']:>7.2f} {r['total_seconds']:>8.2f} "
            f"{r['peak_rss_bytes'] / 2**20:>7.0f} MiB"
        )
    print(f"limits: {LIMIT_SECONDS:.0f} s and {LIMIT_BYTES / 2**30:.0f} GiB at 100,000 × 10,000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
