"""Importers for real data: MovieLens (100K, 1M, ml-latest, ml-20m, ml-25m) and a
generic CSV or Parquet interaction log.

Both return a `Dataset` with contiguous ids (the source ids kept in `original_id`) and raise
`RlrecError` naming `file:line` for any bad input. Real files are never shipped: users point
the importer at their own copy.
"""

from rlrec.data.csvlog import import_csv
from rlrec.data.movielens import import_movielens

__all__ = ["import_csv", "import_movielens"]
