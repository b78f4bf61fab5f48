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


def settle_heap() -> None:
    """Collect now, then exempt everything still alive from later full collections."""
    gc.unfreeze()  # fold the earlier frozen set back in so its dead cycles can go too
    gc.collect()
    gc.freeze()
