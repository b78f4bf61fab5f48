"""Where the `default` simulator's hidden truth comes from: a given dataset, a dataset
folder named in the config, or the built-in synthetic default (cached per process, since
generating and calibrating it is the slow part of building a simulator)."""

from __future__ import annotations

import functools
from typing import Any

from rlrec.engine.truth.model import HiddenTruth, truth_from_dataset

# The last few datasets given as objects, by identity, with their truths: fitting a truth to
# an imported log is slow, and one evaluation builds several simulators from one dataset.
_RECENT: list[tuple[Any, str | None, HiddenTruth]] = []
_RECENT_SIZE = 2


def truth_of_dataset(dataset: Any, folder: str | None = None) -> HiddenTruth:
    """Generator truth when the dataset has latent factors, a fitted one otherwise (fitted
    to the train part of the split stored in `folder`, or of the default split)."""
    for known, known_folder, truth in _RECENT:
        if known is dataset and known_folder == folder:
            return truth
    if getattr(dataset, "user_latent", None) is not None:
        truth = truth_from_dataset(dataset, folder)
    else:
        from rlrec.engine.truth.fit import fit_truth

        truth = fit_truth(dataset, folder=folder)
    _RECENT.insert(0, (dataset, folder, truth))
    del _RECENT[_RECENT_SIZE:]
    return truth


@functools.lru_cache(maxsize=1)
def default_truth() -> HiddenTruth:
    from rlrec import data

    return truth_of_dataset(data.default_dataset())


@functools.lru_cache(maxsize=4)
def _truth_of_folder(path: str) -> HiddenTruth:
    from rlrec.data.store import load_dataset

    return truth_of_dataset(load_dataset(path), folder=path)


def truth_for(folder: str = "", dataset: Any = None) -> HiddenTruth:
    """The truth of `dataset` if given (its split read from `folder`), else of the dataset
    folder `folder` (the env's `dataset` setting), else of the built-in default."""
    if dataset is not None:
        return truth_of_dataset(dataset, folder=folder or None)
    if folder:
        return _truth_of_folder(folder)
    return default_truth()
