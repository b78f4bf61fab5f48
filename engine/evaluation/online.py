"""Greedy evaluation of a policy on simulated sessions, and the baseline table.

`evaluate_policy` runs `episodes` sessions in parallel on the simulator it is given (reset
with `seed`), each parallel slot running a fixed quota of episodes so that short sessions
are not over-counted, and gathers online metrics (return with 95 % CI, engagements, CTR,
conversion, session length) and beyond-accuracy metrics over the recommended items
(coverage, novelty, intra-list diversity of each session's recommendations).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlrec.engine.config_base import to_dict
from rlrec.engine.evaluation import metrics
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.registry import baselines_for, build_for_simulation
from rlrec.engine.sim import EnvConfig, make_simulator, parse_env_config
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.sim.rollout import rollout

# More parallel sessions than this only cost memory (every session holds an item mask, or
# with candidate sets on a large catalogue its candidates and item ids).
MAX_PARALLEL_SESSIONS = 2048
# Intra-list diversity looks at the first recommendations of each session.
ILD_LIST_LENGTH = 10


@dataclass
class PolicyReport:
    name: str
    episodes: int
    return_mean: float
    return_ci95: float
    engagements_mean: float
    ctr: float
    conversion: float
    session_length: float
    coverage: float
    ild: float
    novelty: float
    normalised: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in dataclasses.asdict(self).items()
        }


def _quotas(episodes: int, n_envs: int) -> np.ndarray:
    """Episodes each parallel slot runs: as even as possible, summing to `episodes`."""
    base, extra = divmod(episodes, n_envs)
    return base + (np.arange(n_envs) < extra)


def evaluate_policy(
    policy: Policy,
    sim: VectorSimulator,
    episodes: int,
    seed: int | None = 0,
    references: tuple[float, float] | None = None,
    name: str | None = None,
) -> PolicyReport:
    """Run `episodes` greedy sessions of `policy` on `sim` (reset with `seed`)."""
    if episodes < 1:
        raise ValueError(f"episodes = {episodes} must be at least 1")
    n = sim.n_envs
    quota = _quotas(episodes, n)
    first_episode = np.concatenate([[0], np.cumsum(quota)[:-1]])  # slot's first row below
    done_count = np.zeros(n, dtype=np.int64)
    step_in_episode = np.zeros(n, dtype=np.int64)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes)
    engagements = np.zeros(episodes)
    purchases = np.zeros(episodes)
    running_purchases = np.zeros(n)
    recommended = np.full((episodes, sim.max_steps), -1, dtype=np.int64)

    rows = np.arange(n)

    def record(actions: np.ndarray, result: StepResult) -> bool:
        active = done_count < quota
        slot_row = first_episode + np.minimum(done_count, np.maximum(quota - 1, 0))
        live = rows[active]
        step = np.minimum(step_in_episode[live], sim.max_steps - 1)
        recommended[slot_row[live], step] = actions[live]
        running_purchases[:] += result.purchased
        step_in_episode[:] += 1
        ended = rows[active & result.done]
        if ended.size:
            target = slot_row[ended]
            returns[target] = result.episode_return[ended]
            lengths[target] = result.episode_length[ended]
            engagements[target] = result.episode_engagements[ended]
            purchases[target] = running_purchases[ended]
        finished = rows[result.done]
        done_count[finished] += 1
        step_in_episode[finished] = 0
        running_purchases[finished] = 0
        return bool((done_count < quota).any())

    policy.begin_episodes()
    rollout(policy, sim, sim.reset(seed), record)

    impressions = lengths.sum()
    return_mean, return_ci95 = metrics.mean_ci95(returns)
    shown = recommended[recommended >= 0]
    normalised = metrics.normalised_score(return_mean, *references) if references else math.nan
    return PolicyReport(
        name=name or str(getattr(policy, "name", "policy")),
        episodes=episodes,
        return_mean=return_mean,
        return_ci95=return_ci95,
        engagements_mean=float(engagements.mean()),
        ctr=metrics.ctr(engagements.sum(), impressions),
        conversion=metrics.conversion(purchases.sum(), impressions),
        session_length=float(lengths.mean()),
        coverage=metrics.catalog_coverage(shown, sim.n_items),
        ild=metrics.intra_list_diversity(recommended[:, :ILD_LIST_LENGTH], sim.item_vectors),
        novelty=metrics.novelty(shown, sim.item_popularity),
        normalised=normalised,
    )


def _as_config(env_config: EnvConfig | dict | None) -> EnvConfig:
    if env_config is None or isinstance(env_config, dict):
        return parse_env_config(env_config)
    return env_config


def evaluation_simulator(
    env_config: EnvConfig | dict | None, episodes: int, seed: int | None, dataset: Any = None
) -> VectorSimulator:
    """A fresh simulator sized for evaluating `episodes` sessions at once."""
    return make_simulator(
        _as_config(env_config),
        n_envs=min(episodes, MAX_PARALLEL_SESSIONS),
        seed=seed,
        dataset=dataset,
    )


def evaluate_baseline(
    name: str,
    env_config: EnvConfig | dict | None,
    episodes: int,
    seed: int | None,
    dataset: Any = None,
) -> PolicyReport:
    """Evaluate one named baseline on a fresh simulator it is bound to."""
    sim = evaluation_simulator(env_config, episodes, seed, dataset)
    policy = build_for_simulation(name, sim, seed=seed)
    return evaluate_policy(policy, sim, episodes, seed, name=name)


_REFERENCE_CACHE: dict[tuple, tuple[float, float, Any]] = {}


def reference_returns(
    env_config: EnvConfig | dict | None,
    episodes: int,
    seed: int | None,
    dataset: Any = None,
    dataset_key: str | None = None,
) -> tuple[float, float]:
    """(random return, myopic-oracle return) on this env, cached per process: by
    `dataset_key` (a dataset fingerprint, so every run on the same dataset and split shares
    them — the oracle's pass over a large catalogue takes minutes), else by the dataset
    object, which the cache keeps alive so its id is never reused by another."""
    config = _as_config(env_config)
    identity = dataset_key if dataset_key is not None else id(dataset)
    key = (repr(to_dict(config)), episodes, seed, None if dataset is None else identity)
    if key not in _REFERENCE_CACHE:
        random_report = evaluate_baseline("random", config, episodes, seed, dataset)
        oracle_report = evaluate_baseline("oracle", config, episodes, seed, dataset)
        pinned = dataset if dataset_key is None else None
        _REFERENCE_CACHE[key] = (random_report.return_mean, oracle_report.return_mean, pinned)
    random_return, oracle_return, _ = _REFERENCE_CACHE[key]
    return random_return, oracle_return


def baseline_table(
    env_config: EnvConfig | dict | None,
    episodes: int,
    seed: int | None,
    dataset: Any = None,
    names: Iterable[str] | None = None,
    on_done: Callable[[str, PolicyReport], None] | None = None,
) -> dict[str, PolicyReport]:
    """Every baseline that fits this env (or `names`), with normalised scores."""
    config = _as_config(env_config)
    if names is None:
        names = baselines_for(evaluation_simulator(config, 1, seed, dataset))
    reports: dict[str, PolicyReport] = {}
    for name in names:
        reports[name] = evaluate_baseline(name, config, episodes, seed, dataset)
        if on_done is not None:
            on_done(name, reports[name])
    key = (repr(to_dict(config)), episodes, seed, id(dataset) if dataset is not None else None)
    if "random" in reports and "oracle" in reports:
        _REFERENCE_CACHE[key] = (
            reports["random"].return_mean,
            reports["oracle"].return_mean,
            dataset,  # kept alive: the key holds its id
        )
    references = reference_returns(config, episodes, seed, dataset)
    for report in reports.values():
        report.normalised = metrics.normalised_score(report.return_mean, *references)
    return reports
