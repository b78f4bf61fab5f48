"""Measure rlrec-tui: time to first frame, key-echo latency while training, in-app training
speed versus headless `rlrec train` in the same invocation, idle CPU after training, and how
long quitting during training takes (with the checkpoint it must write).

    .venv/bin/python bench/tui.py [--seconds 20] [--preset default] [--idle 10] [--json]

How each figure is taken (all headless — Textual's headless driver still lays out and renders
every frame, it just does not write the bytes to a terminal):
- first frame: `python -m tui.app` runs in a pseudo-terminal (120×40); the time from launching
  the process until the terminal has received the first frame (tab bar and Train status line).
- key echo: while a real training runs in the app, the bench types characters into a form
  field (the classic echo) and switches panes (4 ↔ 2). A key is handed to the app the way the
  terminal driver does and timed until the first screen repaint after its effect (the
  character in the field, the other pane active). p50 / p95 for each kind.
- speed: env steps / training seconds from the run's own RunFinished event, for the same preset,
  budget and seed: headless `rlrec train` (subprocess) before and after the in-app run (nobody
  pressing keys, as a user watching the curves), in-app against their mean.
- idle CPU: process CPU time (all threads) over `--idle` seconds of wall time once training
  stopped and every worker is done, as a percentage of one core.
- quit: at the end of the key-echo run the app is quit (ctrl+q) mid-training; the time until
  the training worker ended and whether checkpoint.json was written.
Targets (issue 5): first frame ≤ 1 s, key echo p95 ≤ 100 ms, in-app ≥ 80 % of headless, idle
CPU ≤ 2 %, quit ≤ 1 s with a checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def first_frame(runs_dir: Path, repeats: int = 3, size: tuple[int, int] = (120, 40)) -> dict:
    """Seconds from launching `rlrec-tui` in a pseudo-terminal until the terminal has received
    the first full frame (the tab bar and the Train pane's status line). Best and median of N."""
    import select

    from tests.tui.pty_app import launch_in_pty, torch_at_import

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc, master = launch_in_pty(runs_dir, size, COLUMNS=str(size[0]), LINES=str(size[1]))
        seen = b""
        elapsed = None
        deadline = start + 60
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
            # The frame is complete once both the tab bar and the Train pane's status line
            # have been written (a Textual frame is one synchronized update).
            if b"Runs" in seen and b"press s to start" in seen:
                elapsed = time.perf_counter() - start
                break
        os.write(master, b"\x11")  # ctrl+q
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
        if elapsed is None:
            raise SystemExit("rlrec-tui did not draw its first frame within 60 s")
        times.append(elapsed)
    return {
        "best_s": min(times),
        "median_s": statistics.median(times),
        "torch_at_import": torch_at_import(),
    }


def headless_speed(preset: str, seconds: float, seed: int, runs_dir: Path) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlrec.cli.main",
            "train",
            "--preset",
            preset,
            "--seconds",
            str(seconds),
            "--seed",
            str(seed),
            "--out",
            str(runs_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=seconds * 10 + 120,
    )
    if out.returncode != 0:
        raise SystemExit(f"rlrec train failed: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout)["steps_per_second"])


async def _settle_form(pilot, preset: str, seconds: float, seed: int | None = None):
    from rlrec.tui.panes.train import TrainPane

    app = pilot.app
    pane = app.query_one(TrainPane)
    while not pane._form_built:
        await pilot.pause(0.05)
    if pane.preset != preset:
        pane.form().field("preset").value = preset
        while pane.preset != preset or not pane._form_built:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
    await app.workers.wait_for_complete()
    form = pane.form()
    form.field("train.seconds").text = f"{seconds:g}"
    form.field("train.steps").text = ""
    pane.focus()
    await pilot.pause(0.1)
    return pane


async def speed_run(preset: str, seconds: float, idle: float, runs_dir: Path) -> dict:
    """Train in the app untouched (a user watching the curves), then measure idle CPU."""
    from rlrec.tui.app import RlrecApp

    app = RlrecApp(runs_dir=runs_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await _settle_form(pilot, preset, seconds)
        await pilot.press("s")
        while pane.last_finished is None:
            await pilot.pause(0.1)
        finished = pane.last_finished
        result = {"in_app_steps_per_second": finished.env_steps / finished.seconds}
        await app.workers.wait_for_complete()
        await pilot.pause(1.0)  # Explore opens the finished run
        await app.workers.wait_for_complete()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(idle)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        result["idle_cpu_percent"] = 100.0 * (cpu1 - cpu0) / (wall1 - wall0)
    return result


def _percentiles(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "presses": len(ms),
        "p50": statistics.median(ms),
        "p95": ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))],
        "max": ms[-1],
    }


class EchoClock:
    """Times a key from the moment the terminal driver hands it to the app until the first
    screen repaint after its effect is visible. (The Pilot's own `press` cannot be used while
    training runs: it waits for the whole process to go idle, which a training thread never
    does.)"""

    def __init__(self, app) -> None:
        self.app = app
        self.repaints: list[float] = []
        screen = app.screen_stack[0]
        original = screen._compositor_refresh

        def timed_refresh() -> None:
            original()
            self.repaints.append(time.perf_counter())

        screen._compositor_refresh = timed_refresh

    async def press(
        self, key: str, effect, timeout: float = 10.0, char: str | None = None
    ) -> float:
        from textual import events

        char = char if char is not None else (key if len(key) == 1 else None)
        event = events.Key(key, char)
        event.set_sender(self.app)
        start = time.perf_counter()
        self.app._driver.send_message(event)
        while not effect():
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"key {key!r} had no effect within {timeout} s")
            await asyncio.sleep(0.001)
        seen = time.perf_counter()
        while not any(t >= seen for t in self.repaints):
            await asyncio.sleep(0.001)
        return next(t for t in self.repaints if t >= seen) - start


async def echo_and_quit_run(preset: str, seconds: float, runs_dir: Path) -> dict:
    """While a real training runs: type into a form field (echo of a character) and switch
    panes (4 ↔ 2); then quit with ctrl+q mid-training and time the worker's end."""
    from textual.widgets import Input, TabbedContent

    from rlrec.tui.app import RlrecApp

    app = RlrecApp(runs_dir=runs_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await _settle_form(pilot, preset, 600)
        await pilot.press("s")
        while pane.run_state != "running" or len(pane.store) == 0:
            await pilot.pause(0.05)
        clock = EchoClock(app)
        tabs = app.query_one("#panes", TabbedContent)
        field = app.query_one("#field-agent-lr-input", Input)
        typing: list[float] = []
        switching: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            field.focus()
            await asyncio.sleep(0.1)
            original = field.value
            for _ in range(5):  # type five characters, then delete them
                before = field.value
                typing.append(await clock.press("0", lambda b=before: field.value != b))
                await asyncio.sleep(0.1)
            for _ in range(5):
                before = field.value
                await clock.press("backspace", lambda b=before: field.value != b)
            field.value = original
            app.action_leave_field()  # what escape does: back from the field to the pane
            await asyncio.sleep(0.1)
            for key, target in (("4", "runs"), ("2", "train")):
                switching.append(await clock.press(key, lambda t=target: tabs.active == t))
                await asyncio.sleep(0.2)
        run_dir = pane.run_dir
        worker = next(w for w in app.workers if w.group == "training")
        start = time.perf_counter()
        app._driver.send_message(_ctrl_q(app))
        while worker.is_running and time.perf_counter() - start < 10:
            await asyncio.sleep(0.01)
        quit_s = time.perf_counter() - start
    return {
        "key_echo_typing_ms": _percentiles(typing),
        "key_echo_pane_switch_ms": _percentiles(switching),
        "quit_s": quit_s,
        "checkpoint_written": (run_dir / "checkpoint.json").exists(),
    }


def _ctrl_q(app):
    from textual import events

    event = events.Key("ctrl+q", None)
    event.set_sender(app)
    return event


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seconds", type=float, default=20.0, help="training budget per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--idle", type=float, default=10.0, help="idle CPU window, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        report: dict = {"preset": args.preset, "seconds": args.seconds}
        report["first_frame"] = first_frame(tmp_path / "ff")
        before = headless_speed(args.preset, args.seconds, args.seed, tmp_path / "headless")
        report.update(
            asyncio.run(speed_run(args.preset, args.seconds, args.idle, tmp_path / "app"))
        )
        after = headless_speed(args.preset, args.seconds, args.seed, tmp_path / "headless")
        report["headless_steps_per_second"] = [before, after]
        report["in_app_vs_headless"] = report["in_app_steps_per_second"] / ((before + after) / 2)
        report.update(asyncio.run(echo_and_quit_run(args.preset, args.seconds, tmp_path / "q")))
        report["load_average"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(report))
        return 0
    ff = report["first_frame"]
    typing, switching = report["key_echo_typing_ms"], report["key_echo_pane_switch_ms"]
    print(
        f"first frame       {ff['best_s']:.2f} s best, {ff['median_s']:.2f} s median "
        f"(torch loaded by `import tui.app`: {ff['torch_at_import']})  target ≤ 1 s"
    )
    print(
        f"key echo, typing  p50 {typing['p50']:.0f} ms, p95 {typing['p95']:.0f} ms, "
        f"max {typing['max']:.0f} ms over {typing['presses']} keys during training"
        "  target p95 ≤ 100 ms"
    )
    print(
        f"key echo, panes   p50 {switching['p50']:.0f} ms, p95 {switching['p95']:.0f} ms, "
        f"max {switching['max']:.0f} ms over {switching['presses']} pane switches during training"
    )
    print(
        f"training speed    in-app {report['in_app_steps_per_second']:,.0f} env steps/s, "
        f"headless {before:,.0f} / {after:,.0f} → {100 * report['in_app_vs_headless']:.0f} %"
        "  target ≥ 80 %"
    )
    print(
        f"idle CPU          {report['idle_cpu_percent']:.1f} % of a core over {args.idle:g} s"
        "  target ≤ 2 %"
    )
    print(
        f"quit in training  {report['quit_s']:.2f} s, checkpoint written: "
        f"{report['checkpoint_written']}  target ≤ 1 s"
    )
    load = report["load_average"]
    print(
        f"load average      {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores"
        " (other work on the machine slows every figure)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
