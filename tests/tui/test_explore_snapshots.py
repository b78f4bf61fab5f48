"""SVG snapshots of the Explore pane at 80×24 and 160×48 with a stand-in run (deterministic
recommendations over a small seeded dataset), and of the "why" dialog.
Update after an intended change with `--snapshot-update` and look at the SVGs."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from rlrec import data
from rlrec.data.generator import generate
from rlrec.tui.app import RlrecApp
from rlrec.tui.messages import RunSelected
from rlrec.tui.screen_text import screen_text
from tests.tui.fake_trainer import use_fake_engine, wait_for
from tests.tui.test_explore import dataset_dir  # noqa: F401 — a fixture
from tests.tui.test_explore import fake_engine as explore_engine  # noqa: F401 — a fixture

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def quiet_app(monkeypatch, tmp_path, explore_engine):  # noqa: F811
    use_fake_engine(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "default_dataset", lambda: generate(n_users=30, n_items=25, seed=5))


async def settle(pilot) -> None:
    await pilot.app.wait_until_started()
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_run(pilot) -> None:
    await settle(pilot)
    pilot.app.post_message(RunSelected(Path("runs") / "demo"))
    # The run loads in one worker and the user's lists in another, each kicked off by a
    # message: wait for what the screen must show, not for a guessed number of rounds.
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            app.query_one("#explore-agent", DataTable).row_count > 0
            and app.query_one("#explore-baseline", DataTable).row_count > 0
        ),
        timeout=120,
    )
    await settle(pilot)
    # DataTables size their columns on idle, after the rows arrive: under load the capture
    # could land before that. Wait until two frames apart show the same screen.
    previous = None
    for _ in range(100):
        await pilot.pause(0.05)
        now = screen_text(app)
        if now == previous:
            break
        previous = now


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_explore_pane(snap_compare, quiet_app, size):
    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=open_run)


def test_explore_why_dialog(snap_compare, quiet_app):
    async def why(pilot) -> None:
        await open_run(pilot)
        await pilot.press("tab", "down", "enter")
        await pilot.pause(0.2)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=(120, 36), run_before=why)
