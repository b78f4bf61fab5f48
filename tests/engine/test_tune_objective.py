"""One trial of a search, headless: its config, where its objective is measured, what the
pruner hears, and what repeated trials on one dataset share."""

from __future__ import annotations

import json

import pytest
import yaml

from rlrec.data.errors import RlrecError
from rlrec.engine.evaluation import online
from rlrec.engine.tune import objective
from rlrec.engine.tune.storage import StudySpec
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN


def spec(**fields):
    base = {
        "name": "s",
        "space": "x.yaml",
        "preset": "seed-classic",
        "objective": "return",
        "trial_budget": {"steps": 3200},
    }
    return StudySpec(**{**base, **fields})


def small(values=None):
    return {"agent": {**SMALL_AGENT, **(values or {})}, "train": dict(SMALL_TRAIN)}


def test_a_trial_config_takes_the_values_the_budget_and_keeps_no_replay():
    config = objective.trial_config(spec(trial_budget={"seconds": 20.0}), small({"lr": 0.004}))
    assert config.agent.lr == 0.004 and config.preset == "seed-classic"
    assert config.train.budget == {"seconds": 20.0} and config.train.steps is None
    # Evaluations happen when the trial measures, and a trial is opened, never resumed.
    assert config.train.eval_every == 0 and config.train.checkpoint_replay is False


def test_the_return_objective_is_never_measured_on_a_training_seed():
    config = objective.trial_config(spec(), {"train": {"seed": 5, "eval_seed": 7}})
    objective.check_eval_seed(config, seeds=2)  # trains on 5 and 6
    with pytest.raises(RlrecError, match="train.eval_seed = 7 is also a training seed"):
        objective.check_eval_seed(config, seeds=3)
    with pytest.raises(RlrecError, match="needs --dataset"):
        objective.check_objective("ndcg@10", has_dataset=False)


def test_reports_go_to_the_pruner_in_order_and_seeds_are_averaged(tmp_path):
    config = objective.trial_config(spec(), small())
    heard = []
    outcome = objective.run_trial(
        config,
        [tmp_path / "a", tmp_path / "b"],
        "return",
        lambda k, v: heard.append((k, v)) or False,
    )
    assert [k for k, _ in heard] == list(range(1, objective.REPORTS + 1))
    assert outcome.intermediate == tuple(heard) and not outcome.pruned
    assert outcome.env_steps >= 2 * 3200 and len(outcome.run_dirs) == 2
    finals = [
        float(json.loads((d / "eval.json").read_text())["return_mean"]) for d in outcome.run_dirs
    ]
    assert outcome.value == pytest.approx(sum(finals) / 2)
    # Each seed is its own normal run, with its own seed.
    seeds = [yaml.safe_load((d / "config.yaml").read_text())["train"]["seed"]
             for d in outcome.run_dirs]  # fmt: skip
    assert seeds == [config.train.seed, config.train.seed + 1]


def test_a_pruned_trial_stops_at_once_without_its_other_seeds(tmp_path):
    config = objective.trial_config(spec(), small())
    outcome = objective.run_trial(
        config, [tmp_path / "a", tmp_path / "b"], "return", lambda k, v: k == 3
    )
    assert outcome.pruned and outcome.value is None and len(outcome.intermediate) == 3
    assert outcome.run_dirs == (tmp_path / "a",) and not (tmp_path / "b").exists()
    assert outcome.env_steps < 3200


def test_runs_on_one_dataset_share_their_reference_returns(tmp_path, monkeypatch):
    """Every trial on the same dataset and split needs the same random and oracle returns;
    they are computed once per process (keyed by the dataset's fingerprint, not the id of a
    dataset object that a later trial's may reuse)."""
    from rlrec.cli.main import main

    data = tmp_path / "data"
    assert (
        main(["generate", "--users", "200", "--items", "80", "--seed", "3", "--out", str(data)])
        == 0
    )
    calls = []
    real = online.evaluate_baseline

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(online, "evaluate_baseline", counting)
    monkeypatch.setattr(online, "_REFERENCE_CACHE", {})
    study = spec(preset="default", dataset=str(data))
    for name in ("a", "b"):
        config = objective.trial_config(study, small())
        objective.run_trial(config, [tmp_path / name], "return")
    assert sorted(calls) == ["oracle", "random"]
