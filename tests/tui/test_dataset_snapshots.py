"""SVG snapshots of the Dataset pane at 80×24 (stacked) and 160×48 (forms beside the summary
and EDA charts), with deterministic content: a small seeded dataset standing in for the
built-in default (so nothing is saved and no temp path is on screen).
Update after an intended change with `--snapshot-update` and look at the SVGs."""

from __future__ import annotations

import pytest

from rlrec import data
from rlrec.data.generator import generate
from rlrec.tui.app import RlrecApp
from tests.tui.fake_trainer import use_fake_engine

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def small_default(monkeypatch, tmp_path):
    use_fake_engine(monkeypatch)
    monkeypatch.chdir(tmp_path)
    dataset = generate(n_users=60, n_items=40, seed=3)
    monkeypatch.setattr(data, "default_dataset", lambda: dataset)


async def show_dataset_pane(pilot) -> None:
    app = pilot.app
    await app.wait_until_started()
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.press("1")
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dataset_pane(snap_compare, small_default, size):
    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=show_dataset_pane)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dataset_pane_bad_input(snap_compare, small_default, size):
    async def type_bad_sizes(pilot) -> None:
        await show_dataset_pane(pilot)
        app = pilot.app
        app.query_one("#gen-users-input").value = "lots"
        app.query_one("#gen-items-input").value = "-5"
        await pilot.pause(0.2)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=type_bad_sizes)
