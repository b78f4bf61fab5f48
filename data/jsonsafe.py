"""One way to make any value strict-JSON-safe.

Numbers from numpy and torch, tuples, sets and paths show up in summaries, metrics lines and
API answers; NaN and infinity are not JSON. `json_safe` turns a value into plain Python that
`json.dumps(..., allow_nan=False)` accepts and any JSON reader can read.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """`value` as plain, strict-JSON-safe Python, recursively.

    dict → dict (keys as str unless str/int/float/bool); list/tuple/set → list; numpy scalars
    and 0-d arrays → Python scalars; arrays (anything with `tolist`) → nested lists; NaN and
    ±inf → None; str/int/bool/None unchanged; any other object → `str(object)`.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return json_safe(value.item())
        except (ValueError, TypeError):
            pass
    if hasattr(value, "tolist") and callable(value.tolist):  # tensors, other arrays
        return json_safe(value.tolist())
    return str(value)


def _key(key: Any) -> Any:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    if isinstance(key, np.generic):
        return key.item()
    return str(key)


def strict_dumps(value: Any, **kwargs: Any) -> str:
    """`value` as strict JSON text: `json_safe(value)` dumped with `allow_nan=False`, so no
    `NaN`/`Infinity` token can reach a file or stdout (undefined numbers are `null`).
    `kwargs` go to `json.dumps` (indent, sort_keys)."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
