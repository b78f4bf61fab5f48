"""App shell: launch arguments, pane keys, F1 help, the command palette, F8 screenshot,
themes, the narrow layout, hang-up handling."""

from __future__ import annotations

import signal

import pytest
from textual.widgets import Markdown, TabbedContent

from rlrec.tui.app import RlrecApp, build_parser, classify_path, main
from rlrec.tui.commands import RlrecCommands
from rlrec.tui.help import HelpScreen
from rlrec.tui.panes.train import TrainPane
from tests.tui.fake_trainer import (
    app_without_dataset,
    screen_text,
    sync,
    train_app,
    use_fake_engine,
    wait_for,
)
from tests.tui.pty_app import launch_in_pty, torch_at_import


@sync
async def test_opens_on_default_dataset_on_train_pane(tmp_path):
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.query_one("#panes", TabbedContent).active == "train"
        # Focus is inside the Train pane (on its return chart), so `s` starts training at once.
        assert app.focused is app.query_one("#chart-return")
        assert app.query_one(TrainPane) in app.focused.ancestors
        await wait_for(pilot, lambda: app.state.dataset is not None)
        assert app.state.dataset.n_users == 1000 and app.state.dataset.n_items == 500


@sync
async def test_number_keys_switch_panes(tmp_path):
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        tabs = app.query_one("#panes", TabbedContent)
        for key, pane in (("1", "dataset"), ("3", "explore"), ("4", "runs"), ("2", "train")):
            app.set_focus(None)
            await pilot.press(key)
            assert tabs.active == pane


@sync
async def test_every_binding_has_an_id_and_tooltip():
    from rlrec.tui.panes.runs import RunsPane

    for owner in (RlrecApp, TrainPane, RunsPane):
        for binding in owner.BINDINGS:
            assert binding.id, (owner.__name__, binding.key)
            assert binding.tooltip, (owner.__name__, binding.key)


@sync
async def test_f1_shows_help_for_the_current_pane(tmp_path, monkeypatch):
    async with app_without_dataset(monkeypatch, tmp_path, (120, 40)) as (app, pilot):
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "Train a DQN recommender" in app.screen.markdown
        assert "`space`" in app.screen.markdown  # the pane's own keys are listed
        assert app.screen.query_one(Markdown)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        app.set_focus(None)
        await pilot.press("4")
        await pilot.press("f1")
        assert "mark" in app.screen.markdown.lower() and "Compare" in app.screen.markdown


@sync
async def test_palette_offers_main_actions_and_they_work(tmp_path, monkeypatch):
    (tmp_path / "20240101-000000-default").mkdir()
    (tmp_path / "20240101-000000-default" / "config.yaml").write_text("preset: default\n")
    async with train_app(monkeypatch, tmp_path) as t:
        app, pilot, pane = t.app, t.pilot, t.pane
        provider = RlrecCommands(app.screen)
        names = [hit.text async for hit in provider.discover()]
        for expected in (
            "Start training",
            "New dataset",
            "Open run",
            "Switch to Runs",
            "Screenshot",
        ):
            assert expected in names
        hits = [hit async for hit in provider.search("open run 2024")]
        assert any("20240101-000000-default" in hit.text for hit in hits)
        switch = [hit async for hit in provider.search("switch to runs")]
        max(switch, key=lambda hit: hit.score).command()
        assert app.query_one("#panes", TabbedContent).active == "runs"
        # the real palette: ctrl+p, type, enter
        await pilot.press("ctrl+p")
        await pilot.press(*"start training")
        await wait_for(pilot, lambda: "Start training" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.run_state != "idle" or pane.last_finished is not None)
        await t.finish()


@sync
async def test_f8_saves_svg_into_runs_dir(tmp_path, monkeypatch):
    async with app_without_dataset(monkeypatch, tmp_path, (100, 30)) as (app, pilot):
        await pilot.press("f8")
        assert app.last_screenshot is not None
        assert app.last_screenshot.parent == tmp_path
        assert app.last_screenshot.read_text().lstrip().startswith("<svg")


@sync
async def test_theme_argument_and_unknown_theme(tmp_path, monkeypatch):
    async with app_without_dataset(monkeypatch, tmp_path, (100, 30), theme="nord") as (app, _):
        assert app.theme == "nord"
    unknown = "no-such-theme"
    async with app_without_dataset(monkeypatch, tmp_path, (100, 30), theme=unknown) as (app, _):
        assert app.theme != "no-such-theme"  # a warning, not a crash


@sync
async def test_narrow_layout_under_80_columns(tmp_path, monkeypatch):
    async with app_without_dataset(monkeypatch, tmp_path, (79, 24)) as (app, pilot):
        assert app.screen.has_class("narrow")
        assert (
            not app.query_one("#chart-loss").display
            or not app.query_one("#chart-loss").styles.display == "block"
        )
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.screen.has_class("narrow")


@sync
async def test_train_charts_by_width(tmp_path, monkeypatch):
    """The return chart at 80 columns, four at 120, six (speed and learning rate too) at 160."""
    shown = {80: 1, 120: 4, 160: 6}
    async with app_without_dataset(monkeypatch, tmp_path, (80, 24)) as (app, pilot):
        for width, count in shown.items():
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            charts = app.query("#train-charts CurveChart")
            visible = [chart.id for chart in charts if chart.styles.display != "none"]
            assert len(visible) == count, (width, visible)
            assert ("chart-speed" in visible) == (width >= 140)


@sync
async def test_hangup_exits_the_app(tmp_path, monkeypatch):
    import threading

    hold = threading.Event()
    async with train_app(monkeypatch, tmp_path, (100, 30), hold=hold) as t:
        trainer = await t.start_running()
        t.app._hangup()  # what the SIGHUP handler calls
        await wait_for(t.pilot, lambda: t.app._exit, timeout=120)
    assert trainer.checkpoints  # stopped cleanly, checkpoint written


def test_sighup_handler_is_installed_when_running_in_the_main_thread(tmp_path):
    import asyncio

    async def run():
        app = RlrecApp(runs_dir=tmp_path)
        async with app.run_test(size=(80, 24)):
            loop = asyncio.get_running_loop()
            assert loop.remove_signal_handler(signal.SIGHUP)

    asyncio.run(run())


def test_cli_arguments(tmp_path):
    args = build_parser().parse_args(
        [str(tmp_path), "--runs-dir", "r", "--refresh", "2", "--theme", "nord"]
    )
    assert (args.path, args.runs_dir, args.refresh, args.theme) == (str(tmp_path), "r", 2.0, "nord")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("preset: default\n")
    assert classify_path(run) == "run"
    assert classify_path(tmp_path) == "dataset"
    assert classify_path(tmp_path / "nope") == "missing"
    # Opened a moment after `rlrec train` made the folder, before it wrote anything: a run.
    starting = tmp_path / "starting"
    starting.mkdir()
    assert classify_path(starting) == "run"
    (starting / ".lock").write_text("123\n")
    assert classify_path(starting) == "run"


@pytest.mark.parametrize(
    "argv", [["--refresh", "0"], ["--refresh", "abc"], ["/no/such/folder/anywhere"]]
)
def test_bad_cli_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rlrec-tui: error:")
    assert "Traceback" not in "\n".join(err)


def test_app_module_imports_without_torch():
    assert not torch_at_import()  # raises with the child's stderr if the import failed


def test_real_terminal_hangup_ends_the_app(tmp_path):
    """Run `python -m rlrec.tui.app` in a pseudo-terminal, wait for its first frame, then hang
    up (SIGHUP, as when an SSH connection drops): the app exits by itself, status 0."""
    import os
    import select
    import time

    proc, master = launch_in_pty(tmp_path, (100, 30))
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"press s to start" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 65536)
        assert b"press s to start" in seen, seen[-500:]
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            # keep reading: a terminal nobody reads would block the app's last writes
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    time.sleep(0.05)
        status = proc.poll()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert status == 0


@sync
async def test_dataset_dir_argument_opens_it_and_training_uses_it(tmp_path, monkeypatch):
    from rlrec.data.generator import generate
    from rlrec.data.store import save_dataset

    folder = save_dataset(generate(60, 40, seed=3, name="tiny"), tmp_path / "tiny")
    trainers = use_fake_engine(monkeypatch)  # the dataset itself loads for real
    seen_overrides = []
    from rlrec.tui.panes import train as train_module

    real_load = train_module.TrainPane.load_config

    def record(self, preset, overrides):
        seen_overrides.append(overrides)
        return real_load(self, preset, overrides)

    monkeypatch.setattr(train_module.TrainPane, "load_config", record)
    app = RlrecApp(dataset_path=folder, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.dataset is not None, timeout=120)
        assert app.state.dataset.n_users == 60 and app.state.dataset_path == folder
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built)
        pane.focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.last_finished is not None)
        assert seen_overrides[-1]["dataset"] == str(folder)
        assert trainers


@sync
async def test_not_a_dataset_folder_shows_error_and_app_stays_up(tmp_path):
    from rlrec.tui.widgets.error_dialog import ErrorDialog

    (tmp_path / "junk").mkdir()
    app = RlrecApp(dataset_path=tmp_path / "junk", runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        # The dialog is pushed a frame before it is painted: wait for what the user sees.
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ErrorDialog) and "junk" in screen_text(app),
            timeout=120,
        )
        assert "junk" in screen_text(app)
        await pilot.press("escape")
        app.set_focus(None)
        await pilot.press("4")
        assert app.query_one("#panes", TabbedContent).active == "runs"


@sync
async def test_escape_leaves_a_text_field_so_pane_keys_work_again(tmp_path, monkeypatch):
    async with train_app(monkeypatch, tmp_path) as t:
        app, pilot, pane = t.app, t.pilot, t.pane
        field = pane.form().field("agent.lr")
        field.focus_input()
        await pilot.press("end", "4")  # typed into the field, not a pane switch
        assert field.text.endswith("4")
        assert app.query_one("#panes", TabbedContent).active == "train"
        await pilot.press("escape")
        assert pane in app.focused.ancestors_with_self and app.focused is not field
        await pilot.press("4")
        assert app.query_one("#panes", TabbedContent).active == "runs"


def test_settle_heap_freezes_what_is_alive_and_keeps_collecting_new_garbage():
    import gc

    from rlrec.tui.heap import settle_heap

    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        # New cycles made after the settle are still collected.
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
