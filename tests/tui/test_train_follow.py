"""`rlrec-tui RUN_DIR` follows a run another process is still writing: a writer thread appends
events to metrics.jsonl / timing.jsonl (as `rlrec train` would) and the curves grow."""

from __future__ import annotations

import math
import threading

from rlrec.engine.training import runs
from rlrec.engine.training.events import Evaluation, Progress, References, RunStarted
from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.train import TrainPane
from tests.tui.fake_trainer import screen_text, skip_dataset, sync, wait_for


def progress(window: int) -> Progress:
    return Progress(
        env_steps=window * 1000,
        updates=window * 10,
        episodes=window * 100,
        seconds=window * 1.0,
        episode_return=4.0 + window / 10,
        episode_length=10.0,
        ctr=0.4,
        epsilon=1 / window,
        loss=0.1,
        learning_rate=1e-3,
        steps_per_second=1000.0,
        fraction_done=window / 10,
        eta_seconds=10.0 - window,
    )


def start_run(run_dir) -> runs.MetricsWriter:
    run_dir.mkdir()
    runs.write_config(run_dir, {"preset": "seed-classic"})
    writer = runs.MetricsWriter(run_dir)
    writer.write(RunStarted(str(run_dir), "seed-classic", 500, {"steps": 10_000}))
    writer.write(progress(1))
    return writer


@sync
async def test_follows_a_run_written_by_another_writer(tmp_path, monkeypatch):
    skip_dataset(monkeypatch)
    run_dir = tmp_path / "live-run"
    writer = start_run(run_dir)
    next_batch = threading.Event()
    batch_written = threading.Event()

    def other_process():
        for window in range(2, 11):
            if window in (4, 8):  # pause until the test has looked at the screen
                batch_written.set()
                next_batch.wait(10)
                next_batch.clear()
            writer.write(progress(window))
        writer.write(Evaluation(10_000, 100, 5.5, 0.1, 0.5, 10.0, 0.4))
        # the final line arrives torn in two writes, as a reader may see it
        line = '{"type": "RunFinished", "reason": "budget", "env_steps": 10000, "updates": 100'
        (run_dir / "metrics.jsonl").open("a").write(line)
        batch_written.set()
        next_batch.wait(10)
        (run_dir / "metrics.jsonl").open("a").write(', "seconds": 10.0, "message": ""}\n')
        writer.close()

    app = RlrecApp(run_dir=run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(pane.store) >= 1)
        assert pane.following
        thread = threading.Thread(target=other_process, daemon=True)
        thread.start()
        await wait_for(pilot, lambda: batch_written.is_set() and len(pane.store) == 3)
        batch_written.clear()
        next_batch.set()
        await wait_for(pilot, lambda: batch_written.is_set() and len(pane.store) == 7)
        batch_written.clear()
        next_batch.set()
        await wait_for(
            pilot, lambda: batch_written.is_set() and len(pane.store.get("eval_return")[0]) == 1
        )
        assert pane.following  # the torn RunFinished line is not read yet
        next_batch.set()
        await wait_for(pilot, lambda: not pane.following)
        thread.join(5)
        x, y = pane.store.get("episode_return")
        assert list(x) == [w * 1000.0 for w in range(1, 11)]
        assert math.isclose(y[-1], 5.0)
        await pilot.pause(0.3)
        assert "finished (budget) after 10,000 steps" in screen_text(app)


@sync
async def test_a_followed_run_gets_its_oracle_and_random_lines(tmp_path, monkeypatch):
    """Another process's run draws the same reference lines as the app's own: they come from
    its References line; its evaluations' normalised return is in the status."""
    skip_dataset(monkeypatch)
    run_dir = tmp_path / "live-run"
    writer = start_run(run_dir)
    writer.write(References(random_return=4.25, oracle_return=12.5))
    writer.write(Evaluation(1000, 100, 6.0, 0.1, 0.5, 10.0, 0.21))
    writer.write(progress(2))
    app = RlrecApp(run_dir=run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(pane.store) >= 2)
        await pilot.pause(0.3)
        assert pane.store.levels() == {"myopic oracle": 12.5, "random": 4.25}
        text = screen_text(app)
        assert "myopic oracle" in text and "myopic oracle 12.50, random 4.25" in text
        assert "eval norm 0.21" in text
    writer.close()


@sync
async def test_a_progress_line_read_before_its_timing_line_is_shown(tmp_path, monkeypatch):
    # The writer appends metrics.jsonl first and timing.jsonl after: a follower may read a
    # Progress line whose fraction done (a timing field) is not there yet (NaN).
    skip_dataset(monkeypatch)
    run_dir = tmp_path / "live-run"
    writer = start_run(run_dir)
    writer.write(progress(2))
    (run_dir / runs.TIMING_FILE).write_text("")
    app = RlrecApp(run_dir=run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(pane.store) >= 2)
        writer.write(progress(3))  # with its timing: the bar moves on
        await wait_for(pilot, lambda: len(pane.store) >= 3)
        await pilot.pause(0.2)
        assert app.is_running and pane.following
    writer.close()


@sync
async def test_s_while_following_asks_before_starting_a_run_here(tmp_path, monkeypatch):
    # The followed run is another process's: one stray `s` must not leave it for a new run.
    from tests.tui.fake_trainer import FakeTrainer

    skip_dataset(monkeypatch)
    started = []

    def make_trainer(self, config, run_dir):
        started.append(FakeTrainer(config, run_dir))
        return started[-1]

    monkeypatch.setattr(TrainPane, "make_trainer", make_trainer)
    run_dir = tmp_path / "live-run"
    writer = start_run(run_dir)
    app = RlrecApp(run_dir=run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(pane.store) >= 1 and pane._form_built)
        await pilot.press("s")
        await pilot.pause(0.3)
        assert pane.following and not started  # asked, still following
        assert any("press s again" in n.message for n in app._notifications)
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(started))  # confirmed: a run of its own
        assert not pane.following
    writer.close()
