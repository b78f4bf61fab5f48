"""Key latency of the Explore pane's user list and search on a large dataset, driven through
the real app with Textual's Pilot (headless: every frame is laid out and rendered, not
written to a terminal).

    flock /work/tools/big.lock .venv/bin/python bench/explore_users.py --dataset D [--json]

Figures:
- load: seconds to read the dataset (`load_dataset`, as the app does on start), and from the
  Explore pane being shown to its list holding every user (the engine's `UserIndex` is built
  on a worker);
- search: each character typed into the search (id prefixes, then segment and activity
  words, then deleted again) timed from the key handed to the app, the way the terminal
  driver does, until the first repaint after the list shows that search's answer; p50/p95;
- list keys: down / pagedown / end / home / up in the list, until the repaint with the
  cursor moved; p50/p95;
- details: from a list key until the user's profile (engine: profile and history) is on
  screen; p50/p95 — computed on a worker, so it never holds the keys up.
Target (issue 12): search p95 ≤ 100 ms per keystroke at 1,000,000 users.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui import EchoClock, _percentiles  # noqa: E402 — after the path is set

QUERIES = ("12345", "99999", "4321", "u1", "books", "high", "music low")
LIST_KEYS = ("down", "down", "pagedown", "pagedown", "end", "up", "home", "down")


async def _measure(dataset: Path, rounds: int) -> dict:
    from textual.widgets import Input, Static

    from rlrec.tui.app import RlrecApp
    from rlrec.tui.panes.explore import ExplorePane
    from rlrec.tui.widgets.user_list import UserList
    from rlrec.tui.widgets.user_rows import UserRows

    report: dict = {}
    with tempfile.TemporaryDirectory() as runs:
        app = RlrecApp(dataset_path=dataset, runs_dir=runs)
        began = time.perf_counter()
        async with app.run_test(size=(160, 48)) as pilot:
            while app.state.dataset is None:
                await pilot.pause(0.05)
            report["load_dataset_s"] = time.perf_counter() - began
            n_users = app.state.dataset.n_users
            report["users"] = n_users
            began = time.perf_counter()
            await pilot.press("3")
            users = app.query_one(UserList)
            table = app.query_one(UserRows)
            while table.row_count != n_users:
                await pilot.pause(0.05)
            report["list_ready_s"] = time.perf_counter() - began
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)

            clock = EchoClock(app)
            profile = app.query_one("#explore-profile", Static)
            pane = app.query_one(ExplorePane)
            search = app.query_one("#explore-search", Input)
            typing: list[float] = []
            moving: list[float] = []
            details: list[float] = []
            for _ in range(rounds):
                for query in QUERIES:
                    search.focus()
                    await asyncio.sleep(0.05)
                    for n in range(1, len(query) + 1):
                        expected = query[:n]
                        char = query[n - 1]
                        key = "space" if char == " " else char
                        typing.append(
                            await clock.press(
                                key, lambda e=expected: users.shown_query == e, char=char
                            )
                        )
                        await asyncio.sleep(0.02)
                    for n in range(len(query) - 1, -1, -1):
                        expected = query[:n]
                        typing.append(
                            await clock.press(
                                "backspace", lambda e=expected: users.shown_query == e
                            )
                        )
                        await asyncio.sleep(0.02)
                table.focus()
                await asyncio.sleep(0.05)
                for key in LIST_KEYS:
                    before = table.cursor_row
                    start = time.perf_counter()
                    moving.append(await clock.press(key, lambda b=before: table.cursor_row != b))
                    user = table.get_row_at(table.cursor_row)[0]
                    while pane._selected != user or f"User {user} " not in str(profile.render()):
                        await asyncio.sleep(0.002)
                    details.append(time.perf_counter() - start)
                    await asyncio.sleep(0.05)
            report["search_keystroke_ms"] = _percentiles(typing)
            report["raw_typing_ms"] = [round(t * 1000) for t in typing]
            report["list_key_ms"] = _percentiles(moving)
            report["raw_list_key_ms"] = [round(t * 1000) for t in moving]
            report["details_ms"] = _percentiles(details)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a saved dataset folder")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(_measure(args.dataset, args.rounds))
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{report['users']:,} users: dataset loaded in {report['load_dataset_s']:.1f} s, "
        f"user list ready {report['list_ready_s']:.1f} s after Explore opened"
    )
    for name, label in (
        ("search_keystroke_ms", "search, per keystroke"),
        ("list_key_ms", "list keys (up/down/page/home/end)"),
        ("details_ms", "details after a list key (worker)"),
    ):
        p = report[name]
        print(
            f"{label:<36} p50 {p['p50']:6.1f} ms  p95 {p['p95']:6.1f} ms  "
            f"max {p['max']:6.1f} ms  ({p['presses']} keys)"
        )
    print("target: search p95 ≤ 100 ms per keystroke")
    return 0


if __name__ == "__main__":
    sys.exit(main())
