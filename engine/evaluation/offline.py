"""Offline evaluation on the temporal split: each held-out user's top-K against what they
really engaged with later.

For every user with at least one engaged (positive, see `rlrec.data.schema.positive_rows`)
interaction in the evaluated part:
- relevant items = the items they engaged with in that part;
- excluded items = everything they interacted with before it (train, and validation when
  the test part is evaluated): recommending what was already consumed is not a hit;
- the agent's state = the first observation of a session that starts from their latest
  earlier engaged items (`engine.sim.history_state.state_from_history`), as the simulator's own
  sessions do; cold-start users (no train interactions) are evaluated with no history at
  all: demographics only, nothing excluded.
Warm and cold users are reported separately. Policies: the trained agent (`dqn`), then every
user scorer of the policy registry (`engine.policies.registry.USER_SCORERS`, in its order):
`random`, most popular in train (`popular`), the demographic content fallback (`content`),
the fitted MF model itself (`mf`, fitted on train only; cold users get demographic factors)
and LinUCB after learning online in the run's simulator (`linucb`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import positive_rows
from rlrec.data.split import PART_NAMES, Split, train_view
from rlrec.engine.evaluation import metrics
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.ranking import top_k
from rlrec.engine.policies.registry import USER_SCORERS, ScorerInputs, fit_scorer
from rlrec.engine.policies.user_scorers import UserBatch
from rlrec.engine.sim.base import VectorSimulator
from rlrec.engine.sim.history_state import recent_positive_items, state_from_history

KS = (5, 10, 20)
METRICS = {
    "precision": metrics.precision_per_user,
    "recall": metrics.recall_per_user,
    "ndcg": metrics.ndcg_per_user,
    "map": metrics.average_precision_per_user,
    "hitrate": metrics.hit_rate_per_user,
}
BEYOND_ACCURACY_K = 10


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
        raise RlrecError(
            [Option("split", repr(part)), " is not allowed (allowed: validation, test)"],
            value=part,
            allowed=["validation", "test"],
        )
    if sim.n_items != dataset.n_items:
        raise RlrecError("the run's simulator does not match the dataset (item count differs)")
    code = PART_NAMES[part]
    log = dataset.interactions
    users = log["user_id"].to_numpy(np.int64)
    items = log["item_id"].to_numpy(np.int64)
    threshold = positive_threshold(dataset.meta)
    engaged = positive_rows(log, threshold)
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
    recent = recent_positive_items(history_log, eval_users, window, n_items, threshold)
    recent[cold] = n_items  # cold start: no history, demographics only
    obs = state_from_history(sim, eval_users, recent)

    train = train_view(dataset, split)
    inputs = ScorerInputs(
        log=train, dataset=dataset, split=split, sim=sim, seed=seed, linucb_steps=linucb_steps
    )
    features = np.asarray(dataset.user_features).reshape(dataset.n_users, -1)[eval_users]
    batch = UserBatch(users=eval_users, obs=obs, features=features)
    scores: dict[str, np.ndarray] = {}
    if agent is not None:
        scores["dqn"] = np.asarray(agent.scores(obs), np.float64)
    for name in USER_SCORERS:
        scores[name] = fit_scorer(name, inputs).scores(batch)
    popular = scores["popular"][0]  # train counts (the same row for everyone)

    k_max = min(max(KS), n_items)
    results: dict[str, dict[str, Any]] = {"warm": {}, "cold": {}}
    for name, score in scores.items():
        recommended = top_k(score, k_max, exclude)
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
