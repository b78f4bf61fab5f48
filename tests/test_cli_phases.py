"""The CLI says which slow phase it is in, on stderr (loading and fitting, the final
evaluation, each evaluated policy) when stderr is a terminal, and stays quiet about it with
--json or in a pipe, where an error is still the one line on stderr."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.fixtures import save_tiny_dataset
from tests.test_cli_train import SMALL_AGENT, rlrec


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("phases")
    dataset = save_tiny_dataset(root / "ds", n_users=40, n_items=30, n_interactions=900, seed=3)
    config = root / "small.yaml"
    train = {"eval_episodes": 20, "eval_every": 0, "checkpoint_every": 100_000, "log_every": 128}
    config.write_text(yaml.safe_dump({"agent": SMALL_AGENT, "train": train}))
    return root, dataset, config


def _train(setup, name, *extra):
    root, dataset, config = setup
    argv = ["train", "--config", config, "--dataset", dataset, "--steps", "256"]
    return rlrec(*argv, "--out", root / "runs", "--name", name, *extra)


@pytest.fixture
def terminal(monkeypatch):
    """stderr taken for a terminal by rich, as a user's would be."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich ≥ 14
    monkeypatch.setenv("FORCE_TERMINAL", "1")  # older rich


def test_train_says_it_loads_fits_and_evaluates(setup, terminal):
    out = _train(setup, "plain")
    assert out.returncode == 0, out.stderr
    loading = out.stderr.index("fitting the simulator to the log of ds…")
    final = out.stderr.index("final evaluation over 20 sessions…")
    assert loading < final
    assert "run " in out.stdout


def test_train_json_keeps_stdout_one_object_and_no_phase_lines(setup, terminal):
    out = _train(setup, "quiet", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["env_steps"] >= 256
    assert "fitting the simulator" not in out.stderr
    assert "final evaluation" not in out.stderr


def test_eval_says_what_it_evaluates_with_a_count(setup, terminal):
    root, _, _ = setup
    assert _train(setup, "to-eval", "--json").returncode == 0
    out = rlrec("eval", root / "runs" / "to-eval", "--episodes", "10")
    assert out.returncode == 0, out.stderr
    said = out.stderr
    assert said.index("loading ") < said.index("evaluating the agent over 10 sessions…")
    counts = re.findall(r"baseline \S+ \((\d+)/(\d+)\)", said)
    total = int(counts[0][1])
    assert total >= 2 and sorted({int(i) for i, _ in counts}) == list(range(1, total + 1))
    quiet = rlrec("eval", root / "runs" / "to-eval", "--episodes", "10", "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert json.loads(quiet.stdout)["episodes"] == 10


def test_not_a_terminal_no_phase_lines_before_an_error(setup):
    root, _, _ = setup
    (root / "broken").mkdir(exist_ok=True)
    out = rlrec("train", "--steps", "10", "--dataset", root / "broken", "--out", root / "runs")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlrec: error:"), out.stderr
