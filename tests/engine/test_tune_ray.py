"""The Ray backend: `rlrec tune --ray` runs a 4-trial search of seed-classic on a local Ray
instance (2 CPUs, started here) and its trials land in the study like a local search's —
`rlrec tune --show` lists them with values, states and run folders; the driver tells the
study COMPLETE, PRUNED (ASHA stopped it) or FAIL with the local backend's attributes; without
Ray, `--ray` is one line naming the extra."""

from __future__ import annotations

import json
import logging
import socket
import sys

import pytest
import ray  # the test extra installs rlrec[ray]: this test is never skipped
import yaml

from rlrec.data.errors import RlrecError
from rlrec.engine.tune.objective import REPORTS
from rlrec.engine.tune.ray_backend import (
    ERROR,
    FINAL,
    GRACE_PERIOD,
    METRIC,
    NUMBER,
    REPORT,
    SECONDS,
    STEPS,
    VALUES,
    _run_one_trial,
    _scheduler,
    _study_searcher,
    _TrialContext,
    check_address,
    require_ray,
)
from rlrec.engine.tune.report import read_study
from rlrec.engine.tune.storage import BEST_CONFIG, StudySpec
from rlrec.engine.tune.study import Limits
from rlrec.engine.usecases.tuning import TuneRequest, prepare_study
from tests.test_cli_train import rlrec

# Tiny runs: each trial trains 30,000 env steps of seed-classic, 256 sessions at a time.
TINY = {
    "preset": "seed-classic",
    "train": {"n_envs": 256, "eval_episodes": 200, "torch_threads": 1, "checkpoint_every": 0},
}
SPACE = {
    "agent.lr": {"float": [5.0e-4, 5.0e-3], "log": True},
    "agent.batch_size": {"choice": [128, 256]},
}


@pytest.fixture
def files(tmp_path):
    config, space = tmp_path / "tiny.yaml", tmp_path / "space.yaml"
    config.write_text(yaml.safe_dump(TINY))
    space.write_text(yaml.safe_dump(SPACE))
    return config, space


@pytest.fixture
def local_ray(monkeypatch):
    """A local Ray instance with 2 CPUs in this process, shut down at the end."""
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address="local",  # a new instance, whatever cluster this machine knows of
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def test_a_ray_search_lands_in_the_study_like_a_local_one(local_ray, files, tmp_path):
    (config, space), runs = files, tmp_path / "runs"
    out = rlrec(
        "tune", "--space", space, "--preset", "seed-classic", "--config", config,
        "--trial-steps", 30000, "--out", runs, "--study", "s", "--trials", 4, "--jobs", 2,
        "--ray", "auto", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # stdout holds the one JSON document, no Tune tables
    assert result["ran"] == 4 and result["spec"]["backend"] == "ray"
    assert ray.is_initialized()  # a Ray instance it joined is left to its owner

    shown = rlrec("tune", "--show", "s", "--out", runs, "--json")
    assert shown.returncode == 0, shown.stderr
    assert [t["number"] for t in json.loads(shown.stdout)["trials"]] == [0, 1, 2, 3]

    report = read_study(runs / "s")
    assert len(report.trials) == 4 and report.finished_trials == 4
    for trial in report.trials:
        assert trial.backend == "ray" and trial.value is not None
        assert set(trial.params) == set(SPACE)
        assert trial.seconds is not None and trial.seconds > 0
        assert trial.run_dirs == (runs / "s" / f"trial-{trial.number:04d}",)
        run = trial.run_dirs[0]
        assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
        trained = yaml.safe_load((run / "config.yaml").read_text())
        assert trained["agent"]["batch_size"] == trial.params["agent.batch_size"]
        assert trained["agent"]["lr"] == pytest.approx(trial.params["agent.lr"])
        reports = [number for number, _ in trial.intermediate]
        if trial.state == "complete":
            assert reports == list(range(1, REPORTS + 1)) and trial.env_steps >= 30000
        else:  # stopped by ASHA at one of its rungs, before the last evaluation
            assert trial.state == "pruned" and reports[-1] in (GRACE_PERIOD, 2 * GRACE_PERIOD)
            assert reports == list(range(1, reports[-1] + 1))
            assert trial.value == trial.intermediate[-1][1]
    # ASHA never stops the first trial to reach a rung: at least one trial completes.
    assert report.best is not None and (runs / "s" / BEST_CONFIG).is_file()


class FakeTrial:  # what ASHA reads of a Tune trial
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def test_the_driver_tells_the_study_how_each_ray_trial_ended(files, tmp_path):
    config, space = files
    prepared = prepare_study(
        TuneRequest(
            space=str(space), trials=3, preset="seed-classic", config=str(config),
            trial_steps=30000, study="s", runs_dir=tmp_path / "runs", ray="local", seeds=2,
        )
    )  # fmt: skip
    folder, rows, stopped = prepared.folder, [], set()
    asha = _scheduler("median", stopped)
    searcher = _study_searcher(
        folder, prepared.spec, prepared.space, Limits(trials=3), stopped, rows.append
    )
    configs = {tid: searcher.suggest(tid) for tid in ("done", "weak", "broken")}
    assert [c[NUMBER] for c in configs.values()] == [0, 1, 2]
    assert all(set(c[VALUES]) == set(SPACE) for c in configs.values())
    assert searcher.suggest("more") is None  # 3 trials running: wait, not finished
    assert read_study(folder).counts == {"running": 3}

    for tid in ("done", "weak"):
        asha.on_trial_add(None, FakeTrial(tid))
    curves = {"done": [1.0, 2.0], "weak": [0.5, 0.1]}
    for report in (1, 2):
        for tid, curve in curves.items():
            result = {METRIC: curve[report - 1], REPORT: report, FINAL: 0, STEPS: 3840 * report}
            result[SECONDS] = 1.5 * report
            if asha.on_trial_result(None, FakeTrial(tid), result) == "STOP":
                searcher.on_trial_complete(tid, result)  # as Tune does for a stopped trial
            else:
                searcher.on_trial_result(tid, result)
    assert stopped == {"weak"}
    for report in range(3, REPORTS + 1):
        searcher.on_trial_result("done", {METRIC: 2.0, REPORT: report, FINAL: 0})
    searcher.on_trial_complete(
        "done",
        {
            METRIC: 2.5, FINAL: 1, "run_dirs": ["trial-0000-seed0", "trial-0000-seed1"], "seconds": 3.0,
            "env_steps": 30208, "normalised": 0.25, "report_env_steps": [3840] * REPORTS,
        },
    )  # fmt: skip
    searcher.on_trial_complete("broken", {FINAL: 1, ERROR: "agent.lr: refused"})

    report = read_study(folder)
    done, weak, broken = report.trials
    assert (done.state, done.value, done.env_steps, done.normalised) == (
        "complete", 2.5, 30208, 0.25,
    )  # fmt: skip
    assert [n for n, _ in done.intermediate] == list(range(1, REPORTS + 1))
    assert (weak.state, weak.value, weak.intermediate) == ("pruned", 0.1, ((1, 0.5), (2, 0.1)))
    assert (weak.env_steps, weak.seconds) == (7680, 3.0)  # as far as its first run went
    assert weak.run_dirs == (folder / "trial-0001-seed0",)  # its second seed never ran
    assert broken.run_dirs == (folder / "trial-0002-seed0", folder / "trial-0002-seed1")
    assert broken.state == "failed"
    assert all(t.backend == "ray" and t.seconds is not None for t in report.trials)
    assert [(r.number, r.state) for r in rows] == [(1, "pruned"), (0, "complete"), (2, "failed")]
    assert report.best is not None and report.best.number == 0
    assert (folder / BEST_CONFIG).is_file()

    # The failed trial left room under the limit (3 finished); then the search ends under it.
    again = searcher.suggest("retry")
    assert again[NUMBER] == 3
    searcher.abandon_unfinished()
    assert read_study(folder).counts == {"complete": 1, "pruned": 1, "failed": 2}
    assert searcher.suggest("last") is not None  # still under the limit: one more
    searcher.on_trial_complete("last", {METRIC: 1.0, FINAL: 1, "run_dirs": [], "seconds": 1.0,
                                        "env_steps": 1, "normalised": None,
                                        "report_env_steps": []})  # fmt: skip
    assert searcher.suggest("after") == "FINISHED"  # 3 finished, nothing running


def test_a_refused_trial_reports_its_error_and_a_metric_tune_accepts(monkeypatch, tmp_path):
    reported = []
    monkeypatch.setattr("ray.tune.report", reported.append)
    spec = StudySpec(
        name="s", space="x.yaml", preset="no-such-preset", objective="return",
        trial_budget={"steps": 1000},
    )  # fmt: skip
    _run_one_trial({NUMBER: 0, VALUES: {"agent.lr": 0.001}}, _TrialContext(tmp_path, spec))
    (last,) = reported
    assert last[FINAL] == 1 and "no-such-preset" in last[ERROR] and "\n" not in last[ERROR]
    assert METRIC in last  # Tune raises on a result without the searcher's metric
    assert not any(tmp_path.iterdir())  # no run folder was made


def test_without_ray_the_option_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RlrecError) as caught:
        require_ray()
    assert caught.value.option == "ray"
    assert caught.value.worded(lambda o: f"--{o.name}") == (
        "--ray needs Ray: pip install 'rlrec[ray]'"
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the test uses it


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("nonsense", "expected auto, local or HOST:PORT"),
        (f"127.0.0.1:{closed_port()}", "no Ray cluster answers there"),
    ],
)
def test_a_bad_address_is_refused_at_once_in_one_line(address, says):
    with pytest.raises(RlrecError) as caught:
        check_address(address)
    assert caught.value.option == "ray" and says in str(caught.value)
    assert "\n" not in str(caught.value)
    check_address("auto")  # nothing to check before joining
