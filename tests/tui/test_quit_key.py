"""`q` quits from every pane and over the dialogs (as ctrl+q does: a running training stops
with a checkpoint first), except in a text field, where it types a q; the footer shows it."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from rlrec.tui.app import RlrecApp
from rlrec.tui.help import HelpScreen
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.error_dialog import ErrorDialog
from tests.tui.fake_trainer import (
    app_without_dataset,
    screen_text,
    sync,
    train_app,
    use_fake_engine,
    wait_for,
)


async def started(app: RlrecApp, pilot) -> None:
    await app.wait_until_started()
    pane = app.query_one(TrainPane)
    await wait_for(pilot, lambda: pane._form_built)


@pytest.mark.parametrize("key", ["1", "2", "3", "4"])
@sync
async def test_q_quits_from_every_pane(tmp_path, monkeypatch, key):
    use_fake_engine(monkeypatch)
    async with app_without_dataset(monkeypatch, tmp_path, (80, 24)) as (app, pilot):
        await started(app, pilot)
        await pilot.press(key)
        await pilot.pause(0.1)
        assert app.is_running
        assert not isinstance(app.focused, Input)  # each pane starts on its keys, not a field
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


@pytest.mark.parametrize("dialog", ["help", "error"])
@sync
async def test_q_quits_over_the_help_and_an_error_dialog(tmp_path, monkeypatch, dialog):
    use_fake_engine(monkeypatch)
    async with app_without_dataset(monkeypatch, tmp_path, (80, 24)) as (app, pilot):
        await started(app, pilot)
        if dialog == "help":
            await pilot.press("f1")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        else:
            app.push_screen(ErrorDialog("Bad settings", "agent.lr = -1 is out of range"))
            await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


@sync
async def test_q_in_a_text_field_types_a_q_and_the_footer_shows_q(tmp_path, monkeypatch):
    async with train_app(monkeypatch, tmp_path, (80, 24)) as t:
        app, pilot = t.app, t.pilot
        footer = screen_text(app).splitlines()[-1]
        assert " q Quit " in f" {footer} " and "^q" not in footer
        field = t.pane.form().field("agent.lr").query_one(Input)
        field.focus()
        await pilot.pause()
        before = field.value
        await pilot.press("end", "q")
        await pilot.pause()
        assert app.is_running and field.value == before + "q"
        # The command palette's search field too.
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and isinstance(app.focused, Input) and app.focused.value == "q"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")  # leave the field: q quits again
        await pilot.pause()
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
