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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
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
    run: ServingRun,
    ranked: np.ndarray,
    scores: np.ndarray,
    preference: list[float | None],
    rows: list[dict[str, Any]] | None,
) -> list[RecommendedItem]:
    """The ranked items ((k,) item ids) of one user with their `scores` ((n_items,)), hidden
    truth `preference` ((k,)) and catalogue `rows` ((k,) dicts; None without a dataset)."""
    out = []
    for n, item in enumerate(ranked.tolist()):
        row = rows[n] if rows is not None else None
        details = {}
        if row is not None:  # plain values already (`_catalogue_columns`)
            details = {c: row[c] for c in ITEM_COLUMNS if c in row}
        out.append(
            RecommendedItem(
                item=str(row["original_id"]) if row is not None else str(item),
                item_id=item,
                score=float(scores[item]),
                details=details,
                true_preference=preference[n],
            )
        )
    return out


def _true_preference(
    run: ServingRun, users: np.ndarray | None, ranked: np.ndarray
) -> list[list[float | None]]:
    """(B, k) the hidden truth's engagement probability of each user (`users` (B,) row
    indices; None: unknown users) for their ranked items (`ranked` (B, k)); None for an
    unknown user or an item the truth does not know. Computed for those items only: the
    whole catalogue costs milliseconds at 100k items."""
    ranked = np.asarray(ranked, np.int64)
    if users is None:
        return [[None] * ranked.shape[1] for _ in range(len(ranked))]
    known = ranked < run.start.n_items  # an item added after training has no hidden truth
    preference = run.start.true_preference(users, np.where(known, ranked, 0)).tolist()
    return [
        [p if k else None for p, k in zip(row, mask, strict=True)]
        for row, mask in zip(preference, known.tolist(), strict=True)
    ]


def _catalogue_columns(dataset: Dataset) -> dict[str, np.ndarray]:
    """The catalogue's columns a recommendation shows, as arrays (a pandas take costs a
    millisecond a request), a missing or non-finite value as None (not JSON otherwise)."""
    items = dataset.items
    columns = {}
    for name in ("original_id", *ITEM_COLUMNS):
        if name not in items.columns:
            continue
        values = items[name].to_numpy()
        missing = pd.isna(values)
        if values.dtype.kind == "f":
            missing |= ~np.isfinite(values)
        if missing.any():
            values = values.astype(object)
            values[missing] = None
        columns[name] = values
    return columns


_catalogue = per_dataset(_catalogue_columns)


def _item_rows(dataset: Dataset, ranked: np.ndarray) -> list[list[dict[str, Any]]]:
    """(B, k) the catalogue rows of the ranked items ((B, k) item ids), one gather per
    column."""
    ranked = np.asarray(ranked, np.int64)
    columns = {name: values[ranked].tolist() for name, values in _catalogue(dataset).items()}
    names = list(columns)
    return [
        [dict(zip(names, values, strict=True)) for values in zip(*row, strict=True)]
        for row in zip(*columns.values(), strict=True)
    ]


# Users ranked in one pass: bounds the (users, n_items) score and exclusion arrays.
BATCH_USERS = 32


def _check_request(k: Any, policy: str, fallback: str) -> None:
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
    answer = recommend_for_users(run, [user], k, policy, fallback, cold_start)[0]
    if isinstance(answer, RlrecError):
        raise answer
    return answer


def recommend_for_users(
    run: str | Path | ServingRun,
    users: Sequence[str],
    k: int = 10,
    policy: str = "agent",
    fallback: str = "content",
    cold_start: bool = False,
) -> list[Recommendation | RlrecError]:
    """`recommend_for_user` for each of `users` (original ids), in their order, scored
    together: the users' states go through the policy as one (B, obs_dim) batch, and are
    ranked as one (B, n_items) array (`BATCH_USERS` at a time), which costs little more
    than one user. Each answer is what `recommend_for_user` gives that user alone; a user
    it would refuse (an unknown id without `cold_start`) gets the RlrecError in its place.
    RlrecError (raised): bad k, policy or fallback; a run without a checkpoint."""
    run = run if isinstance(run, ServingRun) else load_serving(run)
    _check_request(k, policy, fallback)
    k = int(k)
    dataset = run.dataset
    answers: list[Recommendation | RlrecError | None] = [None] * len(users)
    if dataset is None:  # seed-classic: users are bare indices, only the agent ranks
        if policy != "agent":
            raise RlrecError(
                [
                    Option("policy", repr(policy)),
                    " is not available for a run without a dataset (seed-classic): "
                    "its reference policies score the users of a log (allowed: agent)",
                ],
                value=policy,
                allowed=["agent"],
            )
        for position, user in enumerate(users):
            try:
                answers[position] = _recommend_without_dataset(run, str(user), k)
            except RlrecError as exc:
                answers[position] = exc
        return [a for a in answers if a is not None]

    # The users each policy ranks: (answer position, user row, source).
    groups: dict[str, list[tuple[int, int, str]]] = {}
    for position, user in enumerate(users):
        index = _find_user(dataset, str(user))
        if index is None:
            answers[position] = _unknown_user(run, str(user), k, cold_start)
            continue
        features = _features(dataset, np.array([index]))[0]
        if policy == "agent" and features.size > 0 and np.isnan(features).all():
            chosen = "popular" if fallback == "content" else fallback
            source = f"{chosen} (fallback: user features missing)"
        else:
            chosen = source = policy
        groups.setdefault(chosen, []).append((position, index, source))
    for chosen, members in groups.items():
        for start in range(0, len(members), BATCH_USERS):
            chunk = members[start : start + BATCH_USERS]
            ranked = _recommend_known(run, chosen, [(i, s) for _, i, s in chunk], k)
            for (position, _, _), answer in zip(chunk, ranked, strict=True):
                answers[position] = dataclasses.replace(answer, user=str(users[position]))
    return [a for a in answers if a is not None]


def _unknown_user(
    run: ServingRun, user: str, k: int, cold_start: bool
) -> Recommendation | RlrecError:
    dataset = run.dataset
    assert dataset is not None
    if not cold_start:
        return RlrecError(
            [
                f"user {user!r} is not in the run's dataset ({dataset.n_users} users); "
                "ask for cold-start recommendations explicitly (",
                Option("cold_start"),
                ") to get a fallback",
            ],
            key="user",  # a face tells "no such user" (HTTP 404) from a bad request by this
            value=user,
        )
    exclude = np.zeros((1, dataset.n_items), bool)
    counts = np.asarray(run.scorer("popular").arrays()["counts"], np.float64)[None, :]
    counts = _known_items_only(counts, exclude)
    ranked = _rank(counts, exclude, k)[0]
    items = _items(
        run,
        ranked,
        counts[0],
        _true_preference(run, None, ranked[None, :])[0],
        _item_rows(dataset, ranked[None, :])[0],
    )
    return Recommendation(user, "popular (fallback: unknown user, no demographics)", items)


def _recommend_known(
    run: ServingRun, policy: str, members: list[tuple[int, str]], k: int
) -> list[Recommendation]:
    """Top-`k` of `policy` for users of the dataset (`members`: (row index, source)), their
    logged items excluded, ranked together."""
    dataset = run.dataset
    assert dataset is not None
    users = np.array([index for index, _ in members], np.int64)
    exclude = np.zeros((len(users), dataset.n_items), bool)
    histories = [logged_items(dataset, int(index)) for index in users]
    for row, history in enumerate(histories):
        exclude[row, history] = True
    scores = _known_items_only(_scores(run, policy, users), exclude)
    ranked = _rank(scores, exclude, k)
    preference = _true_preference(run, users, ranked)
    rows = _item_rows(dataset, ranked)
    allowed = (~exclude).sum(axis=1).tolist()
    answers = []
    for row, (_, source) in enumerate(members):
        if policy == "agent" and len(histories[row]) == 0:
            source = "agent (cold start: demographics only)"
        n = min(k, allowed[row])
        items = _items(run, ranked[row, :n], scores[row], preference[row][:n], rows[row][:n])
        answers.append(Recommendation("", source, items))
    return answers


def _rank(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """(B, min(k, n_items)) each row's best items, the excluded ones last (a row with fewer
    than k allowed items uses only the first of them)."""
    return top_k(scores, min(k, scores.shape[1]), exclude)


def _known_items_only(scores: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Scores ((B, known)) of a policy that knows only the first `known` items of a grown
    catalogue: the items after those are excluded (in `exclude` (B, n_items), in place) and
    scored -inf."""
    known = scores.shape[1]
    if known >= exclude.shape[1]:
        return scores
    exclude[:, known:] = True
    return np.concatenate([scores, np.full((len(scores), exclude.shape[1] - known), -np.inf)], 1)


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


def _scores(run: ServingRun, policy: str, users: np.ndarray) -> np.ndarray:
    """(B, n_scored) float64 `policy`'s scores for users (`users` (B,) row indices) in the
    state of having just engaged their latest logged items."""
    assert run.dataset is not None
    dataset = run.dataset
    threshold = positive_threshold(dataset.meta)
    recent = recent_engaged(dataset, users, run.history_window, run.trained_items, threshold)
    obs = state_from_history(run.start, users, recent)  # type: ignore[arg-type]
    if policy == "agent":
        return np.asarray(run.agent.scores(obs), np.float64)
    return np.asarray(run.scorer(policy).scores(_batch(run, users, obs)), np.float64)


def _recommend_without_dataset(run: ServingRun, user: str, k: int) -> Recommendation:
    start = run.start
    try:
        index = int(user)
    except ValueError:
        index = -1
    if not 0 <= index < start.n_users:
        raise RlrecError(
            f"user {user!r} is not in the run's population (users are 0..{start.n_users - 1})",
            key="user",
            value=user,
        )
    users = np.array([index])
    scores = np.asarray(run.agent.scores(start.fresh_observation(users)), np.float64)
    ranked = _rank(scores, np.zeros(scores.shape, bool), k)
    preference = _true_preference(run, users, ranked)[0]
    return Recommendation(user, "agent", _items(run, ranked[0], scores[0], preference, None))
