"""Where the `default` simulator's hidden truth comes from: a given dataset, a dataset
folder named in the config, or the built-in synthetic default (cached per process, since
generating and calibrating it is the slow part of building a simulator)."""

from __future__ import annotations

import functools
from typing import Any

from engine.sim.default import DefaultConfig
from engine.sim.truth import HiddenTruth, truth_from_dataset


def truth_of_dataset(dataset: Any, folder: str | None = None) -> HiddenTruth:
    """Generator truth when the dataset has latent factors, a fitted one otherwise (fitted
    to the train part of the split stored in `folder`, or of the default split)."""
    if getattr(dataset, "user_latent", None) is not None:
        return truth_from_dataset(dataset)
    from engine.fit import fit_truth

    return fit_truth(dataset, folder=folder)


@functools.lru_cache(maxsize=1)
def default_truth() -> HiddenTruth:
    import data

    return truth_of_dataset(data.default_dataset())


@functools.lru_cache(maxsize=4)
def _truth_of_folder(path: str) -> HiddenTruth:
    from data.store import load_dataset

    return truth_of_dataset(load_dataset(path), folder=path)


def truth_for(config: DefaultConfig, dataset: Any = None) -> HiddenTruth:
    if dataset is not None:
        return truth_of_dataset(dataset, folder=config.dataset or None)
    if config.dataset:
        return _truth_of_folder(config.dataset)
    return default_truth()
