"""Runs pane: lists the runs folder with final metrics, compares any number of runs on any
logged metric, opens a run in Explore and follows one in Train. Run folders are written with
engine.runs' own writer."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable, Label, Static, TabbedContent

from rlrec.engine.training import runs
from rlrec.engine.training.events import Evaluation, Progress, RunFinished, RunStarted
from rlrec.tui.app import RlrecApp
from rlrec.tui.messages import RunSelected
from rlrec.tui.panes.runs import RunsPane
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.compare_chart import METRICS, CompareChart, run_badge, run_style
from tests.tui.fake_trainer import screen_text, skip_dataset, sync, wait_for


@pytest.fixture(autouse=True)
def _no_dataset(monkeypatch):
    skip_dataset(monkeypatch)


FIXED_TIME = 1_700_000_000  # 2023-11-14 22:13 UTC: deterministic "created" column


def write_run(
    runs_dir,
    name,
    preset,
    final_return,
    windows=5,
    finished=True,
    created=FIXED_TIME,
    evaluations=None,
):
    """A run folder as the trainer writes it: `windows` progress lines (return rising to
    `final_return`), then one evaluation of `final_return` — or, given `evaluations`, one
    evaluation of each value after each window (as a study trial logs its reports)."""
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True)
    runs.write_config(run_dir, {"preset": preset})
    writer = runs.MetricsWriter(run_dir)
    writer.write(RunStarted(str(run_dir), preset, 500, {"steps": windows * 1000}))
    for w in range(1, windows + 1):
        writer.write(
            Progress(
                w * 1000,
                w * 10,
                w * 100,
                float(w),
                final_return * w / windows,
                10.0,
                0.5,
                1 / w,
                0.1,
                1e-3,
                1000.0,
                w / windows,
                float(windows - w),
            )
        )
        if evaluations and w <= len(evaluations):
            writer.write(Evaluation(w * 1000, 100, evaluations[w - 1], 0.1, 0.6, 10.0, 0.8))
    if not evaluations:
        writer.write(Evaluation(windows * 1000, 100, final_return, 0.1, 0.6, 10.0, 0.8))
    if finished:
        writer.write(RunFinished("budget", windows * 1000, windows * 10, float(windows)))
    writer.close()
    for path in run_dir.iterdir():
        os.utime(path, (created, created))
    return run_dir


def make_runs(tmp_path):
    a = write_run(tmp_path, "20231114-221300-seed-classic", "seed-classic", 9.1)
    b = write_run(
        tmp_path, "20231114-221500-default", "default", 12.5, windows=8, created=FIXED_TIME + 120
    )
    return a, b


async def open_runs(pilot):
    app = pilot.app
    app.set_focus(None)
    await pilot.press("4")
    pane = app.query_one(RunsPane)
    await wait_for(
        pilot, lambda: pane.query_one("#runs-table", DataTable).row_count == len(pane.summaries) > 0
    )
    await wait_for(pilot, lambda: has_focus(pane))  # the pane's keys reach it
    return pane


def has_focus(pane) -> bool:
    focused = pane.app.focused
    return focused is not None and pane in focused.ancestors_with_self


@sync
async def test_lists_runs_with_final_metrics(tmp_path):
    make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        table = pane.query_one("#runs-table", DataTable)
        assert table.row_count == 2
        rows = [table.get_row_at(i) for i in range(2)]  # newest first
        assert rows[0] == [
            "",
            "20231114-221500-default",
            "default",
            "2023-11-14 22:15",
            "8,000",
            "finished",
            "12.50",
            "0.80",
        ]
        assert rows[1] == [
            "",
            "20231114-221300-seed-classic",
            "seed-classic",
            "2023-11-14 22:13",
            "5,000",
            "finished",
            "9.10",
            "0.80",
        ]
        assert "2 runs in" in screen_text(app)


@sync
async def test_mark_two_and_compare_their_curves(tmp_path):
    a, b = make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("space")
        await pilot.press("down")
        await pilot.press("space")
        assert pane.marked == [b, a]  # newest first in the table
        table = pane.query_one("#runs-table", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(2)] == ["━1", "━2"]
        await pilot.press("c")
        await app.workers.wait_for_complete()
        chart = pane.query_one("#runs-chart", CompareChart)
        await wait_for(pilot, lambda: len(chart.curves) == 2)
        lengths = sorted(len(x) for _, x, _ in chart.curves)
        assert lengths == [5, 8]
        # space on a marked run unmarks it
        await pilot.press("space")
        assert pane.marked == [b]
        assert str(table.get_row_at(1)[0]) == ""


def make_many_runs(tmp_path, n):
    return [
        write_run(
            tmp_path, f"run-{i:02d}", "default", 2.0 + i, windows=3 + i % 4, created=FIXED_TIME + i
        )
        for i in range(n)
    ]


@sync
async def test_compare_any_number_of_runs_each_in_its_own_colour_and_marker(tmp_path):
    made = make_many_runs(tmp_path, 10)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        for _ in range(10):
            await pilot.press("space", "down")
        assert len(pane.marked) == 10
        await pilot.press("c")
        chart = pane.query_one("#runs-chart", CompareChart)
        await wait_for(pilot, lambda: len(chart.curves) == 10)
        assert {label for label, _, _ in chart.curves} == {p.name for p in made}
        # past the palette, the colours come back with another marker: no two runs look alike
        styles = {run_style(i) for i in range(10)}
        assert len(styles) == 10
        badges = [str(run_badge(i)) for i in range(10)]
        assert badges[0] == "━1" and badges[8] == "•9"
        legend = str(chart.query_one("#compare-legend", Static).render())
        for badge, path in zip(badges, pane.marked, strict=True):
            assert f"{badge} {path.name}" in legend


@sync
async def test_metric_key_cycles_through_the_logged_metrics(tmp_path):
    a, b = make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("space", "down", "space", "c")
        chart = pane.query_one("#runs-chart", CompareChart)
        await wait_for(pilot, lambda: len(chart.curves) == 2)
        seen = [chart.metric.key]
        for _ in range(len(METRICS)):
            await pilot.press("m")
            seen.append(chart.metric.key)
        # every metric the runs logged, in order, then round again
        logged = [m.key for m in METRICS]
        assert seen[: len(logged) + 1] == [*logged, logged[0]]
        await pilot.press("M")  # back one
        assert chart.metric.key == seen[-2]
        # the values drawn are the runs' own: ε was logged as 1/w in window w
        while chart.metric.key != "epsilon":
            await pilot.press("m")
        by_label = {label: (x, y) for label, x, y in chart.curves}
        x, y = by_label[b.name]
        assert x.tolist() == [1000.0 * w for w in range(1, 9)]
        assert y.tolist() == pytest.approx([1 / w for w in range(1, 9)])
        assert "ε (exploration)" in str(chart.query_one("#compare-legend", Static).render())


@sync
async def test_log_axis_leaves_out_values_at_or_below_zero_and_says_so(tmp_path):
    make_runs(tmp_path)
    write_run(
        tmp_path, "20231114-221700-losing", "default", -2.0, windows=4, created=FIXED_TIME + 240
    )
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("space", "down", "space", "c")
        chart = pane.query_one("#runs-chart", CompareChart)
        await wait_for(pilot, lambda: len(chart.curves) == 2)
        await pilot.press("l")
        assert chart.log_y
        assert chart.left_out == 4  # the losing run's four returns, all below zero
        legend = str(chart.query_one("#compare-legend", Static).render())
        assert "log axis: 4 points ≤ 0 left out" in legend
        await pilot.press("l")
        assert not chart.log_y and chart.left_out == 0
        assert "log axis" not in str(chart.query_one("#compare-legend", Static).render())


@sync
async def test_enter_opens_run_in_explore(tmp_path):
    a, b = make_runs(tmp_path)
    posted = []
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48), message_hook=posted.append) as pilot:
        pane = await open_runs(pilot)
        expected = pane._cursor_path()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one("#panes", TabbedContent).active == "explore")
        selected = {id(m): m.run_dir for m in posted if isinstance(m, RunSelected)}
        assert list(selected.values()) == [expected]
        assert app.state.run_dir == expected


@sync
async def test_f_follows_run_in_train(tmp_path):
    make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        # The default dataset arriving moves focus in the Dataset pane: let it land first.
        await app.wait_until_started()
        pane = await open_runs(pilot)
        expected = pane._cursor_path()
        await pilot.press("f")
        train = app.query_one(TrainPane)
        assert app.query_one("#panes", TabbedContent).active == "train"
        await wait_for(pilot, lambda: train.last_finished is not None)
        assert train.run_dir == expected
        assert len(train.store.get("episode_return")[0]) in (5, 8)


@sync
async def test_empty_and_missing_runs_folder(tmp_path):
    app = RlrecApp(runs_dir=tmp_path / "not-yet")
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.press("4")
        pane = app.query_one(RunsPane)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no runs in" in screen_text(app)
        for key in ("space", "c", "enter", "o", "f", "r"):
            await pilot.press(key)  # nothing to act on: no crash
        await app.workers.wait_for_complete()
        assert pane.summaries == []


@sync
async def test_followed_run_shows_its_own_settings_in_the_form(tmp_path):
    run_dir = write_run(tmp_path, "20231114-221300-seed-classic", "seed-classic", 9.1)
    runs.write_config(
        run_dir, {"preset": "seed-classic", "train": {"seconds": 42.0, "log_every": 5000}}
    )
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.wait_until_started()
        train = app.query_one(TrainPane)
        await wait_for(pilot, lambda: train._form_built)
        pane = await open_runs(pilot)
        await pilot.press("f")
        # The form is rebuilt from the run's config.yaml: its budget and its log cadence
        # (not the live cadence a new run in the TUI gets), under the run's name.
        await wait_for(pilot, lambda: train.form().values().get("train.seconds") == 42.0)
        values = train.form().values()
        assert values["preset"] == "seed-classic"
        assert values["train.log_every"] == 5000
        title = app.query_one("#train-form-title", Label).render()
        assert str(title) == "Settings of 20231114-221300-seed-classic"
        assert pane.summaries


@sync
async def test_a_run_followed_before_it_writes_anything_is_shown_once_it_does(tmp_path):
    """`rlrec-tui RUN` a moment after `rlrec train` made the folder: nothing to read yet, so
    the pane waits, then shows the run's curves and settings once its writer has started."""
    starting = tmp_path / "20231114-221300-seed-classic"
    starting.mkdir()
    app = RlrecApp(runs_dir=tmp_path, run_dir=starting)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.wait_until_started()
        train = app.query_one(TrainPane)
        await wait_for(pilot, lambda: train.following and train._form_built)
        assert "waiting for its first progress line" in str(
            train.query_one("#train-status").render()
        )
        # The writer starts: its config first, then its logs.
        runs.write_config(starting, {"preset": "seed-classic", "train": {"seconds": 42.0}})
        written = write_run(tmp_path / "elsewhere", starting.name, "seed-classic", 9.1)
        for name in (runs.TIMING_FILE, runs.METRICS_FILE):
            (written / name).rename(starting / name)
        await wait_for(pilot, lambda: train.last_finished is not None)
        await wait_for(
            pilot,
            lambda: train._form_built and train.form().values().get("train.seconds") == 42.0,
        )
        assert len(train.store.get("episode_return")[0]) == 5


@sync
async def test_runs_written_by_another_process_appear_without_r(tmp_path):
    make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        table = pane.query_one("#runs-table", DataTable)
        table.move_cursor(row=1)
        kept = pane._cursor_path()
        write_run(tmp_path, "20231114-221700-default", "default", 3.0, created=FIXED_TIME + 240)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert "3 runs in" in screen_text(app)
        assert pane._cursor_path() == kept  # the cursor stayed on its run
