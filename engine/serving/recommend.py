"""Top-K recommendations of a served run for one user, by the user's ORIGINAL id.

One call: the run's serving arrays (`engine.serving.artifacts`) → the user's state → the
policy's scores → top-K → item details. Nothing is fitted and no simulator is built.

Sources (always reported in the result's `source`):
- `agent`: the DQN's Q-values in the state of a user who has just engaged their latest
  logged items; `agent (cold start: demographics only)` when the user has no history.
- a reference policy of the registry asked for by name (`USER_SCORERS`); state-based ones
  (LinUCB) score the same state as the agent.
- the configured fallback (`content` — taste predicted from demographics — or `popular`)
  where the agent has nothing to go on: a user whose features are missing, or an id that is
  not in the run's dataset. An unknown id is an error unless `cold_start=True` is asked for
  explicitly: a typo should not silently return generic recommendations. An unknown user has
  no demographics, so the content fallback degrades to most-popular (and says so).
The user's consumed history is always excluded.

A run served with a grown catalogue (`engine.serving.catalogue.with_catalogue`: items added
after training) ranks every item with an embedding-head agent; the reference policies and
fallbacks know only the trained items and rank those. The user's state is built from the
history of the trained items (the state the agent learnt to read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.jsonsafe import json_safe
from rlrec.data.scale import positive_threshold
from rlrec.engine.policies.ranking import top_k
from rlrec.engine.policies.registry import USER_SCORERS
from rlrec.engine.policies.user_scorers import UserBatch
from rlrec.engine.serving.artifacts import ServingRun, load_serving
from rlrec.engine.serving.dataset_cache import per_dataset
from rlrec.engine.serving.user_index import user_index_for
from rlrec.engine.serving.user_state import logged_items, recent_engaged
from rlrec.engine.sim.history_state import state_from_history

POLICIES: tuple[str, ...] = ("agent", *USER_SCORERS)
FALLBACKS = ("content", "popular")
ITEM_COLUMNS = ("category", "price", "quality", "title", "genres")


@dataclass(frozen=True)
class RecommendedItem:
    """One recommended item: its original id, row index, score, catalogue details (those of
    `ITEM_COLUMNS` the dataset has) and the hidden truth's engagement probability."""

    item: str
    item_id: int
    score: float
    details: dict[str, Any] = field(default_factory=dict)
    true_preference: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "item_id": self.item_id,
            "score": self.score,
            **self.details,
            "true_preference": self.true_preference,
        }


@dataclass(frozen=True)
class Recommendation:
    """A user's top-K, best first, and which policy (or fallback) produced it."""

    user: str
    source: str
    items: list[RecommendedItem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "source": self.source,
            "items": [i.to_dict() for i in self.items],
        }


def _find_user(dataset: Dataset, user: str) -> int | None:
    # A binary search in the dataset's cached index: comparing a million ids takes ~100 ms.
    return user_index_for(dataset).find(user)


def _items(
    run: ServingRun, user: int | None, ranked: np.ndarray, scores: np.ndarray
) -> list[RecommendedItem]:
    dataset = run.dataset
    preference = _true_preference(run, user, ranked)
    out = []
    rows = _item_rows(dataset, ranked) if dataset is not None else None
    for n, item in enumerate(ranked):
        row = rows[n] if rows is not None else None
        details = {}
        if row is not None:
            details = {c: json_safe(row[c]) for c in ITEM_COLUMNS if c in row}
        out.append(
            RecommendedItem(
                item=str(row["original_id"]) if row is not None else str(int(item)),
                item_id=int(item),
                score=float(scores[item]),
                details=details,
                true_preference=preference[n],
            )
        )
    return out


def _true_preference(run: ServingRun, user: int | None, ranked: np.ndarray) -> list[float | None]:
    """The hidden truth's engagement probability of `user` for each ranked item (None for
    an unknown user or an item the truth does not know), computed for those items only: the
    whole catalogue costs milliseconds at 100k items."""
    if user is None:
        return [None] * len(ranked)
    ranked = np.asarray(ranked, np.int64)
    known = ranked < run.start.n_items  # an item added after training has no hidden truth
    preference = run.start.true_preference(np.array([user]), ranked[known][None, :])[0]
    values = iter(preference.tolist())
    return [next(values) if k else None for k in known]


def _catalogue_columns(dataset: Dataset) -> dict[str, np.ndarray]:
    """The catalogue's columns a recommendation shows, as arrays (a pandas take costs a
    millisecond a request)."""
    items = dataset.items
    return {c: items[c].to_numpy() for c in ("original_id", *ITEM_COLUMNS) if c in items.columns}


_catalogue = per_dataset(_catalogue_columns)


def _item_rows(dataset: Dataset, ranked: np.ndarray) -> list[dict[str, Any]]:
    """The catalogue rows of the ranked items, one gather per column."""
    ranked = np.asarray(ranked, np.int64)
    columns = {name: values[ranked].tolist() for name, values in _catalogue(dataset).items()}
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def _rank(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Best `k` items not excluded (fewer if fewer are left)."""
    allowed = int((~exclude).sum())
    if allowed == 0:
        return np.zeros(0, np.int64)
    return top_k(scores[None, :], min(k, allowed), exclude[None, :])[0]


def recommend_for_user(
    run: str | Path | ServingRun,
    user: str,
    k: int = 10,
    policy: str = "agent",
    fallback: str = "content",
    cold_start: bool = False,
) -> Recommendation:
    """The top-`k` of `policy` ("agent" or a registry policy) for `user` (an original id) of
    the run at `run` (a folder or an already loaded `ServingRun`), see the module doc.
    RlrecError: bad k, policy or fallback; an unknown user without `cold_start`; a run
    without a checkpoint."""
    run = run if isinstance(run, ServingRun) else load_serving(run)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise RlrecError(
            [Option("k", f"= {k}"), " is out of range (allowed: >= 1)"], value=k, allowed=(1, None)
        )
    if policy not in POLICIES:
        raise RlrecError(
            [Option("policy", repr(policy)), f" is not allowed (allowed: {', '.join(POLICIES)})"],
            value=policy,
            allowed=list(POLICIES),
        )
    if fallback not in FALLBACKS:
        raise RlrecError(
            [
                Option("fallback", repr(fallback)),
                f" is not allowed (allowed: {', '.join(FALLBACKS)})",
            ],
            value=fallback,
            allowed=list(FALLBACKS),
        )
    dataset = run.dataset
    if dataset is None:  # seed-classic: users are bare indices
        return _recommend_without_dataset(run, str(user), int(k))

    index = _find_user(dataset, user)
    if index is None and not cold_start:
        raise RlrecError(
            f"user {user!r} is not in the run's dataset ({dataset.n_users} users); "
            "ask for cold-start recommendations explicitly (--cold-start) to get a fallback",
            key="user",  # a face tells "no such user" (HTTP 404) from a bad request by this
            value=str(user),
        )
    exclude = np.zeros(dataset.n_items, bool)
    if index is None:
        counts = np.asarray(run.scorer("popular").arrays()["counts"], np.float64)
        counts = _known_items_only(counts, exclude)
        source = "popular (fallback: unknown user, no demographics)"
        return Recommendation(
            str(user), source, _items(run, None, _rank(counts, exclude, k), counts)
        )

    history = logged_items(dataset, index)
    exclude[history] = True
    features = _features(dataset, np.array([index]))[0]
    features_missing = features.size > 0 and np.isnan(features).all()

    if policy == "agent" and features_missing:
        policy, source = fallback, f"{fallback} (fallback: user features missing)"
        if fallback == "content":
            policy, source = "popular", "popular (fallback: user features missing)"
    else:
        source = policy
    scores = _known_items_only(_scores(run, policy, index), exclude)
    if policy == "agent" and len(history) == 0:
        source = "agent (cold start: demographics only)"
    ranked = _rank(scores, exclude, k)
    return Recommendation(str(user), source, _items(run, index, ranked, scores))


def _known_items_only(scores: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Scores of a policy that knows only the first len(scores) items of a grown catalogue:
    the items after those are excluded (in place) and scored -inf."""
    known = len(scores)
    if known >= len(exclude):
        return scores
    exclude[known:] = True
    return np.concatenate([scores, np.full(len(exclude) - known, -np.inf)])


def _features(dataset: Dataset, users: np.ndarray) -> np.ndarray:
    """(len(users), f) float64 features of these users only (not a copy of everyone's)."""
    return np.asarray(
        np.asarray(dataset.user_features).reshape(dataset.n_users, -1)[users], np.float64
    )


def _batch(run: ServingRun, users: np.ndarray, obs: np.ndarray | None = None) -> UserBatch:
    assert run.dataset is not None
    features = np.asarray(run.dataset.user_features).reshape(run.dataset.n_users, -1)[users]
    empty = np.zeros((len(users), 0), np.float32)
    return UserBatch(users=users, obs=empty if obs is None else obs, features=features)


def _scores(run: ServingRun, policy: str, index: int) -> np.ndarray:
    assert run.dataset is not None
    users = np.array([index])
    dataset = run.dataset
    recent = recent_engaged(
        dataset, index, run.history_window, run.trained_items, positive_threshold(dataset.meta)
    )
    obs = state_from_history(run.start, users, recent)  # type: ignore[arg-type]
    if policy == "agent":
        return np.asarray(run.agent.scores(obs), np.float64)[0]
    return np.asarray(run.scorer(policy).scores(_batch(run, users, obs)), np.float64)[0]


def _recommend_without_dataset(run: ServingRun, user: str, k: int) -> Recommendation:
    start = run.start
    try:
        index = int(user)
    except ValueError:
        index = -1
    if not 0 <= index < start.n_users:
        raise RlrecError(f"user {user!r} is out of range (allowed 0..{start.n_users - 1})")
    obs = start.fresh_observation(np.array([index]))
    scores = np.asarray(run.agent.scores(obs), np.float64)[0]
    ranked = _rank(scores, np.zeros(start.n_items, bool), k)
    return Recommendation(user, "agent", _items(run, index, ranked, scores))
