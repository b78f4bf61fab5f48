"""Agent states from logged histories: the state a session would start from for a real
user with a real past.

- `recent_positive_items`: each user's latest engaged items in a log (time order), the same
  rule the simulator's sessions start from.
- `state_from_history`: the `default` simulator's first observation of a session for users
  whose latest engaged items are those (user features ‖ mean of the last H engaged items ‖
  recency-weighted mean ‖ context). A user with no history gets the demographics-only
  observation; other simulators get their fresh observation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlrec.data.schema import DEFAULT_POSITIVE_RATING
from rlrec.engine.sim.base import VectorSimulator
from rlrec.engine.truth.model import engaged_history, latest_of


def recent_positive_items(
    log: pd.DataFrame,
    user_ids: np.ndarray,
    limit: int,
    pad: int,
    positive_rating: float = DEFAULT_POSITIVE_RATING,
) -> np.ndarray:
    """(len(user_ids), limit) int64: the latest `limit` engaged items of each user, oldest
    first, left-padded with `pad` (the same rule the simulator's sessions start from, with
    the dataset's positive threshold `positive_rating`)."""
    user_ids = np.asarray(user_ids, np.int64)
    n_users = int(max(user_ids.max(initial=-1), log["user_id"].max() if len(log) else -1)) + 1
    items, offsets = engaged_history(log, n_users, positive_rating)
    return latest_of(items, offsets, user_ids, limit, pad)


def state_from_history(
    sim: VectorSimulator, user_ids: np.ndarray, recent: np.ndarray
) -> np.ndarray:
    """(n, obs_dim) float32: first observation of a new session for users whose latest
    engaged items are `recent` ((n, H), padded with n_items) — for the `default` simulator,
    the same state its sessions start from; other simulators give their fresh observation."""
    with_history = getattr(sim, "observation_with_history", None)
    if with_history is None:
        return np.asarray(sim.fresh_observation(np.asarray(user_ids)), dtype=np.float32)
    return with_history(np.asarray(user_ids), recent)
