"""Refuse what will not fit, before allocating: an estimate against the memory available.

Every large preallocation (replay buffers, evaluation records, ...) states its size in bytes
and asks `check_fits` first (`check_bytes_fit` for the estimate of a whole import or run), so
a size the machine cannot hold is one line naming the setting, the estimate and the limit,
not a traceback at allocation or the kernel's OOM kill.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option, RlrecError


def available_memory_bytes() -> int:
    """Bytes the machine can still give this process: Linux `MemAvailable` (free memory plus
    what the kernel can reclaim), else the free physical pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def gib(size: float) -> str:
    """`size` bytes as "12.3 GiB"."""
    return f"{size / 2**30:,.1f} GiB"


def check_fits(
    count: int,
    per_unit: int,
    subject: Option,
    purpose: str,
    *,
    fixed: int = 0,
    key: str | None = None,
    value: Any = None,
) -> None:
    """RlrecError unless `count` units of `per_unit` bytes (plus `fixed` bytes whatever the
    count) fit in the memory available.

    The message names the setting (`subject`, an `Option` the face spells), what the memory is
    for, the estimate, the limit and the largest count that fits, e.g. "agent.replay_size
    50,000,000 needs about 29.6 GiB for the replay buffer, more than the 21.7 GiB available
    (allowed here: up to 36,000,000)"."""
    need, have = count * per_unit + fixed, available_memory_bytes()
    if need <= have:
        return
    most = max(have - fixed, 0) // max(per_unit, 1)
    parts: Sequence[str | Option] = [
        subject,
        f" needs about {gib(need)} for {purpose}, more than the {gib(have)} available "
        f"(allowed here: up to {most:,})",
    ]
    raise RlrecError(parts, key=key, value=count if value is None else value, allowed=(1, most))


def check_bytes_fit(
    need: int,
    subject: Sequence[str | Option],
    purpose: str,
    *,
    file: str | Path | None = None,
    key: str | None = None,
    value: Any = None,
    option: str | None = None,
) -> None:
    """RlrecError unless `need` bytes fit in the memory available — for estimates that are
    not one count times a size (a file to read, a simulator built from a dataset).

    The message is `subject` (text and `Option` parts naming the culprit), then "needs about
    X GiB `purpose`, more than the Y GiB available", e.g. "ratings.csv (about 25,000,000 rows
    of 4 columns) needs about 9.8 GiB to import, more than the 7.7 GiB available"."""
    have = available_memory_bytes()
    if need <= have:
        return
    parts = [*subject, f" needs about {gib(need)} {purpose}, more than the {gib(have)} available"]
    raise RlrecError(parts, file=file, key=key, value=value, allowed=(0, have), option=option)
