"""Training in a child process, controlled like a `Trainer` in this one.

A face that draws while it trains (the TUI) must not share the training's interpreter: a
training thread and the face's rendering take turns on one GIL, and the run learned about a
fifth less in the same seconds. `start_training_process` runs `start_training(...).run()` in a
child Python process (`python -m rlrec.engine.usecases.training_process RUN_DIR`) and returns
a `TrainingProcess` with the trainer's control surface — `subscribe`, `pause`, `resume`,
`stop`, and a blocking `run` that follows the run folder's logs (`runs.RunFollower`, the way
any other process follows a run) and hands each event to the subscribers.

The child reads its config (one JSON line) and then one command a line from its stdin:
`pause`, `resume`, `stop`, `stop-quietly` (no final evaluation). When its stdin closes (the
face quit or died) it stops quietly, writing its checkpoint. It reports an error that ended
it as one JSON line on stdout: {"error": text, "rlrec": true when an RlrecError}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rlrec.data.errors import RlrecError, error_line
from rlrec.engine.training.events import Event, FinishReason, RunFinished, RunState, StateChanged
from rlrec.engine.training.run_config import RunConfig

# How often `run` reads the child's logs: the face shows events at most this late.
POLL_SECONDS = 0.1
# What `pause` / `resume` / `stop` write to the child's stdin.
COMMANDS = ("pause", "resume", "stop", "stop-quietly")


class TrainingProcess:
    """A run trained by a child process (see the module's doc). `run()` blocks until the
    child's RunFinished is read and returns it; like `Trainer.run` it raises after a
    RunFinished("error") (RlrecError for a refused config, RuntimeError otherwise), and it
    raises RuntimeError if the child ended without one (killed)."""

    def __init__(self, config: RunConfig, run_dir: Path, poll_seconds: float = POLL_SECONDS):
        self.config = config
        self.run_dir = Path(run_dir)
        self.poll_seconds = poll_seconds
        self._subscribers: list[Callable[[Event], None]] = []
        self._state = RunState.IDLE
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self._lock = threading.Lock()  # commands come from the face's thread, run() elsewhere
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.run_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            # The terminal's signals (a hang-up, ^C) go to the face only: the child stops
            # through its stdin closing, with a checkpoint.
            start_new_session=True,
        )
        self._send(json.dumps(config.to_dict()))

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def state(self) -> RunState:
        """FINISHED once the child has exited, else the last state its events told."""
        return RunState.FINISHED if self._process.poll() is not None else self._state

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """`callback(event)` runs on `run()`'s thread for every event of the run."""
        self._subscribers.append(callback)

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self, evaluate: bool = True) -> None:
        """Finish soon: checkpoint (and, unless `evaluate=False`, a final evaluation)."""
        self._send("stop" if evaluate else "stop-quietly")

    def _send(self, line: str) -> None:
        stdin = self._process.stdin
        if stdin is None:
            return
        with self._lock:
            try:
                stdin.write(line.encode("utf-8") + b"\n")
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the child has ended: nothing is left to control

    def run(self) -> RunFinished:
        from rlrec.engine.training.runs import RunFollower

        follower = RunFollower(self.run_dir)
        finished: RunFinished | None = None
        while finished is None:
            exited = self._process.poll() is not None
            for event in follower.poll():  # after poll(): an exited child's last lines too
                if isinstance(event, StateChanged):
                    self._state = event.state
                for callback in list(self._subscribers):
                    callback(event)
                if isinstance(event, RunFinished):
                    finished = event
            if finished is None and exited:
                raise self._failure()
            if finished is None:
                time.sleep(self.poll_seconds)
        self._end()
        if finished.reason is FinishReason.ERROR:
            raise self._failure(finished.message)
        return finished

    def _end(self) -> None:
        """Wait for the child to exit (it does right after its RunFinished) and close its
        pipes."""
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass

    def _failure(self, message: str = "") -> Exception:
        """The error that ended the child: its report, else its stderr's last line."""
        self._end()
        report: dict[str, Any] = {}
        if self._process.stdout is not None:
            for line in self._process.stdout.read().decode("utf-8", "replace").splitlines():
                try:
                    found = json.loads(line)
                except ValueError:
                    continue
                if isinstance(found, dict) and "error" in found:
                    report = found
        if report.get("rlrec"):
            return RlrecError(str(report["error"]))
        text = str(report.get("error") or message)
        if not text:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            code = self._process.returncode
            text = lines[-1] if lines else f"the training process ended with status {code}"
        return RuntimeError(text)


def start_training_process(config: RunConfig, run_dir: str | Path) -> TrainingProcess:
    """Start training `config` in a child process in the new (empty) folder `run_dir`.
    The memory check runs here first, so a run that would not fit is refused in the caller
    (RlrecError) and leaves no folder behind, as `start_training` does."""
    from rlrec.engine.training.runs import discard_unused_folder
    from rlrec.engine.usecases.training_memory import check_training_fits

    try:
        check_training_fits(config)
    except BaseException:
        discard_unused_folder(Path(run_dir))
        raise
    return TrainingProcess(config, Path(run_dir))


# -- the child ---------------------------------------------------------------------------------


def _obey(trainer: Any, commands: IO[str]) -> None:
    """Apply the face's commands until its end of the pipe closes, then stop quietly."""
    for line in commands:
        command = line.strip()
        if command == "pause":
            trainer.pause()
        elif command == "resume":
            trainer.resume()
        elif command in ("stop", "stop-quietly"):
            trainer.stop(evaluate=command == "stop")
    trainer.stop(evaluate=False)


def _report(exc: BaseException, out: IO[str]) -> None:
    record = {"error": error_line(exc), "rlrec": isinstance(exc, RlrecError)}
    out.write(json.dumps(record) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    """The child: train the config read from stdin in the folder named by argv."""
    from rlrec.engine.usecases.training import start_training

    (run_dir,) = sys.argv[1:] if argv is None else argv
    # stdout carries the report only: anything else printed goes to stderr (a file), so a
    # chatty library can never fill the pipe the face reads last and block the run.
    report_to, sys.stdout = sys.stdout, sys.stderr
    try:
        config = RunConfig.from_dict(json.loads(sys.stdin.readline()))
        trainer = start_training(config, run_dir=run_dir)
    except Exception as exc:  # noqa: BLE001 — reported to the face, which words it
        _report(exc, report_to)
        return 2
    threading.Thread(target=_obey, args=(trainer, sys.stdin), daemon=True).start()
    try:
        trainer.run()
    except Exception as exc:  # noqa: BLE001 — the run's RunFinished("error") is logged too
        _report(exc, report_to)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
