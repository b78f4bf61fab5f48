"""`rlrec generate`, `rlrec import movielens|csv`, `rlrec info`: datasets from the command line.

Results go to stdout (a short summary, or one JSON object with --json); progress bars go to
stderr and only when it is a terminal, so a failing command prints exactly one error line.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlrec.data.jsonsafe import strict_dumps


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
    density = gen.add_mutually_exclusive_group()
    density.add_argument(
        "--activity",
        type=float,
        default=1.0,
        help="interactions per user relative to the default, whose means are 5 / 20 / 50 for "
        "low / medium / high activity users (0.05..20, default 1)",
    )
    density.add_argument(
        "--interactions",
        type=int,
        metavar="N",
        help="about N interactions in all (sets the activity whose expected count is N; "
        "the count drawn is reported)",
    )
    gen.add_argument("--name", help="dataset name kept in meta.yaml (default from sizes/seed)")
    _add_output_flags(gen)
    gen.set_defaults(handler=run_generate)

    imp = commands.add_parser("import", help="import MovieLens or a CSV/Parquet log")
    formats = imp.add_subparsers(dest="format", metavar="FORMAT", parser_class=type(imp))
    imp.set_defaults(handler=lambda args: _usage(imp))
    ml = formats.add_parser(
        "movielens",
        help="MovieLens 100K (u.data…), 1M (ratings.dat…), or latest/20M/25M (ratings.csv…) folder",
        description="Import your copy of MovieLens 100K (u.data, u.item, u.user), 1M "
        "(ratings.dat, movies.dat, users.dat), or ml-latest, ml-latest-small, ml-20m or ml-25m "
        "(ratings.csv, movies.csv); "
        "the format is detected from the file names. Nothing is downloaded.",
    )
    ml.add_argument("path", help="the MovieLens folder (or one of its files)")
    ml.add_argument("--name", help="dataset name (default movielens-100k, -1m or -latest)")
    _add_reading_flags(ml)
    _add_output_flags(ml)
    ml.set_defaults(handler=run_import_movielens)

    csv = formats.add_parser(
        "csv",
        help="an interaction log (CSV/TSV with a header, or .parquet) with a column mapping",
        description="Import an interaction log. Events must be view, click, purchase or "
        "rating; without --event-col, rows with a rating are 'rating' and others 'click'. "
        "Timestamps: Unix seconds, milliseconds, microseconds or nanoseconds, or ISO 8601 "
        "(one unit per column); without --timestamp-col the row order is the time order. "
        "Repeated (user, item, event, time) rows are an error unless --duplicates keep-first.",
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
        help="rows repeating an earlier row's user, item, event and time (to the millisecond): "
        "fail (default) or keep the first (the dropped rows are listed)",
    )
    csv.add_argument("--name", help="dataset name (default: the file name)")
    _add_reading_flags(csv)
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


def _add_reading_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding",
        help="text encoding of the files, e.g. utf-8, latin-1, cp1252 (default: UTF-8 when "
        "the bytes are valid UTF-8, else Latin-1)",
    )
    parser.add_argument(
        "--positive-threshold",
        type=float,
        metavar="RATING",
        help="ratings at or above this count as positive (default: from the rating scale: "
        "1 for 0/1 flags, 4 on 1-5 stars, 7 on 1-10 scores, else the median)",
    )


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


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


def _build(
    args: argparse.Namespace, title: str, use_case: Callable[..., Any], *pos: Any, **kw: Any
) -> int:
    """Run a dataset-building use case under one progress bar, saving to --out; then print
    one JSON object, or one line: what was built, its counts, where it went."""
    with progress_bar(title) as report:
        result = use_case(*pos, **kw, out=args.out, force=args.force, progress=report)
    summary = result.summary()
    for note in result.notes:
        print(f"rlrec: note: {note}", file=sys.stderr)
    if args.json:
        print(strict_dumps(summary))
        return 0
    ds = result.dataset
    print(
        f"{title} {ds.name!r}: {ds.n_users:,} users, {ds.n_items:,} items, "
        f"{len(ds.interactions):,} interactions -> {result.path} ({summary['seconds']:.1f} s)"
    )
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import generate_dataset

    sizes = (args.users, args.items, args.seed)
    return _build(
        args,
        "generated",
        generate_dataset,
        *sizes,
        activity=args.activity,
        n_interactions=args.interactions,
        name=args.name,
    )


def run_import_movielens(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import import_movielens_dataset

    return _build(
        args, "imported", import_movielens_dataset, args.path, name=args.name,
        encoding=args.encoding, positive_threshold=args.positive_threshold,
    )  # fmt: skip


def run_import_csv(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import LOG_OPTIONS, import_log_dataset

    mapping = {option: getattr(args, option) for option in LOG_OPTIONS}
    return _build(args, "imported", import_log_dataset, args.path, **mapping)


def run_info(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import dataset_info

    info = dataset_info(args.dir)
    if args.json:
        print(strict_dumps(info.to_dict()))
        return 0
    from rlrec.cli.data_plots import render_info

    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    print(
        render_info(
            info.eda, info.where, width=width, plots=not args.no_plots, color=sys.stdout.isatty()
        )
    )
    return 0
