"""Keep the garbage collector's full passes short while the app is up.

The app's heap is large and long-lived (Textual's widget tree, torch, the open dataset), and
CPython's cyclic collector walks all of it on every full collection: ~200 ms frozen on
this machine, which showed as the slowest key echoes and pane switches. After a big load
has settled, `settle_heap` collects what is already garbage and then freezes the survivors
(`gc.freeze`), so later collections skip them. Frozen objects are still freed when their
reference count drops to zero; only cycles among them wait for the next settle.
"""

from __future__ import annotations

import gc

# Young collections between two full ones (CPython's default is 10). The widgets' line caches
# keep ~100k objects alive and churning after a settle, and a full pass over them took
# 100-300 ms on a busy 2-core machine roughly every second of typing: one key in ten waited
# for it. Ten times rarer, a cycle that outlives the young generations waits longer (until
# the next full pass or settle) to be freed; young cycles are collected as before.
YOUNG_COLLECTIONS_PER_FULL = 100


def settle_heap() -> None:
    """Collect now, then exempt everything still alive from later full collections (and
    make those rarer, see `YOUNG_COLLECTIONS_PER_FULL`)."""
    gc.unfreeze()  # fold the earlier frozen set back in so its dead cycles can go too
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, YOUNG_COLLECTIONS_PER_FULL)
