"""A run trained in the TUI while Explore keeps reloading its checkpoint writes the same
`metrics.jsonl` as the same run trained headless: nothing Explore does on its threads (reading
a checkpoint, building an agent, recommending with it) and nothing the app's child training
process is told (pauses) reaches the random draws of the training (weights, dropout masks,
replay samples, exploration, sessions).

The run is real and small (a few seconds of training, a checkpoint every 20 vector steps,
dropout on, so a draw from torch's global RNG anywhere would show). The TUI run is driven as a
user would: settings in the Train form, `s`, then `3` to watch the agent in Explore, `j` to
move between users; Explore reloads the run on its own each time a newer checkpoint lands.
The settings the form does not show (the number of sessions, evaluation and checkpoint
periods, replay sizes) are given to the pane's config resolution, the same values as the
headless run's, and the two runs' config.yaml must be identical.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from textual.widgets import TabbedContent

from rlrec.engine.config_base import deep_merge
from rlrec.engine.training import runs
from rlrec.engine.training.events import Checkpointed
from rlrec.engine.usecases.training import resolve_run_config, train
from rlrec.tui.app import RlrecApp
from rlrec.tui.panes import explore, explore_data
from rlrec.tui.panes.train import TrainPane
from rlrec.tui.widgets.user_rows import UserRows
from tests.tui.fake_trainer import sync, wait_for

STEPS = 12_800
# What the Train form shows, as a user types it.
FORM = {
    "agent.hidden": "32, 32",
    "agent.batch_size": "32",
    "agent.dropout": "0.2",
    "train.seconds": "",
    "train.steps": str(STEPS),
    "train.log_every": "640",
}
# What the form does not show: 64 sessions, a checkpoint every 1,280 env steps (ten during the
# run, one at its end), an evaluation every 3,200.
HIDDEN = {
    "agent": {"learning_starts": 256, "replay_ratio": 1 / 16, "replay_size": 5000},
    "train": {
        "n_envs": 64,
        "eval_every": 3200,
        "eval_episodes": 100,
        "checkpoint_every": 1280,
        "torch_threads": 1,
    },
}
# The fields of metrics.jsonl lines that measure wall-clock time, by name (the writer keeps
# them in timing.jsonl; anything else must match).
WALL_CLOCK = runs.TIMING_FIELDS


def _overrides() -> dict[str, Any]:
    """FORM and HIDDEN as the headless run's overrides."""
    shown = {
        "agent": {"hidden": [32, 32], "batch_size": 32, "dropout": 0.2},
        "train": {"steps": STEPS, "log_every": 640},
    }
    return deep_merge(HIDDEN, shown)


def _metrics(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without wall-clock fields and without the pauses the test's pacing
    asked for (StateChanged lines after the first)."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in {run_dir / runs.METRICS_FILE}")

    lines = (run_dir / runs.METRICS_FILE).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line, parse_constant=refuse) for line in lines]
    states = [i for i, r in enumerate(records) if r["type"] == "StateChanged"]
    kept = [r for i, r in enumerate(records) if i not in states[1:]]
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in kept]


@pytest.mark.parametrize(
    "preset",
    [
        "seed-classic",  # no dataset: Explore builds the simulator's user table
        "default",  # the built-in dataset: Explore reads the hidden truth and fits a baseline
    ],
)
@sync
async def test_a_tui_run_with_explore_reloading_it_matches_the_headless_run(
    tmp_path, monkeypatch, preset
):
    torch.set_num_threads(1)
    config = resolve_run_config(preset, overrides=_overrides())
    assert config.agent.dropout > 0  # dropout masks are draws a global reseed would change
    headless = train(config, tmp_path / "headless", "run").run_dir

    # -- the same run in the TUI, Explore reloading it while it trains ---------------------
    resolve = TrainPane.load_config
    monkeypatch.setattr(
        TrainPane, "load_config", lambda pane, p, o: resolve(pane, p, deep_merge(HIDDEN, o))
    )
    monkeypatch.setattr(explore, "CHECKPOINT_POLL_SECONDS", 0.2)  # reload often: short test
    loads: list[tuple[float | None, bool]] = []  # (checkpoint stamp, still training)
    loading = threading.Condition()
    started: list[float | None] = []  # stamps of the checkpoints Explore began to load
    gave_up = threading.Event()
    recommended = threading.Event()
    load_run, recommend = explore_data.load_run, explore_data.recommend
    on_event = TrainPane._on_engine_event

    def paced(pane: TrainPane, event: Any) -> None:
        # Pacing only (metrics.jsonl holds no time): once a checkpoint is read, the training
        # process is paused until Explore began loading it (or a newer one), so loads overlap
        # the training however fast this machine trains. A pause lands between vector steps:
        # it changes no draw.
        trainer = pane._trainer
        if (
            isinstance(event, Checkpointed)
            and trainer is not None
            and pane.run_dir is not None
            and not gave_up.is_set()
        ):
            trainer.pause()
            stamp = explore_data.checkpoint_stamp(pane.run_dir) or 0.0
            with loading:
                if not loading.wait_for(
                    lambda: any(s is not None and s >= stamp for s in started), timeout=300
                ):
                    gave_up.set()  # Explore does not follow the run: the asserts below say so
            trainer.resume()
        on_event(pane, event)

    def counting_load(run_dir: Path):
        stamp = explore_data.checkpoint_stamp(run_dir)
        with loading:
            started.append(stamp)
            loading.notify_all()
        run = load_run(run_dir)
        finished = "RunFinished" in (run_dir / runs.METRICS_FILE).read_text(encoding="utf-8")
        loads.append((stamp, not finished))
        return run

    def counting_recommend(run, user, k, policy):
        recommended.set()
        return recommend(run, user, k, policy)

    monkeypatch.setattr(explore_data, "load_run", counting_load)
    monkeypatch.setattr(explore_data, "recommend", counting_recommend)
    monkeypatch.setattr(TrainPane, "_on_engine_event", paced)

    app = RlrecApp(runs_dir=tmp_path / "tui")
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: pane._form_built, timeout=60)
        pane.form().field("preset").value = preset
        await wait_for(pilot, lambda: pane.preset == preset and pane._form_built, timeout=60)
        await pilot.pause(0.2)
        form = pane.form()
        for key, text in FORM.items():
            form.field(key).text = text
        pane.focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.run_dir is not None, timeout=60)
        await pilot.press("3")  # watch the agent in Explore while it trains
        tabs = app.query_one("#panes", TabbedContent)
        await wait_for(pilot, lambda: tabs.active == "explore")
        users = app.query_one("#explore-user-table", UserRows)
        for _ in range(3000):  # at most 15 minutes on a busy machine: only stops a hang
            if pane.last_finished is not None:
                break
            if users.row_count > 1:
                await pilot.press("j")  # another user: the agent recommends again
            await pilot.pause(0.3)
        assert pane.last_finished is not None and pane.last_finished.reason == "budget"
        await app.workers.wait_for_complete()
        tui_run = pane.run_dir

    assert len(loads) == len(started)  # no load failed, even with a checkpoint landing in it
    during = {stamp for stamp, training in loads if training}
    # Explore opened the run while it trained and reloaded it as newer checkpoints landed. A
    # pause reaches the child a moment after a checkpoint is read, so a fast child may write
    # the next ones, or finish, first: not every checkpoint is loaded while training.
    assert during and len({stamp for stamp, _ in loads}) >= 2, loads
    assert recommended.is_set()
    assert (tui_run / runs.CONFIG_FILE).read_text() == (headless / runs.CONFIG_FILE).read_text()
    expected = _metrics(headless)
    kinds = [r["type"] for r in expected]
    assert kinds.count("Checkpointed") >= 10 and kinds.count("Evaluation") >= 4
    assert _metrics(tui_run) == expected
