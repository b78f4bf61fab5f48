"""Explore pane through the real app: user list + search, recommendations with hidden truth
beside a baseline, j/k between users, enter → why, and the no-run message.

The run is a stand-in (loading a real one needs torch and a trained checkpoint; the
end-to-end test in test_app* trains a real one): `load_run` and `recommend` are replaced with
functions that return what the engine's would, computed from the dataset."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from rlrec.data.store import save_dataset
from rlrec.engine.serving.recommend import Recommendation, RecommendedItem
from rlrec.tui import app as app_module
from rlrec.tui.messages import RunSelected
from rlrec.tui.panes import explore, explore_data
from rlrec.tui.widgets.explorer import WhyScreen
from rlrec.tui.widgets.user_rows import UserRows
from tests.fixtures import saved_dataset
from tests.tui.fake_trainer import sync, wait_for

pytestmark = pytest.mark.usefixtures("fake_train_pane")


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    return saved_dataset(tmp_path_factory, "small", n_users=30, n_items=25, seed=5)


@pytest.fixture
def fake_engine(monkeypatch, dataset_dir):
    """load_run → a run over the saved dataset; recommend → items ranked by a fixed rule."""
    from rlrec.data.store import load_dataset

    calls: list[tuple[str, str]] = []
    dataset = load_dataset(dataset_dir)

    def load_run(run_dir):
        start = SimpleNamespace(n_users=dataset.n_users)
        return SimpleNamespace(
            path=Path(run_dir), dataset=dataset, start=start, scorer_ready=lambda name: True
        )

    def recommend(run, user, k, policy):
        calls.append((user, policy))
        items = run.dataset.items
        order = list(range(len(items)))[::-1] if policy == "agent" else list(range(len(items)))
        rows = [
            RecommendedItem(
                item=str(items["original_id"].iloc[i]),
                item_id=i,
                score=1.0 / (rank + 1),
                details={
                    "category": items["category"].iloc[i],
                    "price": float(items["price"].iloc[i]),
                    "quality": float(items["quality"].iloc[i]),
                    "title": items["title"].iloc[i],
                },
                true_preference=0.5,
            )
            for rank, i in enumerate(order[:k])
        ]
        source = "agent" if policy == "agent" else policy
        return Recommendation(user, source, rows)

    monkeypatch.setattr(explore_data, "load_run", load_run)
    monkeypatch.setattr(explore_data, "recommend", recommend)
    return calls


def _text(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def _settle(app, pilot) -> None:
    await app.wait_until_started()
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _search_settle(app, pilot) -> None:
    await pilot.pause()
    await _settle(app, pilot)


async def _open_run(app, pilot, tmp_path: Path) -> None:
    await _settle(app, pilot)
    app.post_message(RunSelected(tmp_path / "run"))
    await _settle(app, pilot)


@asynccontextmanager
async def _explore(
    dataset_dir: Path, tmp_path: Path, size: tuple[int, int] = (160, 48), *, run: bool
) -> AsyncIterator[tuple[app_module.RlrecApp, Pilot]]:
    """The app on `dataset_dir`, settled on Explore: with `run`, showing the run folder
    `tmp_path / "run"` (as when a training run finished); without, with no run open."""
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        if run:
            await _open_run(app, pilot, tmp_path)
        else:
            await _settle(app, pilot)
            await pilot.press("3")
            await _settle(app, pilot)
        yield app, pilot


@sync
async def test_recommendations_hidden_truth_baseline_and_moving_between_users(
    fake_engine, dataset_dir, tmp_path
):
    async with _explore(dataset_dir, tmp_path, run=True) as (app, pilot):
        assert app.query_one("#panes").active == "explore"
        users = app.query_one("#explore-user-table", UserRows)
        assert users.row_count == 30
        agent = app.query_one("#explore-agent", DataTable)
        baseline = app.query_one("#explore-baseline", DataTable)
        assert agent.row_count == explore.TOP_K and baseline.row_count == explore.TOP_K
        labels = [str(c.label) for c in agent.columns.values()]
        assert "Q" in labels and "hidden truth" in labels and "price" in labels
        assert "source: agent" in _text(app, "#explore-agent-title")
        assert "most popular" in _text(app, "#explore-baseline-title")
        # The agent's first item is the last catalogue item in the fake's rule.
        assert str(agent.get_row_at(0)[3]) == app.state.dataset.items["title"].iloc[24]
        assert "User 0" in _text(app, "#explore-profile")
        history = app.query_one("#explore-history", DataTable)
        assert history.row_count > 0

        users.focus()
        await pilot.press("j")
        await _settle(app, pilot)
        assert "User 1" in _text(app, "#explore-profile")
        await pilot.press("down", "down")
        await _settle(app, pilot)
        assert "User 3" in _text(app, "#explore-profile")
        await pilot.press("k")
        await _settle(app, pilot)
        assert "User 2" in _text(app, "#explore-profile")

        # b cycles through the registry's reference policies: popular, content, mf, LinUCB…
        for _ in range(3):
            await pilot.press("b")
            await _settle(app, pilot)
        assert "LinUCB" in _text(app, "#explore-baseline-title")
        assert ("2", "linucb") in fake_engine
        assert ("2", "content") in fake_engine


@sync
async def test_enter_on_a_recommended_item_shows_why(fake_engine, dataset_dir, tmp_path):
    async with _explore(dataset_dir, tmp_path, run=True) as (app, pilot):
        agent = app.query_one("#explore-agent", DataTable)
        agent.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WhyScreen)
        assert screen.item.item == "23"
        summary = str(screen.query_one("#why-summary", Static).render())
        assert "Category match" in summary and "preferences" in summary
        assert "Q 0.500" in summary and "hidden truth 0.500" in summary
        nearest = screen.query_one("#why-nearest", DataTable)
        assert nearest.row_count >= 1
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WhyScreen)


@sync
async def test_search_filters_the_user_list(fake_engine, dataset_dir, tmp_path):
    async with _explore(dataset_dir, tmp_path, run=True) as (app, pilot):
        users = app.query_one("#explore-user-table", UserRows)
        segment = str(users.get_row_at(3)[1])
        await pilot.press("slash")
        assert app.focused is app.query_one("#explore-search", Input)
        await pilot.press(*"17")
        await _search_settle(app, pilot)
        assert "1 of 30 users" in _text(app, "#explore-user-count")
        assert users.row_count == 1 and str(users.get_row_at(0)[0]) == "17"
        assert "User 17" in _text(app, "#explore-profile")
        search = app.query_one("#explore-search", Input)
        search.value = segment
        await _search_settle(app, pilot)
        assert 1 <= users.row_count < 30
        assert all(str(users.get_row_at(r)[1]) == segment for r in range(users.row_count))
        search.value = "no such user"
        await _search_settle(app, pilot)
        assert users.row_count == 0
        # Nobody is selected, so nobody's details stay on screen.
        assert "No user matches" in _text(app, "#explore-profile")
        assert app.query_one("#explore-agent", DataTable).row_count == 0


@sync
async def test_without_a_run_it_says_so_and_offers_the_train_key(dataset_dir, tmp_path):
    async with _explore(dataset_dir, tmp_path, (120, 40), run=False) as (app, pilot):
        status = _text(app, "#explore-run")
        assert "No trained run yet" in status and "t" in status
        # The dataset's users and histories are there even without a run.
        assert app.query_one("#explore-user-table", UserRows).row_count == 30
        # No empty recommendation tables: the lists are hidden until a run is open.
        assert not app.query_one("#explore-lists").display
        assert "User 0" in _text(app, "#explore-profile")
        assert app.query_one("#explore-history", DataTable).row_count > 0


@sync
async def test_a_run_that_cannot_be_loaded_is_reported_not_raised(dataset_dir, tmp_path):
    # the real loader: not a run folder
    async with _explore(dataset_dir, tmp_path, (120, 40), run=True) as (app, pilot):
        assert "Cannot open run" in _text(app, "#explore-run")


@asynccontextmanager
async def _training_run(
    dataset_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[app_module.RlrecApp, Pilot, Path]]:
    """The app on Explore with the run folder `tmp_path / "run"` open while it trains and
    before its first checkpoint."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("preset: default\n")
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        app.state.run_dir = run_dir  # what the Train pane does when training starts
        await pilot.press("3")
        await _settle(app, pilot)
        assert "no checkpoint yet" in _text(app, "#explore-run")
        assert app.query_one("#explore-pane").run is None
        yield app, pilot, run_dir


@sync
async def test_a_run_still_training_opens_once_it_has_a_checkpoint(
    fake_engine, dataset_dir, tmp_path
):
    async with _training_run(dataset_dir, tmp_path) as (app, pilot, run_dir):
        (run_dir / "checkpoint.json").write_bytes(b"x")
        app.post_message(RunSelected(run_dir))  # training finished: same folder, now complete
        await _settle(app, pilot)
        assert app.query_one("#explore-pane").run is not None
        assert app.query_one("#explore-agent", DataTable).row_count == explore.TOP_K


@sync
async def test_a_run_still_training_is_followed_checkpoint_by_checkpoint(
    fake_engine, monkeypatch, dataset_dir, tmp_path
):
    monkeypatch.setattr(explore, "CHECKPOINT_POLL_SECONDS", 0.05)
    loaded: list[Path] = []
    load_run = explore_data.load_run
    monkeypatch.setattr(explore_data, "load_run", lambda d: loaded.append(d) or load_run(d))
    async with _training_run(dataset_dir, tmp_path) as (app, pilot, run_dir):
        checkpoint = run_dir / "checkpoint.json"
        checkpoint.write_bytes(b"x")  # the first checkpoint: the pane opens the run itself
        await wait_for(pilot, lambda: app.query_one("#explore-pane").run is not None)
        await _settle(app, pilot)
        users = app.query_one("#explore-user-table", UserRows)
        users.focus()
        await pilot.press("j", "j", "j")
        await _settle(app, pilot)
        assert "User 3" in _text(app, "#explore-profile")
        assert fake_engine.count(("3", "agent")) == 1

        stamp = checkpoint.stat().st_mtime + 10
        os.utime(checkpoint, (stamp, stamp))  # a newer checkpoint
        await wait_for(pilot, lambda: fake_engine.count(("3", "agent")) == 2)
        await _settle(app, pilot)
        assert loaded == [run_dir, run_dir]
        # Reloaded in place: same user, same cursor, no "Loading" in between.
        assert users.cursor_row == 3 and "User 3" in _text(app, "#explore-profile")
        assert "Loading" not in _text(app, "#explore-run")
        await pilot.pause(0.3)
        assert len(loaded) == 2  # an unchanged checkpoint is not loaded again


@sync
async def test_t_without_a_run_goes_to_train_and_starts_it(monkeypatch, dataset_dir, tmp_path):
    from rlrec.tui.panes.train import TrainPane

    started: list[bool] = []
    monkeypatch.setattr(TrainPane, "action_start", lambda self: started.append(True))
    async with _explore(dataset_dir, tmp_path, (120, 40), run=False) as (app, pilot):
        await pilot.press("t")
        await pilot.pause()
        assert app.query_one("#panes").active == "train"
        assert started == [True]


def test_rows_keep_data_that_looks_like_markup():
    from rlrec.tui.widgets.explorer import agent_rows, baseline_rows, history_rows

    details = {"title": "Heat [Director's Cut] [/b]", "category": "[x"}
    item = RecommendedItem(item="7", item_id=7, score=0.5, details=details)
    assert str(agent_rows([item])[0][3]) == "Heat [Director's Cut] [/b]"
    assert str(agent_rows([item])[0][4]) == "[x"
    assert str(agent_rows([item])[0][2]) == "–"  # no hidden truth given
    assert str(baseline_rows([RecommendedItem("9", 9, 0.1)])[0][3]) == "item 9"
    row = {
        "timestamp": 0,
        "event": "rating",
        "rating": 4.0,
        "item": 3,
        "category": "[b]",
        "title": "[red]",
    }
    assert [str(c) for c in history_rows([row])[0]] == [
        "1970-01-01",
        "rating",
        "4",
        "3",
        "[b]",
        "[red]",
    ]


@sync
async def test_movielens_users_list_occupation_and_their_ratings(tmp_path):
    from rlrec.data.importers import import_movielens
    from tests.tui.test_dataset import write_movielens_100k

    folder = tmp_path / "ml-ds"
    save_dataset(import_movielens(write_movielens_100k(tmp_path / "ml")), folder)
    async with _explore(folder, tmp_path, run=False) as (app, _):
        users = app.query_one("#explore-user-table", UserRows)
        assert users.columns[1] == "occupation"
        assert [str(users.get_row_at(r)[1]) for r in range(3)] == ["technician", "other", "writer"]
        assert "occupation technician" in _text(app, "#explore-profile")
        history = app.query_one("#explore-history", DataTable)
        assert history.row_count == 2
        assert {str(history.get_row_at(r)[5]) for r in range(2)} == {
            "Toy Story (1995)",
            "GoldenEye (1995)",
        }
