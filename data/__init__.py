"""rlrec.data: the bottom layer — datasets as folders: the schema vocabulary (column names,
event types, the engaged rule), the synthetic generator, importers (MovieLens, CSV/Parquet
logs), the store, the temporal split, EDA, and `RlrecError`.

numpy + pandas (+ pyarrow for Parquet). Never imports `rlrec.engine`, a face, torch,
gymnasium or Textual (import-linter contracts; tests/test_import_hygiene.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlrec.data.dataset import Dataset

DEFAULT_N_USERS = 1000
DEFAULT_N_ITEMS = 500
DEFAULT_SEED = 42


@lru_cache(maxsize=1)
def default_dataset() -> Dataset:
    """The built-in dataset (1,000 users, 500 items, seed 42), generated once per process.

    Shared by every caller: treat it as read-only (copy before changing a frame or array).
    """
    from rlrec.data.generator import generate

    return generate(DEFAULT_N_USERS, DEFAULT_N_ITEMS, DEFAULT_SEED, name="default")
