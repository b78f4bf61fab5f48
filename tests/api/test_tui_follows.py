"""`rlrec-tui RUN` follows a run that `rlrec serve` trains: the server writes an ordinary run
folder, the app tails it while it grows, and sees it end when the API stops it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rlrec.tui.app import RlrecApp
from rlrec.tui.panes.train import TrainPane
from tests.api.test_server import _start
from tests.tui.fake_trainer import skip_dataset, sync, wait_for


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("follow")


@pytest.fixture(scope="module")
def server(folder) -> Iterator[httpx.Client]:
    yield from _start(folder)


@sync
async def test_the_app_follows_a_run_the_server_trains(server, folder, monkeypatch):
    skip_dataset(monkeypatch)
    assert server.post("/api/init", json={"n_users": 200, "n_items": 50}).status_code == 200
    started = server.post("/api/train", json={"seconds": 120, "name": "served"})
    assert started.status_code == 202, started.text
    run_dir = folder / "runs" / "served"

    app = RlrecApp(run_dir=run_dir, runs_dir=folder / "runs")
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(TrainPane)
        await wait_for(pilot, lambda: len(pane.store) >= 1)
        assert pane.following
        seen = len(pane.store)
        await wait_for(pilot, lambda: len(pane.store) > seen)  # it grows as the server trains
        assert server.post("/api/train/stop").json()["run"] == "served"
        await wait_for(pilot, lambda: not pane.following)  # the app saw the run end
    listed = {r["run"]: r["status"] for r in server.get("/api/runs").json()["runs"]}
    assert listed["served"] == "stopped"
