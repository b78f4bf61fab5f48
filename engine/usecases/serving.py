"""Use cases of serving: recommend for a user of a trained run, explain a recommendation.

Every face (CLI `recommend`, the TUI Explore pane, the HTTP API) calls these; they read the
run's serving arrays (built once, see `engine.serving.artifacts`) and never fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlrec.engine.serving import explain as explain_module
from rlrec.engine.serving.artifacts import ServingRun, load_serving
from rlrec.engine.serving.recommend import (
    FALLBACKS,
    POLICIES,
    Recommendation,
    RecommendedItem,
    recommend_for_user,
    recommend_for_users,
)

__all__ = [
    "FALLBACKS",
    "POLICIES",
    "Explanation",
    "Recommendation",
    "RecommendedItem",
    "explain",
    "load_for_serving",
    "recommend",
    "recommend_many",
]


def load_for_serving(run_dir: str | Path, catalogue: str | Path | None = None) -> ServingRun:
    """The run ready to serve (cached per process; built once into the run folder). With
    `catalogue`, a dataset folder whose catalogue grew since training (the run's items first,
    new ones appended): the run serving that catalogue, new items scored from their features
    (embedding head only; RlrecError otherwise, see `engine.serving.catalogue`)."""
    run = load_serving(run_dir)
    if catalogue is None:
        return run
    from rlrec.engine.serving.catalogue import with_catalogue

    return with_catalogue(run, catalogue)


# The serving function is the use case itself: it takes a run folder or a loaded run.
recommend = recommend_for_user
recommend_many = recommend_for_users


@dataclass(frozen=True)
class Explanation:
    """Why an item suits a user (see `engine.serving.explain.explain_recommendation`):
    `details` holds its fields ("nearest", "category_match", "summary", …)."""

    user: str
    item_id: int
    summary: str
    details: dict[str, Any]


def explain(dataset: Any, user: str, item_id: int) -> Explanation:
    """Why item row `item_id` suits `user` (original id) of `dataset`. RlrecError: unknown
    user or item."""
    index = explain_module.user_index(dataset, user)
    details = explain_module.explain_recommendation(dataset, index, int(item_id))
    return Explanation(str(user), int(item_id), str(details["summary"]), details)
