"""Offline evaluation on the temporal split: each held-out user's top-K against what they
really engaged with later.

For every user with at least one engaged (positive, see `engine.fit.positive_rows`)
interaction in the evaluated part:
- relevant items = the items they engaged with in that part;
- excluded items = everything they interacted with before it (train, and validation when
  the test part is evaluated): recommending what was already consumed is not a hit;
- the agent's state = the first observation of a session that starts from their latest
  earlier engaged items (`engine.coldstart.state_from_history`), as the simulator's own
  sessions do; cold-start users (no train interactions) are evaluated with no history at
  all: demographics only, nothing excluded.
Warm and cold users are reported separately. Policies: the trained agent (`dqn`), the fitted
MF model itself (`mf`, fitted on train only; cold users get demographic factors), most
popular in train (`popular`), LinUCB after learning online in the fitted simulator
(`linucb`), the demographic content fallback (`content`) and `random`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.data.jsonsafe import json_safe
from rlrec.data.schema import positive_rows
from rlrec.data.split import PART_NAMES, Split, split_for, train_view
from rlrec.engine.evaluation import metrics
from rlrec.engine.policies.base import Policy
from rlrec.engine.serving.coldstart import (
    DemographicContent,
    popularity_scores,
    recent_positive_items,
    state_from_history,
)
from rlrec.engine.sim.base import VectorSimulator
from rlrec.engine.truth.fit import fit_simulator

KS = (5, 10, 20)
METRICS = {
    "precision": metrics.precision_per_user,
    "recall": metrics.recall_per_user,
    "ndcg": metrics.ndcg_per_user,
    "map": metrics.average_precision_per_user,
    "hitrate": metrics.hit_rate_per_user,
}
BEYOND_ACCURACY_K = 10


def _top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    scores = np.where(exclude, -np.inf, np.asarray(scores, np.float64))
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def warm_up_linucb(sim: VectorSimulator, steps: int, seed: int) -> Policy:
    """LinUCB after `steps` rounds of online learning in a copy of the simulator."""
    from rlrec.engine.evaluation.ab import sibling_simulator
    from rlrec.engine.policies.baselines import make_baseline

    live = sibling_simulator(sim, 256, seed)
    policy = make_baseline("linucb", live, seed=seed)
    obs = live.reset()
    for _ in range(steps):
        actions = policy.act(obs, live.mask)
        result = live.step(actions)
        policy.observe(obs, actions, result.reward, result.engaged)
        obs = result.obs
    return policy


def _group_metrics(
    recommended: np.ndarray,
    relevant: np.ndarray,
    sim: VectorSimulator,
    popularity: np.ndarray,
) -> dict[str, float]:
    row: dict[str, float] = {}
    for k in KS:
        for name, per_user in METRICS.items():
            row[f"{name}@{k}"] = float(per_user(recommended, relevant, k).mean())
    top = recommended[:, :BEYOND_ACCURACY_K]
    share = popularity / popularity.max() if popularity.max() > 0 else popularity
    row[f"coverage@{BEYOND_ACCURACY_K}"] = metrics.catalog_coverage(top, sim.n_items)
    row[f"ild@{BEYOND_ACCURACY_K}"] = metrics.intra_list_diversity(top, sim.item_vectors)
    row[f"novelty@{BEYOND_ACCURACY_K}"] = metrics.novelty(top, np.maximum(share, 1e-6))
    return row


def evaluate_offline(
    dataset: Dataset,
    split: Split,
    sim: VectorSimulator,
    agent: Policy | None = None,
    part: str = "test",
    seed: int = 0,
    linucb_steps: int = 200,
) -> dict[str, Any]:
    """Offline ranking metrics of the agent and the reference policies on `part`."""
    if part not in ("validation", "test"):
        raise RlrecError(f"--split {part!r} is not allowed (allowed: validation, test)")
    if sim.n_items != dataset.n_items:
        raise RlrecError("the run's simulator does not match the dataset (item count differs)")
    code = PART_NAMES[part]
    log = dataset.interactions
    users = log["user_id"].to_numpy(np.int64)
    items = log["item_id"].to_numpy(np.int64)
    engaged = positive_rows(log)
    in_part = (split.labels == code) & engaged
    eval_users = np.unique(users[in_part])
    if len(eval_users) == 0:
        raise RlrecError(f"the {part} part has no engaged interactions to evaluate against")
    row = np.full(dataset.n_users, -1)
    row[eval_users] = np.arange(len(eval_users))
    n, n_items = len(eval_users), dataset.n_items

    relevant = np.zeros((n, n_items), bool)
    relevant[row[users[in_part]], items[in_part]] = True
    cold = np.isin(eval_users, split.cold_users)
    earlier = split.labels < code  # train, and validation when test is evaluated
    seen_rows = earlier & (row[users] >= 0) & ~np.isin(users, split.cold_users)
    exclude = np.zeros((n, n_items), bool)
    exclude[row[users[seen_rows]], items[seen_rows]] = True

    history_log = log.loc[earlier]
    window = int(getattr(getattr(sim, "config", None), "history_window", 5))
    recent = recent_positive_items(history_log, eval_users, window, pad=n_items)
    recent[cold] = n_items  # cold start: no history, demographics only
    obs = state_from_history(sim, eval_users, recent)

    train = train_view(dataset, split)
    fitted = fit_simulator(dataset, split=split)
    content = DemographicContent(train)
    popular = popularity_scores(train)
    rng = np.random.default_rng(seed)
    scores: dict[str, np.ndarray] = {}
    if agent is not None:
        scores["dqn"] = np.asarray(agent.scores(obs), np.float64)
    scores["mf"] = fitted.mf_scores(eval_users)
    scores["popular"] = np.broadcast_to(popular, (n, n_items))
    scores["linucb"] = np.asarray(warm_up_linucb(sim, linucb_steps, seed).scores(obs), np.float64)
    scores["content"] = content.scores_for_features(
        np.asarray(dataset.user_features).reshape(dataset.n_users, -1)[eval_users]
    )
    scores["random"] = rng.random((n, n_items))

    k_max = min(max(KS), n_items)
    results: dict[str, dict[str, Any]] = {"warm": {}, "cold": {}}
    for name, score in scores.items():
        recommended = _top_k(score, exclude, k_max)
        for group, members in (("warm", ~cold), ("cold", cold)):
            if members.any():
                results[group][name] = _group_metrics(
                    recommended[members], relevant[members], sim, popular
                )
    return {
        "split": part,
        "relevance": "items the user engaged with in the evaluated part "
        "(rating >= 4, or click/purchase)",
        "users": {"warm": int((~cold).sum()), "cold": int(cold.sum())},
        "ks": list(KS),
        "split_summary": split.summary(),
        "results": results,
    }


# -- CLI -------------------------------------------------------------------------------------


def offline_eval_command(args: Any) -> int:
    """`rlrec eval RUN --offline [--split test] [--json]`."""
    from rlrec.engine.training.runs import load_run

    if getattr(args, "run", None) is None:
        raise RlrecError("eval --offline: give a RUN folder")
    run = load_run(args.run)
    if run.dataset is None:
        raise RlrecError(
            f"{args.run}: offline evaluation needs a run trained on a dataset "
            "(env kind 'default'), not the seed-classic simulator"
        )
    folder = run.config.dataset or getattr(run.config.env, "dataset", "") or None
    split = split_for(run.dataset, folder)
    report = evaluate_offline(
        run.dataset,
        split,
        run.sim,
        agent=run.policy,
        part=getattr(args, "split", None) or "test",
        seed=int(getattr(args, "seed", None) or 0),
    )
    report["run"] = str(run.path)
    print_offline_report(report, as_json=bool(getattr(args, "json", False)))
    return 0


def print_offline_report(report: dict[str, Any], as_json: bool = False) -> None:
    import json
    import sys

    if as_json:
        print(json.dumps(json_safe(report)))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=160)
    summary = report["split_summary"]
    console.print(
        f"offline evaluation on the {report['split']} part ({summary['method']} split): "
        f"{report['users']['warm']} warm users, {report['users']['cold']} cold-start users; "
        f"relevant = {report['relevance']}"
    )
    columns = [f"ndcg@{k}" for k in report["ks"]] + [
        "precision@10", "recall@10", "map@10", "hitrate@10",
        "coverage@10", "ild@10", "novelty@10",
    ]  # fmt: skip
    for group in ("warm", "cold"):
        rows = report["results"].get(group) or {}
        if not rows:
            continue
        table = Table(title=f"{group} users ({report['users'][group]})")
        table.add_column("policy")
        for column in columns:
            table.add_column(column, justify="right")
        for name, values in rows.items():
            table.add_row(name, *(f"{values[c]:.4f}" for c in columns))
        console.print(table)
