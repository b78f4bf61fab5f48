"""SVG snapshots of the app at 80×24 (narrow layout) and 160×48, with deterministic content:
no clock, fixed seed, scripted training events, run folders with fixed times, relative paths.
Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs."""

from __future__ import annotations

import math

import pytest

from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    FinishReason,
    Progress,
    References,
    RunFinished,
    RunStarted,
)
from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.runs import RunsPane
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.study_chart import StudyChart
from tests.tui.fake_trainer import skip_dataset, use_fake_engine, wait_for
from tests.tui.study_folders import demo_trials, write_study
from tests.tui.test_runs import make_runs

SIZES = [(80, 24), (160, 48)]


def scripted_events() -> list:
    events: list = [
        RunStarted("runs/demo", "default", 500, {"steps": 40_960}),
        References(random_return=3.0, oracle_return=9.0),
    ]
    for w in range(1, 41):
        events.append(
            Progress(
                env_steps=w * 1024,
                updates=w * 16,
                episodes=w * 40,
                seconds=w * 0.25,
                episode_return=3.0 + 4.0 * (1 - math.exp(-w / 10)) + 0.3 * math.sin(w),
                episode_length=10.0 + w / 8,
                ctr=0.35 + 0.3 * (1 - math.exp(-w / 12)),
                epsilon=max(0.05, 1.0 - w / 30),
                loss=0.5 * math.exp(-w / 15) + 0.02,
                learning_rate=1e-3,
                steps_per_second=4096.0,
                fraction_done=w / 40,
                eta_seconds=(40 - w) * 0.25,
            )
        )
        if w % 10 == 0:
            events.append(Evaluation(w * 1024, 1000, 3.5 + w / 10, 0.12, 0.55, 12.0, w / 50))
    events.append(Checkpointed(40_960, "runs/demo/checkpoint.pt"))
    events.append(RunFinished(FinishReason.BUDGET, 40_960, 640, 10.0))
    return events


async def settle(pilot) -> None:
    app = pilot.app
    pane = app.query_one(TrainPane)
    await wait_for(pilot, lambda: pane._form_built, timeout=120)
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)


@pytest.fixture
def fake_engine(monkeypatch, tmp_path):
    use_fake_engine(monkeypatch)
    skip_dataset(monkeypatch)
    monkeypatch.chdir(tmp_path)  # relative runs folder: no temp path on screen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_pane_ready(snap_compare, fake_engine, size):
    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_pane_after_a_run(snap_compare, fake_engine, size):
    async def run_before(pilot):
        await settle(pilot)
        pane = pilot.app.query_one(TrainPane)
        events = scripted_events()
        pane.store.extend(events)
        for event in events:
            pane._show_event(event, live=False)
        await pilot.pause(0.1)
        pane.replot_visible(force=True)
        await pilot.pause(0.1)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_pane_compare(snap_compare, fake_engine, tmp_path, size):
    make_runs(tmp_path / "runs")

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.set_focus(None)
        await pilot.press("4")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)
        await pilot.press("space", "down", "space", "c")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=size, run_before=run_before)


def test_runs_pane_study(snap_compare, fake_engine, tmp_path):
    """A study's view: trials (best starred), objective per trial, importances."""
    write_study(tmp_path / "runs", "lr-search", demo_trials())

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.set_focus(None)
        await pilot.press("4")
        pane = pilot.app.query_one(RunsPane)
        await wait_for(pilot, lambda: pane.studies)
        await pilot.press("t", "enter")
        chart = pane.query_one(StudyChart)
        table = pane.query_one("#trials-table")
        await wait_for(pilot, lambda: chart.points and table.row_count == 6 and table.has_focus)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=(100, 30), run_before=run_before)


def test_help_screen(snap_compare, fake_engine):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(RlrecApp(runs_dir="runs"), terminal_size=(80, 24), run_before=run_before)
