"""engine.serving.user_state: a served user's state read through per-user offsets is the
state the log scan (`recent_positive_items` over the user's rows) gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlrec.data.generator import generate
from rlrec.data.scale import positive_threshold
from rlrec.engine.serving.user_state import logged_items, recent_engaged
from rlrec.engine.sim.history_state import recent_positive_items


def _scan(dataset, user: int, limit: int, pad: int, threshold: float) -> np.ndarray:
    log = dataset.interactions
    mine = log[log["user_id"].to_numpy() == user]
    return recent_positive_items(mine, np.array([user]), limit, pad, threshold)


@pytest.mark.parametrize("shuffled", [False, True])
def test_recent_engaged_equals_the_scan_user_by_user(shuffled):
    dataset = generate(n_users=120, n_items=60, seed=4)
    if shuffled:  # a log not grouped by user (an import keeps the source's order)
        order = np.random.default_rng(0).permutation(len(dataset.interactions))
        dataset.interactions = dataset.interactions.iloc[order].reset_index(drop=True)
    threshold = positive_threshold(dataset.meta)
    log = dataset.interactions
    for user in range(dataset.n_users):
        for limit in (1, 5):
            expected = _scan(dataset, user, limit, dataset.n_items, threshold)
            got = recent_engaged(dataset, user, limit, dataset.n_items, threshold)
            assert got.tolist() == expected.tolist(), (user, limit)
        mine = log["item_id"].to_numpy()[log["user_id"].to_numpy() == user]
        assert logged_items(dataset, user).tolist() == mine.tolist()
    # Many users at once (any order, repeats): each row is that user's own state.
    users = np.random.default_rng(1).integers(0, dataset.n_users, 50)
    together = recent_engaged(dataset, users, 4, dataset.n_items, threshold)
    for row, user in enumerate(users):
        alone = _scan(dataset, int(user), 4, dataset.n_items, threshold)[0]
        assert together[row].tolist() == alone.tolist(), user


def test_a_user_whose_rows_are_mostly_ratings_is_judged_on_their_own_rows():
    # Engagement is decided per user, as serving always did: this user's rows are mostly
    # ratings (explicit), so the unrated click is not an engagement; the other user's is.
    dataset = generate(n_users=3, n_items=10, seed=1)
    log = pd.DataFrame(
        {
            "user_id": np.int32([0, 0, 0, 1, 1]),
            "item_id": np.int32([1, 2, 3, 4, 5]),
            "event": ["click", "rating", "rating", "view", "click"],
            "rating": np.float32([np.nan, 5, 2, np.nan, np.nan]),
            "timestamp": np.int64([1, 2, 3, 1, 2]),
            "session_id": np.int64([0, 0, 0, 1, 1]),
        }
    )
    dataset.interactions = log
    for user in (0, 1, 2):
        assert (
            recent_engaged(dataset, user, 3, 10, 4.0).tolist()
            == _scan(dataset, user, 3, 10, 4.0).tolist()
        )
    assert recent_engaged(dataset, 0, 3, 10, 4.0).tolist() == [[10, 10, 2]]
    # Together, each user is still judged on their own rows.
    assert recent_engaged(dataset, np.array([1, 0, 2]), 3, 10, 4.0).tolist() == [
        [10, 10, 5],
        [10, 10, 2],
        [10, 10, 10],
    ]
    assert recent_engaged(dataset, 1, 3, 10, 4.0).tolist() == [[10, 10, 5]]
    # Items at or past `pad` are outside the catalogue the state is built over.
    assert recent_engaged(dataset, 1, 3, 5, 4.0).tolist() == [[5, 5, 5]]
