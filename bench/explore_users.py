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
import gc
import json
import os
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
    from textual.widgets import Static

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

            profile = app.query_one("#explore-profile", Static)
            pane = app.query_one(ExplorePane)

            def shown(user: str) -> bool:
                return pane._selected == user and f"User {user} " in str(profile.render())

            report.update(await _drive(app, users, table, shown, rounds))
    return report


async def _drive(app, users, table, details_shown, rounds: int) -> dict:  # noqa: ANN001
    """Type the queries into the search and press the list keys; timings in ms."""
    from textual.widgets import Input

    clock = EchoClock(app)
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
                    await clock.press(key, lambda e=expected: users.shown_query == e, char=char)
                )
                await asyncio.sleep(0.02)
            for n in range(len(query) - 1, -1, -1):
                expected = query[:n]
                typing.append(
                    await clock.press("backspace", lambda e=expected: users.shown_query == e)
                )
                await asyncio.sleep(0.02)
        table.focus()
        await asyncio.sleep(0.05)
        for key in LIST_KEYS:
            before = table.cursor_row
            start = time.perf_counter()
            moving.append(await clock.press(key, lambda b=before: table.cursor_row != b))
            user = table.get_row_at(table.cursor_row)[0]
            while not details_shown(user):
                await asyncio.sleep(0.002)
            details.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)
    return {
        "search_keystroke_ms": _percentiles(typing),
        "raw_typing_ms": [round(t * 1000) for t in typing],
        "list_key_ms": _percentiles(moving),
        "raw_list_key_ms": [round(t * 1000) for t in moving],
        "details_ms": _percentiles(details),
    }


def _users_only(folder: Path):  # noqa: ANN202 — a Dataset
    """The dataset's users and the log's user column only (what the user index reads), for
    timing the list at a size whose whole log would not fit beside other work."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from rlrec.data.dataset import Dataset

    users = pq.read_table(folder / "users.parquet").to_pandas()
    log = pq.read_table(folder / "interactions.parquet", columns=["user_id"]).to_pandas()
    empty = np.zeros((len(users), 0), np.float32)
    return Dataset(users, pd.DataFrame(), log, empty, np.zeros((0, 0), np.float32))


async def _measure_list_only(folder: Path, rounds: int) -> dict:
    """The user list and search alone (the Explore pane's `UserList`) on the dataset's users,
    with a details line fed by the engine's index in place of the pane's profile."""
    import numpy as np
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from rlrec.engine.serving.user_index import build_user_index
    from rlrec.tui.heap import settle_heap
    from rlrec.tui.widgets.user_list import UserList
    from rlrec.tui.widgets.user_rows import UserRows

    began = time.perf_counter()
    dataset = _users_only(folder)
    report: dict = {"load_dataset_s": time.perf_counter() - began, "users": dataset.n_users}
    began = time.perf_counter()
    index = build_user_index(dataset)
    report["list_ready_s"] = time.perf_counter() - began

    class ListApp(App):
        def compose(self) -> ComposeResult:
            yield UserList(id="explore-users")
            yield Static("", id="details")

        def on_mount(self) -> None:
            self.query_one(UserList).set_users(index)
            self.call_after_refresh(settle_heap)  # as RlrecApp does once started

        def on_user_list_highlighted(self, message: UserList.Highlighted) -> None:
            row = index.find(message.user)
            cells = index.rows(np.array([row]))[0]
            self.query_one("#details", Static).update(f"User {' '.join(map(str, cells))}")

    app = ListApp()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        details = app.query_one("#details", Static)
        report.update(
            await _drive(
                app,
                app.query_one(UserList),
                app.query_one(UserRows),
                lambda user: str(details.render()).startswith(f"User {user} "),
                rounds,
            )
        )
    return report


class FullCollections:
    """Durations of the collector's full (generation 2) passes while the keys are timed: each
    one stops the event loop, so they show as the slowest keys."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._began) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a saved dataset folder")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    parser.add_argument(
        "--list-only",
        action="store_true",
        help="the user list widget alone, reading only the users and the log's user column",
    )
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the event loop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    measure = _measure_list_only if args.list_only else _measure
    full = FullCollections()
    gc.callbacks.append(full)
    if args.profile:
        import cProfile

        with cProfile.Profile() as profile:
            report = asyncio.run(measure(args.dataset, args.rounds))
        profile.dump_stats(args.profile)
    else:
        report = asyncio.run(measure(args.dataset, args.rounds))
    gc.callbacks.remove(full)
    report["full_gc_ms"] = [round(p, 1) for p in full.pauses]
    report["mode"] = "list only" if args.list_only else "app"
    report["load_average"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"mode: {report['mode']}")
    ready = "user index built in" if args.list_only else "user list ready after Explore opened in"
    print(
        f"{report['users']:,} users: dataset loaded in {report['load_dataset_s']:.1f} s, "
        f"{ready} {report['list_ready_s']:.1f} s"
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
    pauses = report["full_gc_ms"]
    print(
        f"full garbage collections: {len(pauses)} over the run, longest "
        f"{max(pauses, default=0):.0f} ms (each holds every key up)"
    )
    print("target: search p95 ≤ 100 ms per keystroke")
    load = report["load_average"]
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
