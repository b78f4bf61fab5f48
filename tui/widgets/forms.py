"""Validated form fields shared by every pane: a label, an input and a message beside it.

A field owns a *parser*: a function from the typed text to a value that raises `RlrecError`
with a one-line message when the text is not acceptable. Parsers delegate the actual rules to
the layer that owns them (the config dataclasses' ranges via `engine.config_base`, the data
layer's checks), so the TUI shows exactly the message the CLI would print. Nothing a user
types can raise out of a field: any exception from a parser becomes the field's message.

    form = ValidatedForm(
        config_field(DQNConfig, "lr", key="agent.lr"),
        int_field("n_users", "users", 1000, low=1),
    )
    ...
    if form.validate():
        overrides = form.nested_values()   # {"agent": {"lr": 0.001}, "n_users": 1000}
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from data.errors import RlrecError
from engine.config_base import check_value, describe_range

Parser = Callable[[str], Any]

__all__ = [
    "ChoiceField",
    "FormField",
    "ValidatedField",
    "ValidatedForm",
    "choice_field",
    "config_field",
    "float_field",
    "int_field",
    "int_list_field",
    "path_field",
    "text_field",
]


# -- parsers ---------------------------------------------------------------------------------


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
            raise RlrecError(f"{key}: expected a whole number, got {text.strip()!r}") from None
        if not as_float.is_integer():
            raise RlrecError(f"{key}: expected a whole number, got {text.strip()!r}") from None
        value = int(as_float)
    check_value(key, value, meta or {})
    return value


def parse_float(key: str, text: str, meta: typing.Mapping[str, Any] | None = None) -> float:
    """Finite number from text (1e-3 and 0.001 both work), checked against `meta`'s range."""
    stripped = text.strip().replace("_", "")
    try:
        value = float(stripped)
    except ValueError:
        raise RlrecError(f"{key}: expected a number, got {text.strip()!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RlrecError(f"{key}: expected a finite number, got {text.strip()!r}")
    check_value(key, value, meta or {})
    return value


def parse_int_list(key: str, text: str, meta: typing.Mapping[str, Any] | None = None) -> list[int]:
    """Comma- or space-separated whole numbers, e.g. hidden units '256, 256, 128'."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise RlrecError(f"{key}: expected one or more whole numbers, e.g. 256, 128")
    values = [parse_int(key, p, None) for p in parts]
    check_value(key, values, meta or {})
    return values


# -- fields ----------------------------------------------------------------------------------


class FormField(Widget):
    """Base of every field: a `key` (the name in the form's values), a value and an error."""

    DEFAULT_CSS = """
    FormField {
        height: auto;
        width: 1fr;
    }
    FormField > Horizontal {
        height: auto;
    }
    FormField .field--label {
        width: 16;
        padding: 0 1 0 0;
        content-align: left middle;
    }
    FormField Input, FormField Select {
        width: 1fr;
    }
    FormField .field--message {
        color: $text-error;
        padding: 0 0 0 16;
        display: none;
    }
    FormField.-invalid .field--message {
        display: block;
    }
    FormField.-invalid .field--label {
        color: $text-error;
    }
    """

    class Changed(Message):
        """The field's text changed; `error` is None when the new value is acceptable."""

        def __init__(self, field: FormField, value: Any, error: str | None) -> None:
            super().__init__()
            self.field = field
            self.value = value
            self.error = error

        @property
        def control(self) -> FormField:
            return self.field

    def __init__(
        self,
        key: str,
        label: str,
        *,
        help: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.key = key
        self.label = label
        self.help = help
        self._error: str | None = None

    @property
    def value(self) -> Any:
        raise NotImplementedError

    @property
    def error(self) -> str | None:
        return self._error

    def validate(self) -> bool:
        """Re-check the current text and show the message; True if the value is acceptable."""
        return self._error is None

    def show_error(self, message: str | None) -> None:
        """Show a message beside the field (e.g. an error the engine raised on submit)."""
        self._error = " ".join(str(message).split()) if message else None
        self.set_class(self._error is not None, "-invalid")
        if self.is_mounted:
            self.query_one(".field--message", Static).update(self._error or "")

    def focus_input(self) -> None:
        """Move keyboard focus into the field's control."""
        raise NotImplementedError


class ValidatedField(FormField):
    """A text input whose text is parsed on every change; the parser's error shows beside it."""

    def __init__(
        self,
        key: str,
        label: str,
        parse: Parser,
        value: Any = "",
        *,
        placeholder: str = "",
        help: str = "",
        optional: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(key, label, help=help, id=id, classes=classes)
        self._parse = parse
        self._optional = optional
        self._text = "" if value is None else _format_value(value)
        self._placeholder = placeholder or ("optional" if optional else help)
        self._value: Any = None
        self._check(self._text)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label, classes="field--label")
            yield Input(
                self._text,
                placeholder=self._placeholder,
                tooltip=self.help or None,
                compact=True,
                id=f"{self.id}-input" if self.id else None,
            )
        yield Static(self._error or "", classes="field--message", markup=False)

    def on_mount(self) -> None:
        # An empty required field is not an error until the user typed or submitted:
        # a fresh form should not open covered in red.
        if self._text.strip():
            self.show_error(self._error)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def text(self) -> str:
        return self.input.value if self.is_mounted else self._text

    @text.setter
    def text(self, text: str) -> None:
        self._text = text
        if self.is_mounted:
            self.input.value = text  # posts Input.Changed → _on_input_changed re-checks
        else:
            self._check(text)

    @property
    def value(self) -> Any:
        """The parsed value; None when the text is invalid or an optional field is empty."""
        return self._value

    def validate(self) -> bool:
        self._check(self.text)
        self.show_error(self._error)
        return self._error is None

    def focus_input(self) -> None:
        self.input.focus()

    def _check(self, text: str) -> None:
        self._text = text
        if self._optional and not text.strip():
            self._value, self._error = None, None
            return
        try:
            self._value, self._error = self._parse(text), None
        except RlrecError as exc:
            self._value, self._error = None, str(exc)
        except Exception as exc:  # a parser bug must not take the app down with it
            self._value, self._error = None, f"{self.key}: {exc.__class__.__name__}: {exc}"

    @on(Input.Changed)
    def _on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        unchanged = event.value == self._text
        self._check(event.value)
        if not (unchanged and not event.value.strip() and not self.has_class("-invalid")):
            self.show_error(self._error)
        self.post_message(self.Changed(self, self._value, self._error))


class ChoiceField(FormField):
    """A choice from a fixed list (a Select); it cannot hold a bad value."""

    def __init__(
        self,
        key: str,
        label: str,
        choices: Sequence[Any],
        value: Any = None,
        *,
        help: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(key, label, help=help, id=id, classes=classes)
        self.choices = list(choices)
        if not self.choices:
            raise ValueError(f"choice field {key!r} needs at least one choice")
        self._value = value if value in self.choices else self.choices[0]

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label, classes="field--label")
            yield Select(
                [(str(c), c) for c in self.choices],
                value=self._value,
                allow_blank=False,
                compact=True,
                tooltip=self.help or None,
                id=f"{self.id}-select" if self.id else None,
            )
        yield Static("", classes="field--message", markup=False)

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f"{value!r} is not one of {self.choices}")
        self._value = value
        if self.is_mounted:
            self.query_one(Select).value = value

    def focus_input(self) -> None:
        self.query_one(Select).focus()

    @on(Select.Changed)
    def _on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value in self.choices:
            self._value = event.value
        self.show_error(None)
        self.post_message(self.Changed(self, self._value, None))


def _format_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- field factories ---------------------------------------------------------------------------


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
    hint = help or f"whole number in {describe_range(meta)}"
    return ValidatedField(
        key, label, lambda t: parse_int(key, t, meta), value, optional=optional, help=hint, id=id
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
    hint = help or f"number in {describe_range(meta)}"
    return ValidatedField(
        key, label, lambda t: parse_float(key, t, meta), value, optional=optional, help=hint, id=id
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
    return ValidatedField(
        key,
        label,
        lambda t: parse_int_list(key, t, meta),
        list(value) if value is not None else "",
        help=help,
        id=id,
    )


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
            raise RlrecError(f"{label}: required")
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
            raise RlrecError(f"{label}: required (enter a path)")
        path = Path(text).expanduser()
        if must_exist:
            if not path.exists():
                raise RlrecError(f"{path}: no such file or folder")
            if kind == "dir" and not path.is_dir():
                raise RlrecError(f"{path}: not a folder")
            if kind == "file" and not path.is_file():
                raise RlrecError(f"{path}: not a file")
        if check is not None:
            check(path)
        return path

    return ValidatedField(key, label, parse, str(value), optional=optional, help=help, id=id)


def choice_field(
    key: str,
    label: str,
    choices: Sequence[Any],
    value: Any = None,
    *,
    help: str = "",
    id: str | None = None,
) -> ChoiceField:
    return ChoiceField(key, label, choices, value, help=help, id=id)


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
    unit = f" [{meta['unit']}]" if meta.get("unit") else ""
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
    origin = typing.get_origin(tp)
    if tp is int:
        parse: Parser = lambda t: parse_int(key, t, meta)  # noqa: E731
    elif tp is float:
        parse = lambda t: parse_float(key, t, meta)  # noqa: E731
    elif origin in (list, tuple):
        parse = lambda t: parse_int_list(key, t, meta)  # noqa: E731
    else:

        def parse(text: str) -> str:
            text = text.strip()
            check_value(key, text, meta)
            return text

    return ValidatedField(key, label, parse, value, optional=optional, help=hint, id=id)


# -- the form ------------------------------------------------------------------------------------


class ValidatedForm(Vertical):
    """A column of fields with one place to ask: are they all valid, and what are the values?"""

    DEFAULT_CSS = """
    ValidatedForm {
        height: auto;
    }
    """

    @property
    def fields(self) -> list[FormField]:
        return list(self.query(FormField))

    def field(self, key: str) -> FormField:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def validate(self) -> bool:
        """Check every field (showing every message); focus the first bad one."""
        bad = [f for f in self.fields if not f.validate()]
        if bad:
            bad[0].focus_input()
        return not bad

    def errors(self) -> dict[str, str]:
        return {f.key: f.error for f in self.fields if f.error}

    def values(self) -> dict[str, Any]:
        """Flat {key: parsed value} (None for invalid or empty optional fields)."""
        return {f.key: f.value for f in self.fields}

    def nested_values(self, skip_none: bool = True) -> dict[str, Any]:
        """Values with dotted keys split into nested dicts, ready for `deep_merge`/overrides."""
        out: dict[str, Any] = {}
        for key, value in self.values().items():
            if skip_none and value is None:
                continue
            *parents, leaf = key.split(".")
            node = out
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return out

    def show_error(self, message: str) -> bool:
        """Put an engine error beside the field it names; False if it names none.

        A field is named by its key ("agent.lr"), the key's last part ("lr"), its flag
        spelling ("--user-col" for "user_col"), or by its own text quoted in the message
        (e.g. "unknown column 'usr'" names the field holding usr)."""
        fields = sorted(self.fields, key=lambda f: -len(f.key))
        for f in fields:
            leaf = f.key.rsplit(".", 1)[-1]
            for name in dict.fromkeys((f.key, leaf, leaf.replace("_", "-"))):
                if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message):
                    return self._mark(f, message)
        for f in fields:
            text = f.text.strip() if isinstance(f, ValidatedField) else ""
            if text and any(q + text + q in message for q in ("'", '"', "`")):
                return self._mark(f, message)
        return False

    @staticmethod
    def _mark(field: FormField, message: str) -> bool:
        field.show_error(message)
        field.focus_input()
        return True
