"""The Train pane's settings form with the engine's real config classes: bad text in every
field shows a message beside that field and never raises; Start refuses bad settings; engine
errors that involve several fields land beside the one they name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.error_dialog import ErrorDialog
from tests.tui.fake_trainer import screen_text, skip_dataset, sync, wait_for


@pytest.fixture(autouse=True)
def _no_dataset(monkeypatch):
    skip_dataset(monkeypatch)


# Wrong for every field (each has a lower bound ≥ 0 and a numeric type).
MUST_FAIL = ["abc", "-5", "1e999", "nan", "1,2,x", "0.5.5", "💥", "--1", "0x10"]
# Wrong for some (required fields, bounded fields); must never raise anywhere.
MAY_FAIL = ["", " ", "99999999999999999999", "1e-320", "٣"]


@asynccontextmanager
async def settings_form(runs_dir: Path) -> AsyncIterator[tuple[RlrecApp, Pilot, TrainPane]]:
    """The app at 160×48 once the Train pane's form is built from the real config classes."""
    app = RlrecApp(runs_dir=runs_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built, timeout=120)
        await pilot.pause()
        yield app, pilot, pane


@sync
async def test_bad_text_in_every_field_shows_a_message_beside_it(tmp_path):
    async with settings_form(tmp_path) as (app, pilot, pane):
        form = pane.form()
        numeric = [f for f in form.fields if f.key != "preset"]
        assert {f.key for f in numeric} >= {
            "agent.lr",
            "agent.batch_size",
            "agent.gamma",
            "agent.eps_start",
            "agent.eps_end",
            "agent.eps_decay_steps",
            "agent.hidden",
            "agent.dropout",
            "agent.tau",
            "train.seconds",
            "train.steps",
            "train.log_every",
        }
        for field in numeric:
            good = field.text
            for text in MUST_FAIL:
                field.text = text
                await pilot.pause()
                assert field.error, (field.key, text)
                assert field.key in field.error, (field.key, field.error)
                assert field.has_class("-invalid")
            for text in MAY_FAIL:
                field.text = text
                await pilot.pause()
                assert field.has_class("-invalid") == bool(field.error)
            field.text = good
            await pilot.pause()
            assert field.error is None, (field.key, field.error)
        assert not isinstance(app.screen, ErrorDialog)


@sync
async def test_out_of_range_values_name_the_allowed_range(tmp_path):
    async with settings_form(tmp_path) as (app, pilot, pane):
        form = pane.form()
        cases = {
            "agent.gamma": "1.5",
            "agent.dropout": "1",
            "agent.lr": "0",
            "agent.batch_size": "0",
        }
        for key, text in cases.items():
            form.field(key).text = text
        await pilot.pause()
        for key in cases:
            message = form.field(key).error
            assert message and "out of range" in message and "allowed" in message, (key, message)
        text = screen_text(app)  # the message wraps beside the narrow field
        words = " ".join(text.split())
        assert "agent.gamma = 1.5 is" in words and "(allowed: [0, 1])" in words


@sync
async def test_start_with_bad_settings_starts_nothing(tmp_path):
    async with settings_form(tmp_path) as (app, pilot, pane):
        pane.form().field("agent.lr").text = "fast please"
        pane.focus()
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert pane.run_state == "idle"
        assert not any(w.group == "training" for w in app.workers)
        assert list(tmp_path.iterdir()) == []


@sync
async def test_two_budgets_error_lands_beside_a_budget_field(tmp_path):
    async with settings_form(tmp_path) as (app, pilot, pane):
        form = pane.form()
        form.field("train.seconds").text = "30"
        form.field("train.steps").text = "5000"
        await pilot.pause()
        pane.focus()
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert pane.run_state == "idle"
        errors = form.errors()
        assert any("one budget" in message for message in errors.values()), errors
        assert not isinstance(app.screen, ErrorDialog)


@pytest.mark.parametrize("preset", ["seed-classic", "default"])
@sync
async def test_switching_preset_reloads_its_values(tmp_path, preset):
    async with settings_form(tmp_path) as (app, pilot, pane):
        other = "default" if preset == "seed-classic" else "seed-classic"
        for name in (other, preset):
            pane.form().field("preset").value = name
            await wait_for(pilot, lambda n=name: pane.preset == n and pane._form_built)
            await app.workers.wait_for_complete()
            await pilot.pause()
        from rlrec.engine.training.run_config import load_run_config

        expected = load_run_config(preset)
        assert pane.form().field("agent.gamma").value == expected.agent.gamma
        assert pane.form().field("agent.eps_end").value == expected.agent.eps_end


@sync
async def test_the_form_says_which_epsilon_schedule_applies(tmp_path):
    """The default preset's ε follows a fraction of the budget (decay steps 0); a step count
    typed in wins, and the note under the two rows says so."""
    async with settings_form(tmp_path) as (app, pilot, pane):
        form = pane.form()
        note = pane.query_one("#train-eps-note")
        assert form.field("agent.eps_decay_steps").value == 0
        assert form.field("agent.eps_decay_fraction").value == 0.5
        # The default preset also caps the decay (a setting the form does not show).
        assert "ε decays over 50% of the budget, at most 4,000,000 env steps" in str(note.render())
        form.field("agent.eps_decay_steps").text = "30000"
        await wait_for(pilot, lambda: "30,000 env steps" in str(note.render()))
        assert "decay share unused" in str(note.render())
        form.field("agent.eps_decay_steps").text = "0"
        form.field("agent.eps_decay_fraction").text = "0.25"
        await wait_for(pilot, lambda: "25% of the budget, at most 4,000,000" in str(note.render()))
        assert "ε decay share" in screen_text(app)
