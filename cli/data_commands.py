"""`rlrec generate`, `rlrec import movielens|csv`, `rlrec info`: datasets from the command line.

Results go to stdout (a short summary, or one JSON object with --json); progress bars go to
stderr and only when it is a terminal, so a failing command prints exactly one error line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlrec.data.errors import RlrecError

MAX_USERS = 10_000_000
MAX_ITEMS = 10_000_000
SEPARATOR_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    gen = commands.add_parser(
        "generate",
        help="generate a synthetic dataset folder",
        description="Generate a synthetic dataset (the seed's population) into the folder --out. "
        "The same sizes and seed give byte-identical files.",
    )
    gen.add_argument("--users", type=int, default=1000, help="number of users (default 1000)")
    gen.add_argument("--items", type=int, default=500, help="number of items (default 500)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument(
        "--activity",
        type=float,
        default=1.0,
        help="interactions per user relative to the default, whose means are 5 / 20 / 50 for "
        "low / medium / high activity users (0.05..20, default 1)",
    )
    gen.add_argument("--name", help="dataset name kept in meta.yaml (default from sizes/seed)")
    _add_output_flags(gen)
    gen.set_defaults(handler=run_generate)

    imp = commands.add_parser("import", help="import MovieLens or a CSV/Parquet log")
    formats = imp.add_subparsers(dest="format", metavar="FORMAT", parser_class=type(imp))
    imp.set_defaults(handler=lambda args: _usage(imp))
    ml = formats.add_parser(
        "movielens",
        help="MovieLens 100K (u.data…), 1M (ratings.dat…) or latest (ratings.csv…) folder",
        description="Import your copy of MovieLens 100K (u.data, u.item, u.user), 1M "
        "(ratings.dat, movies.dat, users.dat) or latest/latest-small (ratings.csv, movies.csv); "
        "the format is detected from the file names. Nothing is downloaded.",
    )
    ml.add_argument("path", help="the MovieLens folder (or one of its files)")
    ml.add_argument("--name", help="dataset name (default movielens-100k, -1m or -latest)")
    _add_output_flags(ml)
    ml.set_defaults(handler=run_import_movielens)

    csv = formats.add_parser(
        "csv",
        help="an interaction log (CSV/TSV with a header, or .parquet) with a column mapping",
        description="Import an interaction log. Events must be view, click, purchase or "
        "rating; without --event-col, rows with a rating are 'rating' and others 'click'. "
        "Timestamps: Unix seconds or milliseconds, or ISO 8601; without --timestamp-col the "
        "row order is the time order. Repeated (user, item, timestamp) rows are an error "
        "unless --duplicates keep-first.",
    )
    csv.add_argument("path", help="the log file (.csv, .tsv, .txt or .parquet)")
    csv.add_argument("--user-col", required=True, help="column with the user id")
    csv.add_argument("--item-col", required=True, help="column with the item id")
    csv.add_argument("--rating-col", help="column with a numeric rating")
    csv.add_argument("--event-col", help="column with the event type")
    csv.add_argument("--timestamp-col", help="column with the time")
    csv.add_argument("--category-col", help="column with the item's category")
    csv.add_argument(
        "--sep", help="field separator: one character, or tab/comma/semicolon/pipe "
        "(default: guessed from the header)"
    )  # fmt: skip
    csv.add_argument(
        "--duplicates",
        choices=("error", "keep-first"),
        default="error",
        help="repeated (user, item, timestamp) rows: fail (default) or keep the first",
    )
    csv.add_argument("--name", help="dataset name (default: the file name)")
    _add_output_flags(csv)
    csv.set_defaults(handler=run_import_csv)

    info = commands.add_parser(
        "info",
        help="summary and distributions of a dataset",
        description="Print a dataset's summary and terminal plots of its distributions "
        "(age, price, category, interaction type, per user, per item, rating).",
    )
    info.add_argument("dir", nargs="?", help="dataset folder (default: the built-in dataset)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--no-plots", action="store_true", help="summary only")
    info.set_defaults(handler=run_info)


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _check_out(out: Path, force: bool) -> None:
    """Fail before any work if the output folder is taken."""
    if out.exists() and not force:
        raise RlrecError(f"--out {out}: folder exists (pass --force to replace it)")
    if out.exists():
        from rlrec.data.store import check_replaceable

        try:
            check_replaceable(out)
        except RlrecError as exc:
            raise RlrecError(f"--out {exc}") from None


def _check_int(flag: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise RlrecError(f"{flag} {value}: must be between {low:,} and {high:,}")


@contextmanager
def progress_bar(title: str) -> Iterator[Callable[[float, str], None]]:
    """A rich progress bar on stderr (only on a terminal) fed by (fraction, message) calls."""
    if not sys.stderr.isatty():
        yield lambda fraction, message: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn(f"{title} [dim]{{task.description}}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=1.0)
        yield lambda fraction, message: bar.update(task, completed=fraction, description=message)


SAVE_SHARE = 0.1  # of the progress bar, for writing the folder


def _build_and_save(args: argparse.Namespace, title: str, build: Callable[..., Any]) -> int:
    """Run `build(progress)` and save the dataset to --out under one progress bar; summarise."""
    from rlrec.data.store import save_dataset

    started = time.perf_counter()
    with progress_bar(title) as report:
        ds = build(lambda fraction, message: report((1 - SAVE_SHARE) * fraction, message))
        report(1 - SAVE_SHARE, f"writing {args.out}")
        path = save_dataset(ds, args.out, force=args.force)
    summary = {
        "path": str(path),
        "name": ds.name,
        "source": ds.meta.get("source"),
        "n_users": ds.n_users,
        "n_items": ds.n_items,
        "n_interactions": len(ds.interactions),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{title} {ds.name!r}: {ds.n_users:,} users, {ds.n_items:,} items, "
            f"{len(ds.interactions):,} interactions -> {path} ({summary['seconds']:.1f} s)"
        )
    return 0


def run_generate(args: argparse.Namespace) -> int:
    _check_int("--users", args.users, 1, MAX_USERS)
    _check_int("--items", args.items, 1, MAX_ITEMS)
    _check_int("--seed", args.seed, 0, 2**63 - 1)
    from rlrec.data.generator import ACTIVITY_RANGE, generate

    low, high = ACTIVITY_RANGE
    if not low <= args.activity <= high:  # also refuses nan
        raise RlrecError(f"--activity {args.activity:g}: must be between {low:g} and {high:g}")
    _check_out(args.out, args.force)

    def build(progress: Callable[[float, str], None]) -> Any:
        return generate(
            args.users,
            args.items,
            args.seed,
            name=args.name,
            progress=progress,
            activity=args.activity,
        )

    return _build_and_save(args, "generated", build)


def run_import_movielens(args: argparse.Namespace) -> int:
    _check_out(args.out, args.force)
    from rlrec.data.importers import import_movielens

    def build(progress: Callable[[float, str], None]) -> Any:
        return import_movielens(args.path, name=args.name, progress=progress)

    return _build_and_save(args, "imported", build)


def run_import_csv(args: argparse.Namespace) -> int:
    _check_out(args.out, args.force)
    sep = args.sep
    if sep is not None:
        sep = SEPARATOR_ALIASES.get(sep.lower(), sep)
        if len(sep) != 1:
            raise RlrecError(
                f"--sep {args.sep!r}: must be one character or tab/comma/semicolon/pipe"
            )
    from rlrec.data.importers import import_csv

    def build(progress: Callable[[float, str], None]) -> Any:
        return import_csv(
            args.path,
            user_col=args.user_col,
            item_col=args.item_col,
            rating_col=args.rating_col,
            event_col=args.event_col,
            timestamp_col=args.timestamp_col,
            sep=sep,
            name=args.name,
            category_col=args.category_col,
            duplicates=args.duplicates,
            progress=progress,
        )

    return _build_and_save(args, "imported", build)


def run_info(args: argparse.Namespace) -> int:
    from rlrec.data.eda import compute_eda

    if args.dir is None:
        from rlrec.data import default_dataset

        ds = default_dataset()
        where = "built-in default"
    else:
        from rlrec.data.store import load_dataset

        ds = load_dataset(args.dir)
        where = str(args.dir)
    eda = compute_eda(ds)
    if args.json:
        print(json.dumps({"path": where, "meta": _plain_meta(ds.meta), "eda": eda}))
        return 0
    from rlrec.cli.data_plots import render_info

    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    print(render_info(eda, where, width=width, plots=not args.no_plots, color=sys.stdout.isatty()))
    return 0


def _plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """meta without the long feature-name lists (those are counted in eda['counts'])."""
    return {k: v for k, v in meta.items() if not k.endswith("_feature_names")}
