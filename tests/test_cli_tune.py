"""`rlrec tune` end to end: a search on seed-classic with tiny runs, continuing a study after
kill -9, parallel jobs, pruning, the objective on the validation part, bad requests, and
`rlrec tune --show`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from rlrec.engine.tune.report import read_study
from rlrec.engine.tune.storage import BEST_CONFIG, is_study
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN
from tests.test_cli_train import rlrec

TINY = {"agent": SMALL_AGENT, "train": {**SMALL_TRAIN, "checkpoint_every": 0}}
GRID = {"agent.lr": {"choice": [0.0005, 0.002]}, "agent.batch_size": {"choice": [32, 64]}}


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"preset": "seed-classic", **TINY}))
    space = tmp_path / "grid.yaml"
    space.write_text(yaml.safe_dump(GRID))
    return config, space


def tune_args(config, space, runs, *extra):
    return (
        "tune", "--space", space, "--preset", "seed-classic", "--config", config,
        "--trial-steps", 3200, "--out", runs, "--study", "s", *extra,
    )  # fmt: skip


def finished_params(report):
    return [
        tuple(sorted(t.params.items())) for t in report.trials if t.state in ("complete", "pruned")
    ]


def test_grid_search_runs_every_point_once_and_writes_a_ready_config(files, tmp_path):
    config, space = files
    out = rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 4, "--json"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["spec"]["sampler"] == "grid" and result["ran"] == 4
    report = read_study(tmp_path / "runs" / "s")
    points = finished_params(report)
    assert len(points) == 4 and len(set(points)) == 4  # the whole 2 × 2 grid, once each
    for trial in report.trials:
        assert trial.run_dirs and all((d / "config.yaml").is_file() for d in trial.run_dirs)
        assert len(trial.intermediate) >= 1
    best = report.best
    assert best is not None and best.value == max(
        t.value for t in report.trials if t.state == "complete"
    )
    # best.yaml trains as it stands, with the best trial's values.
    best_config = yaml.safe_load((tmp_path / "runs" / "s" / BEST_CONFIG).read_text())
    assert best_config["agent"]["lr"] == best.params["agent.lr"]
    trained = rlrec("train", "--config", tmp_path / "runs" / "s" / BEST_CONFIG, "--steps", 640,
                    "--out", tmp_path / "runs2", "--json")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    # The grid is exhausted: the same command with a higher target runs nothing new.
    again = rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 6))
    assert again.returncode == 0, again.stderr
    assert len(finished_params(read_study(tmp_path / "runs" / "s"))) == 4


def test_show_prints_the_table_and_json(files, tmp_path):
    config, space = files
    assert rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 2)).returncode == 0
    shown = rlrec("tune", "--show", "s", "--out", tmp_path / "runs")
    assert shown.returncode == 0, shown.stderr
    assert "study s" in shown.stdout and "best: trial" in shown.stdout
    assert "batch_size" in shown.stdout and "lr" in shown.stdout
    as_json = json.loads(rlrec("tune", "--show", tmp_path / "runs" / "s", "--json").stdout)
    assert len(as_json["trials"]) == 2 and as_json["best"]["number"] in (0, 1)
    missing = rlrec("tune", "--show", "nope", "--out", tmp_path / "runs")
    assert missing.returncode == 2 and "no such study" in missing.stderr
    assert "s" in missing.stderr.split("studies in")[-1]


def test_parallel_jobs_reach_the_trial_count_exactly(files, tmp_path):
    config, space = files
    out = rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 3, "--jobs", 2,
                           "--sampler", "random"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = read_study(tmp_path / "runs" / "s")
    assert report.finished_trials == 3 and report.counts.get("running", 0) == 0
    assert out.stderr.count("trial ") >= 3  # each reported as it ended


def test_median_pruner_stops_trials_below_the_median_at_the_same_report(files, tmp_path):
    """Three earlier trials reported a return of 1000 at every report: with the median pruner,
    new trials fall below the median at their second report (the first is warm-up) and are
    stopped there — marked pruned, with 2 reports and a quarter of their env steps."""
    import optuna

    from rlrec.engine.tune.report import TrialAttrs
    from rlrec.engine.tune.storage import open_storage
    from rlrec.engine.usecases.tuning import TuneRequest, prepare_study, tune

    config, space = files
    request = TuneRequest(space=str(space), trials=5, preset="seed-classic", config=str(config),
                          runs_dir=tmp_path / "runs", study="p", trial_steps=25600,
                          sampler="random")  # fmt: skip
    prepared = prepare_study(request)
    study = optuna.load_study(study_name="p", storage=open_storage(prepared.folder))
    for lr in (0.0005, 0.002, 0.002):
        study.add_trial(
            optuna.trial.create_trial(
                params={"agent.lr": lr, "agent.batch_size": 32},
                distributions=prepared.space.distributions(),
                value=1000.0,
                intermediate_values={k: 1000.0 for k in range(1, 9)},
                user_attrs={TrialAttrs.VALUES: {"agent.lr": lr, "agent.batch_size": 32}},
            )
        )
    seen = []
    result = tune(request, on_trial=seen.append, prepared=prepared)
    assert result.ran == 2 and [t.state for t in seen] == ["pruned", "pruned"]
    report = read_study(prepared.folder)
    assert report.counts == {"complete": 3, "pruned": 2} and report.pruned_share == 0.4
    for trial in seen:  # stopped at the first report it could be compared at
        assert [k for k, _ in trial.intermediate] == [1, 2]
        assert trial.env_steps is not None and trial.env_steps < 25600 / 2
        assert trial.value is not None and trial.value < 1000


def test_a_search_killed_with_sigkill_continues_with_the_same_command(files, tmp_path):
    config, space = files
    runs = tmp_path / "runs"
    args = [str(a) for a in tune_args(config, space, runs, "--trials", 4)]
    args[args.index("3200")] = "25600"  # long enough to be killed mid-trial
    command = [sys.executable, "-m", "rlrec.cli.main", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if is_study(runs / "s"):
                report = read_study(runs / "s")
                if report.finished_trials >= 1 and report.counts.get("running", 0) == 1:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the search never had a finished and a running trial")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = read_study(runs / "s")
    done_before = {t.number: t.params for t in before.trials if t.state in ("complete", "pruned")}
    killed = [t.number for t in before.trials if t.state == "running"]
    assert len(killed) == 1
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"1 trial ({killed[0]}) killed mid-run" in again.stderr
    after = read_study(runs / "s")
    assert after.finished_trials == 4 > len(done_before)
    for number, params in done_before.items():  # finished trials are kept, not repeated
        assert next(t for t in after.trials if t.number == number).params == params
    assert len(set(finished_params(after))) == 4  # the killed point was run again, once
    assert next(t for t in after.trials if t.number == killed[0]).state == "failed"


@pytest.mark.parametrize(
    ("space", "culprit"),
    [
        ({"agent.learning_rate": {"float": [1e-4, 1e-3]}}, "agent.learning_rate"),
        ({"agent.gamma": {"float": [0.5, 1.5]}}, "agent.gamma"),
        ({"agent.batch_size": {"choice": []}}, "agent.batch_size"),
        ({"agent.weight_decay": {"float": [-1.0, 0.1], "log": True}}, "agent.weight_decay"),
    ],
)
def test_a_bad_space_is_refused_in_one_line_naming_the_key(files, tmp_path, space, culprit):
    config, _ = files
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(space))
    out = rlrec(*tune_args(config, path, tmp_path / "runs", "--trials", 2))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "runs" / "s").exists()  # nothing half-written


def test_bad_requests_are_refused_before_anything_is_written(files, tmp_path):
    config, space = files
    runs = tmp_path / "runs"
    cases = [
        (("--trials", 0), "--trials 0"),
        (("--trials", 2, "--jobs", 0), "--jobs 0"),
        (("--trials", 2, "--objective", "ctr"), "--objective ctr"),
        (("--trials", 2, "--objective", "ndcg@10"), "needs --dataset"),
        (("--trials", 2, "--pruner", "asha"), "--pruner asha"),
        (("--sampler", "random"), "--trials N"),
        (("--trials", 2, "--study", ""), "--study ''"),
    ]
    for extra, message in cases:
        out = rlrec(*tune_args(config, space, runs, *extra))
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
        assert not (runs / "s").exists()
    assert rlrec("tune", "--out", runs).returncode == 2
    short = rlrec("tune", "--space", space, "--preset", "seed-classic", "--trial-seconds", 10,
                  "--seconds", 5, "--out", runs, "--study", "s")  # fmt: skip
    assert short.returncode == 2 and "--seconds 5 cannot hold one trial" in short.stderr
    assert not (runs / "s").exists()
    # An existing study is continued only with the same request.
    assert rlrec(*tune_args(config, space, runs, "--trials", 1)).returncode == 0
    other = rlrec(*tune_args(config, space, runs, "--trials", 2, "--objective", "return",
                             "--seeds", 2))  # fmt: skip
    assert other.returncode == 2 and "another request (seeds" in other.stderr


def test_ndcg_objective_is_measured_on_the_validation_part(tmp_path):
    """On a dataset with a split the objective is validation NDCG@10: the trials' values match
    evaluating each trial's run on the validation part, not the test part."""
    from rlrec.data.split import split_for
    from rlrec.engine.evaluation.offline import evaluate_offline
    from rlrec.engine.training.runs import load_run

    dataset = tmp_path / "data"
    assert (
        rlrec("generate", "--users", 300, "--items", 120, "--seed", 1, "--out", dataset).returncode
        == 0
    )
    assert rlrec("split", dataset).returncode == 0
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    space = tmp_path / "g.yaml"
    space.write_text(yaml.safe_dump({"agent.gamma": {"choice": [0.0, 0.9]}}))
    out = rlrec("tune", "--space", space, "--config", config, "--dataset", dataset,
                "--objective", "ndcg@10", "--trial-steps", 3200, "--trials", 2,
                "--out", tmp_path / "runs", "--study", "n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = read_study(tmp_path / "runs" / "n")
    assert report.spec.objective == "ndcg@10" and report.finished_trials == 2
    for trial in report.trials:
        run = load_run(trial.run_dirs[0])
        split = split_for(run.dataset, dataset)
        validation = evaluate_offline(
            run.dataset, split, run.sim, agent=run.policy, part="validation", references=False
        )["results"]["warm"]["dqn"]
        assert trial.value == pytest.approx(validation["ndcg@10"], abs=1e-9)
        assert 0 <= trial.value <= 1


def test_a_grid_searched_by_two_jobs_runs_each_point_once(files, tmp_path):
    """Two workers on a 4-point grid with room for 10 trials: every point once, no point
    handed to the second worker while the first still runs it."""
    config, space = files
    out = rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 10, "--jobs", 2,
                           "--sampler", "grid", "--pruner", "none"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    points = finished_params(read_study(tmp_path / "runs" / "s"))
    assert len(points) == 4 and len(set(points)) == 4
    assert "its grid of 4 points is done" in out.stdout


def test_a_key_given_twice_in_a_space_is_refused_with_its_line(files, tmp_path):
    config, _ = files
    space = tmp_path / "twice.yaml"
    space.write_text("agent.lr: {float: [1.0e-4, 1.0e-3]}\nagent.lr: {choice: [0.1]}\n")
    out = rlrec(*tune_args(config, space, tmp_path / "runs", "--trials", 2))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert f"{space}:2" in out.stderr and "key 'agent.lr' is given twice" in out.stderr
