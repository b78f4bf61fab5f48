"""Regenerate the pane screenshots in docs/ (SVG, plus a plain-text copy of each).

    .venv/bin/python docs/screenshots.py

Drives the real app headless at 160×48: trains the 60-second run a new user starts on the
default preset with the Train pane, then captures Train, Explore (the trained agent), Dataset and Runs."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from rlrec.tui.app import RlrecApp  # noqa: E402
from rlrec.tui.panes.train import TrainPane  # noqa: E402
from rlrec.tui.screen_text import screen_text  # noqa: E402
from tests.tui.fake_trainer import wait_for  # noqa: E402

OUT = ROOT / "docs"


async def until(pilot, condition) -> None:
    """Let the app run until `condition()` holds; a real training run may take minutes."""
    await wait_for(pilot, condition, timeout=300)


async def capture(pilot, name: str) -> None:
    await pilot.pause(0.5)
    app = pilot.app
    (OUT / f"{name}.svg").write_text(app.export_screenshot(title=f"rlrec-tui — {name}"))
    (OUT / f"{name}.txt").write_text(screen_text(app))
    print(f"wrote docs/{name}.svg and .txt")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = RlrecApp(runs_dir=Path(tmp) / "runs")
        async with app.run_test(size=(160, 48)) as pilot:
            pane = app.query_one(TrainPane)
            await until(pilot, lambda: pane._form_built and app.state.dataset is not None)
            await app.workers.wait_for_complete()
            form = pane.form()
            form.field("train.seconds").text = "60"  # the first run a new user starts
            form.field("train.steps").text = ""
            pane.focus()
            await pilot.press("s")
            await until(pilot, lambda: pane.last_finished is not None)
            await pilot.press("3")  # Explore mounts when first shown, then opens the run
            explore = app.query_one("#explore-pane")
            await until(pilot, lambda: getattr(explore, "run", None) is not None)
            await app.workers.wait_for_complete()
            await capture(pilot, "explore")
            app.set_focus(None)
            await pilot.press("2")
            pane.replot_visible(force=True)
            await capture(pilot, "train")
            app.set_focus(None)
            await pilot.press("1")
            await app.workers.wait_for_complete()
            await capture(pilot, "dataset")
            app.set_focus(None)
            await pilot.press("4")
            await app.workers.wait_for_complete()
            await pilot.press("space", "c")
            await app.workers.wait_for_complete()
            await capture(pilot, "runs")


if __name__ == "__main__":
    asyncio.run(main())
