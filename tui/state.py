"""What the whole app shares: the open dataset, the open run and where runs live.

One `AppState` lives on `app.state`. Panes read it; only the app writes it (in response to
`DatasetChanged` / `RunSelected` messages), so there is one place that decides what is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rlrec.engine.training.runs import default_runs_dir

if TYPE_CHECKING:  # keep `tui.state` import-light: no pandas/numpy at first frame
    from rlrec.data.dataset import Dataset


@dataclass
class AppState:
    dataset: Dataset | None = None
    dataset_path: Path | None = None
    run_dir: Path | None = None
    runs_dir: Path = field(default_factory=default_runs_dir)
    refresh_hz: float = 4.0
