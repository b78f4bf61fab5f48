"""End to end, as a new user would: open the app, train a short real run (seed-classic) with
one key, watch the curves fill, then read the trained agent's recommendations in Explore."""

from __future__ import annotations

import torch
from textual.widgets import DataTable, TabbedContent

from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.train import TrainPane
from tests.tui.fake_trainer import sync, wait_for


async def _seed_classic_form(pilot, app, steps: str):
    """The Train pane with the seed-classic preset loaded, a step budget of `steps` instead
    of seconds and progress every 2,048 steps; returns (pane, form). Fails if the preset's
    values never reach the form."""
    pane = app.query_one(TrainPane)
    await wait_for(pilot, lambda: pane._form_built, timeout=120)
    pane.form().field("preset").value = "seed-classic"
    # The form is rebuilt in a worker: wait until it holds the preset's own values (its γ is
    # 0, the default preset's 0.7), not only until the preset's name has changed.
    await wait_for(
        pilot,
        lambda: (
            pane.preset == "seed-classic"
            and pane._form_built
            and pane.form().field("agent.gamma").value == 0.0
        ),
    )
    await pilot.pause(0.2)
    form = pane.form()
    form.field("train.seconds").text = ""
    form.field("train.steps").text = steps
    form.field("train.log_every").text = "2048"
    return pane, form


@sync
async def test_train_a_real_run_then_explore_its_recommendations(tmp_path):
    torch.set_num_threads(1)
    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane, _ = await _seed_classic_form(pilot, app, "8192")
        pane.focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.last_finished is not None, timeout=120)
        assert pane.last_finished.reason == "budget"
        assert pane.last_finished.env_steps >= 8192
        x, _ = pane.store.get("epsilon")
        assert len(x) >= 3  # the curves moved while it trained
        assert len(pane.store.get("eval_return")[0]) >= 1
        assert (pane.run_dir / "metrics.jsonl").exists()
        assert (pane.run_dir / "checkpoint.json").exists()

        # The pane stays on the final curves; 3 opens the finished run in Explore with the
        # agent's top-K for the selected user.
        tabs = app.query_one("#panes", TabbedContent)
        assert tabs.active == "train"
        app.set_focus(None)
        await pilot.press("3")
        await wait_for(pilot, lambda: tabs.active == "explore")
        explore = app.query_one("#explore-pane")
        agent_table = explore.query_one("#explore-agent", DataTable)
        await wait_for(pilot, lambda: explore.run is not None, timeout=120)
        await wait_for(pilot, lambda: agent_table.row_count > 0, timeout=120)
        assert explore.run_dir == pane.run_dir
        assert agent_table.row_count >= 5


@sync
async def test_the_apps_run_trains_in_a_child_process_that_pauses_and_stops(tmp_path):
    """The app's run is another process (drawing never takes the training's interpreter); its
    events come back through the run folder, and space / x still reach it."""
    import os

    from rlrec.engine.usecases.training_process import TrainingProcess

    app = RlrecApp(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane, _ = await _seed_classic_form(pilot, app, "100000000")
        pane.focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: len(pane.store.get("epsilon")[0]) >= 2, timeout=120)
        trainer = pane._trainer
        assert isinstance(trainer, TrainingProcess) and trainer.pid != os.getpid()
        assert pane.store.levels()  # the child's References line was read
        await pilot.press("space")
        await wait_for(pilot, lambda: trainer.state == "paused", timeout=60)
        assert pane.run_state == "paused"
        await pilot.press("space")
        await wait_for(pilot, lambda: trainer.state == "running", timeout=60)
        await pilot.press("x")
        await wait_for(pilot, lambda: pane.last_finished is not None, timeout=120)
        assert pane.last_finished.reason == "stopped"
        assert (pane.run_dir / "checkpoint.json").exists()
