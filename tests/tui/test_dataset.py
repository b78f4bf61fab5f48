"""Dataset pane through the real app: generate → summary + EDA plots + DatasetChanged; import a
tiny MovieLens folder; open a saved folder; and bad input in every field shows a message beside
that field without raising."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, ProgressBar, Static

from rlrec.data.generator import generate
from rlrec.data.store import save_dataset
from rlrec.tui import app as app_module
from rlrec.tui.messages import DatasetChanged
from rlrec.tui.widgets.eda_plots import EdaBars, EdaPlot
from rlrec.tui.widgets.forms import FormField, ValidatedForm
from tests.tui.fake_trainer import sync, use_fake_engine


@pytest.fixture(autouse=True)
def _fast_train_pane(monkeypatch):
    """The Train pane (not under test here) builds its form from a stand-in config."""
    use_fake_engine(monkeypatch)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ds") / "start"
    save_dataset(generate(n_users=20, n_items=15, seed=1), folder)
    return folder


def write_movielens_100k(folder: Path) -> Path:
    """Three users, four movies (one title with a Latin-1 byte), six ratings."""
    folder.mkdir(parents=True)
    (folder / "u.user").write_text(
        "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"
    )
    genres = ["0"] * 19

    def item(n, title, genre):
        flags = list(genres)
        flags[genre] = "1"
        return f"{n}|{title}|01-Jan-1995||http://x|" + "|".join(flags) + "\n"

    lines = item(1, "Toy Story (1995)", 3) + item(2, "GoldenEye (1995)", 1)
    lines += item(3, "Les Mis\xe9rables (1995)", 8) + item(4, "Heat (1995)", 6)
    (folder / "u.item").write_bytes(lines.encode("latin-1"))
    ratings = [
        (1, 1, 5, 881250949),
        (1, 2, 3, 881250950),
        (2, 3, 4, 881250951),
        (2, 1, 2, 881250952),
        (3, 4, 1, 881250953),
        (3, 3, 5, 881250954),
    ]
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ratings))
    return folder


def _message(app, key: str, form_id: str) -> str:
    field = app.query_one(f"#{form_id}", ValidatedForm).field(key)
    return str(field.query_one(".field--message", Static).render()) if field.error else ""


def _field(app, key: str, form_id: str) -> FormField:
    return app.query_one(f"#{form_id}", ValidatedForm).field(key)


async def _settle(app, pilot) -> None:
    await app.wait_until_started()
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _until(pilot, condition, rounds: int = 1000) -> None:
    """Let the app run until `condition()` holds (a worker's result can land a few
    frames after the workers report complete on a loaded machine); give up quietly after
    `rounds` frames and let the caller's assertion say what is missing."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)


async def _set(pilot, input_id: str, text: str) -> None:
    pilot.app.query_one(f"#{input_id}-input", Input).value = text
    await pilot.pause()


async def _start(app, pilot, source: str = "source-generate") -> None:
    await _settle(app, pilot)
    await pilot.press("1")
    app.query_one("#dataset-source-tabs").active = source
    await pilot.pause()


def _summary(app) -> str:
    return str(app.query_one("#dataset-summary", Static).render())


@sync
async def test_opens_on_the_apps_dataset_then_generates_a_new_one(dataset_dir, tmp_path):
    changed: list[DatasetChanged] = []

    def hook(message):
        if isinstance(message, DatasetChanged):
            changed.append(message)

    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48), message_hook=hook) as pilot:
        await _start(app, pilot)
        assert "users         20" in _summary(app)
        await _set(pilot, "gen-users", "40")
        await _set(pilot, "gen-items", "30")
        await _set(pilot, "gen-seed", "9")
        await _set(pilot, "gen-activity", "2")
        await _set(pilot, "save-to", str(tmp_path / "saved"))
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        summary = _summary(app)
        assert "synthetic-40x30-seed9-activity2" in summary
        assert app.state.dataset.meta["activity"] == 2.0
        assert "users         40" in summary and "items         30" in summary
        assert "sparsity" in summary and "seed 9" in summary
        assert str(tmp_path / "saved") in summary
        assert (tmp_path / "saved" / "meta.yaml").exists()
        assert app.query_one("#dataset-progress", ProgressBar).percentage == 1.0
        plots = {p.key: p for p in [*app.query(EdaPlot), *app.query(EdaBars)]}
        assert {
            "user_age",
            "item_price",
            "item_category",
            "interaction_type",
            "interactions_per_user",
            "interactions_per_item",
        } <= set(plots)
        assert all(p.display for p in plots.values())
        assert plots["item_price"]._data["log"] is True
        new = [m for m in changed if m.dataset.n_users == 40]
        assert new and new[-1].path == tmp_path / "saved"
        assert app.state.dataset.n_users == 40


@sync
async def test_imports_a_movielens_folder(dataset_dir, tmp_path):
    folder = write_movielens_100k(tmp_path / "ml")
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _start(app, pilot, "source-movielens")
        await _set(pilot, "ml-path", str(folder))
        assert _field(app, "path", "form-movielens").error is None
        app.query_one("#ml-path-input", Input).focus()
        await pilot.press("enter")
        await _settle(app, pilot)
        summary = _summary(app)
        assert "movielens-100k" in summary and "users         3" in summary
        assert "interactions  6" in summary
        assert app.state.dataset.meta["source"] == "movielens-100k"
        assert "Les Mis\xe9rables (1995)" in app.state.dataset.items["title"].tolist()
        # MovieLens has no prices: a note instead of an empty chart; ratings are drawn.
        assert not app.query_one("#eda-item-price").display
        assert app.query_one("#eda-missing-item-price").display
        assert app.query_one("#eda-rating").display


@sync
async def test_opens_a_saved_folder(dataset_dir, tmp_path):
    other = tmp_path / "other"
    save_dataset(generate(n_users=12, n_items=9, seed=4), other)
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot, "source-open")
        await _set(pilot, "open-path", str(other))
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        assert "users         12" in _summary(app)
        assert app.state.dataset_path == other


@sync
async def test_bad_input_in_every_field_shows_a_message_beside_it(dataset_dir, tmp_path):
    not_movielens = tmp_path / "photos"
    not_movielens.mkdir()
    (not_movielens / "cat.jpg").write_bytes(b"\xff\xd8")
    log = tmp_path / "log.csv"
    log.write_text("uid,iid,stars\n1,10,4\n2,10,5\n2,11,3\n")
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot)
        before = app.state.dataset
        # Text in a number field, negative and zero sizes, a fraction, an absurd seed.
        cases = [
            ("gen-users", "n_users", "many", "expected a whole number"),
            ("gen-items", "n_items", "-5", "out of range"),
            ("gen-users", "n_users", "0", "out of range"),
            ("gen-items", "n_items", "2.5", "expected a whole number"),
            ("gen-seed", "seed", "-1", "out of range"),
            ("gen-activity", "activity", "0", "out of range"),
            ("gen-activity", "activity", "dense", "expected a number"),
        ]
        for input_id, key, text, expected in cases:
            await _set(pilot, input_id, text)
            assert expected in _message(app, key, "form-generate"), (text, expected)
        await pilot.press("ctrl+g")  # refused: nothing runs, nothing raises
        await _settle(app, pilot)
        assert app.state.dataset is before
        assert "Fix the fields" in str(app.query_one("#dataset-status", Static).render())

        # A folder that is not a MovieLens folder, and one that does not exist.
        app.query_one("#dataset-source-tabs").active = "source-movielens"
        await pilot.pause()
        await _set(pilot, "ml-path", str(not_movielens))
        assert "not a MovieLens folder" in _message(app, "path", "form-movielens")
        await _set(pilot, "ml-path", str(tmp_path / "missing"))
        assert "no such file or folder" in _message(app, "path", "form-movielens")

        # CSV: a column the file does not have → after running, beside that column's field.
        app.query_one("#dataset-source-tabs").active = "source-csv"
        await pilot.pause()
        await _set(pilot, "csv-path", str(log))
        await _set(pilot, "csv-user", "uid")
        await _set(pilot, "csv-item", "item")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        assert _field(app, "item_col", "form-csv").error
        assert "item" in _message(app, "item_col", "form-csv")
        assert _field(app, "user_col", "form-csv").error is None
        await _set(pilot, "csv-item", "iid")
        await _set(pilot, "csv-rating", "stars")
        await _set(pilot, "csv-sep", ";;")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        assert "separator ';;'" in _message(app, "sep", "form-csv")
        await _set(pilot, "csv-path", str(tmp_path / "nope.csv"))
        assert "no such file" in _message(app, "path", "form-csv")
        assert app.state.dataset is before

        # Saving over an existing folder without overwrite → beside "save to".
        app.query_one("#dataset-source-tabs").active = "source-generate"
        await pilot.pause()
        for input_id, text in (
            ("gen-users", "10"),
            ("gen-items", "8"),
            ("gen-seed", "1"),
            ("gen-activity", "1"),
        ):
            await _set(pilot, input_id, text)
        await _set(pilot, "save-to", str(dataset_dir))
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        await _until(pilot, lambda: str(dataset_dir) in _message(app, "save_to", "form-save"))
        assert str(dataset_dir) in _message(app, "save_to", "form-save")
        assert app.state.dataset is before
        assert app.is_running


@sync
async def test_open_a_folder_that_is_not_a_dataset_and_empty_required_columns(
    dataset_dir, tmp_path
):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot, "source-open")
        before = app.state.dataset
        await _set(pilot, "open-path", str(tmp_path / "junk"))
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        message = _message(app, "path", "form-open")
        assert str(tmp_path / "junk") in message
        assert app.state.dataset is before

        app.query_one("#dataset-source-tabs").active = "source-csv"
        await pilot.pause()
        await _set(pilot, "csv-user", "   ")
        assert "user column: required" in _message(app, "user_col", "form-csv")
        await _set(pilot, "csv-path", str(tmp_path / "junk"))
        assert "not a file" in _message(app, "path", "form-csv")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        assert app.state.dataset is before and app.is_running


@sync
async def test_a_parquet_log_with_a_null_id_says_the_one_line_beside_the_field(
    dataset_dir, tmp_path
):
    """Field case 07: the TUI shows the data layer's line (file, row, column), never a
    TypeError, and the app stays up."""
    import numpy as np
    import pandas as pd

    from rlrec.tui.messages import ShowError

    log = tmp_path / "float_ids_with_null.parquet"
    pd.DataFrame(
        {"user_id": [1.0, 2.0, 3.0, np.nan], "item_id": [1, 2, 3, 4], "rating": [5, 4, 3, 2]}
    ).to_parquet(log)
    dialogs: list[ShowError] = []

    def hook(message):
        if isinstance(message, ShowError):
            dialogs.append(message)

    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await _start(app, pilot, "source-csv")
        before = app.state.dataset
        await _set(pilot, "csv-path", str(log))
        await _set(pilot, "csv-user", "user_id")
        await _set(pilot, "csv-item", "item_id")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        await _until(pilot, lambda: _field(app, "user_col", "form-csv").error)
        message = _message(app, "user_col", "form-csv")
        assert f"{log}: row 4: empty id in column 'user_id' (user column)" in message
        assert not any("TypeError" in str(d.__dict__) for d in dialogs)
        assert app.state.dataset is before
        assert app.is_running


@sync
async def test_csv_encoding_and_positive_threshold_fields(dataset_dir, tmp_path):
    """The CSV form can force an encoding and set the positive threshold; a 0/1 log with
    threshold 4 is refused beside that field, and a bad encoding name as it is typed."""
    log = tmp_path / "likes.csv"
    log.write_bytes("user,item,liked\nJos\xe9,x,1\nAna,y,0\nAna,x,1\n".encode("latin-1"))
    app = app_module.RlrecApp(dataset_path=dataset_dir, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot, "source-csv")
        await _set(pilot, "csv-encoding", "klingon")
        assert "not a known text encoding" in _message(app, "encoding", "form-csv")
        await _set(pilot, "csv-encoding", "")
        await _set(pilot, "csv-path", str(log))
        await _set(pilot, "csv-user", "user")
        await _set(pilot, "csv-item", "item")
        await _set(pilot, "csv-rating", "liked")
        await _set(pilot, "csv-positive", "4")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        await _until(pilot, lambda: _field(app, "positive_threshold", "form-csv").error)
        message = _message(app, "positive_threshold", "form-csv")
        assert "ratings are 0..1, positive threshold 4" in message
        await _set(pilot, "csv-positive", "")
        await pilot.press("ctrl+g")
        await _settle(app, pilot)
        await _until(pilot, lambda: app.state.dataset.name == "likes")
        dataset = app.state.dataset
        assert dataset.meta["positive_threshold"] == 1.0
        assert "Jos\u00e9" in dataset.users["original_id"].tolist()
