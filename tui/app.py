"""`rlrec-tui`: the app shell. Four panes in tabs (Dataset, Train, Explore, Runs), keys 1–4,
F1 help for the current pane, the command palette, F8 screenshot, themes, a narrow layout.

The shell owns `app.state` and reacts to the panes' messages (`DatasetChanged`, `RunSelected`,
`ShowError`); panes never reach into each other. Nothing heavy is imported at module import time
so the first frame shows in well under a second; the default dataset loads in a worker.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import DOMQuery, NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane, TextArea

from rlrec.data.errors import error_line
from rlrec.engine.training.events import RunState
from rlrec.engine.training.runs import CONFIG_FILE, METRICS_FILE, is_unused_folder
from rlrec.tui.commands import RlrecCommands
from rlrec.tui.heap import settle_heap
from rlrec.tui.messages import DatasetChanged, RunSelected, ShowError, StateUpdated
from rlrec.tui.pane_list import PANES, PaneInfo
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.state import AppState
from rlrec.tui.widgets.error_dialog import ErrorDialog

NARROW_COLUMNS = 100  # below this width (so at 80×24 too) the Train pane slims down
WIDE_COLUMNS = 140  # from this width the Train pane has room for six charts


def _make_pane(info: PaneInfo) -> Widget:
    try:
        module = importlib.import_module(info.module)
    except ModuleNotFoundError as exc:
        if exc.name != info.module:
            raise
        return Static(f"{info.class_name}: not built yet", classes="placeholder")
    pane: Widget = getattr(module, info.class_name)(id=info.widget_id)
    return pane


class RlrecApp(App):
    TITLE = "rlrec"
    SUB_TITLE = "deep-RL recommender lab"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {RlrecCommands}
    # Focus is placed by `_focus_pane` on the visible pane; Textual's auto-focus would pick the
    # first focusable widget anywhere, even in a hidden pane, and switch to that pane.
    AUTO_FOCUS = None
    BINDINGS = [
        # `q` everywhere, even over a dialog or the help (priority), except in a text field,
        # where it types a q (`check_action`); ctrl+q quits from a text field too. First,
        # so the footer shows it even at 80 columns.
        Binding(
            "q", "quit_key", "Quit", id="app.quit_q", tooltip="Quit (stops training)", priority=True
        ),
        *(
            Binding(
                pane.key,
                f"show_pane('{pane.id}')",
                pane.title,
                id=f"pane.{pane.id}",
                tooltip=f"{pane.title} pane",
            )
            for pane in PANES
        ),
        Binding("f1", "help", "Help", id="app.help", tooltip="Help for the current pane"),
        Binding("f8", "screenshot", "Screenshot", id="app.screenshot", tooltip="Save an SVG"),
        Binding(
            "escape",
            "leave_field",
            "Leave field",
            id="app.leave_field",
            tooltip="Back from a text field to the pane's keys",
            show=False,
        ),
        Binding(
            "ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit (stops training)", show=False
        ),
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
            # A run given on the command line is followed in Train first; Explore gets it
            # (state.run_dir) once its writer has finished it — see TrainPane.follow.
            run_dir=None,
            refresh_hz=float(refresh),
        )
        if runs_dir is not None:
            self.state.runs_dir = Path(runs_dir)
        self._requested_theme = theme
        self._open_run_at_start = Path(run_dir) if run_dir else None
        self.is_quitting = False
        # Set once the hidden panes are mounted and the first dataset is in (or failed):
        # tests and benchmarks await it instead of guessing with sleeps.
        self.startup_done = asyncio.Event()
        self._startup_pending = {"panes", "dataset"}
        self._deferred_panes: dict[str, Widget] = {}
        self._train_pane: TrainPane | None = None
        self.last_screenshot: Path | None = None

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        initial = "train"
        with TabbedContent(initial=initial, id="panes"):
            for info in PANES:
                with TabPane(info.tab_title, id=info.id):
                    pane = _make_pane(info)
                    if info.id == initial:
                        yield pane
                    else:  # hidden panes mount just after the first frame, which shows sooner
                        self._deferred_panes[info.id] = pane
        yield Footer()

    def on_mount(self) -> None:
        if self._requested_theme:
            if self._requested_theme in self.available_themes:
                self.theme = self._requested_theme
            else:
                names = ", ".join(sorted(self.available_themes))
                self.notify(
                    f"unknown theme {self._requested_theme!r}; try one of {names}",
                    severity="warning",
                )
        self._apply_width(self.size.width)
        self._install_hangup_handler()
        self.call_after_refresh(self._mount_deferred_panes)
        # Heavy work (generating the default dataset, importing torch for the config form)
        # starts after the first frame is on screen, so the app appears at once.
        self.call_after_refresh(self.load_dataset)
        train = self.train_pane()
        self._train_pane = train  # kept for `wait_for_training` after the screens are gone
        if self._open_run_at_start is not None and train is not None:
            self.call_after_refresh(train.follow, self._open_run_at_start)
        if train is not None:
            self._focus_pane(train)

    async def _mount_deferred_panes(self) -> None:
        for pane_id, pane in list(self._deferred_panes.items()):
            if self.is_quitting or not self.is_running:
                return
            tab_pane = self._main_query(f"TabPane#{pane_id}")
            if tab_pane:
                await tab_pane.first().mount(pane)
            del self._deferred_panes[pane_id]
        self._startup_step_done("panes")

    def _startup_step_done(self, step: str) -> None:
        self._startup_pending.discard(step)
        if not self._startup_pending:
            self.call_after_refresh(settle_heap)  # after this frame is painted
            self.startup_done.set()

    async def wait_until_started(self, timeout: float = 60.0) -> None:
        """Wait until the panes are mounted and the first dataset has arrived (or failed)."""
        await asyncio.wait_for(self.startup_done.wait(), timeout)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        if self.screen_stack:
            self.screen_stack[0].set_class(width < NARROW_COLUMNS, "narrow")
            self.screen_stack[0].set_class(width >= WIDE_COLUMNS, "wide")

    def _main_query(self, selector: str | type[Widget]) -> DOMQuery[Widget]:
        """Query the main screen, even while a modal (help, palette, dialog) is on top."""
        if not self.screen_stack:
            return self.query("#never-matches")
        return self.screen_stack[0].query(selector)

    def train_pane(self) -> TrainPane | None:
        found = self._main_query(TrainPane)
        return found.first(TrainPane) if found else None

    def active_pane(self) -> Widget | None:
        found = self._main_query("#panes")
        if not found:
            return None
        tabs = found.first(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        return pane.children[0] if pane is not None and pane.children else None

    # -- the dataset -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="dataset")
    def load_dataset(self) -> None:
        """The dataset named on the command line, or the built-in default (generated)."""
        try:
            if self.state.dataset_path is not None:
                from rlrec.data.store import load_dataset

                dataset = load_dataset(self.state.dataset_path)
            else:
                from rlrec.data import default_dataset

                dataset = default_dataset()
        except Exception as exc:  # noqa: BLE001 — shown to the user, the app stays up
            self.post_message(ShowError("Cannot open dataset", error_line(exc)))
            self.call_from_thread(self._startup_step_done, "dataset")
            return
        self.post_message(DatasetChanged(dataset, self.state.dataset_path))

    @on(DatasetChanged)
    def _dataset_changed(self, message: DatasetChanged) -> None:
        self.state.dataset = message.dataset
        self.state.dataset_path = message.path
        self._tell_panes("dataset")
        self._startup_step_done("dataset")
        if self.startup_done.is_set():
            self.call_after_refresh(settle_heap)

    # -- runs ------------------------------------------------------------------------------

    def open_run(self, run_dir: Path) -> None:
        self.post_message(RunSelected(Path(run_dir)))

    @on(RunSelected)
    def _run_selected(self, message: RunSelected) -> None:
        self.set_run(message.run_dir, show=True)

    def set_run(self, run_dir: Path, show: bool = False) -> None:
        """Make `run_dir` the open run (Explore loads it); `show` switches to Explore."""
        if self.state.run_dir != Path(run_dir):
            self.state.run_dir = Path(run_dir)
            self._tell_panes("run_dir")
        if show:
            self.action_show_pane("explore")

    def runs_changed(self) -> None:
        """A run of this app started, finished or failed: the Runs pane re-reads its folder."""
        pane = self._pane_widget("runs")
        if pane is not None:
            pane.post_message(StateUpdated("runs"))

    def _tell_panes(self, field: str) -> None:
        for info in PANES:
            pane = self._pane_widget(info.id)
            if pane is not None:
                pane.post_message(StateUpdated(field))

    def _pane_widget(self, pane_id: str) -> Widget | None:
        found = self._main_query(f"#{pane_id}-pane")
        return found.first() if found else None

    # -- keys and actions --------------------------------------------------------------------

    def action_show_pane(self, pane_id: str) -> None:
        found = self._main_query("#panes")
        if not found:  # shutting down: the tabs are already gone
            return
        tabs = found.first(TabbedContent)
        tabs.active = pane_id
        pane = self._pane_widget(pane_id)
        if pane is None:  # still mounting (hidden panes mount just after the first frame)
            self.call_after_refresh(self._focus_when_mounted, pane_id)
            return
        self._focus_pane(pane)
        if isinstance(pane, TrainPane):
            self.call_after_refresh(pane.replot_visible)

    def _focus_when_mounted(self, pane_id: str) -> None:
        tabs = self._main_query("#panes")
        if tabs and tabs.first(TabbedContent).active == pane_id:
            pane = self._pane_widget(pane_id)
            if pane is None:
                self.call_after_refresh(self._focus_when_mounted, pane_id)
            else:
                self._focus_pane(pane)

    def _focus_pane(self, pane: Widget) -> None:
        """Focus the pane (or its `focus_default()` choice) so its keys work at once."""
        focus_default = getattr(pane, "focus_default", None)
        if callable(focus_default):
            try:
                focus_default()
            except NoMatches:
                # A key pressed at startup can arrive while the pane composes its children:
                # focus its default once they are there (if it is still the pane shown).
                pane_id = (pane.id or "").removesuffix("-pane")
                self.call_after_refresh(self._focus_when_mounted, pane_id)
        elif pane.can_focus:
            pane.focus()

    def action_leave_field(self) -> None:
        """Escape out of a text field back to the pane, so 1–4 and pane keys work again."""
        pane = self.active_pane()
        if pane is not None and isinstance(self.focused, Input | TextArea):
            self._focus_pane(pane)

    def action_help(self) -> None:
        pane = self.active_pane()
        tabs = self._main_query("#panes")
        active = tabs.first(TabbedContent).active if tabs else ""
        title = next((info.title for info in PANES if info.id == active), "rlrec")
        help_text = getattr(pane, "HELP", "") or "No help for this pane yet."
        bindings = list(getattr(type(pane), "BINDINGS", [])) if pane is not None else []
        from rlrec.tui.help import HelpScreen  # Markdown widgets load on first use

        self.push_screen(HelpScreen(f"{title} — help", help_text, bindings))

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG into `path` (default: the open run's folder, else the runs folder)."""
        if path is not None:
            folder = Path(path)
        else:
            folder = self.state.run_dir if self.state.run_dir is not None else self.state.runs_dir
        tabs = self._main_query("#panes").first(TabbedContent)
        name = filename or f"rlrec-{tabs.active or 'app'}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename=name, path=str(folder))
        except OSError as exc:
            self.notify(f"cannot save screenshot: {error_line(exc, folder)}", severity="error")
            return
        self.last_screenshot = Path(saved)
        self.notify(f"screenshot saved: {saved}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Our provider has its own Screenshot (into the run folder); drop Textual's web one.
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit_key" and isinstance(self.focused, Input | TextArea):
            return False  # the key goes on to the field, which types it
        return True

    async def action_quit_key(self) -> None:
        """`q`: quit as ctrl+q does (see `check_action` for text fields)."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Stop a running training first (it writes a checkpoint), at most ~1 s, then exit."""
        self.is_quitting = True
        train = self.train_pane()
        if train is not None:
            await train.shutdown(timeout=1.0)
        self.exit()

    # -- errors ----------------------------------------------------------------------------

    @on(ShowError)
    def _show_error(self, message: ShowError) -> None:
        self.push_screen(ErrorDialog(message.title, message.text))

    # -- the terminal going away -------------------------------------------------------------

    def _install_hangup_handler(self) -> None:
        """Exit (stopping training with a checkpoint) when the terminal hangs up (SSH drop)."""
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._hangup)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass  # not the main thread (tests) or no SIGHUP on this platform

    def wait_for_training(self, timeout: float) -> None:
        """After exit: block until a stopping trainer has finished (checkpoint written)."""
        trainer = self._train_pane._trainer if self._train_pane is not None else None
        deadline = time.monotonic() + timeout
        while (
            trainer is not None
            and trainer.state is not RunState.FINISHED
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)

    def _hangup(self) -> None:
        self.run_worker(self.action_quit(), exclusive=True, group="quit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlrec-tui",
        description="rlrec terminal app: datasets, live training, recommendation explorer, runs.",
    )
    parser.add_argument("path", nargs="?", help="a dataset folder or a run folder to open")
    parser.add_argument("--runs-dir", help="where new runs go and runs are listed")
    parser.add_argument("--refresh", type=float, default=4.0, help="plot redraws per second")
    parser.add_argument("--theme", help="Textual theme, e.g. textual-dark, nord, gruvbox")
    return parser


def classify_path(path: Path) -> str:
    """'run', 'dataset' or 'missing' for a folder given on the command line."""
    if not path.exists():
        return "missing"
    if (path / METRICS_FILE).exists() or (path / CONFIG_FILE).exists():
        return "run"
    if is_unused_folder(path):
        # Empty (or only a lock): a run whose writer has just started, followed until it writes.
        return "run"
    return "dataset"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.refresh <= 60:
        parser.error(f"--refresh = {args.refresh:g} is out of range (allowed: (0, 60])")
    dataset_path = run_dir = None
    if args.path:
        path = Path(args.path).expanduser()
        kind = classify_path(path)
        if kind == "missing":
            parser.error(f"{path}: no such folder")
        if kind == "run":
            run_dir = path
        else:
            dataset_path = path
    app = RlrecApp(dataset_path, run_dir, args.runs_dir, args.refresh, args.theme)
    app.run()
    status = int(app.return_code or 0)
    # A stopped training may still be writing its checkpoint: let it finish. Other background
    # work (generating the default dataset, importing torch) is abandoned — waiting for those
    # threads would keep a hung-up app alive for many seconds.
    app.wait_for_training(timeout=60)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
