"""A modal error dialog: title, the one-line (or longer) message, OK. Escape or enter closes it
and the app carries on where it was."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ErrorDialog(ModalScreen[None]):
    DEFAULT_CSS = """
    ErrorDialog {
        align: center middle;
    }
    ErrorDialog > Vertical {
        width: 70%;
        max-width: 90;
        height: auto;
        max-height: 80%;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    ErrorDialog .error--title {
        text-style: bold;
        color: $text-error;
        margin-bottom: 1;
    }
    ErrorDialog .error--text {
        height: auto;
        max-height: 20;
        overflow-y: auto;
        margin-bottom: 1;
    }
    ErrorDialog Button {
        width: auto;
    }
    """
    BINDINGS = [
        Binding("escape,enter", "dismiss_dialog", "Close", id="error.close", tooltip="Close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="error--title", markup=False)
            yield Static(self.text, classes="error--text", markup=False)
            yield Button("OK", variant="error", id="error-ok")

    def on_mount(self) -> None:
        self.query_one("#error-ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
