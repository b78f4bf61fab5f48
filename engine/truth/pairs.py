"""Labelled (user, item) pairs: what the hidden truth is fitted on and calibrated against.

A module of its own so that `fit` (which builds them) and `calibration` (which reads them)
both import it, rather than each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LabelledPairs:
    """The (user, item, label, weight) rows the fit learns from; logged ones first."""

    users: np.ndarray  # int64
    items: np.ndarray  # int64
    labels: np.ndarray  # float64 in {0, 1}
    weights: np.ndarray  # float64 > 0
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
