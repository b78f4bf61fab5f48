"""Scale benchmark: one table of what each pipeline stage costs at growing synthetic sizes.

Every stage runs the real command (`rlrec ...`) in a child process, so its wall seconds, CPU
seconds (user + system) and peak resident memory are its own: the child's rusage from
`os.wait4`, the same numbers `/usr/bin/time -v` prints. Each row is one size; each stage adds
its columns. Today's stages: generate.

    .venv/bin/python bench/scale.py                       # small, 100k and 1m
    .venv/bin/python bench/scale.py --sizes small,100k
    .venv/bin/python bench/scale.py --sizes 1m --work /tmp/scale --json

Adding a stage is adding one function `stage(ctx) -> list[Cell]` to STAGES: it runs its
command with `run_measured`, reads what earlier stages left in `ctx.outputs` (e.g. the
dataset folder under "dataset") and returns the cells it measured. A stage that fails stops
the benchmark with its command and the end of its stderr.

Target: 1M users × 100k items generated in ≤ 60 s on a 2-core, 24 GiB machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

SEED = 0


@dataclass(frozen=True)
class Size:
    """One row of the table: a synthetic dataset of `users` × `items`."""

    name: str
    users: int
    items: int


SIZES = {
    "small": Size("small", 1_000, 500),
    "100k": Size("100k", 100_000, 10_000),
    "1m": Size("1m", 1_000_000, 100_000),
}


@dataclass
class Context:
    """What a stage gets: the row's size, a folder of its own for outputs, and the outputs
    of earlier stages by name ("dataset": the generated dataset folder)."""

    size: Size
    work: Path
    seed: int = SEED
    outputs: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One measured value: its JSON key (with its unit), the table's column header, the value
    and how the table shows it."""

    key: str
    column: str
    value: float | int | str
    show: Callable[[Any], str]


@dataclass(frozen=True)
class Measured:
    """A finished child process: wall and CPU seconds, peak resident bytes."""

    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int


Stage = Callable[[Context], list[Cell]]


def rlrec_command(*args: str) -> list[str]:
    """The command line of `rlrec ARGS` with this interpreter (the project's venv)."""
    return [sys.executable, "-m", "rlrec.cli", *args]


def run_measured(command: list[str], what: str, log: Path) -> Measured:
    """Run `command` to completion with stdout/stderr in `log`; its own wall seconds, CPU
    seconds and peak RSS (Linux `ru_maxrss` is in KiB). Exits naming `what` if it fails."""
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        # wait4, not Popen.wait: it also returns this child's own rusage.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        raise SystemExit(
            f"bench/scale.py: {what} failed (exit {code}): {' '.join(command)}\n" + "\n".join(tail)
        )
    return Measured(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f}"


def _count(value: int) -> str:
    return f"{value:,}"


# -- stages -------------------------------------------------------------------------------------


def generate(ctx: Context) -> list[Cell]:
    """`rlrec generate` of the row's size; the dataset folder becomes ctx.outputs["dataset"]."""
    size, dataset = ctx.size, ctx.work / "dataset"
    command = rlrec_command(
        "generate", "--users", str(size.users), "--items", str(size.items),
        "--seed", str(ctx.seed), "--out", str(dataset), "--force",
    )  # fmt: skip
    run = run_measured(command, f"generate {size.name}", ctx.work / "generate.log")
    ctx.outputs["dataset"] = dataset
    rows = pq.read_metadata(dataset / "interactions.parquet").num_rows
    return [
        Cell("rows_written", "rows written", rows, _count),
        Cell("generate_seconds", "generate s", run.seconds, _seconds),
        Cell("generate_cpu_seconds", "generate cpu s", run.cpu_seconds, _seconds),
        Cell("generate_peak_rss_bytes", "generate GiB", run.peak_rss_bytes, _gib),
    ]


STAGES: list[Stage] = [generate]


# -- the table ----------------------------------------------------------------------------------


def measure_row(size: Size, work: Path, seed: int) -> list[Cell]:
    """Every stage in order on `size`, in the folder `work`; the cells of the row."""
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(size, work, seed)
    cells = [
        Cell("size", "size", size.name, lambda _: f"{size.users:,} × {size.items:,}"),
        Cell("users", "", size.users, str),
        Cell("items", "", size.items, str),
    ]
    for stage in STAGES:
        print(f"{size.name}: {stage.__name__} …", file=sys.stderr, flush=True)
        cells += stage(ctx)
    return cells


def render(rows: list[list[Cell]]) -> str:
    """The rows as one aligned text table (columns in the order stages produced them)."""
    columns: list[str] = []
    for row in rows:  # cells without a header are for JSON only
        columns += [cell.column for cell in row if cell.column and cell.column not in columns]
    shown = [{cell.column: cell.show(cell.value) for cell in row} for row in rows]
    widths = {c: max([len(c), *(len(r.get(c, "")) for r in shown)]) for c in columns}
    lines = ["  ".join(c.rjust(widths[c]) for c in columns)]
    lines += ["  ".join(r.get(c, "").rjust(widths[c]) for c in columns) for r in shown]
    return "\n".join(lines)


def parse_sizes(text: str) -> list[Size]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SIZES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"--sizes {text!r}: expected a comma-separated list of {', '.join(SIZES)}"
        )
    return [SIZES[name] for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(SIZES.values()),
        help=f"comma-separated rows to measure, of {', '.join(SIZES)} (default: all)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=SEED, help=f"dataset seed (default {SEED})")
    parser.add_argument("--work", type=Path, help="keep outputs here (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rlrec-scale-") as temporary:
        root = args.work or Path(temporary)
        rows = [measure_row(size, root / size.name, args.seed) for size in args.sizes]
    if args.json:
        table = [{cell.key: cell.value for cell in row} for row in rows]
        print(json.dumps({"benchmark": "scale", "seed": args.seed, "rows": table}, allow_nan=False))
    else:
        print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
