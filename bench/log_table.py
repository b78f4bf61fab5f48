"""The DQN beside the classical recommenders on real logs: offline ranking on the per-user
temporal split (warm users) and simulated return in the fitted simulator, over seeds.

For each dataset folder (imported and split beforehand: `rlrec import …`, `rlrec split D`)
and seed: `rlrec train --dataset D --seconds S --seed s` (the preset `rlrec train` picks for
the folder, plus `--config FILE`), then
- offline: `rlrec eval RUN --offline`'s warm-user P/R/NDCG/MAP@10 of the agent and every
  reference scorer, plus `truth`: the fitted simulator's own fresh-session engagement
  probability used as a ranking — what a DQN that learned the simulator perfectly, and
  planned for one step, would rank. It bounds what training in the simulator can teach;
- online: mean simulated return over `--episodes` greedy sessions of the agent, of the
  simulation baselines (`rlrec eval RUN`: random, popular, LinUCB, myopic oracle,
  farsighted) and of the log-fitted scorers (MF, EASE, ItemKNN, content) acting in the same
  simulator: each step they rank the catalogue for the session's user (its logged train
  history; what the session already engaged is masked).
Means and spreads (sample standard deviation) over seeds; figures per seed as JSON lines.

    .venv/bin/python bench/log_table.py /tmp/logs/work/ml100k /tmp/logs/work/mls \\
        --seconds 300 --seeds 0 1 2 --work /tmp/logs/runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OFFLINE_METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10")
SIMULATED_SCORERS = ("mf", "ease", "itemknn", "content")


def train(
    folder: Path, runs: Path, name: str, seconds: float, seed: int, config: Path | None
) -> Path:
    run = runs / name
    if (run / "checkpoint.json").exists():
        return run
    command = [sys.executable, "-m", "rlrec.cli.main", "train", "--dataset", str(folder)]
    command += ["--seconds", str(seconds), "--seed", str(seed), "--out", str(runs)]
    command += ["--name", name, "--threads", "1"]
    if config is not None:
        command += ["--config", str(config)]
    print("$ " + " ".join(command[2:]), file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command, env=env, check=True)
    return run


class _InOrder:
    """A `Policy` stand-in for `evaluate_offline`'s agent slot that scores the evaluated users
    (in the order the evaluation visits them) by a function of their ids."""

    def __init__(self, users: np.ndarray, score_users: Any):
        self.users, self.score_users, self.done = users, score_users, 0
        self.n_items = 0

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        users = self.users[self.done : self.done + len(obs)]
        self.done += len(obs)
        return np.asarray(self.score_users(users), np.float64)


def evaluated_users(dataset: Any, split: Any) -> np.ndarray:
    """The users `evaluate_offline` evaluates on the test part, in its order."""
    from rlrec.data.scale import positive_threshold
    from rlrec.data.schema import positive_rows
    from rlrec.data.split import PART_NAMES

    log = dataset.interactions
    engaged = positive_rows(log, positive_threshold(dataset.meta))
    in_part = (split.labels == PART_NAMES["test"]) & engaged
    return np.unique(log["user_id"].to_numpy(np.int64)[in_part])


def offline(run: Path) -> dict[str, dict[str, float]]:
    from rlrec.data.split import split_for
    from rlrec.engine.evaluation.offline import evaluate_offline
    from rlrec.engine.training.runs import load_run

    loaded = load_run(run)
    folder = loaded.config.dataset or loaded.config.env.dataset
    split = split_for(loaded.dataset, folder)
    report = evaluate_offline(loaded.dataset, split, loaded.sim, agent=loaded.policy)
    warm = report["results"]["warm"]
    users = evaluated_users(loaded.dataset, split)
    truth = _InOrder(users, loaded.sim.true_preference)
    ceiling = evaluate_offline(loaded.dataset, split, loaded.sim, agent=truth, references=False)
    warm["truth"] = ceiling["results"]["warm"]["dqn"]
    return {name: {m: row[m] for m in OFFLINE_METRICS} for name, row in warm.items()}


class _ScorerInSimulator:
    """A log-fitted user scorer acting in a simulator: each step it ranks the catalogue for
    the user of each session (their train history; the session's engaged items masked)."""

    def __init__(self, name: str, scorer: Any, sim: Any, features: np.ndarray):
        self.name, self.scorer, self.sim, self.features = name, scorer, sim, features
        self.n_items = sim.n_items

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        from rlrec.engine.policies.base import apply_mask
        from rlrec.engine.policies.user_scorers import UserBatch

        users = self.sim._users
        batch = UserBatch(users=users, obs=obs, features=self.features[users])
        return apply_mask(np.asarray(self.scorer.scores(batch), np.float64), mask)

    # The Policy interface's other methods.
    def begin_episodes(self) -> None:
        pass

    def observe(self, *args: Any) -> None:
        pass

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self.scores(obs, mask).argmax(axis=1)

    def candidate_scores(self, obs, candidates, mask=None):  # type: ignore[no-untyped-def]
        from rlrec.engine.policies.base import apply_mask

        scores = np.take_along_axis(self.scores(obs), candidates, axis=1)
        return apply_mask(scores, mask)

    def act_candidates(self, obs, candidates, mask=None):  # type: ignore[no-untyped-def]
        best = self.candidate_scores(obs, candidates, mask).argmax(axis=1)
        return candidates[np.arange(len(candidates)), best]


def online(run: Path, episodes: int, seed: int) -> dict[str, float]:
    from rlrec.data.split import split_for, train_view
    from rlrec.engine.evaluation.online import evaluate_policy, evaluation_simulator
    from rlrec.engine.policies.registry import ScorerInputs, fit_scorer, refusal
    from rlrec.engine.training.runs import load_run
    from rlrec.engine.usecases.evaluation import evaluate_online

    report = evaluate_online(run, episodes=episodes, seed=seed)
    returns = {"dqn": report.agent.return_mean}
    returns.update({name: r.return_mean for name, r in report.baselines.items()})
    loaded = load_run(run)
    dataset = loaded.dataset
    split = split_for(dataset, loaded.config.dataset or loaded.config.env.dataset)
    features = np.asarray(dataset.user_features).reshape(dataset.n_users, -1)
    for name in SIMULATED_SCORERS:
        sim = evaluation_simulator(loaded.config.env, episodes, seed, dataset)
        inputs = ScorerInputs(log=train_view(dataset, split), dataset=dataset, split=split, sim=sim)
        if refusal(name, inputs):
            continue
        policy = _ScorerInSimulator(name, fit_scorer(name, inputs), sim, features)
        returns[name] = evaluate_policy(policy, sim, episodes, seed, name=name).return_mean  # type: ignore[arg-type]
    return returns


def spread(values: list[float]) -> str:
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {float(np.std(values, ddof=1)):.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path, help="imported, split dataset folders")
    parser.add_argument("--seconds", type=float, default=300.0, help="DQN training budget")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=1000, help="simulated sessions a policy")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rlrec-log-table"))
    parser.add_argument("--tag", default="dqn", help="run names: <dataset>-<tag>-seed<s>")
    parser.add_argument("--config", type=Path, default=None, help="YAML on top of the preset")
    parser.add_argument("--no-online", action="store_true", help="skip the simulated returns")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for folder in args.datasets:
        rows = table.setdefault(folder.name, {})
        for seed in args.seeds:
            name = f"{folder.name}-{args.tag}-seed{seed}"
            run = train(folder, args.work, name, args.seconds, seed, args.config)
            figures = offline(run)
            returns = {} if args.no_online else online(run, args.episodes, seed)
            print(json.dumps({"run": name, "offline": figures, "return": returns}), flush=True)
            for policy, row in figures.items():
                for metric, value in row.items():
                    rows.setdefault(policy, {}).setdefault(metric, []).append(value)
            for policy, value in returns.items():
                rows.setdefault(policy, {}).setdefault("return", []).append(value)
    for dataset, rows in table.items():
        print(f"\n{dataset}: warm test users, {len(args.seeds)} seed(s), mean ± sd")
        columns = [*OFFLINE_METRICS, "return"]
        print(f"{'policy':<11}" + "".join(f"{c:>18}" for c in columns))
        for policy, row in rows.items():
            cells = [spread(row[c]) if c in row else "—" for c in columns]
            print(f"{policy:<11}" + "".join(f"{c:>18}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
