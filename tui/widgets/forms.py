"""Validated forms shared by every pane: fields with a message beside each, one place to ask
whether they are all valid and what they hold, and engine errors routed to the field their
structured fields (`RlrecError.option` / `.key`) name.

    form = ValidatedForm(
        config_field(DQNConfig, "lr", key="agent.lr"),
        int_field("n_users", "users", 1000, low=1),
    )
    ...
    if form.validate():
        overrides = form.nested_values()   # {"agent": {"lr": 0.001}, "n_users": 1000}

The field widgets live in `tui.widgets.fields`, the factories and parsers in
`tui.widgets.field_factories`; both are re-exported here, the one import panes need.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical

from rlrec.data.errors import RlrecError
from rlrec.tui.widgets.field_factories import (
    choice_field,
    config_field,
    float_field,
    int_field,
    int_list_field,
    parse_float,
    parse_int,
    parse_int_list,
    path_field,
    text_field,
)
from rlrec.tui.widgets.fields import ChoiceField, FormField, Parser, ValidatedField

__all__ = [
    "ChoiceField",
    "FormField",
    "Parser",
    "ValidatedField",
    "ValidatedForm",
    "choice_field",
    "config_field",
    "float_field",
    "int_field",
    "int_list_field",
    "parse_float",
    "parse_int",
    "parse_int_list",
    "path_field",
    "text_field",
]


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

    def field_for(self, error: RlrecError) -> FormField | None:
        """The field an engine error is about: the one whose key is the error's `option` or
        `key` (a dotted config key), else whose key's last part is theirs; None if none is."""
        names = [name for name in (error.option, error.key) if name]
        for name in names:
            for f in self.fields:  # the whole key first: "agent.lr" before "lr"
                if f.key == name:
                    return f
        for name in names:
            leaf = name.rsplit(".", 1)[-1]
            for f in self.fields:
                if f.key.rsplit(".", 1)[-1] == leaf:
                    return f
        return None

    def show_error(self, error: RlrecError | str, text: str | None = None) -> bool:
        """Put an engine error beside the field its structured fields name (see `field_for`);
        `text` is how the face words it (default `str(error)`). False if it names no field of
        this form — a plain string names none: messages are never parsed."""
        if not isinstance(error, RlrecError):
            return False
        target = self.field_for(error)
        if target is None:
            return False
        return self._mark(target, text if text is not None else str(error))

    @staticmethod
    def _mark(field: FormField, message: str) -> bool:
        field.show_error(message)
        field.focus_input()
        return True
