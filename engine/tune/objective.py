"""One trial of a search: a run config with the trial's values, trained as one normal run per
seed, measured on the objective — several times during the first run, so a pruner can stop a
weak trial early, and once at the end of every run.

Objectives (both maximised), never measured on what the agent trained on nor on the test part:
- `return`: the greedy return on the run's evaluation sessions, drawn from `train.eval_seed`,
  a seed no trial trains with (`check_eval_seed`);
- `ndcg@10`: offline NDCG@10 over the warm users of the dataset's **validation** part (the
  stored temporal split; `rlrec eval --offline` reports the test part separately).

With several seeds the value is their mean (cross-validation over seeds); the pruner sees the
first seed's curve only, so a trial it stops costs one partial run, not K.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import deep_merge
from rlrec.engine.training.events import FinishReason
from rlrec.engine.training.run_config import RunConfig, load_run_config

if TYPE_CHECKING:
    from rlrec.engine.training.callbacks import TrainingLoop
    from rlrec.engine.training.trainer import Trainer
    from rlrec.engine.tune.storage import StudySpec

OBJECTIVES = ("return", "ndcg@10")
# Objective measurements during a trial's first run, evenly over its budget: the points a
# pruner compares trials at (the same report numbers in every trial, whatever its speed).
REPORTS = 8

# (report number 1..REPORTS, objective value) -> True to stop the trial (pruned).
Report = Callable[[int, float], bool]


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended. `value` is the mean objective over its seeds (None if it was pruned
    before its first measurement); `intermediate` the first run's (report, value) pairs."""

    value: float | None
    pruned: bool
    intermediate: tuple[tuple[int, float], ...]
    report_env_steps: tuple[int, ...]  # env steps of the first run at each report
    run_dirs: tuple[Path, ...]
    seconds: float  # wall seconds, building and evaluating included
    env_steps: int  # summed over runs
    normalised: float | None  # mean normalised greedy return where references exist


def check_objective(objective: str, has_dataset: bool) -> None:
    """RlrecError (option "objective") for an unknown objective, or ndcg@10 without a dataset
    (seed-classic and the built-in data have no logged validation part)."""
    if objective not in OBJECTIVES:
        raise RlrecError(
            f"--objective {objective}: unknown (allowed: {', '.join(OBJECTIVES)})",
            key="objective",
            value=objective,
            allowed=list(OBJECTIVES),
            option="objective",
        )
    if objective == "ndcg@10" and not has_dataset:
        raise RlrecError(
            "--objective ndcg@10 needs --dataset (a dataset folder with a split: its "
            "validation part is what the search measures)",
            key="objective",
            value=objective,
            option="objective",
        )


def trial_seeds(config: RunConfig, seeds: int) -> list[int]:
    """The training seeds of a trial's runs: `train.seed`, `train.seed + 1`, …"""
    return [config.train.seed + i for i in range(seeds)]


def check_eval_seed(config: RunConfig, seeds: int) -> None:
    """RlrecError if the evaluation sessions' seed is one of the seeds trials train with: the
    `return` objective must be measured on sessions no trial has seen."""
    if config.train.eval_seed in trial_seeds(config, seeds):
        raise RlrecError(
            f"train.eval_seed = {config.train.eval_seed} is also a training seed of the search "
            f"(train.seed {config.train.seed} .. {config.train.seed + seeds - 1}); "
            "choose another eval_seed",
            key="train.eval_seed",
            value=config.train.eval_seed,
        )


def trial_config(spec: StudySpec, overrides: dict[str, Any]) -> RunConfig:
    """The run config of a trial: the study's preset ← its --config file ← the trial's values
    (`overrides`, nested like {"agent": {"lr": 1e-3}}) ← the study's per-run budget. Trials
    evaluate only when `run_trial` asks (train.eval_every 0) and keep no replay buffer in
    their checkpoint (a trial is opened, not resumed; it would cost ~200 MB a trial).
    RlrecError: a value the config refuses (named by its key)."""
    budget = {"seconds": None, "steps": None, "episodes": None, **spec.trial_budget}
    fixed: dict[str, Any] = {"train": {**budget, "eval_every": 0, "checkpoint_replay": False}}
    if spec.dataset:
        fixed["dataset"] = spec.dataset
    return load_run_config(spec.preset, spec.config, deep_merge(overrides, fixed))


class ObjectiveProbe:
    """A trainer callback that measures the objective `REPORTS` times over the run's budget
    and hands each value to `report`; a True answer stops the run (pruned). Measuring is off
    the run's clock: with a seconds budget, every trial trains for the same time however
    long its measurements take."""

    def __init__(
        self,
        measure: Callable[[Trainer], float],
        report: Report | None,
        greedy_evaluations: bool = True,
    ) -> None:
        self.measure = measure
        # A greedy evaluation at every report (the `return` objective is one; for others it
        # only draws the evaluation curve, and costs seconds a report on large catalogues).
        self.greedy_evaluations = greedy_evaluations
        self.report = report
        self.done = 0
        self.values: list[tuple[int, float]] = []
        self.env_steps: list[int] = []
        self.pruned = False

    def _due(self, trainer: TrainingLoop) -> bool:
        fraction = trainer.budget.fraction_done(
            trainer.env_steps, trainer.episodes, trainer.clock()
        )
        return self.done < REPORTS - 1 and fraction >= (self.done + 1) / REPORTS

    def on_step(self, trainer: TrainingLoop) -> bool:
        if not self._due(trainer):
            return False
        return self._record(trainer)

    def on_end(self, trainer: TrainingLoop, reason: FinishReason) -> None:
        if reason.is_success and not self.pruned:
            self._record(trainer, final=True)

    def _record(self, trainer: Any, final: bool = False) -> bool:
        with trainer.off_the_clock():
            if self.greedy_evaluations and not final:
                trainer.evaluations.evaluate(trainer)  # logged in metrics.jsonl like any other
            value = self.measure(trainer)
        self.done += 1
        self.values.append((self.done, value))
        self.env_steps.append(int(trainer.env_steps))
        if self.report is None or not self.report(self.done, value) or final:
            return False
        self.pruned = True
        trainer.final_evaluation = False  # a pruned trial needs no final evaluation
        return True


def measure_for(objective: str) -> Callable[[Trainer], float]:
    """The function giving `objective`'s current value for a trainer (see module doc)."""
    if objective == "return":
        return _greedy_return
    if objective == "ndcg@10":
        return _validation_ndcg
    raise RlrecError(f"unknown objective {objective!r} (allowed: {', '.join(OBJECTIVES)})")


def _greedy_return(trainer: Trainer) -> float:
    evaluation = trainer.last_evaluation
    if evaluation is None:
        raise RlrecError(f"{trainer.run_dir}: no evaluation to measure the return on")
    return float(evaluation.return_mean)


def _validation_ndcg(trainer: Trainer) -> float:
    """NDCG@10 of the agent over the warm users of the validation part."""
    from rlrec.data.split import split_for
    from rlrec.engine.evaluation.offline import evaluate_offline

    if trainer.dataset is None:
        raise RlrecError("--objective ndcg@10 needs a run on a dataset")
    config = trainer.config
    folder = config.dataset or getattr(config.env, "dataset", "") or None
    split = split_for(trainer.dataset, folder)
    report = evaluate_offline(
        trainer.dataset,
        split,
        trainer.evaluation_sim(),
        agent=trainer.agent,
        part="validation",
        references=False,
    )
    warm = report["results"]["warm"].get("dqn")
    if warm is None:
        raise RlrecError("the validation part has no warm users to measure NDCG@10 on")
    return float(warm["ndcg@10"])


def run_trial(
    config: RunConfig,
    folders: list[Path],
    objective: str,
    report: Report | None = None,
    *,
    on_trainer: Callable[[Trainer], None] | None = None,
) -> TrialOutcome:
    """Train `config` once per folder (seed `train.seed + i` in `folders[i]`), measuring
    `objective` during the first run (each value to `report`, which may stop the trial) and
    at the end of every run. `on_trainer` sees each trainer before it runs (a face may
    subscribe to its events, or keep it to stop it). RlrecError: a config the trainer
    refuses, a run that diverged or failed (its message), a folder already used."""
    from rlrec.engine.training.trainer import Trainer

    measure = measure_for(objective)
    began = time.monotonic()
    values: list[float] = []
    normalised: list[float] = []
    first: ObjectiveProbe | None = None
    env_steps = 0
    done_dirs: list[Path] = []
    for index, folder in enumerate(folders):
        run_config = copy.deepcopy(config)
        run_config.train.seed = config.train.seed + index
        probe = ObjectiveProbe(
            measure, report if index == 0 else None, greedy_evaluations=objective == "return"
        )
        trainer = Trainer(run_config, folder, callbacks=[probe])
        if on_trainer is not None:
            on_trainer(trainer)
        finished = trainer.run()
        done_dirs.append(trainer.run_dir)
        env_steps += finished.env_steps
        if first is None:
            first = probe
        if probe.pruned:
            break
        if not FinishReason(finished.reason).is_success:
            raise RlrecError(
                f"{trainer.run_dir}: the run {finished.reason}"
                + (f" ({finished.message})" if finished.message else "")
            )
        if not probe.values:
            raise RlrecError(f"{trainer.run_dir}: the run ended before its objective was measured")
        values.append(probe.values[-1][1])
        last = trainer.last_evaluation
        if last is not None and math.isfinite(last.normalised):
            normalised.append(float(last.normalised))
    assert first is not None
    pruned = first.pruned
    return TrialOutcome(
        value=None if pruned or not values else float(sum(values) / len(values)),
        pruned=pruned,
        intermediate=tuple(first.values),
        report_env_steps=tuple(first.env_steps),
        run_dirs=tuple(done_dirs),
        seconds=time.monotonic() - began,
        env_steps=env_steps,
        normalised=float(sum(normalised) / len(normalised)) if normalised else None,
    )
