"""Fixtures shared by the TUI tests (helpers they call live in `fake_trainer.py`)."""

from __future__ import annotations

import pytest

from tests.tui.fake_trainer import use_fake_engine


@pytest.fixture
def fake_train_pane(monkeypatch) -> None:
    """The Train pane (not under test) builds its form from a stand-in config; use it with
    `pytestmark = pytest.mark.usefixtures("fake_train_pane")` in modules about other panes."""
    use_fake_engine(monkeypatch)
