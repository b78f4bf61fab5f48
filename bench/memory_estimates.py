"""Memory estimates against measured peaks: importing a log and training a run.

rlrec refuses an import or a run whose estimated peak memory exceeds what the machine has
(`data.logtable.import_estimate`, `engine.usecases.training_memory`). This prints, for a few
real sizes, the estimate beside the measured growth of resident memory, so the constants in
those modules can be checked: each case runs in a fresh Python process that notes its
resident memory once its libraries are loaded, does the work, and reports getrusage's
ru_maxrss (which sees numpy, Arrow and torch buffers, unlike tracemalloc). The growth is the
difference; an estimate should be at or a little above it.

    .venv/bin/python bench/memory_estimates.py                      # the default sizes
    .venv/bin/python bench/memory_estimates.py --rows 5000000 --sizes 40000x8000 --json

Imports: a generated log in the MovieLens ratings.csv layout (userId,movieId,rating,
timestamp; 150 ratings per user, 200 per item) as `import movielens` (ml-latest layout),
`import csv` and `import csv` of the same table as Parquet. Training: a generated dataset
per size (`generate`), trained for 2,048 steps with a full 2,048-transition replay buffer and
one evaluation; `--fitted` also trains on the imported log (the simulator fitted to it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROWS = ("500000", "2000000")
DEFAULT_SIZES = ("10000x2000", "20000x4000")

PRELUDE = """
import json, resource, sys
sys.path.insert(0, {root!r})
{imports}
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()
before = rss()
"""
REPORT = """
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "growth": peak - before, **result}))
"""

IMPORT_CHILD = """
from pathlib import Path
kind, folder, out = {kind!r}, Path({folder!r}), {out!r}
if kind == "movielens":
    from rlrec.data.logtable import import_estimate
    rows, columns, estimate = import_estimate(folder / "ratings.csv", ",")
    import_movielens_dataset(folder, out=out, force=True)
else:
    from rlrec.data.logtable import import_estimate
    path = folder / ("ratings.csv" if kind == "csv" else "ratings.parquet")
    rows, columns, estimate = import_estimate(path)
    import_log_dataset(path, user_col="userId", item_col="movieId", rating_col="rating",
                       timestamp_col="timestamp", out=out, force=True)
result = {{"rows": rows, "columns": columns, "estimate": estimate}}
"""

TRAIN_CHILD = """
from rlrec.engine.training.budget import Budget
config = resolve_run_config(
    dataset={dataset!r}, budget=Budget.from_dict({{"steps": 2048}}),
    overrides={{"agent": {{"replay_size": 2048}}, "train": {{"eval_every": 0}}}},
)
memory = training_memory(config)
train(config, runs_dir={runs!r})
result = {{"estimate": memory.peak, "parts": memory.parts}}
"""


def run_child(imports: str, body: str) -> dict:
    code = PRELUDE.format(root=str(ROOT), imports=imports) + body + REPORT
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_log(rows: int, folder: Path) -> Path:
    """A MovieLens ml-latest folder with `rows` ratings (and its table as Parquet)."""
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n_users, n_items = max(rows // 150, 10), max(rows // 200, 10)
    table = pd.DataFrame(
        {
            "userId": rng.integers(1, n_users + 1, rows),
            "movieId": rng.integers(1, n_items + 1, rows),
            "rating": rng.integers(1, 11, rows) / 2,
            "timestamp": 1_000_000_000 + rng.integers(0, 300_000_000, rows),
        }
    ).drop_duplicates(["userId", "movieId", "timestamp"])
    table.to_csv(folder / "ratings.csv", index=False)
    table.to_parquet(folder / "ratings.parquet", index=False)
    titles = [f"Movie {k} (1999)" for k in range(1, n_items + 1)]
    movies = {"movieId": range(1, n_items + 1), "title": titles, "genres": "Drama|Comedy"}
    pd.DataFrame(movies).to_csv(folder / "movies.csv", index=False)
    return folder


def row(case: str, result: dict) -> dict:
    ratio = result["estimate"] / max(result["growth"], 1)
    return {"case": case, **result, "estimate_over_measured": round(ratio, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(DEFAULT_ROWS), help="log sizes")
    parser.add_argument("--sizes", nargs="*", default=list(DEFAULT_SIZES), help="USERSxITEMS")
    parser.add_argument("--fitted", action="store_true", help="also train on each imported log")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    use_imports = "from rlrec.engine.usecases.datasets import import_log_dataset, " + (
        "import_movielens_dataset"
    )
    train_imports = (
        "from rlrec.engine.usecases.training import resolve_run_config, train\n"
        "from rlrec.engine.usecases.training_memory import training_memory\n"
        "import torch, rlrec.engine.training.trainer"
    )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for count in map(int, args.rows):
            folder = write_log(count, work / f"log{count}")
            for kind in ("movielens", "csv", "parquet"):
                out = str(work / f"ds-{kind}{count}")
                body = IMPORT_CHILD.format(kind=kind, folder=str(folder), out=out)
                rows.append(row(f"import {kind} {count:,} rows", run_child(use_imports, body)))
            if args.fitted:
                body = TRAIN_CHILD.format(dataset=str(work / f"ds-movielens{count}"), runs=scratch)
                rows.append(row(f"train fitted {count:,} rows", run_child(train_imports, body)))
        for size in args.sizes:
            users, items = (int(n) for n in size.split("x"))
            dataset = work / f"gen{size}"
            from rlrec.engine.usecases.datasets import generate_dataset

            generate_dataset(users, items, out=dataset)
            body = TRAIN_CHILD.format(dataset=str(dataset), runs=scratch)
            rows.append(row(f"train generated {size}", run_child(train_imports, body)))
    for result in rows:
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{result['case']:<34} estimate {result['estimate'] / 2**20:9,.0f} MiB   "
                f"measured growth {result['growth'] / 2**20:9,.0f} MiB   "
                f"ratio {result['estimate_over_measured']:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
