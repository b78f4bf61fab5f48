"""Temporal train / validation / test split of a dataset's interactions.

Two methods:
- `global`: one time cut for everybody. The earliest (1 − v − t) share of interactions is
  train, the next v validation, the last t test. Users whose first interaction falls after
  the cut are cold-start users naturally.
- `per-user`: each user's own history is cut in time: their last t share is test, the v
  before it validation, the rest train.

On top of either, `cold_user_fraction` of the users (drawn with `seed`) are held out whole:
all their interactions go to validation/test by the same time rule, none to train, so the
test set always has cold-start users to evaluate the fallbacks on.

The split is a label per interaction row (0 train, 1 validation, 2 test), stored beside the
dataset as `split.parquet` + `split.yaml` so every tool (fit, train, offline eval, TUI) uses
the same one. Nothing downstream of training may read validation/test rows: `train_view`
gives a `Dataset` that simply does not contain them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rlrec.data.assemble import user_time_order
from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.files import atomic_write_text, atomic_write_with
from rlrec.data.scale import positive_threshold, require_positives

TRAIN, VALIDATION, TEST = 0, 1, 2
PART_NAMES = {"train": TRAIN, "validation": VALIDATION, "test": TEST}
SPLIT_FILE = "split.parquet"
SPLIT_META_FILE = "split.yaml"
METHODS = ("global", "per-user")
# Below this many interactions there is nothing meaningful to hold out.
MIN_INTERACTIONS = 20


@dataclass(frozen=True)
class SplitConfig:
    """How to split; every field is checked by `validate` with a one-line error."""

    method: str = "per-user"
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    cold_user_fraction: float = 0.1
    seed: int = 0

    def validate(self) -> None:
        if self.method not in METHODS:
            raise RlrecError(
                f"split method = {self.method!r} is not allowed (allowed: {', '.join(METHODS)})",
                key="method",
                value=self.method,
                allowed=list(METHODS),
                option="method",
            )
        for key in ("validation_fraction", "test_fraction"):
            value = getattr(self, key)
            if not 0.0 < value < 1.0:
                raise RlrecError(
                    ["split ", Option(key, f"= {value:g}"), " is out of range (allowed: (0, 1))"],
                    key=key,
                    value=value,
                    allowed="(0, 1)",
                    option=key,
                )
        if not 0.0 <= self.cold_user_fraction < 1.0:
            raise RlrecError(
                [
                    "split ",
                    Option("cold_user_fraction", f"= {self.cold_user_fraction:g}"),
                    " is out of range (allowed: [0, 1))",
                ],
                key="cold_user_fraction",
                value=self.cold_user_fraction,
                allowed="[0, 1)",
                option="cold_user_fraction",
            )
        held_out = self.validation_fraction + self.test_fraction
        if held_out >= 1.0:
            raise RlrecError(
                f"split validation_fraction + test_fraction = {held_out:g} leaves no training "
                "data (allowed: sum < 1)",
                key="test_fraction",
                value=held_out,
                allowed="validation_fraction + test_fraction < 1",
                option="test_fraction",
            )


@dataclass
class Split:
    """One label per interaction row plus what the split leaves cold."""

    labels: np.ndarray  # (n_interactions,) int8: 0 train, 1 validation, 2 test
    config: SplitConfig
    fingerprint: str  # of the interactions it was made for
    cold_users: np.ndarray  # user ids with validation/test rows but no train rows
    cold_items: np.ndarray  # item ids with validation/test rows but no train rows

    def mask(self, part: str) -> np.ndarray:
        return self.labels == _part_code(part)

    def users(self, dataset: Dataset, part: str) -> np.ndarray:
        """Distinct user ids with at least one interaction in `part`."""
        return np.unique(dataset.interactions["user_id"].to_numpy()[self.mask(part)])

    def warm_users(self, dataset: Dataset, part: str = "test") -> np.ndarray:
        return np.setdiff1d(self.users(dataset, part), self.cold_users)

    def summary(self) -> dict[str, Any]:
        counts = np.bincount(self.labels, minlength=3)
        return {
            "method": self.config.method,
            "validation_fraction": self.config.validation_fraction,
            "test_fraction": self.config.test_fraction,
            "cold_user_fraction": self.config.cold_user_fraction,
            "seed": self.config.seed,
            "train": int(counts[TRAIN]),
            "validation": int(counts[VALIDATION]),
            "test": int(counts[TEST]),
            "cold_users": int(len(self.cold_users)),
            "cold_items": int(len(self.cold_items)),
            "fingerprint": self.fingerprint,
        }


def _part_code(part: str) -> int:
    if part not in PART_NAMES:
        raise RlrecError(f"split part = {part!r} is not allowed (allowed: {', '.join(PART_NAMES)})")
    return PART_NAMES[part]


def interactions_fingerprint(interactions: pd.DataFrame) -> str:
    """Short hash of who interacted with what and when: a split belongs to exactly this log."""
    digest = hashlib.sha256()
    for column in ("user_id", "item_id", "timestamp"):
        digest.update(np.ascontiguousarray(interactions[column].to_numpy(np.int64)).tobytes())
    return digest.hexdigest()[:16]


def split_dataset(dataset: Dataset, config: SplitConfig | None = None) -> Split:
    """Label every interaction train / validation / test by time (vectorised).

    Raises RlrecError for a log too small to split, or one where no interaction counts as
    positive at the dataset's threshold (`data.scale.positive_threshold`)."""
    config = config or SplitConfig()
    config.validate()
    log = dataset.interactions
    n = len(log)
    if n < MIN_INTERACTIONS:
        raise RlrecError(
            f"dataset {dataset.name!r} has {n} interactions, too few to split "
            f"(need at least {MIN_INTERACTIONS})"
        )
    # A log where nothing counts as engaged would fit a simulator to nothing: stop here.
    require_positives(log, positive_threshold(dataset.meta), f"dataset {dataset.name!r}", False)
    users = log["user_id"].to_numpy(np.int64)
    times = log["timestamp"].to_numpy(np.int64)
    held_out = config.validation_fraction + config.test_fraction

    # Position of each row in time (ties broken by row order, so the result is deterministic).
    own: np.ndarray | None = None  # each row's place in its user's own timeline
    if config.method == "global":
        order = np.lexsort((np.arange(n), times))
        position = np.empty(n, dtype=np.float64)
        position[order] = np.arange(n) / n
    else:
        position = own = _position_in_own_timeline(users, times)

    # A row goes to test when its position lies in the last `test_fraction` of its timeline;
    # the small epsilon keeps exact boundaries (e.g. 8/10 = 0.8) on the held-out side.
    eps = 1e-9
    labels = np.full(n, TRAIN, dtype=np.int8)
    labels[position >= 1.0 - held_out - eps] = VALIDATION
    labels[position >= 1.0 - config.test_fraction - eps] = TEST

    if config.cold_user_fraction > 0:
        active = _distinct_ids(users)
        n_cold = int(round(config.cold_user_fraction * len(active)))
        rng = np.random.default_rng(config.seed)
        held_users = rng.choice(active, size=n_cold, replace=False)
        held = np.zeros(int(users.max()) + 1, dtype=bool)
        held[held_users] = True
        whole = held[users]
        # Inside a held-out user's own timeline: the first v/(v+t) share validation, rest test.
        if own is None:
            own = _position_in_own_timeline(users, times)
        to_validation = own < config.validation_fraction / held_out - eps
        labels[whole] = np.where(to_validation[whole], VALIDATION, TEST)

    split = _finish(dataset, labels, config)
    for part in ("train", "test"):
        if not split.mask(part).any():
            raise RlrecError(
                f"dataset {dataset.name!r} is too small to split: the {part} part would be empty "
                f"({n} interactions)"
            )
    return split


def _position_in_own_timeline(users: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each row, (rank of the row in its user's history by time) / (history length)."""
    n = len(users)
    order = user_time_order(users, times)
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
    counts = np.diff(np.r_[starts, n])
    position = np.empty(n, dtype=np.float64)
    position[order] = (np.arange(n) - np.repeat(starts, counts)) / np.repeat(counts, counts)
    return position


def _distinct_ids(ids: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Sorted distinct non-negative int `ids` not in `exclude` (what np.unique and
    np.setdiff1d give), by counting: ids are dataset indices, 0..n-1, so no sort of the rows."""
    size = int(max(ids.max(initial=-1), -1 if exclude is None else exclude.max(initial=-1))) + 1
    present = np.bincount(ids, minlength=size) > 0
    if exclude is not None:
        present &= np.bincount(exclude, minlength=size) == 0
    return np.flatnonzero(present).astype(ids.dtype)


def _finish(dataset: Dataset, labels: np.ndarray, config: SplitConfig) -> Split:
    log = dataset.interactions
    users = log["user_id"].to_numpy(np.int64)
    items = log["item_id"].to_numpy(np.int64)
    train = labels == TRAIN
    cold_users = _distinct_ids(users[~train], exclude=users[train])
    cold_items = _distinct_ids(items[~train], exclude=items[train])
    return Split(
        labels=labels,
        config=config,
        fingerprint=interactions_fingerprint(log),
        cold_users=cold_users,
        cold_items=cold_items,
    )


def part_view(dataset: Dataset, split: Split, part: str) -> Dataset:
    """The same dataset with only the interactions of `part` (users and items unchanged)."""
    _check_belongs(dataset, split)
    kept = dataset.interactions.loc[split.mask(part)].reset_index(drop=True)
    meta = dict(dataset.meta, n_interactions=len(kept), split_part=part)
    return dataclasses.replace(dataset, interactions=kept, meta=meta)


def train_view(dataset: Dataset, split: Split) -> Dataset:
    """The dataset as training may see it: train interactions only."""
    return part_view(dataset, split, "train")


def _check_belongs(dataset: Dataset, split: Split) -> None:
    if len(split.labels) != len(dataset.interactions) or split.fingerprint != (
        interactions_fingerprint(dataset.interactions)
    ):
        raise RlrecError(
            f"the split was made for other interactions than dataset {dataset.name!r}'s "
            "(run `rlrec split` again)"
        )


# -- storage beside the dataset --------------------------------------------------------------


def save_split(folder: str | Path, split: Split) -> None:
    """Write split.parquet (one label per interaction row) and split.yaml, atomically."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RlrecError(f"{folder}: no such dataset folder", file=folder)
    table = pd.DataFrame({"split": split.labels.astype(np.int8)})
    meta = dataclasses.asdict(split.config) | {
        "fingerprint": split.fingerprint,
        "cold_users": split.cold_users.tolist(),
        "cold_items": split.cold_items.tolist(),
    }
    atomic_write_with(folder / SPLIT_FILE, lambda path: table.to_parquet(path, index=False))
    atomic_write_text(folder / SPLIT_META_FILE, yaml.safe_dump(meta, sort_keys=False))


def load_split(folder: str | Path, dataset: Dataset) -> Split | None:
    """The split stored with the dataset, or None when there is none; checks it fits."""
    folder = Path(folder)
    table_path, meta_path = folder / SPLIT_FILE, folder / SPLIT_META_FILE
    if not table_path.exists() or not meta_path.exists():
        return None
    try:
        labels = pd.read_parquet(table_path)["split"].to_numpy(np.int8)
    except (OSError, KeyError, ValueError) as exc:
        raise RlrecError(
            f"{table_path}: cannot read the split ({exc.__class__.__name__})"
        ) from None
    raw = yaml.safe_load(meta_path.read_text("utf-8")) or {}
    try:
        config = SplitConfig(
            **{f.name: raw[f.name] for f in dataclasses.fields(SplitConfig) if f.name in raw}
        )
    except TypeError:
        raise RlrecError(f"{meta_path}: not a split description", file=meta_path) from None
    split = _finish(dataset, labels, config) if len(labels) == len(dataset.interactions) else None
    if split is None or raw.get("fingerprint") != split.fingerprint:
        raise RlrecError(
            f"{table_path}: the stored split does not match this dataset's interactions "
            "(run `rlrec split` again)"
        )
    return split


def split_for(dataset: Dataset, folder: str | Path | None = None) -> Split:
    """The split every tool uses: the one stored in `folder` if any, else the default split
    (deterministic, so tools that cannot store it still agree)."""
    if folder is not None:
        stored = load_split(folder, dataset)
        if stored is not None:
            return stored
    return split_dataset(dataset, SplitConfig())
