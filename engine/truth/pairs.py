"""Labelled (user, item) pairs: what the hidden truth is fitted on and calibrated against.

A module of its own so that `fit` (which builds them) and `calibration` (which reads them)
both import it, rather than each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Pairs gathered at once by `pair_dot`: keeps its temporaries at a few MB on any log.
DOT_CHUNK = 1 << 18


@dataclass
class LabelledPairs:
    """The (user, item, label, weight) rows the fit learns from; logged ones first. Compact
    dtypes because a 25M-row log gives ~100M pairs: 17 bytes a pair."""

    users: np.ndarray  # int32 user ids
    items: np.ndarray  # int32 item ids
    labels: np.ndarray  # float32 in {0, 1}
    weights: np.ndarray  # float32 > 0
    logged: np.ndarray  # bool: True for logged pairs, False for sampled negatives
    feedback: str  # "explicit" or "implicit"

    def subset(self, keep: np.ndarray) -> LabelledPairs:
        return LabelledPairs(
            users=self.users[keep],
            items=self.items[keep],
            labels=self.labels[keep],
            weights=self.weights[keep],
            logged=self.logged[keep],
            feedback=self.feedback,
        )


def pair_dot(
    left: np.ndarray, left_ids: np.ndarray, right: np.ndarray, right_ids: np.ndarray
) -> np.ndarray:
    """(n,) ⟨left[left_ids[j]], right[right_ids[j]]⟩ for matching id arrays (n,), in the
    tables' common dtype (as `np.einsum` of the gathered rows gives), gathered `DOT_CHUNK` pairs at a time so memory stays O(n) whatever the factor width."""
    n = len(left_ids)
    out = np.empty(n, np.result_type(left, right))
    for start in range(0, n, DOT_CHUNK):
        part = slice(start, min(n, start + DOT_CHUNK))
        out[part] = np.einsum("nd,nd->n", left[left_ids[part]], right[right_ids[part]])
    return out


def distinct_keys(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an int64 key array (`user · n_items + item`), like
    `np.unique` — whose hash-based path in numpy ≥ 2.3 is ~100× slower than a sort on tens
    of millions of wide keys."""
    ordered = np.sort(keys)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
