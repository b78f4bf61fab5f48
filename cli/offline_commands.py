"""`rlrec split`, `rlrec calibrate`, `rlrec ab`: real data end to end.

    rlrec split DATASET [--method per-user|global] [--validation F] [--test F]
                        [--cold-users F] [--seed S] [--json]
    rlrec calibrate DATASET [--json]
    rlrec ab ARM_A ARM_B [--users N] [--seed S] [--dataset DIR] [--json]

(`rlrec eval RUN --offline` lives with `eval` and calls `engine.offline`.)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlrec.cli.sim_commands import seed_type
from rlrec.data.jsonsafe import strict_dumps


def register(commands: Any, bench: Any) -> None:
    split = commands.add_parser(
        "split", help="temporal train/validation/test split, stored with the dataset"
    )
    split.add_argument("dataset", metavar="DATASET", help="dataset folder")
    split.add_argument("--method", default="per-user", help="per-user (default) or global")
    split.add_argument("--validation", type=float, default=0.1, help="validation share (0, 1)")
    split.add_argument("--test", type=float, default=0.2, help="test share (0, 1)")
    split.add_argument(
        "--cold-users", type=float, default=0.1, help="share of users held out whole [0, 1)"
    )
    split.add_argument("--seed", type=seed_type, default=0, help="seed of the held-out users")
    split.add_argument("--json", action="store_true", help="print one JSON object")
    split.set_defaults(handler=split_command)

    calibrate = commands.add_parser(
        "calibrate", help="fit the simulator to a dataset's train split; decile table"
    )
    calibrate.add_argument("dataset", metavar="DATASET", help="dataset folder")
    calibrate.add_argument("--json", action="store_true", help="print one JSON object")
    calibrate.set_defaults(handler=calibrate_command)

    ab = commands.add_parser("ab", help="simulated A/B test of two runs or baselines")
    ab.add_argument("arm_a", metavar="RUN_A", help="run folder or baseline name")
    ab.add_argument("arm_b", metavar="RUN_B", help="run folder or baseline name")
    ab.add_argument("--users", type=int, default=2000, help="simulated users, split in half")
    ab.add_argument("--seed", type=seed_type, default=0)
    ab.add_argument("--dataset", default=None, metavar="DIR", help="population for two baselines")
    ab.add_argument("--json", action="store_true", help="print one JSON object")
    ab.set_defaults(handler=ab_command)


def _load(folder: str, option: str | None = None) -> Any:
    from rlrec.engine.usecases.datasets import open_dataset

    return open_dataset(folder, option).dataset


def _print_json(payload: dict[str, Any]) -> None:
    print(strict_dumps(payload))


# -- split ------------------------------------------------------------------------------------
def split_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import split_dataset_folder

    result = split_dataset_folder(
        args.dataset,
        method=args.method,
        validation_fraction=args.validation,
        test_fraction=args.test,
        cold_user_fraction=args.cold_users,
        seed=args.seed,
    )
    summary = result.summary
    if args.json:
        _print_json(summary)
        return 0
    print(f"split of {args.dataset} ({summary['method']}), stored as split.parquet + split.yaml")
    for part in ("train", "validation", "test"):
        print(f"  {part:<11}{summary[part]:>9,} interactions  {result.shares[part]:6.1%}")
    print(f"  cold-start users (no train interactions): {summary['cold_users']}")
    print(f"  cold items (held out but never in train):  {summary['cold_items']}")
    return 0


# -- calibrate --------------------------------------------------------------------------------
def calibrate_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.datasets import calibrate_dataset

    report = calibrate_dataset(args.dataset)
    if args.json:
        _print_json(report.to_dict())
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120)
    console.print(
        f"{args.dataset}: {report.feedback} feedback; positive = {report.positive}; "
        f"negatives = {report.negatives}"
    )
    for title, key, rows in (
        ("held-out train pairs (the calibration target)", "deciles", report.deciles),
        ("validation part (later in time; for information)", "validation_deciles",
         report.validation_deciles),
    ):  # fmt: skip
        table = Table(title=title)
        for column in ("decile", "pairs", "predicted", "observed", "gap (points)"):
            table.add_column(column, justify="right")
        for row, gap in zip(rows, report.gaps[key], strict=True):
            table.add_row(
                str(row["decile"]),
                f"{row['pairs']:,}",
                f"{row['predicted']:.3f}",
                f"{row['observed']:.3f}",
                f"{gap:+.1f}",
            )
        console.print(table)
    console.print(f"largest gap on held-out train pairs: {report.max_abs_gap_points:.1f} points")
    return 0


# -- ab ---------------------------------------------------------------------------------------
def ab_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.evaluation import ab_test, check_simulation_fits

    if args.dataset is not None:  # before reading it: its simulator may not fit
        check_simulation_fits(args.dataset, args.users)
    dataset = _load(args.dataset, "dataset") if args.dataset is not None else None
    result = ab_test(args.arm_a, args.arm_b, users=args.users, seed=args.seed, dataset=dataset)
    report = result.to_dict()
    if args.json:
        _print_json(report)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"A/B test, {report['users']} simulated users, seed {report['seed']}")
    for column in ("arm", "policy", "users", "CTR", "CTR 95% CI", "return", "return 95% CI"):
        table.add_column(column, justify="right")
    for arm in report["arms"]:
        table.add_row(
            arm["arm"],
            arm["policy"],
            str(arm["users"]),
            f"{arm['ctr']:.4f}",
            f"[{arm['ctr_ci95'][0]:.4f}, {arm['ctr_ci95'][1]:.4f}]",
            f"{arm['return']:.3f}",
            f"[{arm['return_ci95'][0]:.3f}, {arm['return_ci95'][1]:.3f}]",
        )
    console = Console(file=sys.stdout, width=120)
    console.print(table)
    ret, ctr = report["return_difference"], report["ctr_difference"]
    console.print(
        f"return B − A = {ret['difference']:+.3f}  (Welch t = {ret['t']:.2f}, p = {ret['p_value']:.3g})"
    )
    console.print(
        f"CTR B − A = {ctr['difference']:+.4f}  (z = {ctr['z']:.2f}, p = {ctr['p_value']:.3g})"
    )
    return 0
