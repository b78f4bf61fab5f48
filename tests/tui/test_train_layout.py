"""The Train pane at the sizes people run it (80×24 and 160×48), with the engine's real
settings form (a dozen fields, taller than an 80×24 screen): Start, Pause and Stop are on
screen and clickable without scrolling, and the event log's last line is never hidden by the
finish notice."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Button, RichLog

from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.train import TrainPane
from tests.tui.fake_trainer import FakeTrainer, screen_text, skip_dataset, sync, wait_for

SIZES = [(80, 24), (160, 48)]


def clickable(app: RlrecApp, widget) -> bool:
    """`widget` is on screen and on top at its centre: a click there reaches it."""
    region = widget.region
    if not region or not app.screen.region.contains_region(region):
        return False
    found, _ = app.screen.get_widget_at(*region.center)
    return found is widget


async def click(pilot, button: Button) -> None:
    """Click `button` once it takes clicks again (a button ignores clicks while its press
    animation, 0.2 s, still runs)."""
    await wait_for(pilot, lambda: not button.has_class("-active") and not button.disabled)
    await pilot.click(button)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@sync
async def test_start_pause_stop_are_on_screen_without_scrolling(tmp_path, monkeypatch, size):
    skip_dataset(monkeypatch)
    hold = threading.Event()  # the run goes on until stopped
    trainers: list[FakeTrainer] = []

    def make_trainer(self, config, run_dir):
        trainers.append(FakeTrainer(config, run_dir, windows=2, hold=hold))
        return trainers[-1]

    monkeypatch.setattr(TrainPane, "make_trainer", make_trainer)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built, timeout=120)
        await pilot.pause()
        buttons = [pane.query_one(f"#train-{name}", Button) for name in ("start", "pause", "stop")]
        assert all(clickable(app, button) for button in buttons)
        # The mouse alone drives a run: start, pause, resume, stop.
        await click(pilot, buttons[0])
        await wait_for(pilot, lambda: pane._trainer is not None and pane.run_state == "running")
        await click(pilot, buttons[1])
        await wait_for(pilot, lambda: pane.run_state == "paused")
        await click(pilot, buttons[1])
        await wait_for(pilot, lambda: pane.run_state == "running")
        await click(pilot, buttons[2])
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        assert pane.last_finished.reason == "stopped" and trainers[0].checkpoints


def log_rows(app: RlrecApp) -> list[str]:
    """The rows of the screen where the event log is, as a person reads them."""
    log = app.query_one("#train-log", RichLog)
    region = log.region
    lines = screen_text(app).splitlines()
    return [line[region.x : region.right].rstrip() for line in lines[region.y : region.bottom]]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@sync
async def test_the_log_s_last_line_stays_readable_when_a_run_finishes(tmp_path, monkeypatch, size):
    skip_dataset(monkeypatch)
    monkeypatch.setattr(TrainPane, "make_trainer", lambda self, c, r: FakeTrainer(c, r, windows=4))
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built, timeout=120)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        await pilot.pause(0.2)
        if app.screen is not app.screen_stack[0]:
            await pilot.press("escape")  # Explore cannot load a scripted run's agent
            await pilot.pause(0.1)
        # The log's last line (it wraps at 80×24) is on screen, nothing drawn over it.
        shown = " ".join(" ".join(log_rows(app)).split())
        assert "finished (budget) after 400 steps" in shown, log_rows(app)
        assert "eval norm 0.50" in shown, log_rows(app)
        # The way to the trained agent is still told, in the status line.
        status = str(pane.query_one("#train-status").render())
        assert "e or 3: explore it" in " ".join(status.split())
        assert not app._notifications  # no notice was raised over the pane


@sync
async def test_a_run_finishing_while_another_pane_is_shown_raises_a_notice(tmp_path, monkeypatch):
    skip_dataset(monkeypatch)
    hold = threading.Event()
    monkeypatch.setattr(
        TrainPane, "make_trainer", lambda self, c, r: FakeTrainer(c, r, windows=2, hold=hold)
    )
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built, timeout=120)
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.run_state == "running")
        await pilot.press("4")  # the Runs pane
        hold.set()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        messages = [n.message for n in app._notifications]
        assert any("finished: press 3 (or e) to explore it" in m for m in messages), messages
