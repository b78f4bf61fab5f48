"""F1 help: the current pane's own `HELP` text, its keys, and the keys that work everywhere."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from rlrec.tui.pane_list import PANES

GLOBAL_HELP = f"""\
## Everywhere

| Key | Action |
|-----|--------|
| {" ".join(f"`{pane.key}`" for pane in PANES)} | {", ".join(pane.title for pane in PANES)} |
| `F1` | this help |
| `ctrl+p` | command palette (start training, new dataset, open run, switch pane, screenshot, theme) |
| `F8` | save an SVG screenshot into the open run's folder (or the runs folder) |
| `q` | quit (a running training stops and writes a checkpoint first); in a text field `q` types a q: `ctrl+q` quits from there |
"""


def keys_table(bindings: list[Binding]) -> str:
    """Markdown table of a pane's bindings (key → description)."""
    rows = [
        f"| `{b.key_display or b.key}` | {b.tooltip or b.description} |"
        for b in bindings
        if b.description or b.tooltip
    ]
    if not rows:
        return ""
    return "| Key | Action |\n|-----|--------|\n" + "\n".join(rows) + "\n"


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,f1", "close", "Close help", id="help.close", tooltip="Close help"),
        # A modal screen does not pass ctrl+q on to the app: quitting must work from here too.
        Binding("ctrl+q", "app.quit", "Quit", id="help.quit", tooltip="Quit", show=False),
    ]

    def __init__(self, title: str, pane_help: str, pane_bindings: list[Binding]) -> None:
        super().__init__()
        self.markdown = f"# {title}\n\n{pane_help.strip()}\n\n"
        table = keys_table(pane_bindings)
        if table:
            self.markdown += f"## Keys in this pane\n\n{table}\n"
        self.markdown += GLOBAL_HELP

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self.markdown)

    def action_close(self) -> None:
        self.dismiss(None)
