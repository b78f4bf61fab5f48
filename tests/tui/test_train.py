"""Train pane main flows, driven through the real app with a scripted trainer (fast); the
end-to-end test with the real engine is test_app_e2e.py."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import DataTable, RichLog

from rlrec.tui.widgets.error_dialog import ErrorDialog
from tests.tui.fake_trainer import FakeTrainer, screen_text, sync, train_app, wait_for


@sync
async def test_s_trains_fills_curves_evals_and_hands_the_run_to_explore(tmp_path, monkeypatch):
    async with train_app(monkeypatch, tmp_path, (160, 48)) as t:
        app, pilot, pane = t.app, t.pilot, t.pane
        await pilot.press("s")
        await t.finish()
        await pilot.pause()
        x, y = pane.store.get("episode_return")
        assert len(x) == 20 and y[-1] > y[0]
        assert len(pane.store.get("eval_return")[0]) == 5
        assert pane.query_one("#train-evals", DataTable).row_count == 5
        # Explore gets the run (it loads in the background) while the final curves stay up.
        assert app.state.run_dir == pane.run_dir and pane.run_dir.parent == tmp_path
        assert app.query_one("#panes").active == "train"
        await dismiss_explore_error(pilot)  # Explore cannot load a scripted run's agent
        # What the event log holds (on a busy box its scroll to the last line can lag).
        log = "\n".join(line.text for line in pane.query_one("#train-log", RichLog).lines)
        assert "finished (budget) after 2,000 steps" in log
        assert "eval @ 2,000: return 7.00" in log


async def dismiss_explore_error(pilot) -> None:
    """Explore's attempt to load the scripted run ends in an error dialog: wait for that
    load (a worker; on a loaded machine it takes longer than any fixed pause), then close
    the dialog so the Train pane is read, not the dialog over it."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)
    if isinstance(pilot.app.screen, ErrorDialog):
        await pilot.press("escape")
        await pilot.pause()


@sync
async def test_progress_line_shows_speed_and_eta(tmp_path, monkeypatch):
    hold = threading.Event()
    async with train_app(monkeypatch, tmp_path, (160, 48), hold=hold) as t:
        status = t.pane.query_one("#train-status")
        await t.pilot.press("s")
        await wait_for(t.pilot, lambda: "2,000 steps" in str(status.render()))
        text = str(status.render())
        assert "1,234 steps/s" in text and "ETA 0:00" in text
        # Most wanted first: a narrow screen wraps or cuts the end, never the speed or ETA.
        assert text.index("steps/s") < text.index("ETA") < text.index("return")
        assert "loss" in text
        hold.set()
        await t.app.workers.wait_for_complete()


@sync
async def test_space_pauses_and_resumes_x_stops_with_checkpoint(tmp_path, monkeypatch):
    hold = threading.Event()
    async with train_app(monkeypatch, tmp_path, (160, 48), hold=hold, windows=3) as t:
        pilot, pane = t.pilot, t.pane
        trainer = await t.start_running()
        await pilot.press("space")
        assert pane.run_state == "paused" and trainer.state == "paused"
        assert str(pane.query_one("#train-pause").label) == "Resume"
        await pilot.press("space")
        assert pane.run_state == "running" and trainer.state == "running"
        await pilot.press("x")
        await t.finish()
        await dismiss_explore_error(pilot)
        assert pane.last_finished.reason == "stopped"
        assert trainer.checkpoints == [300]
        assert pane.run_state == "idle"


@sync
async def test_engine_exception_shows_dialog_and_app_stays_usable(tmp_path, monkeypatch):
    async with train_app(monkeypatch, tmp_path, fail_at=3) as t:
        app, pilot, pane = t.app, t.pilot, t.pane
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert "simulated engine failure" in screen_text(app)
        assert pane.run_state == "idle"
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDialog)
        # usable again: a new run starts and finishes
        monkeypatch.setattr(pane, "make_trainer", lambda c, r: FakeTrainer(c, r, windows=2))
        pane.focus()
        await pilot.press("s")
        await t.finish()
        await dismiss_explore_error(pilot)
        assert pane.last_finished.reason == "budget"


@pytest.mark.parametrize("key", ["ctrl+q", "q"])
@sync
async def test_quit_during_training_stops_worker_and_checkpoints(tmp_path, monkeypatch, key):
    hold = threading.Event()  # never set: the run only ends when stopped
    async with train_app(monkeypatch, tmp_path, hold=hold, windows=2) as t:
        trainer = await t.start_running()
        worker = next(w for w in t.app.workers if w.group == "training")
        await t.pilot.press(key)
        await t.pilot.pause()
        assert not worker.is_running
        assert trainer.checkpoints == [200]
        assert trainer.final_evaluation is False  # quitting does not wait for an evaluation
    assert t.app.return_code == 0


@sync
async def test_s_pressed_before_settings_load_starts_once_they_are_ready(tmp_path, monkeypatch):
    async with train_app(monkeypatch, tmp_path, form_built=False, windows=2) as t:
        assert not t.pane._form_built  # the config form loads after the first frame
        await t.pilot.press("s")
        await wait_for(t.pilot, lambda: t.pane.last_finished is not None)
        await dismiss_explore_error(t.pilot)
        assert t.pane.last_finished.reason == "budget"


@sync
async def test_return_chart_draws_the_oracle_and_random_lines_the_engine_sent(
    tmp_path, monkeypatch
):
    """The References event's returns become two labelled level lines on the return chart,
    and the latest normalised evaluation is in the status text."""
    hold = threading.Event()
    async with train_app(monkeypatch, tmp_path, (160, 48), hold=hold) as t:
        pane = t.pane
        status = pane.query_one("#train-status")
        await t.pilot.press("s")
        await wait_for(t.pilot, lambda: "2,000 steps" in str(status.render()))
        assert pane.store.levels() == {"myopic oracle": 9.0, "random": 4.0}
        assert "eval norm 0.50" in str(status.render())
        pane.replot_visible(force=True)
        await t.pilot.pause()
        chart = screen_text(t.app)
        assert "myopic oracle" in chart and "random" in chart
        hold.set()
        await t.finish()
        assert "finished (budget) · 2,000 steps in 0:10 · eval norm 0.50" in str(status.render())


@sync
async def test_at_80x24_the_status_keeps_whole_numbers_speed_and_eta_first(tmp_path, monkeypatch):
    hold = threading.Event()
    async with train_app(monkeypatch, tmp_path, (80, 24), hold=hold) as t:
        status = t.pane.query_one("#train-status")
        await t.pilot.press("s")
        await wait_for(t.pilot, lambda: "2,000 steps" in str(status.render()))
        lines = str(status.render()).splitlines()
        assert 1 <= len(lines) <= status.size.height
        assert all(len(line) <= status.size.width for line in lines)
        shown = [part for line in lines for part in line.split(" · ")]
        # Whole parts, most wanted first: a prefix of the full text's parts, never half of one.
        assert shown == status.text.split(" · ")[: len(shown)]
        assert shown[:3] == ["2,000 steps", "1,234 steps/s", "ETA 0:00"]
        assert "eval norm 0.50" in shown
        hold.set()
        await t.app.workers.wait_for_complete()
