"""Top-K recommendations of a trained run for one user, by the user's ORIGINAL id.

Sources (always reported in the result's `source`):
- `agent`: the DQN's Q-values in the state of a user who has just engaged their latest
  logged items; `agent (cold start: demographics only)` when the user has no history.
- a baseline asked for by name: `popular`, `content`, `mf`, `linucb`, `random`.
- the configured fallback (`content` — taste predicted from demographics — or `popular`)
  where the agent has nothing to go on: a user whose features are missing, or an id that is
  not in the run's dataset. An unknown id is an error unless `cold_start=True` is asked for
  explicitly: a typo should not silently return generic recommendations. An unknown user has
  no demographics, so the content fallback degrades to most-popular (and says so).
The user's consumed history is always excluded.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.engine.policies.content import DemographicContent, popularity_scores
from rlrec.engine.sim.history_state import recent_positive_items, state_from_history

FALLBACKS = ("content", "popular")

POLICIES = ("agent", "popular", "content", "mf", "linucb", "random")
ITEM_COLUMNS = ("category", "price", "quality", "title", "genres")


def _find_user(dataset: Any, user: str) -> int | None:
    ids = dataset.users["original_id"].astype(str).to_numpy()
    matches = np.flatnonzero(ids == str(user))
    return int(matches[0]) if len(matches) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _items(dataset: Any, sim: Any, user: int | None, ranked: np.ndarray, scores: np.ndarray):
    preference = sim.true_preference(np.array([user]))[0] if user is not None else None
    out = []
    for item in ranked:
        row = dataset.items.iloc[int(item)] if dataset is not None else None
        entry: dict[str, Any] = {
            "item": str(row["original_id"]) if row is not None else str(int(item)),
            "item_id": int(item),
            "score": float(scores[item]),
        }
        for column in ITEM_COLUMNS:
            if row is not None and column in row.index:
                entry[column] = _plain(row[column])
        entry["true_preference"] = None if preference is None else float(preference[item])
        out.append(entry)
    return out


def _rank(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    masked = np.where(exclude, -np.inf, scores)
    k = min(k, int((~exclude).sum()))
    order = np.argsort(-masked, kind="stable")[:k]
    return order


def recommend_for_user(
    run: Any,
    user: str,
    k: int = 10,
    policy: str = "agent",
    fallback: str = "content",
    cold_start: bool = False,
) -> dict[str, Any]:
    """`{"user", "source", "items": [{"item" (original id), "item_id", "score", "category",
    "price", "quality", "title", "true_preference", …}]}`, best first."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise RlrecError(f"-k = {k} is out of range (allowed: >= 1)")
    if policy not in POLICIES:
        raise RlrecError(f"policy {policy!r} is not allowed (allowed: {', '.join(POLICIES)})")
    if fallback not in FALLBACKS:
        raise RlrecError(f"fallback {fallback!r} is not allowed (allowed: {', '.join(FALLBACKS)})")
    dataset, sim = run.dataset, run.sim
    if dataset is None:  # seed-classic: users are bare indices
        return _recommend_without_dataset(run, str(user), int(k))

    index = _find_user(dataset, user)
    if index is None and not cold_start:
        raise RlrecError(
            f"user {user!r} is not in the run's dataset ({dataset.n_users} users); "
            "ask for cold-start recommendations explicitly (--cold-start) to get a fallback"
        )
    exclude = np.zeros(dataset.n_items, bool)
    if index is None:
        scores = popularity_scores(dataset)
        source = "popular (fallback: unknown user, no demographics)"
        return _result(user, source, _items(dataset, sim, None, _rank(scores, exclude, k), scores))

    log = dataset.interactions
    history = log[log["user_id"].to_numpy() == index]
    exclude[history["item_id"].to_numpy(np.int64)] = True
    features = np.asarray(dataset.user_features, np.float64).reshape(dataset.n_users, -1)[index]
    features_missing = features.size > 0 and np.isnan(features).all()

    if policy == "agent" and features_missing:
        policy, source = fallback, f"{fallback} (fallback: user features missing)"
        if fallback == "content":
            policy, source = "popular", "popular (fallback: user features missing)"
    else:
        source = policy
    scores = _scores(run, policy, index, history)
    if policy == "agent" and len(history) == 0:
        source = "agent (cold start: demographics only)"
    ranked = _rank(scores, exclude, k)
    return _result(user, source, _items(dataset, sim, index, ranked, scores))


def _scores(run: Any, policy: str, index: int, history: Any) -> np.ndarray:
    dataset, sim = run.dataset, run.sim
    users = np.array([index])
    if policy == "agent":
        window = int(getattr(sim.config, "history_window", 5))
        recent = recent_positive_items(history, users, window, pad=dataset.n_items)
        obs = state_from_history(sim, users, recent)
        return np.asarray(run.policy.scores(obs), np.float64)[0]
    if policy == "popular":
        return popularity_scores(dataset)
    if policy == "content":
        features = np.asarray(dataset.user_features).reshape(dataset.n_users, -1)[users]
        return DemographicContent(dataset).scores_for_features(features)[0]
    if policy == "mf":
        from rlrec.engine.truth.fit import fit_simulator

        return fit_simulator(dataset).mf_scores(users)[0]
    if policy == "linucb":
        return np.asarray(_warm_linucb(run).scores(sim.fresh_observation(users)))[0]
    return np.random.default_rng(index).random(dataset.n_items)


_WARM_UP_LOCK = threading.Lock()


def _warm_linucb(run: Any) -> Any:
    """LinUCB warmed up once per loaded run and kept on it: the warm-up (tens of seconds on a
    busy CPU) does not depend on the user, and the explorer asks for one user after another."""
    with _WARM_UP_LOCK:
        policy = getattr(run, "_warm_linucb", None)
        if policy is None:
            from rlrec.engine.policies.baselines import warm_up_linucb

            policy = warm_up_linucb(run.sim, 200, 0)
            run._warm_linucb = policy
    return policy


def _result(user: str, source: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"user": str(user), "source": source, "items": items}


def _recommend_without_dataset(run: Any, user: str, k: int) -> dict[str, Any]:
    sim = run.sim
    try:
        index = int(user)
    except ValueError:
        index = -1
    if not 0 <= index < sim.n_users:
        raise RlrecError(f"user {user!r} is out of range (allowed 0..{sim.n_users - 1})")
    scores = np.asarray(run.policy.scores(sim.fresh_observation(np.array([index]))), np.float64)[0]
    ranked = _rank(scores, np.zeros(sim.n_items, bool), k)
    return _result(user, "agent", _items(None, sim, index, ranked, scores))
