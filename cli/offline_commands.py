"""`rlrec split`, `rlrec calibrate`, `rlrec ab`: real data end to end.

    rlrec split DATASET [--method per-user|global] [--validation F] [--test F]
                        [--cold-users F] [--seed S] [--json]
    rlrec calibrate DATASET [--json]
    rlrec ab ARM_A ARM_B [--users N] [--seed S] [--dataset DIR] [--json]

(`rlrec eval RUN --offline` lives with `eval` and calls `engine.offline`.)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


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
    split.add_argument("--seed", type=int, default=0, help="seed of the held-out users")
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
    ab.add_argument("--seed", type=int, default=0)
    ab.add_argument("--dataset", default=None, metavar="DIR", help="population for two baselines")
    ab.add_argument("--json", action="store_true", help="print one JSON object")
    ab.set_defaults(handler=ab_command)


def _load(folder: str) -> Any:
    from rlrec.data.store import load_dataset

    return load_dataset(folder)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if hasattr(value, "item"):
        return _finite(value.item())
    return value


def _print_json(payload: dict[str, Any]) -> None:
    print(json.dumps(_finite(payload)))


# -- split ------------------------------------------------------------------------------------
def split_command(args: argparse.Namespace) -> int:
    from rlrec.data.split import SplitConfig, save_split, split_dataset

    config = SplitConfig(
        method=args.method,
        validation_fraction=args.validation,
        test_fraction=args.test,
        cold_user_fraction=args.cold_users,
        seed=args.seed,
    )
    config.validate()  # bad flags fail before the dataset is read
    dataset = _load(args.dataset)
    split = split_dataset(dataset, config)
    save_split(args.dataset, split)
    summary = split.summary() | {"dataset": args.dataset}
    if args.json:
        _print_json(summary)
        return 0
    total = summary["train"] + summary["validation"] + summary["test"]
    print(f"split of {args.dataset} ({summary['method']}), stored as split.parquet + split.yaml")
    for part in ("train", "validation", "test"):
        print(f"  {part:<11}{summary[part]:>9,} interactions  {summary[part] / total:6.1%}")
    print(f"  cold-start users (no train interactions): {summary['cold_users']}")
    print(f"  cold items (held out but never in train):  {summary['cold_items']}")
    return 0


# -- calibrate --------------------------------------------------------------------------------
def calibrate_command(args: argparse.Namespace) -> int:
    from rlrec.data.split import part_view, split_for
    from rlrec.engine.truth.calibration import calibration_table
    from rlrec.engine.truth.fit import fit_simulator, labelled_pairs

    dataset = _load(args.dataset)
    split = split_for(dataset, args.dataset)
    fitted = fit_simulator(dataset, split=split)
    held_out = calibration_table(fitted.truth, fitted.calibration_pairs)
    validation = labelled_pairs(part_view(dataset, split, "validation"), fitted.config)
    temporal = calibration_table(fitted.truth, validation)
    truth = fitted.truth
    payload = {
        "dataset": args.dataset,
        "feedback": fitted.pairs.feedback,
        "positive": "rating >= 4" if fitted.pairs.feedback == "explicit" else "click or purchase",
        "negatives": f"sampled unobserved pairs, {fitted.config.negative_ratio:g} per logged pair"
        + (
            ", plus logged pairs rated below 4"
            if fitted.pairs.feedback == "explicit"
            else ", plus logged views without a click"
        ),  # fmt: skip
        "alpha": truth.alpha,
        "logit_scale": truth.logit_scale,
        "logit_offset": truth.logit_offset,
        "max_abs_gap": max(abs(r["predicted"] - r["observed"]) for r in held_out),
        "deciles": held_out,
        "validation_deciles": temporal,
    }
    if args.json:
        _print_json(payload)
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120)
    console.print(
        f"{args.dataset}: {payload['feedback']} feedback; positive = {payload['positive']}; "
        f"negatives = {payload['negatives']}"
    )
    for title, rows in (
        ("held-out train pairs (the calibration target)", held_out),
        ("validation part (later in time; for information)", temporal),
    ):
        table = Table(title=title)
        for column in ("decile", "pairs", "predicted", "observed", "gap (points)"):
            table.add_column(column, justify="right")
        for row in rows:
            gap = 100 * (row["predicted"] - row["observed"])
            table.add_row(
                str(row["decile"]),
                f"{row['pairs']:,}",
                f"{row['predicted']:.3f}",
                f"{row['observed']:.3f}",
                f"{gap:+.1f}",
            )
        console.print(table)
    console.print(f"largest gap on held-out train pairs: {100 * payload['max_abs_gap']:.1f} points")
    return 0


# -- ab ---------------------------------------------------------------------------------------
def ab_command(args: argparse.Namespace) -> int:
    from rlrec.engine.usecases.evaluation import ab_test

    dataset = _load(args.dataset) if args.dataset is not None else None
    report = ab_test(args.arm_a, args.arm_b, users=args.users, seed=args.seed, dataset=dataset)
    report = report.to_dict()
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
