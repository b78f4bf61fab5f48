"""The dataset vocabulary, in one place: column names, event types and the engaged rule.

Every layer that needs to know what a column is called, which events exist or which logged
row counts as engagement imports it from here (the pattern of microsoft/recommenders'
`recommenders/utils/constants.py`). See `rlrec.data.dataset` for the full table contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Column names of the schema's tables.
USER_ID = "user_id"
ITEM_ID = "item_id"
ORIGINAL_ID = "original_id"
EVENT = "event"
RATING = "rating"
TIMESTAMP = "timestamp"
SESSION_ID = "session_id"
CATEGORY = "category"

# Event types, weakest first: the generator draws them in this order.
EVENTS = ("view", "click", "purchase", "rating")
# Events that show engagement without a rating (implicit feedback).
ENGAGED_EVENTS = ("click", "purchase")
# A rating at or above this counts as engagement (4 on MovieLens' 1-5 scale). Imported
# datasets record their own threshold, derived from their rating scale, in meta
# ("positive_threshold"; read it with `data.scale.positive_threshold(meta)`).
DEFAULT_POSITIVE_RATING = 4.0


def is_explicit(log: pd.DataFrame) -> bool:
    """True when most rows (at least half) carry a rating: explicit feedback."""
    return bool(len(log)) and bool(log[RATING].notna().mean() >= 0.5)


def positive_rows(
    log: pd.DataFrame, positive_rating: float = DEFAULT_POSITIVE_RATING
) -> np.ndarray:
    """(rows,) bool: the interaction shows engagement ("engaged", "positive").

    Callers that have the dataset pass `positive_threshold(dataset.meta)` (see `data.scale`)
    as `positive_rating`: a 0/1 log's threshold is 1, a 1-10 log's 7. The rule itself is
    `engagement_mask`."""
    events = log[EVENT].astype(str).to_numpy()
    return engagement_mask(
        log[RATING].to_numpy(np.float64),
        np.isin(events, ENGAGED_EVENTS),
        events == "view",
        positive_rating,
    )


def engagement_mask(
    rating: np.ndarray,
    engaged_event: np.ndarray,
    view_event: np.ndarray,
    positive_rating: float = DEFAULT_POSITIVE_RATING,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(rows,) bool: which rows show engagement, judged over these rows together or, with
    `groups` ((rows,) int ≥ 0, e.g. a user per row), over each group's rows.

    `rating` (rows,) float, NaN where unrated; `engaged_event` (rows,) bool, the event is one
    of `ENGAGED_EVENTS`; `view_event` (rows,) bool, the event is a view. Explicit feedback
    (at least half the rows rated, as `is_explicit`): rated ≥ `positive_rating`. Implicit: a
    click or purchase, or a rating ≥ `positive_rating`; where no row is a view every row is
    an engagement (the log only records what users chose)."""
    rated = ~np.isnan(rating)
    liked = rated & (rating >= positive_rating)
    if groups is None:  # one judgement for all rows: no per-row group arrays (25M-row logs)
        if len(rating) and rated.mean() >= 0.5:
            return liked
        return engaged_event | liked | (~rated & (not bool(view_event.any())))
    n_groups = int(groups.max(initial=-1)) + 1
    size = np.bincount(groups, minlength=n_groups)
    explicit = np.bincount(groups, weights=rated, minlength=n_groups) >= 0.5 * size
    no_views = np.bincount(groups, weights=view_event, minlength=n_groups) == 0
    return np.where(explicit[groups], liked, engaged_event | liked | (~rated & no_views[groups]))
