"""Runs pane, studies: the studies of the runs folder, one study's trials (state, objective,
parameters, seconds, the best marked), its objective-over-trials chart and importances, a study
another process grows, and a trial opened as a run. Studies are built with Optuna directly
(`tests/tui/study_folders.py`), without training."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from rlrec.tui.app import RlrecApp
from rlrec.tui.messages import RunSelected
from rlrec.tui.panes.runs import RunsPane
from rlrec.tui.widgets.compare_chart import CompareChart
from rlrec.tui.widgets.study_chart import StudyChart
from tests.tui.fake_trainer import screen_text, skip_dataset, sync, wait_for
from tests.tui.study_folders import Trial, add_trial, demo_trials, write_study
from tests.tui.test_runs import has_focus, make_runs, open_runs


@pytest.fixture(autouse=True)
def _no_dataset(monkeypatch):
    skip_dataset(monkeypatch)


def rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_pane(pilot) -> RunsPane:
    """The Runs pane, once it has listed the studies."""
    app = pilot.app
    app.set_focus(None)
    await pilot.press("4")
    await wait_for(pilot, lambda: app.query(RunsPane))
    pane = app.query_one(RunsPane)
    await wait_for(pilot, lambda: pane.studies)
    await wait_for(pilot, lambda: has_focus(pane))
    return pane


async def open_study(pilot) -> RunsPane:
    """Runs pane → studies list (t) → the first study (enter), once its trials are read."""
    pane = await open_pane(pilot)
    await pilot.press("t")
    await pilot.press("enter")
    await wait_for(pilot, lambda: pane.study is not None and pane.view == "study")
    return pane


@sync
async def test_studies_are_listed_beside_the_runs(tmp_path):
    make_runs(tmp_path)
    write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await wait_for(pilot, lambda: "1 study: press t" in screen_text(app))
        assert pane.query_one("#runs-table", DataTable).row_count == 2  # trials are not runs
        await pilot.press("t")
        assert pane.view == "studies"
        table = pane.query_one("#studies-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        name, objective, trials, states, best, _updated, running = rows(table)[0]
        assert (name, objective, trials, best, running) == (
            "lr-search",
            "return",
            "6",
            "8.25",
            "running",
        )
        assert states == "4 complete, 1 pruned, 1 running"
        await pilot.press("t")  # and back
        assert pane.view == "runs"


@sync
async def test_a_study_shows_its_trials_with_the_best_marked(tmp_path):
    write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_study(pilot)
        table = pane.query_one("#trials-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        titles = [str(column.label) for column in table.columns.values()]
        assert titles == [
            "",
            "★",
            "#",
            "state",
            "return",
            "seconds",
            "env steps",
            "lr",
            "batch_size",
            "gamma",
        ]
        by_number = {row[2]: row for row in rows(table)}
        assert [row[2] for row in rows(table)] == ["5", "4", "3", "2", "1", "0"]  # newest first
        assert by_number["3"] == [
            "",
            "★",
            "3",
            "complete",
            "8.25",
            "12",
            "3,000",
            "0.0004",
            "64",
            "0.95",
        ]
        assert by_number["2"][3:5] == ["pruned", "1.5"]  # a pruned trial: its last report
        assert by_number["5"][3:7] == ["running", "–", "–", "–"]
        assert [row[1] for row in rows(table)].count("★") == 1
        header = str(pane.query_one("#runs-header", Static).render())
        assert "study lr-search · return · 6 trials: 4 complete, 1 pruned, 1 running" in header
        assert "best #3 = 8.25" in header
        await pilot.press("escape")
        assert pane.view == "studies"
        await pilot.press("escape")
        assert pane.view == "runs"


@sync
async def test_the_objective_chart_gets_every_trials_value(tmp_path):
    write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_study(pilot)
        chart = pane.query_one("#study-chart", StudyChart)
        await wait_for(pilot, lambda: chart.points)
        assert chart.display and chart.region.height > 0
        assert chart.points["complete"] == [(0, 5.0), (1, 6.5), (3, 8.25), (4, 7.0)]
        assert chart.points["pruned"] == [(2, 1.5)]
        assert chart.points["running"] == [(5, 4.5)]
        assert chart.points["best_so_far"] == [(0, 5.0), (1, 6.5), (3, 8.25), (4, 8.25)]
        assert chart.points["best"] == [(3, 8.25)]
        importances = str(chart.query_one("#study-importances", Static).render())
        assert set(pane.study.importances) == {"agent.lr", "agent.batch_size", "agent.gamma"}
        for name in ("lr", "batch_size", "gamma"):
            assert name in importances
        # v: each trial's reports to the pruner; the pruned one stops after its second
        await pilot.press("v")
        assert chart.mode == "reports"
        assert chart.lines["pruned"] == [[(1, 1.0), (2, 1.5)]]
        assert chart.lines["running"] == [[(1, 4.5)]]
        assert chart.lines["complete"][2] == [(1, 4.0), (2, 7.0), (3, 8.25)]
        assert "reported to the pruner" in str(chart.query_one("#study-legend", Static).render())
        await pilot.press("v")
        assert chart.mode == "trials"


@sync
async def test_the_best_config_is_pointed_at(tmp_path):
    folder = write_study(tmp_path, "lr-search", demo_trials())
    (folder / "best.yaml").write_text("preset: seed-classic\n")
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_study(pilot)
        chart = pane.query_one("#study-chart", StudyChart)
        await wait_for(pilot, lambda: chart.points)
        importances = str(chart.query_one("#study-importances", Static).render())
        assert "best config (rlrec train --config)" in importances
        assert "lr-search/best.yaml" in importances


@sync
async def test_a_trial_another_process_adds_shows_up(tmp_path):
    folder = write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_study(pilot)
        table = pane.query_one("#trials-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        add_trial(folder, Trial("complete", 9.5, [5.0, 8.0, 9.5], lr=6e-4))
        await wait_for(pilot, lambda: table.row_count == 7)
        assert rows(table)[0][1:5] == ["★", "6", "complete", "9.5"]
        chart = pane.query_one("#study-chart", StudyChart)
        assert chart.points["best"] == [(6, 9.5)]
        assert "best #6 = 9.5" in str(pane.query_one("#runs-header", Static).render())
        # the studies list follows too
        await wait_for(pilot, lambda: pane.studies[0].n_trials == 7)


@sync
async def test_enter_on_a_trial_opens_its_run_in_explore(tmp_path):
    folder = write_study(tmp_path, "lr-search", demo_trials())
    posted = []
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48), message_hook=posted.append) as pilot:
        pane = await open_study(pilot)
        table = pane.query_one("#trials-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        table.move_cursor(row=2)  # trial 3
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one("#panes", TabbedContent).active == "explore")
        selected = {id(m): m.run_dir for m in posted if isinstance(m, RunSelected)}
        assert list(selected.values()) == [folder / "trial-0003"]
        assert app.state.run_dir == folder / "trial-0003"


@sync
async def test_a_trial_without_a_run_folder_says_so(tmp_path):
    write_study(tmp_path, "failing", [Trial("failed", with_run=False)])
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_study(pilot)
        await wait_for(pilot, lambda: pane.query_one("#trials-table", DataTable).row_count == 1)
        for key in ("enter", "o", "f", "space", "c"):
            await pilot.press(key)
        assert app.query_one("#panes", TabbedContent).active == "runs"
        assert pane.marked == []
        assert app.state.run_dir is None


@sync
async def test_trials_compare_with_runs(tmp_path):
    a, b = make_runs(tmp_path)
    folder = write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("space")  # the newest run
        await wait_for(pilot, lambda: pane.studies)
        await pilot.press("t", "enter")
        table = pane.query_one("#trials-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        table.move_cursor(row=2)  # trial 3
        await pilot.press("space", "down", "down")  # trial 1
        await pilot.press("space")
        assert pane.marked == [b, folder / "trial-0003", folder / "trial-0001"]
        assert [row[0] for row in rows(table)] == ["", "", "━2", "", "━3", ""]
        await pilot.press("c")
        chart = pane.query_one("#runs-chart", CompareChart)
        await wait_for(pilot, lambda: len(chart.curves) == 3)
        assert chart.display
        assert [label for label, _, _ in chart.curves] == [
            b.name,
            "lr-search/trial-0003",
            "lr-search/trial-0001",
        ]
        # ε was logged as 1/w in window w by every run, trials too
        while chart.metric.key != "epsilon":
            await pilot.press("m")
        curves = {label: y.tolist() for label, _, y in chart.curves}
        assert curves["lr-search/trial-0003"] == pytest.approx([1.0, 0.5, 1 / 3])
        await pilot.press("v")  # back to the study's own chart
        assert pane.query_one("#study-chart", StudyChart).display


@sync
async def test_no_studies_yet(tmp_path):
    make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: "no studies in" in screen_text(app))
        for key in ("enter", "o", "f", "space", "c", "v", "m", "l"):
            await pilot.press(key)  # nothing to act on: no crash
        assert pane.view == "studies"


@sync
async def test_a_study_started_while_the_app_is_open_appears(tmp_path):
    make_runs(tmp_path)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_runs(pilot)
        await pilot.press("t")
        assert pane.studies == []
        write_study(tmp_path, "late", demo_trials()[:2])
        table = pane.query_one("#studies-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        assert rows(table)[0][:3] == ["late", "return", "2"]


@sync
async def test_a_hidden_pane_never_takes_the_keys_from_the_pane_shown(tmp_path):
    # The Dataset pane's source tabs switch (first when the pane mounts, after the first
    # frame) while another pane is shown: it must not focus its hidden widgets then.
    from textual.widgets import Tabs

    from rlrec.tui.panes.dataset import DatasetPane

    write_study(tmp_path, "lr-search", demo_trials())
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_pane(pilot)
        dataset = app.query_one(DatasetPane)
        app.set_focus(None)  # focus lost for a moment, as while a pane mounts
        dataset.query_one("#dataset-source-tabs", Tabs).active = "source-csv"
        await pilot.pause(0.2)
        assert app.focused is None or dataset not in app.focused.ancestors_with_self
        assert app.query_one("#panes").active == "runs" and pane.is_on_screen
