"""Command-palette provider: the app's main actions, plus "open run …" for each run found in
the runs folder. Context-aware: training commands follow the Train pane's state."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from rlrec.engine.training.runs import is_run
from rlrec.tui.pane_list import PANES

if TYPE_CHECKING:  # the app imports this module
    from rlrec.tui.app import RlrecApp


class RlrecCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("RlrecApp", self.app)
        commands: list[tuple[str, str, Callable[[], object]]] = []
        train = app.train_pane()
        if train is not None and train.is_training:
            commands.append(
                ("Stop training", "stop the run and write a checkpoint", train.action_stop)
            )
            label = "Resume training" if train.is_paused else "Pause training"
            commands.append((label, "pause or resume the running training", train.action_pause))
        elif train is not None:
            commands.append(
                ("Start training", "train a DQN with the Train pane's settings", train.action_start)
            )
        commands += [
            (
                "New dataset",
                "generate or import a dataset (Dataset pane)",
                partial(app.action_show_pane, "dataset"),
            ),
            ("Open run", "pick a run in the Runs pane", partial(app.action_show_pane, "runs")),
            *(
                (
                    f"Switch to {pane.title}",
                    f"pane {pane.key}",
                    partial(app.action_show_pane, pane.id),
                )
                for pane in PANES
            ),
            ("Screenshot", "save an SVG of the screen into the run folder", app.action_screenshot),
            ("Help", "keys and help for the current pane", app.action_help),
        ]
        for run_dir in self._run_dirs():
            commands.append(
                (
                    f"Open run {run_dir.name}",
                    "show this run in Explore",
                    partial(app.open_run, run_dir),
                )
            )
        return commands

    def _run_dirs(self) -> list[Path]:
        runs_dir = cast("RlrecApp", self.app).state.runs_dir
        try:
            return sorted((p for p in Path(runs_dir).iterdir() if is_run(p)), reverse=True)[:30]
        except OSError:
            return []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            if name.startswith("Open run "):
                continue
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
