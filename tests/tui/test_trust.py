"""The TUI as a new user and a hostile folder meet it (issue 11): the Runs pane follows the
app's own runs, the Train pane's table and log never overlap, names with Rich markup are
shown as written, engine errors reach a dialog as one line and never close the app, and
ctrl+q works while the help is open."""

from __future__ import annotations

import errno
import os

import pytest
import yaml
from textual.widgets import DataTable, Input, RichLog, Static

from rlrec.tui.app import RlrecApp
from rlrec.tui.help import HelpScreen
from rlrec.tui.panes.runs import RunsPane
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.error_dialog import ErrorDialog
from tests.tui.fake_trainer import (
    FakeTrainer,
    screen_text,
    skip_dataset,
    sync,
    use_fake_engine,
    wait_for,
)


def _writes_a_run_folder(monkeypatch, **trainer_kwargs) -> None:
    """The scripted trainer, plus the config.yaml a real trainer writes first (so the run
    folder is a run the Runs pane lists)."""

    def make_trainer(self, config, run_dir):
        os.makedirs(run_dir, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump({"preset": "default"}))
        return FakeTrainer(config, run_dir, **trainer_kwargs)

    monkeypatch.setattr(TrainPane, "make_trainer", make_trainer)


async def _train_once(pilot) -> TrainPane:
    pane = pilot.app.query_one(TrainPane)
    await wait_for(pilot, lambda: pane._form_built)
    await pilot.press("s")
    await pilot.app.workers.wait_for_complete()
    await wait_for(pilot, lambda: pane.last_finished is not None)
    await pilot.pause(0.3)
    while isinstance(pilot.app.screen, ErrorDialog):  # Explore cannot load a scripted agent
        await pilot.press("escape")
    return pane


@sync
async def test_runs_pane_lists_a_run_as_soon_as_it_finishes(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch)
    _writes_a_run_folder(monkeypatch)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: app.query(RunsPane))
        runs = app.query_one(RunsPane)
        header = runs.query_one("#runs-header", Static)
        await wait_for(pilot, lambda: "no runs" in str(header.render()))
        await pilot.press("2")
        pane = await _train_once(pilot)
        await wait_for(pilot, lambda: runs.query_one("#runs-table", DataTable).row_count == 1)
        assert str(header.render()).startswith(f"1 run in {tmp_path}")
        assert runs.summaries[0].path == pane.run_dir


@pytest.mark.parametrize("width", [80, 100, 120, 160])
@sync
async def test_train_pane_evaluation_table_and_log_never_overlap(tmp_path, monkeypatch, width):
    use_fake_engine(monkeypatch)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(width, 40)) as pilot:
        pane = await _train_once(pilot)
        await pilot.press("2")
        await pilot.pause()
        table = pane.query_one("#train-evals", DataTable)
        log = pane.query_one("#train-log", RichLog)
        rows = screen_text(app).splitlines()
        if width < 100:  # the narrow layout shows the log alone
            assert not table.display
            assert any("finished (budget)" in row for row in rows)
            return
        assert table.row_count == 5
        # every column is on screen, and the log starts after a gap
        assert table.region.width >= table.virtual_size.width
        assert table.region.right < log.region.x
        header = rows[table.region.y]
        assert header[table.region.x : table.region.right].split() == [
            "steps", "return", "±95%", "CTR", "len", "norm",
        ]  # fmt: skip
        assert header[table.region.right] == " "


def _run_folder(runs_dir, name: str, config: dict) -> None:
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.parametrize(
    ("name", "preset"),
    [("d-[red]x", "default"), ("plain", "[/oops]"), ("[bold]b", "[red]p")],
)
@sync
async def test_runs_with_markup_in_names_are_shown_as_written(tmp_path, monkeypatch, name, preset):
    skip_dataset(monkeypatch)
    _run_folder(tmp_path, name, {"preset": preset})
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: app.query(RunsPane))
        runs = app.query_one(RunsPane)
        await wait_for(pilot, lambda: runs.query_one("#runs-table", DataTable).row_count == 1)
        await pilot.pause()
        text = screen_text(app)
        assert name in text and preset in text
        assert app.is_running


@sync
async def test_an_engine_failure_shows_one_line_and_the_app_stays(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch, fail_at=3)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert app.screen.text == "unexpected RuntimeError: simulated engine failure"
        await pilot.press("escape")
        assert app.is_running and not isinstance(app.screen, ErrorDialog)


@sync
async def test_an_os_error_names_the_path_not_the_errno(tmp_path, monkeypatch):
    use_fake_engine(monkeypatch)
    skip_dataset(monkeypatch)
    run_dir = tmp_path / "taken"

    def make_trainer(self, config, run_dir_):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(run_dir))

    monkeypatch.setattr(TrainPane, "make_trainer", make_trainer)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert app.screen.text == f"{run_dir}: File exists"
        assert "Errno" not in screen_text(app)
        await pilot.press("escape")
        assert app.is_running


@sync
async def test_ctrl_q_quits_while_help_is_open(tmp_path, monkeypatch):
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)


# -- hostile text in the Train form: marked on its field or one line; nothing written ---------
FORM_KEYS = ["agent.lr", "agent.batch_size", "agent.gamma", "agent.hidden", "agent.dropout",
             "agent.eps_decay_steps", "agent.tau", "train.seconds", "train.steps",
             "train.log_every"]  # fmt: skip
HOSTILE_TEXT = ["nan", "inf", "-1", "1e400", "[/oops]", "d-[red]x", "9" * 40]


@pytest.mark.parametrize("key", FORM_KEYS)
@sync
async def test_hostile_train_form_values_never_start_a_run_or_crash(tmp_path, monkeypatch, key):
    # The engine's real settings and checks; only the trainer is scripted (and recorded).
    # Every hostile text is tried in turn in one app (one app per field keeps the suite
    # short; each try starts from the text alone, the dialog of the one before dismissed).
    trainers = []

    def make_trainer(self, config, run_dir):
        trainers.append(FakeTrainer(config, run_dir))
        return trainers[-1]

    monkeypatch.setattr(TrainPane, "make_trainer", make_trainer)
    skip_dataset(monkeypatch)
    app = RlrecApp(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        field = pane.form().field(key)
        for text in HOSTILE_TEXT:
            field.query_one(Input).value = text
            await pilot.pause()
            pane.action_start()
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.is_running and not trainers, text
            if isinstance(app.screen, ErrorDialog):  # one line, the engine's words
                assert "\n" not in app.screen.text and "Error:" not in app.screen.text, text
                while isinstance(app.screen, ErrorDialog):
                    await pilot.press("escape")
            else:
                assert field.has_class("-invalid"), text
                message = str(field.query_one(".field--message", Static).render())
                assert message and "Traceback" not in message, text
            assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
