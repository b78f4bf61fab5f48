"""`rlrec split | calibrate | ab | eval --offline` end to end, in subprocesses like a user
runs them: JSON on stdout, one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.fixtures import save_tiny_dataset, train_tiny_run


def rlrec(*args, timeout=300):
    env = {**os.environ, "RLREC_RUNS_DIR": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rlrec.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def one_line_error(out, culprit):
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlrec: error:"), out.stderr
    assert culprit in lines[0], lines[0]
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("offline")
    return save_tiny_dataset(
        root / "ds", n_users=150, n_items=200, n_interactions=8000, seed=11, ratings=True
    )


@pytest.fixture(scope="module")
def run_dir(dataset_dir, tmp_path_factory):
    return train_tiny_run(dataset_dir, tmp_path_factory.mktemp("runs") / "r", steps=1280)


def test_split_is_stored_with_the_dataset(dataset_dir):
    out = rlrec("split", dataset_dir, "--method", "global", "--test", "0.25", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    total = summary["train"] + summary["validation"] + summary["test"]
    assert summary["method"] == "global" and summary["fingerprint"]
    # 25 % by the time cut, plus most rows of the 10 % of users held out whole.
    assert 0.25 <= summary["test"] / total < 0.4
    assert summary["cold_users"] == 15
    assert (dataset_dir / "split.parquet").is_file() and (dataset_dir / "split.yaml").is_file()
    # Put the default split back for the other tests.
    assert rlrec("split", dataset_dir).returncode == 0


@pytest.mark.parametrize(
    ("flags", "culprit"),
    [
        # The CLI names its own flag for the use case's parameter.
        (["--test", "0"], "split --test = 0 is out of range (allowed: (0, 1))"),
        (["--test", "1.2"], "split --test = 1.2 is out of range"),
        (["--validation", "-0.5"], "split --validation = -0.5 is out of range"),
        (["--validation", "0.6", "--test", "0.5"], "leaves no training data"),
        (["--method", "shuffle"], "split method = 'shuffle' is not allowed"),
    ],
)
def test_bad_split_flags_are_one_line_errors_and_write_nothing(
    tmp_path, dataset_dir, flags, culprit
):
    copy = tmp_path / "ds"
    shutil.copytree(dataset_dir, copy)
    for name in ("split.parquet", "split.yaml"):
        (copy / name).unlink(missing_ok=True)
    one_line_error(rlrec("split", copy, *flags), culprit)
    assert not (copy / "split.parquet").exists()


def test_a_dataset_too_small_to_split_is_refused(tmp_path):
    small = save_tiny_dataset(tmp_path / "small", n_users=2, n_items=10, n_interactions=10, seed=0)
    one_line_error(rlrec("split", small), "too few to split")


def test_calibration_table_is_within_five_points(dataset_dir):
    out = rlrec("calibrate", dataset_dir, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["feedback"] == "explicit" and len(report["deciles"]) == 10
    assert report["max_abs_gap"] <= 0.05
    human = rlrec("calibrate", dataset_dir)
    assert "decile" in human.stdout and "largest gap" in human.stdout


def test_ab_between_baselines_finds_a_known_difference():
    out = rlrec("ab", "random", "oracle", "--users", 400, "--seed", 3, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [arm["policy"] for arm in report["arms"]] == ["random", "oracle"]
    assert report["return_difference"]["p_value"] < 0.01
    human = rlrec("ab", "popular", "popular", "--users", 200)
    assert human.returncode == 0 and "Welch" in human.stdout


def test_ab_rejects_an_unknown_arm():
    one_line_error(rlrec("ab", "random", "no-such-run"), "neither a run folder nor a baseline")


def test_offline_eval_reports_warm_and_cold_users(run_dir):
    out = rlrec("eval", run_dir, "--offline", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["split"] == "test" and report["users"]["cold"] > 0
    warm = report["results"]["warm"]
    assert set(warm) >= {"dqn", "mf", "popular", "linucb", "random"}
    for k in (5, 10, 20):
        for metric in ("precision", "recall", "ndcg", "map", "hitrate"):
            assert 0.0 <= warm["dqn"][f"{metric}@{k}"] <= 1.0
    assert warm["mf"]["ndcg@10"] > warm["random"]["ndcg@10"]
    assert "dqn" in report["results"]["cold"]
    human = rlrec("eval", run_dir, "--offline", "--split", "validation")
    assert human.returncode == 0 and "cold users" in human.stdout


def test_a_run_trained_on_another_dataset_is_refused(run_dir, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(run_dir, moved)
    config = yaml.safe_load((moved / "config.yaml").read_text())
    config["dataset_fingerprint"] = "0000000000000000"
    (moved / "config.yaml").write_text(yaml.safe_dump(config))
    one_line_error(rlrec("eval", moved, "--offline"), "fingerprint differs")
    one_line_error(rlrec("ab", moved, "popular"), "fingerprint differs")


def test_a_run_is_refused_once_its_datasets_split_changed(dataset_dir, run_dir, tmp_path):
    data_copy, run_copy = tmp_path / "ds", tmp_path / "run"
    shutil.copytree(dataset_dir, data_copy)
    shutil.copytree(run_dir, run_copy)
    config = yaml.safe_load((run_copy / "config.yaml").read_text())
    assert os.path.isabs(config["dataset"])  # recorded absolute: usable from any folder
    config["dataset"] = config["env"]["dataset"] = str(data_copy)
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config))
    # Same data, same split: still the run's dataset.
    assert rlrec("ab", run_copy, "popular", "--users", "200").returncode == 0
    assert rlrec("split", data_copy, "--test", "0.3").returncode == 0
    one_line_error(rlrec("eval", run_copy, "--offline"), "(or split)")


def test_recommend_takes_a_policy_and_a_fallback(run_dir):
    out = rlrec("recommend", run_dir, "--user", "u3", "-k", "5", "--policy", "mf", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["source"] == "mf" and len(payload["items"]) == 5
    out = rlrec("recommend", run_dir, "--user", "u3", "--fallback", "popular", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["source"].startswith("agent")
    one_line_error(rlrec("recommend", run_dir, "--user", "u3", "--policy", "oracle"), "'oracle'")
    one_line_error(rlrec("recommend", run_dir, "--user", "u3", "--fallback", "x"), "fallback 'x'")
