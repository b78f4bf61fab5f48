"""Strict JSON everywhere: every `--json` output of every command, and every JSON file rlrec
writes (run folders' `eval.json`, `metrics.jsonl` lines, the serving cache's `meta.json`,
dataset files), parses with a parser that refuses `NaN` and `Infinity`.

A run trained with `train.eval_episodes: 1` has an undefined confidence interval: it must be
`null`, not `NaN`. The commands run in process on small inputs, in the order a user would.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from rlrec.data.jsonsafe import json_safe, strict_dumps
from tests.fixtures import save_tiny_dataset, write_ml100k_like
from tests.test_cli_train import SMALL, rlrec


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_refuse)


def test_the_sanitiser_turns_undefined_numbers_into_null():
    value = {"ci": math.nan, "top": -math.inf, "n": np.int64(3), "x": np.float32(0.5)}
    assert strict_loads(strict_dumps(value)) == {"ci": None, "top": None, "n": 3, "x": 0.5}
    assert json_safe((np.array([1.0, np.nan]), {Path("a"): {1, 2}})) == [[1.0, None], {"a": [1, 2]}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("strict")


def _commands(root: Path) -> list[tuple[str, list]]:
    """(name, argv) of every command, in dependency order, all on small inputs."""
    dataset = root / "ds"
    config = root / "one-episode.yaml"
    runs = root / "runs"
    default_config = root / "default.yaml"
    return [
        ("generate", ["generate", "--users", 60, "--items", 30, "--out", root / "gen"]),
        ("import movielens", ["import", "movielens", root / "ml", "--out", root / "ml-ds"]),
        (
            "import csv",
            [
                "import",
                "csv",
                root / "log.csv",
                "--user-col",
                "user",
                "--item-col",
                "item",
                "--rating-col",
                "rating",
                "--out",
                root / "csv-ds",
            ],
        ),  # fmt: skip
        ("info", ["info", dataset]),
        ("split", ["split", dataset]),
        ("calibrate", ["calibrate", dataset]),
        ("baselines", ["baselines", "--preset", "seed-classic", "--episodes", 5]),
        ("train", ["train", "--config", config, "--steps", 3200, "--out", runs, "--name", "r"]),
        ("resume", ["resume", runs / "r", "--steps", 640]),
        ("eval", ["eval", runs / "r", "--episodes", 1]),
        (
            "train default",
            ["train", "--config", default_config, "--steps", 640, "--out", runs, "--name", "d"],
        ),
        ("eval --offline", ["eval", runs / "d", "--offline"]),
        ("recommend", ["recommend", runs / "r", "--user", 3, "-k", 3]),
        ("recommend default", ["recommend", runs / "d", "--user", "u1", "-k", 3]),
        ("ab", ["ab", "random", "popular", "--users", 40]),
        (
            "bench env",
            ["bench", "env", "--preset", "seed-classic", "--sizes", "1", "--seconds", 0.05],
        ),
        ("bench train", ["bench", "train", "--seconds", 0.5]),
    ]


@pytest.fixture(scope="module")
def outputs(workspace) -> dict[str, str]:
    """Each command's stdout with --json (run once, shared by the tests below)."""
    root = workspace
    save_tiny_dataset(
        root / "ds", n_users=80, n_items=60, n_interactions=3000, seed=3, ratings=True
    )
    write_ml100k_like(root / "ml", n_users=40, n_items=50, n_ratings=800)
    (root / "log.csv").write_text(
        "user,item,rating\n" + "".join(f"u{i % 9},i{i % 13},{1 + i % 5}\n" for i in range(120))
    )
    one_episode = {**SMALL, "train": {**SMALL["train"], "eval_episodes": 1}}
    (root / "one-episode.yaml").write_text(
        yaml.safe_dump({"preset": "seed-classic", **one_episode})
    )
    default = {
        "dataset": str(root / "ds"),
        "agent": {"hidden": [16], "learning_starts": 64, "batch_size": 16, "replay_size": 2000},
        "train": {"n_envs": 32, "eval_every": 0, "eval_episodes": 1, "checkpoint_every": 0,
                  "log_every": 320, "torch_threads": 1},
    }  # fmt: skip
    (root / "default.yaml").write_text(yaml.safe_dump({"preset": "default", **default}))
    seen = {}
    for name, argv in _commands(root):
        out = rlrec(*argv, "--json")
        assert out.returncode == 0, (name, out.stderr)
        seen[name] = out.stdout
    return seen


COMMANDS = [name for name, _ in _commands(Path("."))]


@pytest.mark.parametrize("name", COMMANDS)
def test_json_output_is_one_strict_document(outputs, name):
    document = strict_loads(outputs[name])
    assert isinstance(document, dict)


def test_an_undefined_confidence_interval_is_null(outputs):
    train = strict_loads(outputs["train"])
    assert train["eval"]["episodes"] == 1 and train["eval"]["return_ci95"] is None
    assert strict_loads(outputs["eval"])["eval"]["return_ci95"] is None


def test_every_json_file_written_is_strict(outputs, workspace):
    files = [p for p in workspace.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()]
    names = {p.name for p in files}
    assert {"metrics.jsonl", "eval.json", "meta.json"} <= names, names
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines() if path.suffix == ".jsonl" else [text]
        for number, line in enumerate(lines, start=1):
            try:
                strict_loads(line)
            except ValueError as exc:
                pytest.fail(f"{path}:{number}: {exc}")
