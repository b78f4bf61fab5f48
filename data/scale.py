"""Rating scales: which rating counts as positive ("engaged"), read from the data's scale.

A log's rating column may be 1–5 stars (half stars too), 0/1 flags, 1–10 scores, a 1–10 score
with 0 meaning "interacted, not rated" (Book-Crossing), or any other number (play counts).
`rating_scale` names the scale and derives the positive threshold — the rating at or above
which an interaction counts as positive (`schema.positive_rows`):

| scale                          | threshold                                          |
|--------------------------------|----------------------------------------------------|
| 0/1 flags                      | 1                                                  |
| 1–5 stars, half stars (≤ 5)    | 4 (MovieLens' convention, `DEFAULT_POSITIVE_RATING`)|
| integer scores up to 10        | 7 (the top 40 % of a 1–10 scale)                   |
| anything else                  | the median rating (the better half is positive)    |

The importer records the threshold in the dataset's meta (`positive_threshold`) and the
scale (`rating_scale`); a threshold given by the user wins. A dataset where nothing counts
as positive is refused with one line naming the threshold and the ratings' range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rlrec.data.errors import Option, RlrecError
from rlrec.data.schema import DEFAULT_POSITIVE_RATING, RATING, positive_rows

TEN_POINT_THRESHOLD = 7.0
THRESHOLD_KEY = "positive_threshold"


@dataclass(frozen=True)
class RatingScale:
    """A rating column's scale: its name, observed range and derived positive threshold.

    `zero_is_implicit`: ratings of 0 stand for an interaction without a rating (Book-Crossing);
    importers without an event column turn them into implicit "click" rows."""

    name: str
    low: float | None
    high: float | None
    threshold: float
    zero_is_implicit: bool = False


def rating_scale(ratings: np.ndarray) -> RatingScale:
    """The scale of `ratings` (float array, NaN = no rating) and its positive threshold."""
    rated = ratings[np.isfinite(ratings)]
    if len(rated) == 0:
        return RatingScale("no ratings", None, None, DEFAULT_POSITIVE_RATING)
    low, high = float(rated.min()), float(rated.max())
    integers = bool(np.all(rated == np.round(rated)))
    if integers and low >= 0 and high <= 1:
        return RatingScale("0/1 flags", low, high, 1.0)
    if low >= 0.5 and high <= 5 and np.all(rated * 2 == np.round(rated * 2)):
        name = "1-5 stars" if integers else "half stars up to 5"
        return RatingScale(name, low, high, DEFAULT_POSITIVE_RATING)
    if integers and low >= 0 and 5 < high <= 10:
        given = rated[rated > 0]
        if low == 0 and len(given) and given.min() >= 1:
            return RatingScale("1-10 scores, 0 = not rated", low, high, TEN_POINT_THRESHOLD, True)
        return RatingScale(f"{low:g}-10 scores", low, high, TEN_POINT_THRESHOLD)
    return RatingScale(f"numbers {low:g}..{high:g}", low, high, float(np.median(rated)))


def check_threshold(threshold: float | None) -> float | None:
    """`threshold` as a float if it is a finite number (None: derive it from the scale).
    Raises RlrecError with option "positive_threshold"."""
    if threshold is None:
        return None
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value):
        raise RlrecError(
            [Option("positive_threshold", repr(threshold)), ": must be a finite number"],
            value=threshold,
            option="positive_threshold",
        )
    return value


def positive_threshold(meta: Mapping[str, Any]) -> float:
    """The dataset's positive threshold from its meta (DEFAULT_POSITIVE_RATING for datasets
    written before it was recorded, and for synthetic data on a 1–5 scale)."""
    value = meta.get(THRESHOLD_KEY)
    return DEFAULT_POSITIVE_RATING if value is None else float(value)


def require_positives(log: pd.DataFrame, threshold: float, where: str, option: bool) -> None:
    """Raise RlrecError unless some row of `log` counts as positive at `threshold`.

    `where` names the dataset or file; `option` says whether the message may point at the
    `positive_threshold` option (at import) or only at re-importing."""
    if not len(log) or positive_rows(log, threshold).any():
        return
    ratings = log[RATING].to_numpy(np.float64)
    rated = ratings[np.isfinite(ratings)]
    shown = f"ratings are {rated.min():g}..{rated.max():g}" if len(rated) else "no ratings"
    hint: list[str | Option] = (
        ["; set ", Option("positive_threshold")] if option else ["; re-import it with another "
                                                                  "positive threshold"]
    )  # fmt: skip
    raise RlrecError(
        [f"{where}: no interaction counts as positive ({shown}, positive threshold "
         f"{threshold:g})", *hint],
        value=threshold,
        key=THRESHOLD_KEY,
        option="positive_threshold" if option else None,
    )  # fmt: skip
