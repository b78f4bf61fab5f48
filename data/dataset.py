"""The in-memory dataset every layer passes around.

Contract (schema version 1) — the store, the generator, the importers, the simulator and the
TUI all rely on these column names:

users         one row per user, `user_id` = 0..n_users-1 (int32, contiguous, row order),
              `original_id` (str, the id in the source data), then whatever demographics
              the source has (synthetic: age, gender, income, location, activity,
              price_sensitivity, segment; MovieLens: age, gender, occupation, zip).
items         one row per item, `item_id` = 0..n_items-1 (int32, contiguous, row order),
              `original_id` (str), `category` (str, the primary category / genre),
              optional `title`, `price`, `quality`, `popularity`, `brand_tier`,
              `seasonality`, `genres` ("A|B").
interactions  `user_id`, `item_id` (int32), `event` (str: view, click, purchase, rating),
              `rating` (float32, NaN where the event has none), `timestamp` (int64, Unix
              seconds, UTC; the row number for a log without times, meta
              timestamp_unit "row order"), `session_id` (int64: one user's clock hour);
              optional `timestamp_ms` (int64, Unix milliseconds) when the source had
              sub-second times — it orders rows within a second; `timestamp` stays the
              whole-second floor of it.
user_features float32 (n_users, n_user_features); column names in meta["user_feature_names"].
item_features float32 (n_items, n_item_features); column names in meta["item_feature_names"].
user_latent / item_latent
              float32 (n, latent_dim) ground-truth latent factors; synthetic data only
              (None for imported data, where the simulator fits its own).
meta          name, source ("synthetic", "movielens-100k", "movielens-1m", "csv"), seed,
              n_users, n_items, n_interactions, user_feature_names, item_feature_names,
              schema_version, plus source-specific details. Imports record
              `positive_threshold` (a rating at or above it counts as positive; absent: 4,
              see `data.scale.positive_threshold`) and `rating_scale`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1


@dataclass
class Dataset:
    users: pd.DataFrame
    items: pd.DataFrame
    interactions: pd.DataFrame
    user_features: np.ndarray
    item_features: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    user_latent: np.ndarray | None = None
    item_latent: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "dataset"))
