"""`rlrec-tui`: the app shell. Four panes in tabs (Dataset, Train, Explore, Runs), keys 1–4,
F1 help for the current pane, the command palette, F8 screenshot, themes, a narrow layout.

The shell owns `app.state` and reacts to the panes' messages (`DatasetChanged`, `RunSelected`,
`ShowError`); panes never reach into each other. Nothing heavy is imported at module import time
so the first frame shows in well under a second; the default dataset loads in a worker.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from tui.messages import DatasetChanged, RunSelected, ShowError
from tui.state import AppState

# (tab id, title, module, class). A pane whose module is not there yet shows a placeholder.
PANES = (
    ("dataset", "1 Dataset", "tui.panes.dataset", "DatasetPane"),
    ("train", "2 Train", "tui.panes.train", "TrainPane"),
    ("explore", "3 Explore", "tui.panes.explore", "ExplorePane"),
    ("runs", "4 Runs", "tui.panes.runs", "RunsPane"),
)
NARROW_COLUMNS = 80


def _make_pane(module_name: str, class_name: str) -> Widget:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return Static(f"{class_name}: loading… (not built yet)", classes="placeholder")
    return getattr(module, class_name)()


class RlrecApp(App):
    TITLE = "rlrec"
    SUB_TITLE = "deep-RL recommender lab"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("1", "show_pane('dataset')", "Dataset", id="pane.dataset", tooltip="Dataset pane"),
        Binding("2", "show_pane('train')", "Train", id="pane.train", tooltip="Train pane"),
        Binding("3", "show_pane('explore')", "Explore", id="pane.explore", tooltip="Explore pane"),
        Binding("4", "show_pane('runs')", "Runs", id="pane.runs", tooltip="Runs pane"),
        Binding("f1", "help", "Help", id="app.help", tooltip="Help for the current pane"),
        Binding("f8", "screenshot", "Screenshot", id="app.screenshot", tooltip="Save an SVG"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit (stops training)"),
    ]

    def __init__(
        self,
        dataset_path: Path | str | None = None,
        run_dir: Path | str | None = None,
        runs_dir: Path | str | None = None,
        refresh: float = 4.0,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.state = AppState(
            dataset_path=Path(dataset_path) if dataset_path else None,
            run_dir=Path(run_dir) if run_dir else None,
            refresh_hz=float(refresh),
        )
        if runs_dir is not None:
            self.state.runs_dir = Path(runs_dir)
        self._requested_theme = theme

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with TabbedContent(initial="train", id="panes"):
            for pane_id, title, module_name, class_name in PANES:
                with TabPane(title, id=pane_id):
                    yield _make_pane(module_name, class_name)
        yield Footer()

    def on_mount(self) -> None:
        if self._requested_theme:
            self.theme = self._requested_theme
        self.load_dataset()

    @work(thread=True, exclusive=True, exit_on_error=False, group="dataset")
    def load_dataset(self) -> None:
        """The dataset named on the command line, or the built-in default (generated)."""
        try:
            if self.state.dataset_path is not None:
                from data.store import load_dataset

                dataset = load_dataset(self.state.dataset_path)
            else:
                from data import default_dataset

                dataset = default_dataset()
        except Exception as exc:  # noqa: BLE001 — shown to the user, the app stays up
            self.post_message(ShowError("Cannot open dataset", str(exc)))
            return
        self.post_message(DatasetChanged(dataset, self.state.dataset_path))

    def action_show_pane(self, pane_id: str) -> None:
        self.query_one("#panes", TabbedContent).active = pane_id

    @on(DatasetChanged)
    def _dataset_changed(self, message: DatasetChanged) -> None:
        self.state.dataset = message.dataset
        self.state.dataset_path = message.path

    @on(RunSelected)
    def _run_selected(self, message: RunSelected) -> None:
        self.state.run_dir = message.run_dir
        self.action_show_pane("explore")

    @on(ShowError)
    def _show_error(self, message: ShowError) -> None:
        self.notify(message.text, title=message.title, severity="error", timeout=10)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlrec-tui", description="rlrec terminal app: datasets, live training, explorer."
    )
    parser.add_argument("path", nargs="?", help="a dataset folder or a run folder to open")
    parser.add_argument("--runs-dir", help="where runs are stored and listed")
    parser.add_argument("--refresh", type=float, default=4.0, help="plot redraws per second")
    parser.add_argument("--theme", help="Textual theme name, e.g. textual-dark, nord")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    dataset_path = run_dir = None
    if args.path:
        path = Path(args.path)
        if (path / "metrics.jsonl").exists() or (path / "config.yaml").exists():
            run_dir = path
        else:
            dataset_path = path
    app = RlrecApp(dataset_path, run_dir, args.runs_dir, args.refresh, args.theme)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
