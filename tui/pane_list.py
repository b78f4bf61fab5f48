"""The app's panes, in one place: the tabs, the 1–4 keys, the palette's "Switch to …"
commands and the help's key table are all made from `PANES`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaneInfo:
    id: str  # tab id; the pane widget's id is f"{id}-pane"
    key: str  # the key that shows it
    title: str
    module: str  # imported when the app composes (a missing module shows a placeholder)
    class_name: str

    @property
    def tab_title(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def widget_id(self) -> str:
        return f"{self.id}-pane"


PANES = (
    PaneInfo("dataset", "1", "Dataset", "rlrec.tui.panes.dataset", "DatasetPane"),
    PaneInfo("train", "2", "Train", "rlrec.tui.panes.train", "TrainPane"),
    PaneInfo("explore", "3", "Explore", "rlrec.tui.panes.explore", "ExplorePane"),
    PaneInfo("runs", "4", "Runs", "rlrec.tui.panes.runs", "RunsPane"),
)
