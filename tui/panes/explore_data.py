"""What the Explore pane asks the engine, and the messages its workers post back.

`load_run` (imports torch; builds the run's serving arrays the first time) and `recommend`
run on worker threads through the engine's serving use cases; the results come back to the
pane as typed messages. Kept apart from the pane so the pane is only layout and reactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from rlrec.data.dataset import Dataset
    from rlrec.engine.serving.artifacts import ServingRun
    from rlrec.engine.serving.recommend import Recommendation
    from rlrec.engine.serving.user_index import UserIndex


def checkpoint_stamp(run_dir: Path) -> float | None:
    """When the run's checkpoint was last written (None if it has none)."""
    from rlrec.engine.training.runs import CHECKPOINT_FILE

    try:
        return (run_dir / CHECKPOINT_FILE).stat().st_mtime
    except OSError:
        return None


def load_run(run_dir: Path) -> ServingRun:
    """The run ready to serve (imports torch, may build its serving arrays: call from a
    worker)."""
    from rlrec.engine.usecases.serving import load_for_serving

    return load_for_serving(run_dir)


def index_users(dataset: Dataset | None, n_users: int | None) -> UserIndex | None:
    """The engine's index of the dataset's users (or of `n_users` bare indices for a run
    without a dataset; None for neither). Seconds at a million users: call from a worker."""
    from rlrec.engine.serving.user_index import plain_user_index, user_index_for

    if dataset is not None:
        return user_index_for(dataset)
    return plain_user_index(int(n_users)) if n_users else None


def recommend(run: ServingRun, user: str, k: int, policy: str) -> Recommendation:
    from rlrec.engine.usecases.serving import recommend as engine_recommend

    return engine_recommend(run, user, k, policy=policy)


def baseline_names() -> tuple[str, ...]:
    """The reference policies the pane cycles through (the engine's registry)."""
    from rlrec.engine.policies.registry import USER_SCORERS

    return USER_SCORERS


def baseline_label(name: str) -> str:
    """How the registry names a reference policy for people."""
    from rlrec.engine.policies.registry import POLICIES

    spec = POLICIES.get(name)
    return spec.label if spec is not None else name


def baseline_first_fit_note(name: str) -> str:
    """What the registry says about a slow first fit of this baseline ('' if it is quick)."""
    from rlrec.engine.policies.registry import POLICIES

    spec = POLICIES.get(name)
    return spec.first_fit_note if spec is not None else ""


@dataclass
class RunLoaded(Message):
    run: ServingRun
    run_dir: Path


@dataclass
class RunFailed(Message):
    run_dir: Path
    text: str


@dataclass
class UsersIndexed(Message):
    """The user index of `dataset` (None: a run without one) is ready for the list."""

    dataset: Dataset | None
    index: UserIndex | None
    error: str | None = None


@dataclass
class UserDetails(Message):
    """Profile, history and the agent's list for one user (`agent` is None without a run)."""

    user: str
    profile: dict[str, Any] | None
    history: list[dict[str, Any]]
    agent: Recommendation | None
    error: str | None


@dataclass
class BaselineDetails(Message):
    """The baseline's list for one user; it comes after the agent's."""

    user: str
    policy: str
    result: Recommendation | None
    error: str | None
