"""What serving derives from a dataset once and keeps while that dataset object lives.

A request must not redo per-dataset work (an index over a million users, the log's columns
as arrays, the catalogue's columns): `per_dataset(build)` wraps `build(dataset)` so it runs
once per dataset object, thread-safe (the faces ask from worker threads), and its result is
dropped when the dataset is collected.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from rlrec.data.dataset import Dataset

T = TypeVar("T")


def per_dataset(build: Callable[[Dataset], T]) -> Callable[[Dataset], T]:
    """`build`, run once per dataset object; later calls with the same object return the
    first result while that object lives."""
    cache: dict[int, tuple[weakref.ref[Dataset], T]] = {}
    lock = threading.Lock()

    def forget(key: int) -> Callable[[Any], None]:
        def drop(_: Any) -> None:
            cache.pop(key, None)

        return drop

    def cached(dataset: Dataset) -> T:
        key = id(dataset)
        with lock:
            hit = cache.get(key)
            if hit is not None and hit[0]() is dataset:
                return hit[1]
            value = build(dataset)
            cache[key] = (weakref.ref(dataset, forget(key)), value)
            return value

    cached.__doc__ = (
        f"`{build.__name__}(dataset)`, built once per dataset object (see `per_dataset`)."
    )
    return cached
