"""Validated forms shared by every pane: fields with a message beside each, one place to ask
whether they are all valid and what they hold, and engine errors routed to the field they name.

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

import re
from typing import Any

from textual.containers import Vertical

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
