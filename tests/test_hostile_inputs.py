"""Hostile inputs to every command: each gives one line naming the culprit, exit status 2,
no traceback, nothing on stdout, and nothing half-written (the test's folder, which holds
the command's inputs and its --out, is byte-for-byte what it was before).

Cases are (id, argv, culprit). In argv, `{tmp}` is the case's own folder, `{run}` a trained
seed-classic run, `{drun}` a trained `default` run on a split dataset, `{ds}` that dataset;
`{NAME}` for a name in FILES is that file, written into `{tmp}` before the command runs.
Run folders a case may change (`resume`) are copied into `{tmp}` first (`{run_copy}`).

OS refusals (read-only folders, unreadable files, disk full) are at the end: with real
chmod where it bites (not as root), else emulated by refusing writes below a folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rlrec.engine.training.runs import CHECKPOINT_FILE
from tests.fixtures import save_tiny_dataset, train_tiny_run
from tests.test_cli_train import SMALL, rlrec

ROOT = os.geteuid() == 0


def _csv(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text, encoding="utf-8")


def _yaml(value) -> Callable[[Path], None]:
    return lambda path: path.write_text(yaml.safe_dump(value), encoding="utf-8")


def _parquet(frame: dict) -> Callable[[Path], None]:
    return lambda path: pd.DataFrame(frame).to_parquet(path)


GOOD_ROWS = "".join(f"u{i % 7},i{i % 11},{1 + i % 5},{1_600_000_000 + 60 * i}\n" for i in range(80))
HEADER = "user,item,rating,ts\n"


def _write_file_as_folder(path: Path) -> None:
    path.write_text("not a folder")


def _folder_named_u_data(path: Path) -> None:
    (path / "u.data").mkdir(parents=True)


def _dataset_with(meta_text: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        save_tiny_dataset(path, n_users=20, n_items=15, n_interactions=300, seed=1)
        (path / "meta.yaml").write_text(meta_text)

    return build


def _dataset_with_value(name: str, column: str, row: int, value: float) -> Callable[[Path], None]:
    """A dataset whose table `name` holds `value` at (`row`, `column`) — `column` an index
    for a feature matrix."""

    def build(path: Path) -> None:
        save_tiny_dataset(path, n_users=20, n_items=15, n_interactions=300, seed=1, ratings=True)
        if name.endswith(".npy"):
            matrix = np.load(path / name).astype(np.float64)  # 1e300: beyond float32
            matrix[row, int(column)] = value
            np.save(path / name, matrix)
        else:
            frame = pd.read_parquet(path / name)
            frame.loc[row, column] = value
            frame.to_parquet(path / name, index=False)

    return build


def _dataset_with_broken(name: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        save_tiny_dataset(path, n_users=20, n_items=15, n_interactions=300, seed=1)
        (path / name).write_bytes(b"\x00garbage\xff" * 10)

    return build


# Files a case can name as `{name}`; `name.ext` keeps the extension the command looks at.
FILES: dict[str, Callable[[Path], None]] = {
    "empty.csv": _csv(""),
    "header-only.csv": _csv(HEADER),
    "good.csv": _csv(HEADER + GOOD_ROWS),
    "null-id.csv": _csv(HEADER + GOOD_ROWS + ",i1,3,1600009999\n"),
    "float-id.csv": _csv(HEADER + GOOD_ROWS + "1.5,i1,3,1600009999\n"),
    "float-item-id.csv": _csv(HEADER + GOOD_ROWS + "u1,-.25,3,1600009999\n"),
    "huge-field.csv": _csv(HEADER + GOOD_ROWS + "u1,i1," + "x" * 2_000_000 + ",1600009999\n"),
    "huge-header.csv": _csv(
        ",".join(f"column{i}" for i in range(5000)) + "\n" + ",".join(["1"] * 5000) + "\n"
    ),
    "nan-ts.csv": _csv(HEADER + GOOD_ROWS + "u1,i1,3,nan\n"),
    "19-digit-ts.csv": _csv(HEADER + GOOD_ROWS + "u1,i1,3,1600000000000000000000\n"),
    "text-rating.csv": _csv(HEADER + GOOD_ROWS + "u1,i1,five,1600009999\n"),
    "inf-rating.csv": _csv(HEADER + GOOD_ROWS + "u1,i1,inf,1600009999\n"),
    "duplicates.csv": _csv(HEADER + GOOD_ROWS + GOOD_ROWS.splitlines(keepends=True)[0]),
    "no-positives.csv": _csv(HEADER + "".join(f"u{i},i{i},1,{i}\n" for i in range(30))),
    "binary.csv": lambda p: p.write_bytes(bytes(range(256)) * 20),
    "mixed-ts.csv": _csv(HEADER + GOOD_ROWS + "u1,i1,3,1600009999000\n"),
    "null-id.parquet": _parquet(
        {"user": ["a", None, "c"] * 10, "item": ["x", "y", "z"] * 10, "ts": list(range(30))}
    ),
    "float-id.parquet": _parquet(
        {"user": [1.0, 2.0, 3.0] * 10 + [1.5], "item": ["x", "y", "z"] * 10 + ["x"]}
    ),
    "nullable-int-id.parquet": lambda p: pd.DataFrame(
        {"user": pd.array([1, None, 3] * 10, dtype="Int64"), "item": ["x", "y", "z"] * 10}
    ).to_parquet(p),
    "garbage.parquet": lambda p: p.write_bytes(b"PAR1 not really parquet"),
    "config-not-mapping.yaml": _csv("- just\n- a list\n"),
    "config-broken.yaml": _csv("agent: {hidden: [32\n"),
    "config-unknown-key.yaml": _yaml({"agent": {"no_such_knob": 1}}),
    "config-gamma.yaml": _yaml({"agent": {"gamma": 7}}),
    "config-lr-nan.yaml": _csv("agent:\n  lr: .nan\n"),
    "config-batchnorm-1.yaml": _yaml(
        {"preset": "seed-classic", "agent": {**SMALL["agent"], "batch_norm": True, "batch_size": 1}}
    ),
    "config-replay-huge.yaml": _yaml({"agent": {"replay_size": 50_000_000}}),
    # More candidates than items, with sessions enough that the memory estimate alone would
    # refuse: the culprit is the setting, not the memory.
    "config-candidates-huge.yaml": _yaml(
        {"env": {"candidates": 100_000}, "train": {"n_envs": 65536}}
    ),
    "config-eval-0.yaml": _yaml({"train": {"eval_episodes": 0}}),
    "config-budget-inf.yaml": _csv("train:\n  seconds: .inf\n"),
    "config-seconds-huge.yaml": _yaml({"train": {"seconds": 1e40}}),
    "config-seconds-1e300.yaml": _csv("train:\n  seconds: 1e300\n"),  # text to PyYAML
    "config-log-every-huge.yaml": _yaml({"train": {"log_every": 10**40}}),
    "config-checkpoint-every-huge.yaml": _yaml({"train": {"checkpoint_every": 10**13}}),
    "config-eps-decay-huge.yaml": _yaml({"agent": {"eps_decay_steps": 1e40}}),
    "config-grad-clip-huge.yaml": _yaml({"agent": {"grad_clip": 1e40}}),
    "config-feature-seed-huge.yaml": _yaml(
        {"preset": "seed-classic", "env": {"feature_seed": 2**40}}
    ),
    "config-binary.yaml": lambda p: p.write_bytes(b"\xff\xfe\x00\x01" * 50),
    "a-file": _csv("just a file\n"),
    "not-a-dataset": lambda p: p.mkdir(),
    "empty-ml": lambda p: p.mkdir(),
    "ml-u-data-folder": _folder_named_u_data,
    "ml-garbage": lambda p: (p.mkdir(), (p / "u.data").write_text("1\t2\n\x00\x01\n")),
    "ds-meta-list": _dataset_with("- a\n- b\n"),
    "ds-meta-broken": _dataset_with("name: [unclosed\n"),
    "ds-garbage-items": _dataset_with_broken("items.parquet"),
    "ds-garbage-features": _dataset_with_broken("user_features.npy"),
    "ds-nan-item-features": _dataset_with_value("item_features.npy", "1", 4, np.nan),
    "ds-inf-user-features": _dataset_with_value("user_features.npy", "0", 2, -np.inf),
    "ds-huge-item-features": _dataset_with_value("item_features.npy", "0", 0, 1e300),
    "ds-inf-rating": _dataset_with_value("interactions.parquet", "rating", 7, np.inf),
    "ds-nan-user-attribute": _dataset_with_value("users.parquet", "age", 3, np.nan),
    "ds-inf-price": _dataset_with_value("items.parquet", "price", 2, np.inf),
    "ds-folder-for-items": lambda p: (
        save_tiny_dataset(p, n_users=20, n_items=15, n_interactions=300, seed=1),
        (p / "items.parquet").unlink(),
        (p / "items.parquet").mkdir(),
    ),
}


CASES: list[tuple[str, list[str], str]] = [
    # -- generate: sizes, seeds, options, --out --------------------------------------------
    ("gen-users-0", ["generate", "--users", "0", "--out", "{tmp}/o"], "--users"),
    ("gen-users-neg", ["generate", "--users", "-5", "--out", "{tmp}/o"], "--users"),
    ("gen-users-huge", ["generate", "--users", "10000000000", "--out", "{tmp}/o"], "--users"),
    ("gen-users-text", ["generate", "--users", "many", "--out", "{tmp}/o"], "--users"),
    (
        "gen-users-100k-digits",
        ["generate", "--users", "9" * 100_000, "--out", "{tmp}/o"],
        "(100,000 characters)",
    ),
    ("gen-items-0", ["generate", "--items", "0", "--out", "{tmp}/o"], "--items"),
    ("gen-items-huge", ["generate", "--items", "99999999999", "--out", "{tmp}/o"], "--items"),
    ("gen-seed-neg", ["generate", "--seed", "-1", "--out", "{tmp}/o"], "--seed"),
    ("gen-seed-huge", ["generate", "--seed", str(2**64), "--out", "{tmp}/o"], "--seed"),
    ("gen-activity-0", ["generate", "--activity", "0", "--out", "{tmp}/o"], "--activity"),
    ("gen-activity-nan", ["generate", "--activity", "nan", "--out", "{tmp}/o"], "--activity"),
    ("gen-activity-inf", ["generate", "--activity", "inf", "--out", "{tmp}/o"], "--activity"),
    ("gen-activity-big", ["generate", "--activity", "1000", "--out", "{tmp}/o"], "--activity"),
    (
        "gen-max-sizes",
        ["generate", "--users", "10000000", "--items", "10000000", "--out", "{tmp}/o"],
        "GiB",
    ),
    ("gen-out-is-file", ["generate", "--users", "30", "--out", "{a-file}"], "a-file: is a file"),
    (
        "gen-out-below-file",
        ["generate", "--users", "30", "--out", "{a-file}/o"],
        "a-file is a file, so",
    ),
    ("gen-out-exists", ["generate", "--users", "30", "--out", "{not-a-dataset}"], "--out"),
    ("gen-no-out", ["generate", "--users", "30"], "--out"),
    # -- import csv ------------------------------------------------------------------------
    (
        "csv-missing",
        [
            "import",
            "csv",
            "{tmp}/nope.csv",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "nope.csv",
    ),  # noqa: E501
    (
        "csv-folder",
        [
            "import",
            "csv",
            "{not-a-dataset}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "not-a-dataset",
    ),  # noqa: E501
    (
        "csv-empty",
        [
            "import",
            "csv",
            "{empty.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "empty.csv",
    ),  # noqa: E501
    (
        "csv-header-only",
        [
            "import",
            "csv",
            "{header-only.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "header-only.csv",
    ),  # noqa: E501
    (
        "csv-no-user-col",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "who",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "who",
    ),  # noqa: E501
    (
        "csv-no-item-col",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "what",
            "--out",
            "{tmp}/o",
        ],
        "what",
    ),  # noqa: E501
    (
        "csv-no-rating-col",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "stars",
            "--out",
            "{tmp}/o",
        ],
        "stars",
    ),  # noqa: E501
    (
        "csv-no-ts-col",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--timestamp-col",
            "when",
            "--out",
            "{tmp}/o",
        ],
        "when",
    ),  # noqa: E501
    (
        "csv-sep-long",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--sep",
            "::",
            "--out",
            "{tmp}/o",
        ],
        "--sep",
    ),  # noqa: E501
    (
        "csv-null-id",
        [
            "import",
            "csv",
            "{null-id.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "user",
    ),  # noqa: E501
    (
        "csv-nan-ts",
        [
            "import",
            "csv",
            "{nan-ts.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--timestamp-col",
            "ts",
            "--out",
            "{tmp}/o",
        ],
        "ts",
    ),  # noqa: E501
    (
        "csv-19-digit-ts",
        [
            "import",
            "csv",
            "{19-digit-ts.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--timestamp-col",
            "ts",
            "--out",
            "{tmp}/o",
        ],
        "ts",
    ),  # noqa: E501
    (
        "csv-mixed-ts",
        [
            "import",
            "csv",
            "{mixed-ts.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--timestamp-col",
            "ts",
            "--out",
            "{tmp}/o",
        ],
        "ts",
    ),  # noqa: E501
    (
        "csv-text-rating",
        [
            "import",
            "csv",
            "{text-rating.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--out",
            "{tmp}/o",
        ],
        "rating",
    ),  # noqa: E501
    (
        "csv-inf-rating",
        [
            "import",
            "csv",
            "{inf-rating.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--out",
            "{tmp}/o",
        ],
        "rating",
    ),  # noqa: E501
    (
        "csv-duplicates",
        [
            "import",
            "csv",
            "{duplicates.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--timestamp-col",
            "ts",
            "--out",
            "{tmp}/o",
        ],
        "duplicate",
    ),  # noqa: E501
    (
        "csv-duplicates-choice",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--duplicates",
            "keep-last",
            "--out",
            "{tmp}/o",
        ],
        "--duplicates",
    ),  # noqa: E501
    (
        "csv-no-positives",
        [
            "import",
            "csv",
            "{no-positives.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--positive-threshold",
            "5",
            "--out",
            "{tmp}/o",
        ],
        "positive",
    ),  # noqa: E501
    (
        "csv-threshold-nan",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--positive-threshold",
            "nan",
            "--out",
            "{tmp}/o",
        ],
        "--positive-threshold",
    ),  # noqa: E501
    (
        "csv-binary",
        [
            "import",
            "csv",
            "{binary.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "binary.csv",
    ),  # noqa: E501
    (
        "csv-encoding-bogus",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--encoding",
            "klingon-8",
            "--out",
            "{tmp}/o",
        ],
        "klingon-8",
    ),  # noqa: E501
    (
        "csv-out-is-file",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{a-file}",
        ],
        "a-file: is a file, expected a folder",
    ),  # noqa: E501
    (
        "csv-out-below-file",
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{a-file}/o",
        ],
        "a-file is a file, so no folder can be made inside it",
    ),  # noqa: E501
    (
        "parquet-null-id",
        [
            "import",
            "csv",
            "{null-id.parquet}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "user",
    ),  # noqa: E501
    (
        "parquet-float-id",
        [
            "import",
            "csv",
            "{float-id.parquet}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "float-id.parquet: row 31: id '1.5' in column 'user' is a fraction, not an id (--user-col)",
    ),  # noqa: E501
    (
        "parquet-garbage",
        [
            "import",
            "csv",
            "{garbage.parquet}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "garbage.parquet",
    ),  # noqa: E501
    # the same fraction and null ids, one line each, whatever the format
    (
        "csv-fraction-id",
        [
            "import",
            "csv",
            "{float-id.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "float-id.csv:82: id '1.5' in column 'user' is a fraction, not an id (--user-col)",
    ),
    (
        "csv-fraction-item-id",
        [
            "import",
            "csv",
            "{float-item-id.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "id '-.25' in column 'item' is a fraction, not an id (--item-col)",
    ),
    (
        "parquet-nullable-int-null-id",
        [
            "import",
            "csv",
            "{nullable-int-id.parquet}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "nullable-int-id.parquet: row 2: empty id in column 'user' (--user-col)",
    ),
    (
        "csv-2mb-field",
        [
            "import",
            "csv",
            "{huge-field.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--out",
            "{tmp}/o",
        ],
        "'xxxxxxxxxx",
    ),
    (
        "csv-2mb-field-length",
        [
            "import",
            "csv",
            "{huge-field.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--rating-col",
            "rating",
            "--out",
            "{tmp}/o",
        ],
        "(2,000,000 characters) is not a number",
    ),
    (
        "csv-5000-columns-listed",
        [
            "import",
            "csv",
            "{huge-header.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{tmp}/o",
        ],
        "characters cut",
    ),
    # -- import movielens ------------------------------------------------------------------
    ("ml-missing", ["import", "movielens", "{tmp}/ml-nope", "--out", "{tmp}/o"], "ml-nope"),
    ("ml-empty", ["import", "movielens", "{empty-ml}", "--out", "{tmp}/o"], "empty-ml"),
    (
        "ml-u-data-folder",
        ["import", "movielens", "{ml-u-data-folder}", "--out", "{tmp}/o"],
        "u.data: is a folder, expected a file",
    ),  # noqa: E501
    ("ml-garbage", ["import", "movielens", "{ml-garbage}", "--out", "{tmp}/o"], "u.data"),
    (
        "ml-encoding-bogus",
        ["import", "movielens", "{ml-garbage}", "--encoding", "nope-1", "--out", "{tmp}/o"],
        "nope-1",
    ),  # noqa: E501
    # -- info ------------------------------------------------------------------------------
    ("info-missing", ["info", "{tmp}/nothing"], "nothing"),
    ("info-file", ["info", "{a-file}"], "a-file: is a file, not a dataset folder"),
    ("info-not-dataset", ["info", "{not-a-dataset}"], "not-a-dataset"),
    ("info-meta-list", ["info", "{ds-meta-list}"], "meta.yaml"),
    ("info-meta-broken", ["info", "{ds-meta-broken}"], "meta.yaml"),
    ("info-garbage-items", ["info", "{ds-garbage-items}"], "items.parquet"),
    ("info-garbage-features", ["info", "{ds-garbage-features}"], "user_features.npy"),
    # numbers that are not finite in a dataset folder: file, row, column
    (
        "info-nan-features",
        ["info", "{ds-nan-item-features}"],
        "item_features.npy: row 5, column 2 (genre_1): NaN",
    ),  # noqa: E501
    (
        "info-huge-features",
        ["info", "{ds-huge-item-features}"],
        "item_features.npy: row 1, column 1 (genre_0): inf",
    ),  # noqa: E501
    ("info-inf-price", ["info", "{ds-inf-price}"], "items.parquet: row 3: column 'price' is inf"),
    (
        "info-folder-for-items",
        ["info", "{ds-folder-for-items}"],
        "items.parquet: is a folder, expected a file",
    ),  # noqa: E501
    (
        "split-inf-rating",
        ["split", "{ds-inf-rating}"],
        "interactions.parquet: row 8: column 'rating' is inf",
    ),  # noqa: E501
    (
        "calibrate-nan-age",
        ["calibrate", "{ds-nan-user-attribute}"],
        "users.parquet: row 4: column 'age' is NaN",
    ),  # noqa: E501
    (
        "train-inf-user-features",
        ["train", "--steps", "10", "--dataset", "{ds-inf-user-features}", "--out", "{tmp}/runs"],
        "user_features.npy: row 3, column 1 (age): -inf",
    ),
    # -- split / calibrate -----------------------------------------------------------------
    ("split-missing", ["split", "{tmp}/nothing"], "nothing"),
    ("split-file", ["split", "{a-file}"], "a-file: is a file, not a dataset folder"),
    ("split-test-0", ["split", "{ds-copy}", "--test", "0"], "--test"),
    ("split-test-big", ["split", "{ds-copy}", "--test", "1.5"], "--test"),
    ("split-test-nan", ["split", "{ds-copy}", "--test", "nan"], "--test"),
    ("split-validation-neg", ["split", "{ds-copy}", "--validation", "-0.1"], "--validation"),
    ("split-no-train", ["split", "{ds-copy}", "--validation", "0.6", "--test", "0.5"], "training"),
    ("split-cold-1", ["split", "{ds-copy}", "--cold-users", "1"], "--cold-users"),
    ("split-method", ["split", "{ds-copy}", "--method", "shuffle"], "shuffle"),
    ("split-seed-neg", ["split", "{ds-copy}", "--seed", "-1"], "--seed"),
    ("calibrate-missing", ["calibrate", "{tmp}/nothing"], "nothing"),
    ("calibrate-not-dataset", ["calibrate", "{not-a-dataset}"], "not-a-dataset"),
    ("calibrate-garbage-items", ["calibrate", "{ds-garbage-items}"], "items.parquet"),
    # -- baselines -------------------------------------------------------------------------
    ("baselines-episodes-0", ["baselines", "--episodes", "0"], "--episodes"),
    ("baselines-seed-neg", ["baselines", "--seed", "-1"], "--seed"),
    ("baselines-preset", ["baselines", "--preset", "nope"], "nope"),
    ("baselines-config-missing", ["baselines", "--config", "{tmp}/none.yaml"], "none.yaml"),
    (
        "baselines-config-broken",
        ["baselines", "--config", "{config-broken.yaml}"],
        "config-broken.yaml",
    ),  # noqa: E501
    (
        "baselines-config-list",
        ["baselines", "--config", "{config-not-mapping.yaml}"],
        "config-not-mapping.yaml",
    ),  # noqa: E501
    ("baselines-policies", ["baselines", "--preset", "seed-classic", "--policies", "nope"], "nope"),  # noqa: E501
    ("baselines-dataset-missing", ["baselines", "--dataset", "{tmp}/nods"], "nods"),
    # -- train -----------------------------------------------------------------------------
    ("train-steps-0", ["train", "--steps", "0", "--out", "{tmp}/runs"], "--steps"),
    ("train-steps-neg", ["train", "--steps", "-3", "--out", "{tmp}/runs"], "--steps"),
    ("train-seconds-nan", ["train", "--seconds", "nan", "--out", "{tmp}/runs"], "--seconds"),
    ("train-seconds-inf", ["train", "--seconds", "inf", "--out", "{tmp}/runs"], "--seconds"),
    ("train-episodes-0", ["train", "--episodes", "0", "--out", "{tmp}/runs"], "--episodes"),
    (
        "train-two-budgets",
        ["train", "--steps", "5", "--seconds", "1", "--out", "{tmp}/runs"],
        "--seconds",
    ),  # noqa: E501
    ("train-preset", ["train", "--preset", "nope", "--steps", "10", "--out", "{tmp}/runs"], "nope"),  # noqa: E501
    (
        "train-config-missing",
        ["train", "--config", "{tmp}/none.yaml", "--out", "{tmp}/runs"],
        "none.yaml",
    ),  # noqa: E501
    (
        "train-config-broken",
        ["train", "--config", "{config-broken.yaml}", "--out", "{tmp}/runs"],
        "config-broken.yaml",
    ),  # noqa: E501
    (
        "train-config-list",
        ["train", "--config", "{config-not-mapping.yaml}", "--out", "{tmp}/runs"],
        "config-not-mapping.yaml",
    ),  # noqa: E501
    (
        "train-config-binary",
        ["train", "--config", "{config-binary.yaml}", "--out", "{tmp}/runs"],
        "config-binary.yaml",
    ),  # noqa: E501
    (
        "train-config-unknown",
        ["train", "--config", "{config-unknown-key.yaml}", "--out", "{tmp}/runs"],
        "no_such_knob",
    ),  # noqa: E501
    (
        "train-config-gamma",
        ["train", "--config", "{config-gamma.yaml}", "--out", "{tmp}/runs"],
        "agent.gamma",
    ),  # noqa: E501
    (
        "train-config-lr-nan",
        ["train", "--config", "{config-lr-nan.yaml}", "--out", "{tmp}/runs"],
        "agent.lr",
    ),  # noqa: E501
    (
        "train-config-eval-0",
        ["train", "--config", "{config-eval-0.yaml}", "--out", "{tmp}/runs"],
        "train.eval_episodes",
    ),  # noqa: E501
    (
        "train-config-budget-inf",
        ["train", "--config", "{config-budget-inf.yaml}", "--out", "{tmp}/runs"],
        "seconds",
    ),  # noqa: E501
    # every numeric key has an upper bound, named with its range
    (
        "train-config-seconds-huge",
        ["train", "--config", "{config-seconds-huge.yaml}", "--out", "{tmp}/runs"],
        "train.seconds = 1e+40 is out of range (allowed: (0, 2592000])",
    ),  # noqa: E501
    (
        "train-config-log-every-huge",
        ["train", "--config", "{config-log-every-huge.yaml}", "--out", "{tmp}/runs"],
        "train.log_every",
    ),  # noqa: E501
    (
        "train-config-checkpoint-every-huge",
        ["train", "--config", "{config-checkpoint-every-huge.yaml}", "--out", "{tmp}/runs"],
        "train.checkpoint_every = 10000000000000 is out of range",
    ),  # noqa: E501
    (
        "train-config-eps-decay-huge",
        ["train", "--config", "{config-eps-decay-huge.yaml}", "--out", "{tmp}/runs"],
        "agent.eps_decay_steps",
    ),  # noqa: E501
    (
        "train-config-grad-clip-huge",
        ["train", "--config", "{config-grad-clip-huge.yaml}", "--out", "{tmp}/runs"],
        "agent.grad_clip = 1e+40 is out of range (allowed: [0, 1e+06])",
    ),  # noqa: E501
    (
        "train-config-feature-seed-huge",
        ["train", "--config", "{config-feature-seed-huge.yaml}", "--out", "{tmp}/runs"],
        "env.feature_seed",
    ),  # noqa: E501
    (
        "train-seconds-huge",
        ["train", "--seconds", "1e40", "--out", "{tmp}/runs"],
        "--seconds 1e+40 is out of range",
    ),  # noqa: E501
    ("train-steps-huge", ["train", "--steps", str(10**13), "--out", "{tmp}/runs"], "--steps"),
    (
        "train-batchnorm-1",
        [
            "train",
            "--config",
            "{config-batchnorm-1.yaml}",
            "--steps",
            "3200",
            "--out",
            "{tmp}/runs",
        ],
        "batch_size",
    ),  # noqa: E501
    (
        "train-candidates-past-catalogue",
        [
            "train",
            "--config",
            "{config-candidates-huge.yaml}",
            "--steps",
            "10",
            "--out",
            "{tmp}/runs",
        ],
        "env.candidates",
    ),  # noqa: E501
    (
        "train-replay-huge",
        ["train", "--config", "{config-replay-huge.yaml}", "--steps", "10", "--out", "{tmp}/runs"],
        "replay_size",
    ),  # noqa: E501
    (
        "train-name-dotdot",
        ["train", "--steps", "10", "--out", "{tmp}/runs", "--name", "../escape"],
        "--name",
    ),  # noqa: E501
    (
        "train-name-slash",
        ["train", "--steps", "10", "--out", "{tmp}/runs", "--name", "a/b"],
        "--name",
    ),  # noqa: E501
    ("train-name-empty", ["train", "--steps", "10", "--out", "{tmp}/runs", "--name", ""], "--name"),  # noqa: E501
    (
        "train-name-taken",
        ["train", "--steps", "10", "--out", "{run_parent}", "--name", "r"],
        "resume",
    ),  # noqa: E501
    (
        "train-threads-0",
        ["train", "--steps", "10", "--threads", "0", "--out", "{tmp}/runs"],
        "threads",
    ),  # noqa: E501
    ("train-seed-neg", ["train", "--steps", "10", "--seed", "-1", "--out", "{tmp}/runs"], "seed"),  # noqa: E501
    (
        "train-out-is-file",
        ["train", "--steps", "10", "--out", "{a-file}"],
        "a-file: is a file, expected a folder",
    ),
    (
        "train-out-below-file",
        ["train", "--steps", "10", "--out", "{a-file}/runs"],
        "a-file is a file, so no folder",
    ),
    (
        "train-dataset-missing",
        ["train", "--steps", "10", "--dataset", "{tmp}/nods", "--out", "{tmp}/runs"],
        "nods",
    ),  # noqa: E501
    (
        "train-dataset-file",
        ["train", "--steps", "10", "--dataset", "{a-file}", "--out", "{tmp}/runs"],
        "a-file: is a file, not a dataset folder",
    ),  # noqa: E501
    (
        "train-dataset-garbage",
        ["train", "--steps", "10", "--dataset", "{ds-garbage-items}", "--out", "{tmp}/runs"],
        "items.parquet",
    ),  # noqa: E501
    # -- resume ----------------------------------------------------------------------------
    ("resume-missing", ["resume", "{tmp}/nothing"], "nothing"),
    ("resume-not-run", ["resume", "{not-a-dataset}"], "not-a-dataset"),
    ("resume-file", ["resume", "{a-file}"], "a-file: is a file, not a run folder"),
    ("eval-file", ["eval", "{a-file}"], "a-file: is a file, not a run folder"),
    ("recommend-file", ["recommend", "{a-file}", "--user", "1"], "a-file: is a file, not a run"),
    ("train-config-folder", ["train", "--config", "{not-a-dataset}"], "is a folder, expected a"),
    ("train-seconds-1e300", ["train", "--config", "{config-seconds-1e300.yaml}"], "range"),
    ("baselines-dataset-file", ["baselines", "--dataset", "{a-file}"], "a-file: is a file, not"),
    ("ab-dataset-file", ["ab", "random", "popular", "--dataset", "{a-file}"], "a-file: is a file"),
    ("resume-seconds-nan", ["resume", "{run_copy}", "--seconds", "nan"], "--seconds"),
    ("resume-seconds-inf", ["resume", "{run_copy}", "--seconds", "inf"], "--seconds"),
    ("resume-seconds-0", ["resume", "{run_copy}", "--seconds", "0"], "--seconds"),
    ("resume-steps-neg", ["resume", "{run_copy}", "--steps", "-1"], "--steps"),
    ("resume-seconds-huge", ["resume", "{run_copy}", "--seconds", "1e40"], "--seconds"),
    ("resume-episodes-huge", ["resume", "{run_copy}", "--episodes", str(10**13)], "--episodes"),
    ("resume-garbage-checkpoint", ["resume", "{run_garbage_checkpoint}"], "checkpoint"),
    ("resume-broken-config", ["resume", "{run_broken_config}"], "config.yaml"),
    # -- eval ------------------------------------------------------------------------------
    ("eval-missing", ["eval", "{tmp}/nothing"], "nothing"),
    ("eval-not-run", ["eval", "{not-a-dataset}"], "not-a-dataset"),
    ("eval-no-run", ["eval"], "RUN"),
    ("eval-seed-neg", ["eval", "{run}", "--seed", "-1"], "--seed"),
    ("eval-seed-huge", ["eval", "{run}", "--seed", str(2**70)], "--seed"),
    ("eval-episodes-0", ["eval", "{run}", "--episodes", "0"], "--episodes"),
    ("eval-episodes-billion", ["eval", "{run}", "--episodes", "1000000000"], "GiB"),
    ("eval-offline-classic", ["eval", "{run}", "--offline"], "seed-classic"),
    ("eval-offline-part", ["eval", "{drun}", "--offline", "--split", "nope"], "nope"),
    ("eval-offline-seed-neg", ["eval", "{drun}", "--offline", "--seed", "-1"], "--seed"),
    ("eval-garbage-checkpoint", ["eval", "{run_garbage_checkpoint}"], "checkpoint"),
    # -- recommend -------------------------------------------------------------------------
    ("rec-unknown-user", ["recommend", "{run}", "--user", "999999"], "999999"),
    ("rec-k-0", ["recommend", "{run}", "--user", "3", "-k", "0"], "-k"),
    ("rec-k-neg", ["recommend", "{run}", "--user", "3", "-k", "-4"], "-k"),
    ("rec-k-text", ["recommend", "{run}", "--user", "3", "-k", "ten"], "-k"),
    ("rec-missing-run", ["recommend", "{tmp}/nothing", "--user", "3"], "nothing"),
    ("rec-policy", ["recommend", "{run}", "--user", "3", "--policy", "nope"], "nope"),
    ("rec-fallback", ["recommend", "{drun}", "--user", "u1", "--fallback", "nope"], "nope"),
    (
        "rec-garbage-checkpoint",
        ["recommend", "{run_garbage_checkpoint}", "--user", "3"],
        "checkpoint",
    ),  # noqa: E501
    ("rec-no-user", ["recommend", "{run}"], "--user"),
    # -- ab --------------------------------------------------------------------------------
    ("ab-unknown-arm", ["ab", "random", "nope"], "nope"),
    ("ab-users-0", ["ab", "random", "popular", "--users", "0"], "--users"),
    ("ab-users-3", ["ab", "random", "popular", "--users", "3"], "--users"),
    ("ab-seed-neg", ["ab", "random", "popular", "--users", "40", "--seed", "-1"], "--seed"),
    ("ab-dataset-missing", ["ab", "random", "popular", "--dataset", "{tmp}/nods"], "nods"),
    # -- bench -----------------------------------------------------------------------------
    ("bench-env-sizes-0", ["bench", "env", "--sizes", "0"], "--sizes"),
    ("bench-env-sizes-text", ["bench", "env", "--sizes", "a,b"], "--sizes"),
    ("bench-env-seconds-nan", ["bench", "env", "--seconds", "nan"], "--seconds"),
    ("bench-env-seconds-0", ["bench", "env", "--seconds", "0"], "--seconds"),
    ("bench-env-preset", ["bench", "env", "--preset", "nope"], "nope"),
    ("bench-train-seconds-nan", ["bench", "train", "--seconds", "nan"], "--seconds"),
    ("bench-train-seconds-neg", ["bench", "train", "--seconds", "-1"], "--seconds"),
    ("bench-train-preset", ["bench", "train", "--preset", "nope"], "nope"),
    ("bench-train-threads-0", ["bench", "train", "--threads", "0"], "threads"),
]

# Cases that still fail, each with why (strict: they must fail, so a fix shows up here).
XFAIL: dict[str, str] = {}
# Cases not run: whether they are refused depends on this machine's free memory.
NOT_RUN: dict[str, str] = {
    "gen-max-sizes": "machine-dependent: refused here (70.8 GiB estimated), would run on a big "
    "machine; the check is tested with a fixed limit in tests/data/test_generator.py",
    # Refused or not depending on this machine's free memory (the check itself is tested with
    # a fixed limit in tests/engine/test_dqn.py); either outcome is right, so not run here.
    "train-replay-huge": "machine-dependent: 50M transitions may fit in the memory available",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """A trained seed-classic run, a trained default run on a split dataset (shared, read)."""
    root = tmp_path_factory.mktemp("hostile")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump({"preset": "seed-classic", **SMALL}))
    out = rlrec("train", "--config", config, "--steps", 3200, "--seed", 1, "--out", root / "runs", "--name", "r")  # fmt: skip
    assert out.returncode == 0, out.stderr
    dataset = save_tiny_dataset(root / "ds", n_users=60, n_items=50, n_interactions=2500, seed=2, ratings=True)  # fmt: skip
    assert rlrec("split", dataset).returncode == 0
    drun = train_tiny_run(dataset, root / "runs" / "d", steps=640)
    return {"run": root / "runs" / "r", "drun": drun, "ds": dataset}


def _snapshot(folder: Path) -> dict[str, str]:
    seen = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_dir():
            seen[key] = "dir"
        else:
            seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def _places(argv: list[str], tmp: Path, shared: dict[str, Path]) -> dict[str, str]:
    places: dict[str, str] = {"tmp": str(tmp), **{k: str(v) for k, v in shared.items()}}
    places["run_parent"] = str(shared["run"].parent)
    text = " ".join(argv)
    for name, build in FILES.items():
        if "{" + name + "}" in text:
            build(tmp / name)
            places[name] = str(tmp / name)
    if "{ds-copy}" in text:
        shutil.copytree(shared["ds"], tmp / "ds-copy")
        places["ds-copy"] = str(tmp / "ds-copy")
    if "{run_copy}" in text:
        shutil.copytree(shared["run"], tmp / "run-copy")
        places["run_copy"] = str(tmp / "run-copy")
    for name, damage in (
        ("run_garbage_checkpoint", lambda d: (d / CHECKPOINT_FILE).write_bytes(b"\x80garbage")),
        ("run_broken_config", lambda d: (d / "config.yaml").write_text("env: [unclosed\n")),
    ):
        if "{" + name + "}" in text:
            shutil.copytree(shared["run"], tmp / name)
            damage(tmp / name)
            places[name] = str(tmp / name)
    return places


def _fill(arg: str, places: dict[str, str]) -> str:
    """`arg` with each `{name}` replaced (names hold dots, so not str.format)."""
    return re.sub(r"\{([^{}]+)\}", lambda m: places[m.group(1)], arg)


def assert_one_line_error(out, culprit: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("rlrec") and "error:" in lines[0], lines[0]
    assert culprit in lines[0], (culprit, lines[0][:2000])
    assert len(lines[0]) <= 1200, f"{len(lines[0])} characters: {lines[0][:300]}…"
    assert out.stdout == "", out.stdout


def _params():
    for case_id, argv, culprit in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case_id])] if case_id in XFAIL else []
        if case_id in NOT_RUN:
            marks = [pytest.mark.xfail(run=False, reason=NOT_RUN[case_id])]
        yield pytest.param(argv, culprit, id=case_id, marks=marks)


@pytest.mark.parametrize(("argv", "culprit"), _params())
def test_hostile_command_input(tmp_path, shared, argv, culprit):
    places = _places(argv, tmp_path, shared)
    before = _snapshot(tmp_path)
    out = rlrec(*(_fill(a, places) for a in argv), "--json")
    assert_one_line_error(out, culprit)
    assert _snapshot(tmp_path) == before, "the failed command changed its folder"


# -- Gymnasium step() ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "culprit"),
    [
        (-1, "out of range"),
        (10**6, "out of range"),
        (2**40, "out of range"),
        (2.5, "not an item id"),
        (float("nan"), "not an item id"),
        (np.array([1, 2]), "shape"),
        (np.array([[1]]), "shape"),
        ("3", "dtype"),
        (True, "dtype"),
        (None, "dtype"),
    ],
    ids=["neg", "big", "huge", "fraction", "nan", "two", "2d", "text", "bool", "none"],
)
def test_gym_env_step_refuses_bad_actions(action, culprit):
    from rlrec.data.errors import RlrecError
    from rlrec.engine.sim.gym_api import make_env

    env = make_env("seed-classic", seed=0)
    env.reset(seed=0)
    with pytest.raises(RlrecError, match=culprit):
        env.step(action)


@pytest.mark.parametrize(
    ("actions", "culprit"),
    [
        (np.array([0, 1, -1]), "session 2"),
        (np.array([0, 1]), "shape"),
        (np.array([0.0, 1.0, 2.5]), "not an item id"),
        (np.array([0, 1, 99999]), "out of range"),
        (np.array(["a", "b", "c"]), "dtype"),
    ],
    ids=["neg", "short", "fraction", "big", "text"],
)
def test_gym_vector_env_step_refuses_bad_actions(actions, culprit):
    from rlrec.data.errors import RlrecError
    from rlrec.engine.sim.gym_api import make_vector_env

    env = make_vector_env("seed-classic", num_envs=3, seed=0)
    env.reset(seed=0)
    with pytest.raises(RlrecError, match=culprit):
        env.step(actions)


def test_gym_step_still_takes_integral_floats_and_numpy_ints():
    from rlrec.engine.sim.gym_api import make_env, make_vector_env

    env = make_env("seed-classic", seed=0)
    env.reset(seed=0)
    env.step(np.int32(2))
    env.step(np.array([3]))
    vector = make_vector_env("seed-classic", num_envs=2, seed=0)
    vector.reset(seed=0)
    vector.step(np.array([1.0, 4.0]))


# -- OS refusals: read-only folders, unreadable files, disk full -----------------------------
@pytest.fixture
def refuse_writes_below(monkeypatch):
    """`refuse(folder)`: writes below `folder` fail with EACCES, by real chmod when it bites,
    else (as root) by refusing them in this process's os/open calls."""
    denied: list[Path] = []

    def refused(path) -> bool:
        try:
            target = Path(os.fsdecode(path)).absolute()
        except TypeError:
            return False
        return any(target == d or d in target.parents for d in denied)

    def deny(name, original, is_write=lambda *a, **k: True):
        def wrapper(path, *args, **kwargs):
            if refused(path) and is_write(*args, **kwargs):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return original(path, *args, **kwargs)

        return wrapper

    def writes(flags=0, *args, **kwargs) -> bool:
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    def refuse(folder: Path) -> None:
        os.chmod(folder, 0o555)
        probe = folder / ".probe"
        try:
            probe.write_text("")
            probe.unlink()
        except PermissionError:
            return  # chmod bites
        if not denied:
            monkeypatch.setattr(os, "mkdir", deny("mkdir", os.mkdir))
            monkeypatch.setattr(os, "open", deny("open", os.open, writes))
        denied.append(Path(folder).absolute())

    yield refuse
    for folder in denied:
        os.chmod(folder, 0o755)


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--users", "30", "--items", "20", "--out", "{ro}/o"],
        [
            "import",
            "csv",
            "{good.csv}",
            "--user-col",
            "user",
            "--item-col",
            "item",
            "--out",
            "{ro}/o",
        ],  # noqa: E501
        ["train", "--steps", "10", "--out", "{ro}/runs"],
    ],
    ids=["generate", "import", "train"],
)
def test_read_only_out_is_one_line_naming_it(tmp_path, shared, refuse_writes_below, argv):
    places = _places(argv, tmp_path, shared)
    (tmp_path / "ro").mkdir()
    places["ro"] = str(tmp_path / "ro")
    refuse_writes_below(tmp_path / "ro")
    out = rlrec(*(_fill(a, places) for a in argv))
    assert_one_line_error(out, str(tmp_path / "ro"))
    assert "Permission denied" in out.stderr
    assert list((tmp_path / "ro").iterdir()) == []


def test_split_of_a_read_only_dataset_names_it(tmp_path, shared, refuse_writes_below):
    copy = tmp_path / "ds"
    shutil.copytree(shared["ds"], copy)
    before = _snapshot(copy)
    refuse_writes_below(copy)
    out = rlrec("split", copy, "--test", "0.3")
    assert_one_line_error(out, str(copy))
    assert _snapshot(copy) == before


@pytest.mark.skipif(ROOT, reason="root reads files whatever their mode")
@pytest.mark.parametrize("what", ["csv", "config"])
def test_unreadable_input_is_one_line_naming_it(tmp_path, what):
    path = tmp_path / ("log.csv" if what == "csv" else "c.yaml")
    path.write_text(HEADER + GOOD_ROWS if what == "csv" else "agent: {}\n")
    os.chmod(path, 0)
    try:
        if what == "csv":
            out = rlrec("import", "csv", path, "--user-col", "user", "--item-col", "item", "--out", tmp_path / "o")  # fmt: skip
        else:
            out = rlrec("train", "--config", path, "--steps", 10, "--out", tmp_path / "runs")
    finally:
        os.chmod(path, 0o644)
    assert_one_line_error(out, str(path))


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_during_generate_names_out_and_leaves_nothing(tmp_path, monkeypatch):
    import pyarrow.parquet

    monkeypatch.setattr(pyarrow.parquet, "write_table", _no_space)
    out = rlrec("generate", "--users", 30, "--items", 20, "--out", tmp_path / "o")
    assert_one_line_error(out, str(tmp_path))
    assert "No space left on device" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_train_names_out(tmp_path, monkeypatch):
    from rlrec.engine.training import checkpoint

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", _no_space)
    out = rlrec("train", "--steps", 10, "--out", tmp_path / "runs", "--name", "x", "--json")
    # stderr also holds the progress of the training before the checkpoint failed
    assert "Traceback" not in out.stderr and out.returncode == 2 and out.stdout == ""
    last = out.stderr.strip().splitlines()[-1]
    assert last == f"rlrec: error: {tmp_path / 'runs' / 'x'}: No space left on device", last


# -- leftovers of killed writers: gone at the next command, a live writer's kept --------------
def _leftovers(folder: Path, live: int) -> tuple[list[Path], list[Path]]:
    """(what a killed writer left, what a live one is writing) in `folder`."""
    from tests.data.test_errors_files_json import dead_pid

    dead = dead_pid()
    stale = [folder / f".ds.partial-{dead}-abcdefgh", folder / f".checkpoint-x.pt.tmp-{dead}"]
    live_ones = [folder / f".ds2.partial-{live}-abcdefgh", folder / f".x.npz.tmp-{live}-abcdefgh"]
    for path in (*stale, *live_ones):
        if "partial" in path.name:
            path.mkdir()
            (path / "items.parquet").write_bytes(b"half" * 1000)
        else:
            path.write_bytes(b"half" * 1000)
    return stale, live_ones


def test_generate_removes_what_killed_writers_left_beside_its_out(tmp_path):
    stale, live = _leftovers(tmp_path, os.getpid())
    out = rlrec("generate", "--users", 30, "--items", 20, "--out", tmp_path / "ds")
    assert out.returncode == 0, out.stderr
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in live)


def test_resume_removes_what_a_killed_trainer_left_in_its_run(tmp_path, shared):
    run = tmp_path / "run"
    shutil.copytree(shared["run"], run)
    stale, live = _leftovers(run, os.getpid())
    out = rlrec("resume", run, "--steps", 64)
    assert out.returncode == 0, out.stderr
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in live)
