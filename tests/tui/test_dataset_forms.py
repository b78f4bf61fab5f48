"""The validated-field kit: bad text shows a message beside the field and never raises."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import param
from rlrec.tui.widgets.forms import (
    ValidatedForm,
    choice_field,
    config_field,
    float_field,
    int_field,
    path_field,
)
from tests.tui.fake_trainer import sync


@dataclass
class _Cfg:
    lr: float = param(1e-3, low=0, high=1, low_open=True, help="learning rate")
    batch_size: int = param(64, low=1, high=65536)
    hidden: list[int] = param([256, 128], low=1, high=4096)
    loss: str = param("huber", choices=("huber", "mse"))


class _FormApp(App):
    def __init__(self, *fields) -> None:
        super().__init__()
        self._fields = fields

    def compose(self) -> ComposeResult:
        yield ValidatedForm(*self._fields, id="form")


def _message(app, key: str) -> str:
    field = app.query_one(ValidatedForm).field(key)
    return str(field.query_one(".field--message", Static).render())


async def _type(pilot, field_id: str, text: str) -> None:
    box = pilot.app.query_one(f"#{field_id}-input", Input)
    box.value = text
    await pilot.pause()


@sync
async def test_text_in_number_field_shows_message_beside_it():
    app = _FormApp(int_field("users", "users", 100, low=1, id="users"))
    async with app.run_test() as pilot:
        form = app.query_one(ValidatedForm)
        assert form.validate() and form.values() == {"users": 100}
        await _type(pilot, "users", "lots")
        field = form.field("users")
        assert field.has_class("-invalid")
        assert "expected a whole number" in _message(app, "users")
        assert "lots" in _message(app, "users")
        assert form.values() == {"users": None}
        assert not form.validate()


@sync
async def test_negative_size_is_out_of_range_and_fixing_it_clears_the_message():
    app = _FormApp(int_field("users", "users", 100, low=1, id="users"))
    async with app.run_test() as pilot:
        await _type(pilot, "users", "-5")
        assert "out of range" in _message(app, "users")
        await _type(pilot, "users", "2_000")
        field = app.query_one(ValidatedForm).field("users")
        assert not field.has_class("-invalid") and field.value == 2000


@sync
async def test_config_field_uses_the_dataclass_range_and_nests_dotted_keys():
    app = _FormApp(
        config_field(_Cfg, "lr", key="agent.lr", id="lr"),
        config_field(_Cfg, "hidden", key="agent.hidden", id="hidden"),
        config_field(_Cfg, "loss", key="agent.loss"),
        float_field("gamma", "γ", 0.9, low=0, high=1, id="gamma"),
    )
    async with app.run_test() as pilot:
        form = app.query_one(ValidatedForm)
        assert form.nested_values() == {
            "agent": {"lr": 0.001, "hidden": [256, 128], "loss": "huber"},
            "gamma": 0.9,
        }
        await _type(pilot, "lr", "0")
        assert "agent.lr = 0 is out of range (allowed: (0, 1])" in _message(app, "agent.lr")
        await _type(pilot, "hidden", "256, abc")
        assert "agent.hidden" in _message(app, "agent.hidden")
        await _type(pilot, "gamma", "nan")
        assert "finite" in _message(app, "gamma")
        assert set(form.errors()) == {"agent.lr", "agent.hidden", "gamma"}


@sync
async def test_path_field_rejects_missing_folder_and_file_where_folder_needed(tmp_path):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    app = _FormApp(path_field("folder", "folder", "", kind="dir", id="folder"))
    async with app.run_test() as pilot:
        await _type(pilot, "folder", str(tmp_path / "nope"))
        assert "no such file or folder" in _message(app, "folder")
        await _type(pilot, "folder", str(afile))
        assert "not a folder" in _message(app, "folder")
        await _type(pilot, "folder", str(tmp_path))
        assert app.query_one(ValidatedForm).field("folder").value == tmp_path


@sync
async def test_engine_error_is_routed_to_the_field_it_names():
    app = _FormApp(
        int_field("n_users", "users", 10, id="users"),
        int_field("n_items", "items", 10, id="items"),
        choice_field("kind", "kind", ["a", "b"]),
    )
    async with app.run_test() as pilot:
        form = app.query_one(ValidatedForm)
        assert form.show_error(RlrecError("items 1 is too small", option="n_items"))
        await pilot.pause()
        assert form.field("n_items").has_class("-invalid")
        assert "items 1 is too small" in _message(app, "n_items")
        assert not form.field("n_users").has_class("-invalid")
        # A dotted config key is matched by its last part; the text is never parsed.
        assert form.show_error(RlrecError("bad", key="agent.kind"), "worded by the face")
        assert "worded by the face" in _message(app, "kind")
        assert not form.show_error(RlrecError("n_users is named only in the text"))
        assert not form.show_error("n_users = 1 is a plain string")


@sync
async def test_a_parser_that_crashes_becomes_a_message():
    from rlrec.tui.widgets.forms import ValidatedField

    def broken(text: str):
        raise ZeroDivisionError("boom")

    app = _FormApp(ValidatedField("x", "x", broken, "1", id="x"))
    async with app.run_test() as pilot:
        await _type(pilot, "x", "2")
        assert "ZeroDivisionError" in _message(app, "x")
