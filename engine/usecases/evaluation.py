"""Use cases of evaluation: greedy online evaluation of a run beside the baselines, offline
top-K metrics on the held-out split, and the simulated A/B test. Each loads what it needs
from the run folder and returns a dataclass; faces only print it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option, RlrecError
from rlrec.data.memory import check_fits
from rlrec.engine.evaluation.ab import check_users, not_an_arm, run_ab
from rlrec.engine.evaluation.offline import evaluate_offline
from rlrec.engine.evaluation.online import (
    PolicyReport,
    baseline_table,
    evaluate_policy,
    evaluation_simulator,
    reference_returns,
)
from rlrec.engine.policies.registry import SIMULATION_BASELINES, baselines_for

MAX_SEED = 2**63 - 1
# What `evaluate_policy` keeps per evaluated session: return, length, engagements and
# purchases (float64 each) plus the recommended item of every step (int64).
_RECORD_BYTES = 4 * 8
_STEP_BYTES = 8


def check_seed(seed: Any) -> None:
    """RlrecError unless `seed` is an integer in 0..2**63-1 (numpy refuses negative seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise RlrecError(
            [Option("seed", f"{seed!r}"), f" is out of range (allowed: 0..{MAX_SEED})"],
            value=seed,
            allowed=(0, MAX_SEED),
        )


def check_evaluation_fits(episodes: int, max_steps: int) -> None:
    """RlrecError with the estimate and the limit when the per-session records of `episodes`
    sessions (each up to `max_steps` steps) need more memory than is available."""
    per_session = _RECORD_BYTES + _STEP_BYTES * max_steps
    check_fits(
        episodes, per_session, Option("episodes", f"{episodes:,}"), "its per-session records"
    )


def check_simulation_fits(dataset: str | Path, episodes: int) -> None:
    """RlrecError naming the dataset folder, the estimate and the memory available when
    simulating `episodes` sessions on the `default` simulator of `dataset` (its truth
    generated, or fitted to an imported log) would not fit: what `baselines --dataset` and
    `ab --dataset` build, checked before the dataset is read. The estimate is that of
    evaluating a run on it (`training_memory`) without the agent, which is not built."""
    from rlrec.data.memory import check_bytes_fit, gib
    from rlrec.engine.config_base import load_yaml
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.engine.usecases.training_memory import TRAINING_FIXED_BYTES, training_memory

    sessions = max(episodes, 1)
    config = resolve_run_config(dataset=dataset)
    estimate = training_memory(config, replay=False, eval_episodes=sessions)
    parts = {name: size for name, size in estimate.parts.items() if name != "agent"}
    # As in `training_memory`: the fit's tables are gone before the simulators are built.
    peak = TRAINING_FIXED_BYTES + max(
        parts["dataset"] + parts["fit"], sum(parts.values()) - parts["fit"]
    )
    breakdown = ", ".join(
        f"{name} {gib(size)}"
        for name, size in sorted(parts.items(), key=lambda kv: -kv[1])
        if size > 0
    )
    meta = Path(dataset) / "meta.yaml"
    sizes = load_yaml(meta) if meta.is_file() else {}
    subject = [
        f"dataset {dataset} ({int(sizes.get('n_users') or 0):,} users × "
        f"{int(sizes.get('n_items') or 0):,} items)"
    ]
    check_bytes_fit(
        peak,
        subject,
        f"to simulate {sessions:,} sessions ({breakdown})",
        file=dataset,
        key="dataset",
        value=str(dataset),
        option="dataset",
    )


@dataclass(frozen=True)
class OnlineEvaluation:
    """The run's greedy agent (`agent`) on `episodes` simulated sessions from `seed`, the
    baselines on the same sessions (empty if not asked for) and the reference returns."""

    run: str
    episodes: int
    seed: int
    agent: PolicyReport
    baselines: dict[str, PolicyReport]
    references: tuple[float, float]  # (random, myopic oracle) mean returns

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "episodes": self.episodes,
            "seed": self.seed,
            "eval": self.agent.to_dict(),
            "baselines": {name: rep.to_dict() for name, rep in self.baselines.items()},
            "references": {"random": self.references[0], "oracle": self.references[1]},
        }


def evaluate_online(
    run_dir: str | Path,
    episodes: int | None = None,
    seed: int | None = None,
    with_baselines: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> OnlineEvaluation:
    """Greedy evaluation of the run's agent (defaults: the run config's eval episodes and
    seed). `on_phase` is told each slow step as one line as it starts (loading the run,
    the references, the agent, each baseline with its count "(2/7)") so a face can say
    what is happening. RlrecError: not a run, episodes < 1, a seed outside 0..2**63-1, simulators and
    agent or per-session records that do not fit in the memory available (the message gives
    the estimate and the limit)."""
    from rlrec.engine.training.run_config import RunConfig
    from rlrec.engine.training.runs import load_run, read_config, require_run
    from rlrec.engine.usecases.training_memory import check_training_fits

    if seed is not None:  # refuse before the (slow) load
        check_seed(seed)
    try:
        config = RunConfig.from_dict(read_config(require_run(run_dir)))
    except (RlrecError, OSError):
        config = None  # `load_run` says what is wrong with the folder
    if config is not None and (episodes is None or episodes >= 1):
        check_training_fits(config, evaluating=episodes or config.train.eval_episodes)
    say = on_phase or (lambda text: None)
    say(f"loading {run_dir} (its dataset, simulator and agent)…")
    run = load_run(run_dir)
    train = run.config.train
    episodes = episodes if episodes is not None else train.eval_episodes
    if episodes < 1:
        raise RlrecError(
            [Option("episodes", f"= {episodes}"), " is out of range (allowed: >= 1)"],
            value=episodes,
            allowed=(1, None),
        )
    seed = seed if seed is not None else train.eval_seed
    check_seed(seed)
    check_evaluation_fits(episodes, run.sim.max_steps)
    env, dataset = run.config.env, run.dataset
    say(f"reference returns (random, myopic oracle) over {episodes:,} sessions…")
    references = reference_returns(env, episodes, seed, dataset)
    say(f"evaluating the agent over {episodes:,} sessions…")
    sim = evaluation_simulator(env, episodes, seed, dataset)
    report = evaluate_policy(run.policy, sim, episodes, seed, references=references, name="dqn")
    baselines: dict[str, PolicyReport] = {}
    if with_baselines:
        names = baselines_for(evaluation_simulator(env, 1, seed, dataset))
        finished = 0

        def announce_next(_name: str, _report: PolicyReport) -> None:
            nonlocal finished
            finished += 1
            if finished < len(names):
                say(f"baseline {names[finished]} ({finished + 1}/{len(names)})…")

        if names:
            say(f"baseline {names[0]} (1/{len(names)}) over {episodes:,} sessions…")
        baselines = baseline_table(env, episodes, seed, dataset, names=names, on_done=announce_next)
    return OnlineEvaluation(str(run.path), episodes, seed, report, baselines, references)


@dataclass(frozen=True)
class OfflineEvaluation:
    """Offline top-K metrics on the `split` part: `results[group][policy][metric]` for the
    warm and cold users, with the split's summary; `notes[policy]`: the hyperparameter a
    policy chose on the validation part, or why it was left out."""

    run: str
    split: str
    relevance: str
    users: dict[str, int]
    ks: list[int]
    split_summary: dict[str, Any]
    results: dict[str, dict[str, dict[str, float]]]
    notes: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "relevance": self.relevance,
            "users": self.users,
            "ks": self.ks,
            "split_summary": self.split_summary,
            "results": self.results,
            "notes": self.notes,
            "run": self.run,
        }


def evaluate_run_offline(
    run_dir: str | Path, part: str | None = None, seed: int | None = None
) -> OfflineEvaluation:
    """Offline metrics of the run's agent and the registry's scorers on `part` (default
    "test") of the run dataset's stored split. RlrecError: seed-classic run, bad part, a seed
    outside 0..2**63-1."""
    from rlrec.data.split import split_for
    from rlrec.engine.training.runs import load_run

    if seed is not None:
        check_seed(seed)
    run = load_run(run_dir)
    if run.dataset is None:
        raise RlrecError(
            f"{run_dir}: offline evaluation needs a run trained on a dataset "
            "(env kind 'default'), not the seed-classic simulator"
        )
    folder = run.config.dataset or getattr(run.config.env, "dataset", "") or None
    split = split_for(run.dataset, folder)
    report = evaluate_offline(
        run.dataset, split, run.sim, agent=run.policy, part=part or "test", seed=int(seed or 0)
    )
    return OfflineEvaluation(run=str(run.path), **report)


@dataclass(frozen=True)
class ABTest:
    """A simulated A/B test: both arms summarised, B − A for return (Welch) and CTR (z)."""

    arm_a: str
    arm_b: str
    users: int
    seed: int
    arms: list[dict[str, Any]]
    return_difference: dict[str, float]
    ctr_difference: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arms": self.arms,
            "return_difference": self.return_difference,
            "ctr_difference": self.ctr_difference,
            "users": self.users,
            "seed": self.seed,
            "arm_a": self.arm_a,
            "arm_b": self.arm_b,
        }


def ab_test(
    arm_a: str, arm_b: str, users: int = 2000, seed: int = 0, dataset: Any = None
) -> ABTest:
    """A/B test between two arms (run folders or baseline names) on `users` simulated users;
    `dataset` is the population when both arms are baselines (default: the built-in one).
    RlrecError: an arm that is neither, runs on different populations, users < 4, a seed
    outside 0..2**63-1."""
    from rlrec.engine.training.runs import load_run

    check_users(users)
    check_seed(seed)
    runs = {}
    for spec in (arm_a, arm_b):
        if spec in SIMULATION_BASELINES:
            continue
        if not Path(spec).exists():
            raise not_an_arm(spec)
        runs[spec] = load_run(spec)
    base_sim = None
    if dataset is not None:
        from rlrec.engine.sim import make_simulator

        base_sim = make_simulator(None, n_envs=1, seed=seed, dataset=dataset)
    report = run_ab(arm_a, arm_b, users=users, seed=seed, base_sim=base_sim, runs=runs)
    return ABTest(
        arm_a=arm_a,
        arm_b=arm_b,
        users=report["users"],
        seed=report["seed"],
        arms=report["arms"],
        return_difference=report["return_difference"],
        ctr_difference=report["ctr_difference"],
    )
