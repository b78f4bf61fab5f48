"""Typed configuration: dataclasses loaded from plain dicts / YAML with strict checks.

Every hyperparameter has one home: a dataclass field whose metadata gives its range or its
allowed choices. Every numeric field has both ends: a number no run could use (a budget of
1e40 seconds, a log period no run reaches) is refused with its key and range rather than
accepted as a run that never ends. Counts of env steps and updates, and periods counted in
them, are bounded by the longest run (`MAX_RUN_STEPS`); seeds by `MAX_SEED`. `from_dict` rejects unknown keys, wrong types and out-of-range values with a
one-line `RlrecError` that names the dotted key, the value and what is allowed.

    @dataclass
    class Example:
        lr: float = param(1e-3, low=0, high=1, low_open=True, help="learning rate")
        loss: str = param("huber", choices=("huber", "mse"))
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from rlrec.data.errors import Option, RlrecError, require_file

T = TypeVar("T")

# The scale of the longest run rlrec plans for: a bound for budgets, for schedules and for
# periods (a period longer than any run never comes). 10^12 env steps is weeks at the fastest
# vectorised speeds; 30 days is the longest wall-clock budget.
MAX_RUN_STEPS = 10**12
MAX_RUN_SECONDS = 30 * 24 * 3600
MAX_SEED = 2**31 - 1  # seeds every generator rlrec uses accepts


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: tuple | None = None,
    help: str = "",
    unit: str = "",
) -> Any:
    """A dataclass field with a documented, checked range or set of choices."""
    meta = {
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "choices": choices,
        "help": help,
        "unit": unit,
    }
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def describe_range(meta: typing.Mapping[str, Any]) -> str:
    """Human text for a field's allowed values, e.g. '(0, 1]' or 'one of huber, mse'."""
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") or low is None else "["
    right = ")" if meta.get("high_open") or high is None else "]"
    return f"{left}{'-inf' if low is None else _bound(low)}, {'inf' if high is None else _bound(high)}{right}"


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bound(value: Any) -> str:
    """A range end as a person reads it: 1000000000000 → 1e12, 4000000 → 4e6 (a comma
    grouping would read as another bound inside the interval); anything else as `_fmt`."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1_000_000:
        mantissa, exponent = value, 0
        while mantissa % 10 == 0:
            mantissa, exponent = mantissa // 10, exponent + 1
        if exponent >= 6:
            return f"{mantissa}e{exponent}"
    return _fmt(value)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert a YAML value to the annotated type or raise a one-line error."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for arg in args:
            try:
                return _coerce(key, value, arg)
            except RlrecError as exc:
                errors.append(str(exc))
        raise RlrecError(
            errors[0] if errors else f"{key}: bad value {value!r}", key=key, value=value
        )
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise RlrecError(f"{key}: expected a list, got {value!r}", key=key, value=value)
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise RlrecError(
                f"{key}: expected a mapping of settings, got {value!r}", key=key, value=value
            )
        return from_dict(typing.cast(type, tp), value, prefix=key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise RlrecError(f"{key}: expected true or false, got {value!r}", key=key, value=value)
    if tp in (int, float):
        value = _number_from_text(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RlrecError(f"{key}: expected an integer, got {value!r}", key=key, value=value)
        if isinstance(value, float) and not value.is_integer():
            raise RlrecError(f"{key}: expected an integer, got {value!r}", key=key, value=value)
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RlrecError(f"{key}: expected a number, got {value!r}", key=key, value=value)
        if not math.isfinite(value):
            raise RlrecError(
                f"{key}: expected a finite number, got {value!r}", key=key, value=value
            )
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RlrecError(f"{key}: expected text, got {value!r}", key=key, value=value)
        return value
    return value


def _number_from_text(value: Any) -> Any:
    """A YAML number PyYAML reads as text (`1e-3`, `1e300`: YAML 1.1 wants a dot in a float)
    as the number the user meant; any other value unchanged. Only finite numbers: 'nan' and
    'inf' stay text, so they are refused as before; an integer-valued one becomes an `int`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def check_value(key: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    """Raise if `value` lies outside the field's declared range or choices."""
    if value is None:
        return
    choices = meta.get("choices")
    if choices and value not in choices:
        raise RlrecError(
            f"{key} = {value!r} is not allowed (allowed: {describe_range(meta)})",
            key=key,
            value=value,
            allowed=list(choices),
        )
    values = value if isinstance(value, list | tuple) else [value]
    for v in values:
        if not isinstance(v, int | float) or isinstance(v, bool):
            continue
        low, high = meta.get("low"), meta.get("high")
        too_low = low is not None and (v <= low if meta.get("low_open") else v < low)
        too_high = high is not None and (v >= high if meta.get("high_open") else v > high)
        if too_low or too_high:
            raise RlrecError(
                f"{key} = {_fmt(value)} is out of range (allowed: {describe_range(meta)})",
                key=key,
                value=value,
                allowed=(low, high),
            )


def from_dict(cls: type[T], data: typing.Mapping[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass `cls` from the section mapping `data` (None = all defaults), checking
    keys, types and ranges. The one check of a config section: every RlrecError names the
    dotted key (`prefix.name`), the value and what is allowed."""
    if data is not None and not isinstance(data, typing.Mapping):
        raise RlrecError(f"{prefix or cls.__name__}: expected a mapping of settings, got {data!r}")
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(typing.cast(Any, cls))}
    hints = typing.get_type_hints(cls)
    dotted = (prefix + ".") if prefix else ""
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise RlrecError(
            f"unknown key '{dotted}{unknown[0]}' (allowed: {', '.join(sorted(fields))})",
            key=dotted + unknown[0],
            allowed=sorted(fields),
        )
    kwargs = {}
    for name, value in data.items():
        key = dotted + name
        coerced = _coerce(key, value, hints[name])
        check_value(key, coerced, fields[name].metadata)
        kwargs[name] = coerced
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()  # cross-field checks, raising RlrecError
    return obj


def check(obj: Any, prefix: str = "") -> None:
    """Re-check every field of an already-built dataclass (e.g. after edits in a form)."""
    from_dict(type(obj), to_dict(obj), prefix=prefix)


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain nested dict (tuples become lists) suitable for YAML/JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(obj)


def deep_merge(base: dict[str, Any], override: typing.Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, recursing into nested mappings."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    one silently: a config or space that sets `agent.lr` twice would run with either)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path, option: str | None = None) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file (and line where YAML knows it), and
    `option` (the parameter that named the file, e.g. "config") when it is not a file."""
    path = Path(path)
    try:
        require_file(path)  # a folder, a broken link: said as such
    except RlrecError as exc:
        text = str(exc)
        if option is None or not text.startswith(f"{path}:"):
            raise
        rest = text[len(str(path)) :]
        raise RlrecError([Option(option, str(path)), rest], file=path, option=option) from None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RlrecError(f"{path}: no such file", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RlrecError(f"{path}: cannot read ({exc.__class__.__name__})", file=path) from None
    try:
        loaded = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        raise RlrecError(f"{where}: {problem}", file=path, line=line) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise RlrecError(f"{path}: expected a mapping of settings at the top level", file=path)
    return loaded
