"""Train pane main flows, driven through the real app with a scripted trainer (fast); the
end-to-end test with the real engine is test_app_e2e.py."""

from __future__ import annotations

import threading

from textual.widgets import DataTable

from rlrec.tui.app import RlrecApp
from rlrec.tui.messages import RunSelected
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.error_dialog import ErrorDialog
from tests.tui.fake_trainer import screen_text, skip_dataset, sync, use_fake_engine, wait_for


@sync
async def test_s_trains_fills_curves_evals_and_opens_explore(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch)
    skip_dataset(monkeypatch)
    posted = []
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48), message_hook=posted.append) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        await pilot.pause()
        x, y = pane.store.get("episode_return")
        assert len(x) == 20 and y[-1] > y[0]
        assert len(pane.store.get("eval_return")[0]) == 5
        assert pane.query_one("#train-evals", DataTable).row_count == 5
        selected = [m for m in posted if isinstance(m, RunSelected)]
        assert selected and selected[0].run_dir == pane.run_dir
        assert pane.run_dir.parent == tmp_path
        assert app.query_one("#panes").active == "explore"
        await dismiss_explore_error(pilot)  # Explore cannot load a scripted run's agent
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "finished (budget) after 2,000 steps" in text
        assert "eval @ 2,000: return 7.00" in text


async def dismiss_explore_error(pilot) -> None:
    await pilot.pause(0.3)
    if isinstance(pilot.app.screen, ErrorDialog):
        await pilot.press("escape")


@sync
async def test_progress_line_shows_speed_and_eta(tmp_path, monkeypatch):
    hold = threading.Event()
    use_fake_engine(monkeypatch, hold=hold)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await wait_for(
            pilot, lambda: "2,000 steps" in str(pane.query_one("#train-status").render())
        )
        status = str(pane.query_one("#train-status").render())
        assert "1,234 steps/s" in status and "ETA 0:00" in status
        hold.set()
        await app.workers.wait_for_complete()


@sync
async def test_space_pauses_and_resumes_x_stops_with_checkpoint(tmp_path, monkeypatch):
    hold = threading.Event()
    trainers = use_fake_engine(monkeypatch, hold=hold, windows=3)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.run_state == "running" and trainers)
        await pilot.press("space")
        assert pane.run_state == "paused" and trainers[0].state == "paused"
        assert str(pane.query_one("#train-pause").label) == "Resume"
        await pilot.press("space")
        assert pane.run_state == "running" and trainers[0].state == "running"
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        await dismiss_explore_error(pilot)
        assert pane.last_finished.reason == "stopped"
        assert trainers[0].checkpoints == [300]
        assert pane.run_state == "idle"


@sync
async def test_engine_exception_shows_dialog_and_app_stays_usable(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch, fail_at=3)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert "simulated engine failure" in screen_text(app)
        assert pane.run_state == "idle"
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDialog)
        # usable again: a new run starts and finishes
        monkeypatch.setattr(
            pane,
            "make_trainer",
            lambda c, r: __import__("tests.tui.fake_trainer", fromlist=["FakeTrainer"]).FakeTrainer(
                c, r, windows=2
            ),
        )
        pane.focus()
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: pane.last_finished is not None)
        await dismiss_explore_error(pilot)
        assert pane.last_finished.reason == "budget"


@sync
async def test_quit_during_training_stops_worker_and_checkpoints(tmp_path, monkeypatch):
    hold = threading.Event()  # never set: the run only ends when stopped
    trainers = use_fake_engine(monkeypatch, hold=hold, windows=2)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await wait_for(pilot, lambda: trainers and pane.run_state == "running")
        worker = next(w for w in app.workers if w.group == "training")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not worker.is_running
        assert trainers[0].checkpoints == [200]
    assert app.return_code == 0


@sync
async def test_s_pressed_before_settings_load_starts_once_they_are_ready(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch, windows=2)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TrainPane)
        assert not pane._form_built  # the config form loads after the first frame
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.last_finished is not None)
        await dismiss_explore_error(pilot)
        assert pane.last_finished.reason == "budget"
