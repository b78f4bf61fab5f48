"""Serving a catalogue that grew after training: items added to the run's dataset since.

A run whose agent has the embedding head (`agent.head: embedding`) scores an item from its
observable features plus a learned id embedding; an item added after training has no id
embedding, so it is scored from its features alone. `with_catalogue(run, folder)` gives the
run serving the catalogue of the dataset in `folder`: the run's own items first (same ids,
same order), the new ones appended. Their observable features are computed as the simulator
computes them for the trained items (the dataset's item features, listed quality, log
popularity and price level, `engine.truth.model.observable_item_features`); columns a new item
cannot have (a fitted simulator's collaborative-filtering embeddings, learnt from a log it is
not in) are zero. The trained items keep exactly the features they were trained with.

A per-item head has one output per trained item and nothing to score a new item with: such a
run is refused with one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.engine.serving.artifacts import ServingRun
from rlrec.engine.truth.model import (
    item_popularity_from_dataset,
    item_value_from_dataset,
    observable_item_features,
)


def with_catalogue(run: ServingRun, folder: str | Path) -> ServingRun:
    """`run` serving the catalogue of the dataset in `folder` (see the module doc): same
    users, the run's items first, new items appended. The result's agent scores every item
    of it; `run` itself is unchanged. RlrecError (one line) when the run's head is per-item,
    the run has no dataset (seed-classic), or the dataset's users or first items are not the
    run's."""
    from rlrec.data.store import load_dataset

    agent = run.agent
    trained = run.trained_items
    dataset = load_dataset(folder, "dataset")
    head = getattr(getattr(agent, "config", None), "head", "per_item")  # auto resolved
    if run.dataset is None:
        raise RlrecError(f"{run.path}: a run without a dataset has no catalogue to grow")
    _require_same_prefix(run.dataset, dataset, folder)
    if dataset.n_items == trained:  # nothing added: the run's own catalogue, served as is
        return run
    if head != "embedding":
        raise RlrecError(
            f"{run.path}: its agent has a per-item Q head (agent.head: {head}), which scores only "
            f"the {trained:,} items it was trained on; {folder} has {dataset.n_items:,} — train "
            "with agent.head: embedding to score items added after training",
            key="agent.head",
            value=head,
            allowed=["embedding"],
        )
    features = grown_item_features(agent.item_features.numpy(), dataset)  # type: ignore[attr-defined]
    from rlrec.engine.agents.dqn import DQNAgent

    grown = DQNAgent(
        agent.obs_dim,  # type: ignore[attr-defined]
        trained,
        run.config.agent,
        seed=run.config.train.seed,
        with_replay=False,
        item_features=features,
    )
    grown.served.load_state_dict(agent.served.state_dict())  # type: ignore[attr-defined]
    grown.served.eval()
    return ServingRun(run.path, run.config, dataset, grown, run.start, {}, run.history_window)


def _require_same_prefix(old: Dataset, new: Dataset, folder: str | Path) -> None:
    """RlrecError unless `new` has `old`'s users and starts with `old`'s items."""
    old_users = old.users["original_id"].astype(str).to_numpy()
    new_users = new.users["original_id"].astype(str).to_numpy()
    if len(old_users) != len(new_users) or not np.array_equal(old_users, new_users):
        raise RlrecError(
            f"{folder}: its users are not the run's ({len(new_users):,} vs {len(old_users):,}); "
            "a grown catalogue keeps the run's users",
            file=folder,
        )
    old_items = old.items["original_id"].astype(str).to_numpy()
    new_items = new.items["original_id"].astype(str).to_numpy()
    if len(new_items) < len(old_items) or not np.array_equal(
        new_items[: len(old_items)], old_items
    ):
        raise RlrecError(
            f"{folder}: its first {len(old_items):,} items are not the run's items in the run's "
            "order; add new items after them",
            file=folder,
        )
    _require_unchanged_items(old, new, folder)


def _require_unchanged_items(old: Dataset, new: Dataset, folder: str | Path) -> None:
    """RlrecError unless `new`'s first items have `old`'s item features (the agent learned
    those items as they were; changed ones would be ranked by what it learned of others)."""
    n = old.n_items
    before = np.asarray(old.item_features, np.float32).reshape(n, -1)
    after = np.asarray(new.item_features, np.float32).reshape(new.n_items, -1)[:n]
    if before.shape != after.shape:
        return  # the column check (`grown_item_features`) names that
    differs = ~((before == after) | (np.isnan(before) & np.isnan(after))).all(axis=1)
    if differs.any():
        first = int(np.flatnonzero(differs)[0])
        item = old.items["original_id"].astype(str).to_numpy()[first]
        raise RlrecError(
            f"{folder}: {int(differs.sum()):,} of the run's {n:,} items have other features "
            f"than it was trained on (first: item {item}); a grown catalogue keeps the run's "
            "items as they were and appends new ones",
            file=folder,
        )


def grown_item_features(trained: np.ndarray, dataset: Dataset) -> np.ndarray:
    """(dataset.n_items, f) float32: `trained` ((n, f), the run's item features) for the first
    n items, then the new items' observable features computed from `dataset`, zero-padded
    to f columns. RlrecError when the dataset's item features have more columns than f."""
    n, width = trained.shape
    computed, _ = observable_item_features(
        dataset, item_value_from_dataset(dataset), item_popularity_from_dataset(dataset)
    )
    new = computed[n:]
    if new.shape[1] > width:
        raise RlrecError(
            f"dataset {dataset.name}: its items have {new.shape[1]} observable features, the "
            f"run was trained on {width}; a grown catalogue keeps the item feature columns"
        )
    padded = np.zeros((len(new), width), np.float32)
    padded[:, : new.shape[1]] = new
    return np.vstack([trained.astype(np.float32), padded])
