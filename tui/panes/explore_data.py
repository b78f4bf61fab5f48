"""What the Explore pane asks the engine, and the messages its workers post back.

`load_run` (imports torch) and `recommend` run on worker threads; the results come back to
the pane as messages. Kept apart from the pane so the pane is only layout and reactions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message

from rlrec.data.errors import RlrecError


def describe(exc: Exception) -> str:
    """An engine error as one line: RlrecError's own text, else the exception's type too."""
    if isinstance(exc, RlrecError):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"


def checkpoint_stamp(run_dir: Path) -> float | None:
    """When the run's checkpoint was last written (None if it has none)."""
    try:
        return (run_dir / "checkpoint.pt").stat().st_mtime
    except OSError:
        return None


def load_run(run_dir: Path) -> Any:
    """The engine's loaded run (imports torch: call from a worker)."""
    from rlrec.engine.training.runs import load_run as engine_load_run

    return engine_load_run(run_dir)


def recommend(run: Any, user: str, k: int, policy: str) -> dict[str, Any]:
    from rlrec.engine.serving.recommend import recommend_for_user

    return recommend_for_user(run, user, k, policy=policy)


class RunLoaded(Message):
    def __init__(self, run: Any, run_dir: Path) -> None:
        super().__init__()
        self.run = run
        self.run_dir = run_dir


class RunFailed(Message):
    def __init__(self, run_dir: Path, text: str) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.text = text


class UserDetails(Message):
    """Profile, history and the agent's list for one user (`agent` is None without a run)."""

    def __init__(
        self,
        user: str,
        profile: dict | None,
        history: list[dict],
        agent: dict | None,
        error: str | None,
    ) -> None:
        super().__init__()
        self.user = user
        self.profile = profile
        self.history = history
        self.agent = agent
        self.error = error


class BaselineDetails(Message):
    """The baseline's list for one user; it comes after the agent's (LinUCB warms up first)."""

    def __init__(self, user: str, policy: str, result: dict | None, error: str | None) -> None:
        super().__init__()
        self.user = user
        self.policy = policy
        self.result = result
        self.error = error


BASELINE_NAMES = {"popular": "most popular", "linucb": "LinUCB"}
