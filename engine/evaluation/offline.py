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
the fitted MF model itself (`mf`, fitted on train only; cold users get demographic factors),
LinUCB after learning online in the run's simulator (`linucb`), and the item-item EASE and
ItemKNN (`ease`, `itemknn`: fitted on train, their hyperparameter chosen on the validation
part; a user's history is what they engaged before the evaluated part, the items the agent's
state is built from). The report's `notes` say, per policy, which
hyperparameter it chose, or why it was left out (EASE on a catalogue too large for it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import positive_rows
from rlrec.data.split import PART_NAMES, Split, train_view
from rlrec.engine.evaluation import metrics
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.ranking import top_k
from rlrec.engine.policies.registry import USER_SCORERS, ScorerInputs, fit_scorer, refusal
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


# Users scored at once: their (users × items) score, relevance and exclusion tables exist
# for one chunk at a time (ML-25M's 162k × 62k would be 40 GB as one float32 table).
CHUNK_USERS = 2048


def _ranking_metrics(recommended: np.ndarray, relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user values (n,) of every metric@K for one chunk's top lists and relevance."""
    return {
        f"{name}@{k}": per_user(recommended, relevant, k)
        for k in KS
        for name, per_user in METRICS.items()
    }


def _group_metrics(
    per_user: dict[str, np.ndarray],
    top: np.ndarray,
    sim: VectorSimulator,
    popularity: np.ndarray,
) -> dict[str, float]:
    """Means over a group's users of the per-user metrics, and the beyond-accuracy metrics
    of its top-`BEYOND_ACCURACY_K` lists `top` (n, K)."""
    row = {name: float(values.mean()) for name, values in per_user.items()}
    share = popularity / popularity.max() if popularity.max() > 0 else popularity
    row[f"coverage@{BEYOND_ACCURACY_K}"] = metrics.catalog_coverage(top, sim.n_items)
    row[f"ild@{BEYOND_ACCURACY_K}"] = metrics.intra_list_diversity(top, sim.item_vectors)
    row[f"novelty@{BEYOND_ACCURACY_K}"] = metrics.novelty(top, np.maximum(share, 1e-6))
    return row


def _pairs_by_row(rows: np.ndarray, items: np.ndarray, n_rows: int) -> tuple[np.ndarray, ...]:
    """(rows, items) pairs sorted by row, and (n_rows + 1,) offsets of each row's pairs."""
    order = np.argsort(rows, kind="stable")
    offsets = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=offsets[1:])
    return rows[order], items[order], offsets


def _chunk_table(pairs: tuple[np.ndarray, ...], lo: int, hi: int, n_items: int) -> np.ndarray:
    """(hi − lo, n_items) bool: True at the pairs of rows lo..hi−1."""
    rows, items, offsets = pairs
    part = slice(offsets[lo], offsets[hi])
    table = np.zeros((hi - lo, n_items), bool)
    table[rows[part] - lo, items[part]] = True
    return table


def evaluate_offline(
    dataset: Dataset,
    split: Split,
    sim: VectorSimulator,
    agent: Policy | None = None,
    part: str = "test",
    seed: int = 0,
    linucb_steps: int = 200,
    references: bool = True,
) -> dict[str, Any]:
    """Offline ranking metrics of the agent and (with `references`) the registry's reference
    policies on `part`. Without references only the agent is ranked: what a hyperparameter
    search measures at every evaluation, where fitting MF and LinUCB each time would cost more
    than the agent's own ranking."""
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

    relevant_pairs = _pairs_by_row(row[users[in_part]], items[in_part], n)
    cold = np.isin(eval_users, split.cold_users)
    earlier = split.labels < code  # train, and validation when test is evaluated
    seen_rows = earlier & (row[users] >= 0) & ~np.isin(users, split.cold_users)
    excluded_pairs = _pairs_by_row(row[users[seen_rows]], items[seen_rows], n)

    # What each warm user engaged before the evaluated part, for history-reading scorers.
    history_rows = earlier & engaged & (row[users] >= 0) & ~np.isin(users, split.cold_users)
    history_pairs = _pairs_by_row(row[users[history_rows]], items[history_rows], n)
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
    scorers: dict[str, Any] = {}
    notes: dict[str, str] = {}
    if agent is not None:
        scorers["dqn"] = lambda batch: np.asarray(agent.scores(batch.obs), np.float64)
    for name in USER_SCORERS if references else ():
        why = refusal(name, inputs)
        if why:
            notes[name] = f"left out: {why}"
            continue
        scorer = fit_scorer(name, inputs)
        scorers[name] = scorer.scores
        if scorer.choice:
            notes[name] = scorer.choice

    k_max = min(max(KS), n_items)
    per_user: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in scorers}
    tops: dict[str, list[np.ndarray]] = {name: [] for name in scorers}
    popular = np.zeros(n_items)
    for lo in range(0, n, CHUNK_USERS):
        hi = min(lo + CHUNK_USERS, n)
        batch = UserBatch(
            users=eval_users[lo:hi],
            obs=obs[lo:hi],
            features=features[lo:hi],
            history=sp.csr_matrix(_chunk_table(history_pairs, lo, hi, n_items)),
        )
        relevant = _chunk_table(relevant_pairs, lo, hi, n_items)
        exclude = _chunk_table(excluded_pairs, lo, hi, n_items)
        for name, scores_of in scorers.items():
            score = scores_of(batch)
            if name == "popular":
                popular = np.asarray(score[0], np.float64)  # train counts, one row for all
            recommended = top_k(score, k_max, exclude)
            for metric, values in _ranking_metrics(recommended, relevant).items():
                per_user[name].setdefault(metric, []).append(values)
            tops[name].append(recommended[:, :BEYOND_ACCURACY_K])

    results: dict[str, dict[str, Any]] = {"warm": {}, "cold": {}}
    for name in scorers:
        by_metric = {metric: np.concatenate(parts) for metric, parts in per_user[name].items()}
        top = np.concatenate(tops[name])
        for group, members in (("warm", ~cold), ("cold", cold)):
            if members.any():
                results[group][name] = _group_metrics(
                    {metric: v[members] for metric, v in by_metric.items()},
                    top[members],
                    sim,
                    popular,
                )
    return {
        "split": part,
        "relevance": "items the user engaged with in the evaluated part "
        "(rating >= 4, or click/purchase)",
        "users": {"warm": int((~cold).sum()), "cold": int(cold.sum())},
        "ks": list(KS),
        "split_summary": split.summary(),
        "results": results,
        "notes": notes,
    }
