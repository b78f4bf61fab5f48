"""Fields for ints, floats, lists, text, paths, choices and config-dataclass fields.

Each factory pairs a `ValidatedField` with a parser that delegates the rules to the layer that
owns them — the config dataclasses' ranges via `engine.config_base`, the data layer's checks
passed in as `check` — so the TUI shows exactly the message the CLI would print.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import check_value, describe_range
from rlrec.tui.widgets.fields import ChoiceField, FormField, ValidatedField


def _range_meta(low: float | None, high: float | None, **extra: Any) -> dict[str, Any]:
    return {"low": low, "high": high, **extra}


def parse_int(key: str, text: str, meta: typing.Mapping[str, Any] | None = None) -> int:
    """Whole number from text, checked against `meta`'s range; RlrecError names the key."""
    stripped = text.strip().replace("_", "").replace(",", "")
    try:
        value = int(stripped)
    except ValueError:
        try:
            as_float = float(stripped)
        except ValueError:
            as_float = math.nan  # not a number at all: refused below, like 2.5
        if not as_float.is_integer():  # also refuses nan and ±inf
            raise RlrecError(
                f"{key}: expected a whole number, got {text.strip()!r}", key=key, value=text.strip()
            ) from None
        value = int(as_float)
    check_value(key, value, meta or {})
    return value


def parse_float(key: str, text: str, meta: typing.Mapping[str, Any] | None = None) -> float:
    """Finite number from text (1e-3 and 0.001 both work), checked against `meta`'s range."""
    stripped = text.strip().replace("_", "")
    try:
        value = float(stripped)
    except ValueError:
        raise RlrecError(
            f"{key}: expected a number, got {text.strip()!r}", key=key, value=text.strip()
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RlrecError(
            f"{key}: expected a finite number, got {text.strip()!r}", key=key, value=text.strip()
        )
    check_value(key, value, meta or {})
    return value


def parse_int_list(key: str, text: str, meta: typing.Mapping[str, Any] | None = None) -> list[int]:
    """Comma- or space-separated whole numbers, e.g. hidden units '256, 256, 128'."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise RlrecError(f"{key}: expected one or more whole numbers, e.g. 256, 128", key=key)
    values = [parse_int(key, p, None) for p in parts]
    check_value(key, values, meta or {})
    return values


def _ranged_field(
    key: str,
    label: str,
    parse: Callable[[str, str, typing.Mapping[str, Any] | None], Any],
    meta: dict[str, Any],
    value: Any,
    *,
    what: str | None,
    optional: bool = False,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """A field whose text `parse(key, text, meta)` reads and checks against `meta`'s range.
    Without `help`, the hint names the range ("{what} in [1, 100]"; none when `what` is None)."""
    hint = help or (f"{what} in {describe_range(meta)}" if what else "")
    return ValidatedField(
        key, label, lambda t: parse(key, t, meta), value, optional=optional, help=hint, id=id
    )


def int_field(
    key: str,
    label: str,
    value: int | None = None,
    *,
    low: int | None = None,
    high: int | None = None,
    optional: bool = False,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """A whole-number field with an inclusive range."""
    meta = _range_meta(low, high)
    return _ranged_field(
        key, label, parse_int, meta, value, what="whole number", optional=optional, help=help, id=id
    )


def float_field(
    key: str,
    label: str,
    value: float | None = None,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """A number field with a range (open or closed at either end)."""
    meta = _range_meta(low, high, low_open=low_open, high_open=high_open)
    return _ranged_field(
        key, label, parse_float, meta, value, what="number", optional=optional, help=help, id=id
    )


def int_list_field(
    key: str,
    label: str,
    value: Iterable[int] | None = None,
    *,
    low: int | None = None,
    high: int | None = None,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """Comma-separated whole numbers, each in the range (e.g. hidden layer sizes)."""
    meta = _range_meta(low, high)
    listed = list(value) if value is not None else ""
    return _ranged_field(key, label, parse_int_list, meta, listed, what=None, help=help, id=id)


def text_field(
    key: str,
    label: str,
    value: str = "",
    *,
    optional: bool = False,
    check: Callable[[str], None] | None = None,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """Free text; `check(text)` may raise RlrecError (e.g. a CSV column that must exist)."""

    def parse(text: str) -> str:
        text = text.strip()
        if not text:
            raise RlrecError(f"{label}: required", key=key)
        if check is not None:
            check(text)
        return text

    return ValidatedField(key, label, parse, value, optional=optional, help=help, id=id)


def path_field(
    key: str,
    label: str,
    value: str | Path = "",
    *,
    kind: str = "any",
    must_exist: bool = True,
    optional: bool = False,
    check: Callable[[Path], None] | None = None,
    help: str = "",
    id: str | None = None,
) -> ValidatedField:
    """A filesystem path. `kind` is "dir", "file" or "any"; `check(path)` may raise RlrecError
    (e.g. the data layer's 'not a MovieLens folder'). `~` is expanded."""
    if kind not in ("dir", "file", "any"):
        raise ValueError(f"kind must be dir, file or any, not {kind!r}")

    def parse(text: str) -> Path:
        text = text.strip()
        if not text:
            raise RlrecError(f"{label}: required (enter a path)", key=key)
        path = Path(text).expanduser()
        if must_exist:
            if not path.exists():
                raise RlrecError(f"{path}: no such file or folder", file=path, key=key)
            if kind == "dir" and not path.is_dir():
                raise RlrecError(f"{path}: not a folder", file=path, key=key)
            if kind == "file" and not path.is_file():
                raise RlrecError(f"{path}: not a file", file=path, key=key)
        if check is not None:
            check(path)
        return path

    return ValidatedField(key, label, parse, str(value), optional=optional, help=help, id=id)


# A choice needs no parser (a Select cannot hold a bad value): its factory is the class itself,
# named like the other factories so forms read alike.
choice_field = ChoiceField


def config_field(
    cls: type,
    name: str,
    *,
    key: str | None = None,
    label: str | None = None,
    value: Any = None,
    id: str | None = None,
) -> FormField:
    """A field for one field of a config dataclass, checked with the dataclass's own range.

    `key` is the dotted name shown in messages and used in `ValidatedForm.nested_values()`
    (e.g. "agent.lr"); it defaults to `name`. `value` defaults to the dataclass default."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    spec = fields[name]
    meta = dict(spec.metadata)
    key = key or name
    label = label or name.replace("_", " ")
    if value is None:
        if spec.default is not dataclasses.MISSING:
            value = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            value = spec.default_factory()
    tp = typing.get_type_hints(cls)[name]
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0] if args else str
    unit = f" (in {meta['unit']})" if meta.get("unit") else ""
    hint = (meta.get("help") or "") + unit
    if meta.get("choices"):
        return ChoiceField(key, label, meta["choices"], value, help=hint, id=id)
    if tp is bool:
        return ChoiceField(key, label, [True, False], bool(value), help=hint, id=id)
    allowed = describe_range(meta)
    hint = (
        f"{hint} — allowed {allowed}".strip(" —")
        if (meta.get("low") is not None or meta.get("high") is not None)
        else hint
    )
    if tp is int:
        parse_text: Callable[[str, str, typing.Mapping[str, Any] | None], Any] = parse_int
    elif tp is float:
        parse_text = parse_float
    elif typing.get_origin(tp) in (list, tuple):
        parse_text = parse_int_list
    else:
        parse_text = _parse_checked_text
    return _ranged_field(
        key, label, parse_text, meta, value, what=None, optional=optional, help=hint, id=id
    )


def _parse_checked_text(key: str, text: str, meta: typing.Mapping[str, Any] | None) -> str:
    """Text checked against a config field's metadata (e.g. its allowed choices)."""
    text = text.strip()
    check_value(key, text, meta or {})
    return text
