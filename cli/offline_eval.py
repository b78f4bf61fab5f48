"""`rlrec eval RUN --offline`: offline top-K metrics of a run, as a table or one JSON object."""

from __future__ import annotations

import argparse
from typing import Any

from rlrec.cli.console import stdout_console
from rlrec.data.errors import RlrecError
from rlrec.data.jsonsafe import strict_dumps


def offline_eval_command(args: argparse.Namespace) -> int:
    """`rlrec eval RUN --offline [--split test] [--json]`."""
    from rlrec.engine.training.runs import find_run
    from rlrec.engine.usecases.evaluation import evaluate_run_offline

    if getattr(args, "run", None) is None:
        raise RlrecError("eval --offline: give a RUN folder")
    evaluation = evaluate_run_offline(
        find_run(args.run), part=getattr(args, "split", None), seed=getattr(args, "seed", None)
    )
    print_offline_report(evaluation.to_dict(), as_json=bool(getattr(args, "json", False)))
    return 0


def print_offline_report(report: dict[str, Any], as_json: bool = False) -> None:
    """The report as one JSON object, or a summary line and a table per user group."""
    if as_json:
        print(strict_dumps(report))
        return
    from rich.table import Table

    console = stdout_console()
    summary = report["split_summary"]
    console.print(
        f"offline evaluation on the {report['split']} part ({summary['method']} split): "
        f"{report['users']['warm']} warm users, {report['users']['cold']} cold-start users; "
        f"relevant = {report['relevance']}"
    )
    columns = [f"ndcg@{k}" for k in report["ks"]] + [
        "precision@10", "recall@10", "map@10", "hitrate@10",
        "coverage@10", "ild@10", "novelty@10",
    ]  # fmt: skip
    for group in ("warm", "cold"):
        rows = report["results"].get(group) or {}
        if not rows:
            continue
        table = Table(title=f"{group} users ({report['users'][group]})")
        table.add_column("policy")
        for column in columns:
            table.add_column(column, justify="right")
        for name, values in rows.items():
            table.add_row(name, *(f"{values[c]:.4f}" for c in columns))
        console.print(table)
    for name, note in (report.get("notes") or {}).items():
        console.print(f"{name}: {note}", highlight=False)
