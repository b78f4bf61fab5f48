"""The field widgets of a validated form: a label, a control and a message beside it.

`ValidatedField` parses its text on every change with a *parser* (text → value, raising
`RlrecError` with a one-line message); the message shows beside the field. Nothing typed can
raise out of a field: any exception from a parser becomes the field's message. Build fields
with the factories in `tui.widgets.field_factories`; group them in `tui.widgets.forms`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from rlrec.data.errors import RlrecError

Parser = Callable[[str], Any]


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

    @dataclass
    class Changed(Message):
        """The field's text changed; `error` is None when the new value is acceptable."""

        field: FormField
        value: Any
        error: str | None

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
                tooltip=Text(self.help) if self.help else None,
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
                tooltip=Text(self.help) if self.help else None,
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
