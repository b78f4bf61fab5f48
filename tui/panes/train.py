"""Train pane: the run configuration as a validated form, Start / Pause / Stop, live curves,
a progress line, evaluation results as they arrive and an event log.

The run config comes from the engine's `resolve_run_config`; the run trains in a child
process (`start_training_process`: rendering and training do not share one interpreter's
GIL), which a Textual thread worker drives and follows through the run folder's logs. Its
callback only appends to the `CurveStore` and posts a `TrainerEvent` message (Progress
messages coalesce). Charts replot on a timer at most `--refresh` times a second, only
while this pane is visible and only when data arrived. Events are engine
dataclasses, told apart with `match`; the run's state is the engine's `RunState`.

The same pane follows a run another process is writing (`rlrec-tui RUN_DIR`): a thread worker
tails its logs (`train_follow`) and posts one coalescing message to the same handlers.

The use cases (and torch, pandas) are imported inside the methods that call them, never at
module import time, so the first frame stays fast.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, ProgressBar, RichLog, Static
from textual.worker import Worker, WorkerState, get_current_worker

from rlrec.data.errors import RlrecError, error_line
from rlrec.engine.training.events import (
    Checkpointed,
    Evaluation,
    Event,
    FinishReason,
    Progress,
    References,
    RunFinished,
    RunStarted,
    RunState,
    StateChanged,
)
from rlrec.engine.training.runs import new_run_dir
from rlrec.tui.messages import FollowedEvents, RunSelected, ShowError, TrainerEvent
from rlrec.tui.panes.train_follow import FollowInbox, follow_run
from rlrec.tui.panes.train_settings import (
    EPS_FRACTION_KEY,
    EPS_STEPS_KEY,
    list_presets,
    place_error,
    refresh_epsilon_note,
    settings_fields,
)
from rlrec.tui.widgets.charts import CurveChart, CurveStore
from rlrec.tui.widgets.status import (
    StatusLine,
    finish_parts,
    format_number,
    progress_parts,
)

if TYPE_CHECKING:  # these import torch / pandas: loaded on first use, after the first frame
    from rlrec.engine.training.run_config import RunConfig
    from rlrec.engine.training.trainer import Trainer
    from rlrec.engine.usecases.training_process import TrainingProcess
    from rlrec.tui.app import RlrecApp
    from rlrec.tui.widgets.fields import FormField
    from rlrec.tui.widgets.forms import ValidatedForm


# The status line's last words once this pane's own run finished well.
EXPLORE_HINT = "e or 3: explore it"
# How long a second `s` confirms starting a run here while another process's run is followed.
START_CONFIRM_SECONDS = 5.0


@dataclass
class FormReady(Message):
    """The engine's config classes loaded (in a worker): build the form from them."""

    presets: list[str]
    preset: str
    config: RunConfig
    request: int  # the load_form call it answers: a later call makes it stale
    run_dir: Path | None = None  # the settings are this run's (followed), not a preset's


@dataclass
class RunPrepared(Message):
    """The settings resolved and the run folder exists: training can start."""

    config: RunConfig
    preset: str
    run_dir: Path


@dataclass
class SettingsRejected(Message):
    """The settings could not become a run. Without `title`, an engine error about the
    settings (shown beside its field when one matches)."""

    text: str
    title: str | None = None
    error: RlrecError | None = None


class TrainPane(Widget, can_focus=True):
    """Configure, start, watch and control a training run."""

    HELP = """\
Train a DQN recommender against the simulator and watch it learn.

* The form on the left holds the run's settings; each value is checked by the engine's own
  range checks and a message appears beside a bad field. The preset decides the simulator
  (`default`: long sessions built from the open dataset; `seed-classic`: the original 10-step
  world) and the starting values of every field.
* **s** starts a run in the runs folder, trained by a child process (so drawing never slows
  it). Give one budget: seconds *or* env steps (clear the other field). **space** pauses and
  resumes; **x** stops (a checkpoint is written). The Start / Pause / Stop buttons above the
  form do the same. **q** quits, stopping a running training with a checkpoint first.
* ε decays over **ε decay steps** env steps when that is above 0, else over the **ε decay
  share** of the budget (so a short run ends exploiting); the line under them says which.
* In a text field, **escape** returns to the pane so its keys work again.
* **log every** sets how often (in env steps) the curves get a point; the app suggests four
  vector steps so the charts move, where the presets log sparsely for headless runs.
* Charts: episode return with its moving average and greedy evaluations (dots) against two
  lines, the myopic oracle's and the random policy's return on the evaluation sessions
  (measured by the engine at the start); ε, loss, CTR, and on wide screens env steps/s and
  the learning rate. The status line's **eval norm** is the last evaluation on that scale
  (0 = random, 1 = myopic oracle). Charts redraw at most `--refresh` times a second.
* When the run ends the pane keeps its final curves and the status line says so; **e** or
  **3** shows the trained agent in Explore.
* `rlrec-tui RUN_DIR` opens an existing run here and follows it live while another process
  (e.g. `rlrec train` in tmux) is still writing it.
"""

    BINDINGS = [
        Binding("s", "start", "Start", id="train.start", tooltip="Start training"),
        Binding("space", "pause", "Pause/Resume", id="train.pause", tooltip="Pause or resume"),
        Binding("x", "stop", "Stop", id="train.stop", tooltip="Stop and checkpoint"),
        Binding("e", "explore", "Explore run", id="train.explore", tooltip="Open run in Explore"),
    ]

    DEFAULT_CSS = """
    TrainPane { height: 1fr; }
    TrainPane #train-side { width: 40; height: 1fr; border-right: tall $panel; padding: 0 1; }
    TrainPane #train-side .form-title { text-style: bold; width: 100%; }
    TrainPane #train-form { height: 1fr; margin-top: 1; }
    TrainPane #train-form .form-note { color: $text-muted; }
    TrainPane #train-buttons { height: 1; }
    TrainPane #train-buttons Button { min-width: 8; margin-right: 1; }
    TrainPane #train-main { width: 1fr; height: 1fr; padding: 0 1; }
    TrainPane #train-status { height: 1; }
    TrainPane #train-progress { height: 1; }
    TrainPane #train-charts { grid-size: 2 2; height: 1fr; min-height: 12; }
    TrainPane #chart-speed, TrainPane #chart-lr { display: none; }
    TrainPane #train-bottom { height: 9; }
    /* The table takes the width of its columns (never clipped under the log), the log
       the rest, one column apart. */
    TrainPane #train-evals { width: auto; height: 1fr; margin-right: 1; }
    TrainPane #train-log { width: 1fr; min-width: 16; height: 1fr; }
    """

    run_state: reactive[RunState] = reactive(RunState.IDLE)  # of the run this pane drives
    following: reactive[bool] = reactive(False)  # tailing a run another process writes

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = CurveStore()
        self.run_dir: Path | None = None
        self._trainer: Trainer | TrainingProcess | None = None
        self._inbox = FollowInbox()
        self._config_ready = False
        self._form_built = False
        self._start_when_ready = False
        self._preparing = False  # a start is resolving its settings in a worker
        # While following another process's run, `s` asks first: until this time.monotonic(),
        # a second `s` starts a run here.
        self._start_confirmed_until = 0.0
        self._form_request = 0  # bumped by each load_form; older answers are dropped
        self.preset: str | None = None
        self.last_finished: RunFinished | None = None
        self.last_evaluation: Evaluation | None = None  # of the run shown

    @property
    def rlrec_app(self) -> RlrecApp:
        """`self.app`, typed: this pane only lives inside `RlrecApp`."""
        return cast("RlrecApp", self.app)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="train-side"):
                yield Label("Run settings", id="train-form-title", classes="form-title")
                # Above the form, one row high: on screen at any size, however long the
                # form grows (below it they fell off an 80×24 screen).
                with Horizontal(id="train-buttons"):
                    yield Button("Start", id="train-start", variant="success", compact=True)
                    yield Button("Pause", id="train-pause", disabled=True, compact=True)
                    yield Button(
                        "Stop", id="train-stop", variant="error", disabled=True, compact=True
                    )
                with VerticalScroll(id="train-form"):
                    yield Static("loading settings…", id="train-form-loading")
            with Vertical(id="train-main"):
                yield StatusLine("ready — press s to start training", id="train-status")
                yield ProgressBar(total=1.0, show_eta=False, id="train-progress")
                with Grid(id="train-charts"):
                    yield from self._make_charts()
                with Horizontal(id="train-bottom"):
                    yield DataTable(id="train-evals", cursor_type="none", zebra_stripes=True)
                    yield RichLog(
                        id="train-log", max_lines=500, markup=False, wrap=True, min_width=16
                    )

    def _make_charts(self) -> list[CurveChart]:
        charts = [
            CurveChart(
                "episode return",
                ("episode_return", "eval_return"),
                labels=("return", "eval"),
                smooth=20,
                levels=True,
                id="chart-return",
            ),
            CurveChart("ε (exploration)", ("epsilon",), id="chart-epsilon"),
            CurveChart("loss", ("loss",), id="chart-loss"),
            CurveChart("CTR", ("ctr",), id="chart-ctr"),
            # Shown on wide screens only (the status line carries the speed elsewhere).
            CurveChart("env steps/s", ("steps_per_second",), labels=("steps/s",), id="chart-speed"),
            CurveChart("learning rate", ("learning_rate",), labels=("lr",), id="chart-lr"),
        ]
        for chart in charts:
            chart.store = self.store
        # The pane's keys need focus inside the pane. Focusing the pane itself restyles all of
        # its ~90 descendants on every focus change (Textual restyles a node's subtree when
        # its :focus changes), which made switching to this pane slow; a leaf is cheap.
        charts[0].can_focus = True
        return charts

    def focus_default(self) -> None:
        """Where keyboard focus goes when the app switches to this pane: the return chart,
        so s / space / x act at once."""
        found = self.query("#chart-return")
        if found:
            found.first().focus()
        else:  # not composed yet
            self.focus()

    def on_mount(self) -> None:
        table = self.query_one("#train-evals", DataTable)
        table.add_columns("steps", "return", "±95%", "CTR", "len", "norm")
        hz = max(0.2, min(30.0, self.rlrec_app.state.refresh_hz))
        self.set_interval(1.0 / hz, self.replot_visible)
        self.call_after_refresh(self.load_form)  # imports torch: only after the first frame

    # -- the form ----------------------------------------------------------------------------

    def load_form(self, preset: str | None = None, run_dir: Path | None = None) -> None:
        """Fill the form from `preset` (None: the default one), or with the settings the run
        in `run_dir` was trained with; the config is read off the UI thread (it may import
        torch)."""
        self._form_request += 1
        self._load_form(preset, run_dir, self._form_request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train-form")
    def _load_form(self, preset: str | None, run_dir: Path | None, request: int) -> None:
        presets = list_presets()
        config = None
        if run_dir is not None:
            try:
                config = self.load_run_settings(run_dir)
            except Exception:  # noqa: BLE001 — the run's own lines say what is wrong with it
                if self._form_built:
                    return  # keep the form as it is: the followed run is still shown
                # Followed before its writer saved config.yaml, and this request superseded
                # the first form's: show the default settings until the run's arrive.
                run_dir = None
        if config is not None:
            chosen = config.preset
        else:
            chosen = preset or ("default" if "default" in presets else presets[0])
            config = self.load_config(chosen, {})
        self._config_ready = True
        self.post_message(FormReady(presets, chosen, config, request, run_dir))

    def load_config(self, preset: str | None, overrides: dict[str, Any]) -> RunConfig:
        """The engine's `RunConfig` for a preset plus the form's overrides (raises RlrecError)."""
        # Lazy: the use case imports pandas (and the agent's config torch).
        from rlrec.engine.usecases.training import resolve_run_config

        return resolve_run_config(preset, overrides=overrides)

    def load_run_settings(self, run_dir: Path) -> RunConfig:
        """The `RunConfig` the run in `run_dir` was trained with (raises RlrecError)."""
        from rlrec.engine.usecases.training import run_settings

        return run_settings(run_dir)

    def make_trainer(self, config: RunConfig, run_dir: Path) -> Trainer | TrainingProcess:
        """The run in `run_dir`, training in a child process (called on the worker thread).
        Anything with the `Trainer`'s subscribe / run / pause / resume / stop will do."""
        from rlrec.engine.usecases.training_process import start_training_process

        return start_training_process(config, run_dir)

    @on(FormReady)
    async def _build_form(self, message: FormReady) -> None:
        if message.request != self._form_request:
            return  # a later load_form (another preset, a followed run) is on its way
        self.preset = message.preset
        from rlrec.tui.widgets.forms import ValidatedForm

        from_run = message.run_dir is not None
        fields = settings_fields(
            message.config, message.presets, message.preset, live_logging=not from_run
        )
        self._set_form_title(
            f"Settings of {message.run_dir.name}" if message.run_dir else "Run settings"
        )
        form_box = self.query_one("#train-form", VerticalScroll)
        # Not built while it is replaced: a start waits for the new form, and whoever waits
        # for `_form_built` sees the new settings' widgets, not the old ones'.
        self._form_built = False
        old = form_box.query(ValidatedForm)
        await old.remove()
        loading = form_box.query("#train-form-loading")
        await loading.remove()
        form = ValidatedForm(*fields, id="train-settings")
        await form_box.mount(form)  # returns once every field under it is mounted
        self._form_built = True
        if self._start_when_ready:
            self._start_when_ready = False
            self.action_start()

    def _set_form_title(self, text: str) -> None:
        self.query_one("#train-form-title", Label).update(escape(text))

    def on_form_field_changed(self, message: FormField.Changed) -> None:
        """Picking another preset reloads every field with that preset's values."""
        key = getattr(message.field, "key", None)
        if key == "preset" and message.value and message.value != self.preset:
            self.preset = message.value
            self.load_form(message.value)
        elif key in (EPS_STEPS_KEY, EPS_FRACTION_KEY) and self._form_built:
            refresh_epsilon_note(self.form())

    def form(self) -> ValidatedForm:
        from rlrec.tui.widgets.forms import ValidatedForm

        return self.query_one("#train-settings", ValidatedForm)

    # -- actions -----------------------------------------------------------------------------

    @property
    def is_training(self) -> bool:
        return self.run_state.is_active

    @property
    def is_paused(self) -> bool:
        return self.run_state is RunState.PAUSED

    def action_start(self) -> None:
        if self.is_training:
            self.notify("a run is already going — x stops it", severity="warning")
            return
        if self.following and time.monotonic() > self._start_confirmed_until:
            # The followed run is another process's: starting here leaves it (it goes on
            # training there), so one stray key must not do it.
            self._start_confirmed_until = time.monotonic() + START_CONFIRM_SECONDS
            name = self.run_dir.name if self.run_dir is not None else "a run"
            self.notify(
                f"following {name}, trained by another process: press s again to start a "
                "new run here (that one goes on training there)",
                severity="warning",
            )
            return
        if not self._form_built or not self._config_ready:
            # One key should be enough on a fresh launch: start once the settings are loaded.
            self._start_when_ready = True
            self.notify("starting as soon as the settings are loaded…")
            return
        form = self.form()
        if not form.validate():
            self.notify("fix the settings marked in red first", severity="error")
            return
        overrides = form.nested_values()
        preset = overrides.pop("preset", None)
        state = self.rlrec_app.state
        if state.dataset_path is not None:
            overrides["dataset"] = str(state.dataset_path)
        if self._preparing:
            return  # one start at a time: the settings are being resolved
        self._preparing = True
        self._prepare_run(preset, overrides, Path(state.runs_dir))

    @work(thread=True, exclusive=True, exit_on_error=False, group="train-prepare")
    def _prepare_run(self, preset: str | None, overrides: dict[str, Any], runs_dir: Path) -> None:
        """Resolve the settings (reads the preset) and create the run folder, off the UI
        thread; posts RunPrepared, or SettingsRejected / ShowError."""
        try:
            config = self.load_config(preset, overrides)
        except RlrecError as exc:
            self.post_message(SettingsRejected(str(exc), error=exc))
            return
        except Exception as exc:  # noqa: BLE001 — an engine bug must not take the app down
            self.post_message(
                SettingsRejected(error_line(exc), title="Cannot build the run configuration")
            )
            return
        name = preset or "run"
        try:
            run_dir = new_run_dir(runs_dir, name)
        except (RlrecError, OSError) as exc:
            self.post_message(
                SettingsRejected(error_line(exc), title="Cannot create the run folder")
            )
            return
        self.post_message(RunPrepared(config, name, run_dir))

    @on(SettingsRejected)
    def _settings_rejected(self, message: SettingsRejected) -> None:
        self._preparing = False
        error = message.error
        if error is not None and self._form_built and place_error(self.form(), error):
            return
        self.post_message(ShowError(message.title or "Bad settings", message.text))

    @on(RunPrepared)
    def _run_prepared(self, message: RunPrepared) -> None:
        self._preparing = False
        self.start_run(message.config, message.preset, message.run_dir)

    def start_run(self, config: RunConfig, preset: str, run_dir: Path) -> None:
        """Start training `config` in the new (empty) folder `run_dir`."""
        self._stop_following()
        self._reset_view()
        self.run_dir = run_dir
        self.rlrec_app.state.run_dir = run_dir
        self.run_state = RunState.RUNNING
        self._set_form_title(f"Settings of {run_dir.name}")
        self._log(f"starting {preset} in {run_dir}")
        self._train(config, run_dir)
        self.rlrec_app.runs_changed()  # the new folder is listed while it trains

    @work(
        thread=True, exclusive=True, exit_on_error=False, group="training", description="training"
    )
    def _train(self, config: RunConfig, run_dir: Path) -> RunFinished:
        """Start the run and hand its events to the UI until it finishes (blocking)."""
        trainer = self.make_trainer(config, run_dir)
        self._trainer = trainer
        trainer.subscribe(self._on_engine_event)
        return trainer.run()

    def _on_engine_event(self, event: Event) -> None:
        """Called on the worker thread: record, then hand over to the UI by message."""
        self.store.add(event)
        self.post_message(TrainerEvent(event))

    def action_pause(self) -> None:
        trainer = self._trainer
        if self.following:
            self.notify("another process trains this run: pause or stop it there")
            return
        if trainer is None or self.run_state not in (RunState.RUNNING, RunState.PAUSED):
            return
        if self.run_state is RunState.PAUSED:
            trainer.resume()
            self.run_state = RunState.RUNNING
            self._log("resumed")
        else:
            trainer.pause()
            self.run_state = RunState.PAUSED
            self._log("paused")

    def action_stop(self) -> None:
        if self._trainer is not None and self.run_state in (RunState.RUNNING, RunState.PAUSED):
            self._trainer.stop()
            self.run_state = RunState.STOPPING
            self._log("stopping… (writing a checkpoint)")

    def action_explore(self) -> None:
        if self.run_dir is None:
            self.notify("no run yet — press s to train one")
            return
        self.post_message(RunSelected(self.run_dir))

    async def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop a running training and wait for its worker (quitting); True if it ended."""
        self._stop_following()
        if self._trainer is None or not self.is_training:
            return True
        # No final evaluation when quitting: only the checkpoint, so the app exits promptly.
        self._trainer.stop(evaluate=False)
        workers = [w for w in self.app.workers if w.group == "training" and w.is_running]
        deadline = time.monotonic() + timeout
        for worker in workers:
            try:
                await asyncio.wait_for(worker.wait(), max(0.05, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 — timeout or the run's own error; we are quitting
                pass
        return not any(w.is_running for w in workers)

    @on(Button.Pressed, "#train-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#train-pause")
    def _pause_pressed(self) -> None:
        self.action_pause()

    @on(Button.Pressed, "#train-stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    def watch_run_state(self, state: RunState) -> None:
        if not self.is_mounted:
            return
        controllable = state in (RunState.RUNNING, RunState.PAUSED)
        self.query_one("#train-start", Button).disabled = state.is_active
        pause = self.query_one("#train-pause", Button)
        pause.disabled = not controllable
        pause.label = "Resume" if state is RunState.PAUSED else "Pause"
        self.query_one("#train-stop", Button).disabled = not controllable

    # -- following another process's run -------------------------------------------------------

    def follow(self, run_dir: Path) -> None:
        """Show an existing run and keep tailing it while its writer is still at work."""
        self._stop_following()
        self._reset_view()
        self.run_dir = Path(run_dir)
        self.following = True
        self._log(f"following {self.run_dir}")
        self.query_one("#train-status", StatusLine).update(
            f"following {self.run_dir.name}: waiting for its first progress line…"
        )
        self._follow(self.run_dir)
        # The form shows what this run was trained with (its budget, not the form's last).
        self.load_form(run_dir=self.run_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="follow", description="follow")
    def _follow(self, run_dir: Path) -> None:
        worker = get_current_worker()
        follow_run(run_dir, self.store, self._inbox, self.post_message, lambda: worker.is_cancelled)

    @on(FollowedEvents)
    def _followed_events(self) -> None:
        if not self.following:
            self._inbox.take()  # a cancelled follow's last lines
            return
        for event in self._inbox.take():
            self._show_event(event, live=False)

    def _stop_following(self) -> None:
        self.workers.cancel_group(self, "follow")
        self._inbox.take()
        self.following = False

    # -- events → widgets ----------------------------------------------------------------------

    @on(TrainerEvent)
    def _trainer_event(self, message: TrainerEvent) -> None:
        self._show_event(message.event, live=True)

    def _show_event(self, event: Event, live: bool) -> None:
        """One engine event onto the widgets; `live` for this pane's own training."""
        match event:
            case Progress():
                normalised = (
                    None if self.last_evaluation is None else self.last_evaluation.normalised
                )
                status = self.query_one("#train-status", StatusLine)
                status.update_parts(progress_parts(event, normalised))
                # A followed run's event read before its timing line has no fraction (NaN);
                # a NaN progress makes Textual's ProgressBar re-set itself without end.
                if math.isfinite(event.fraction_done):
                    bar = self.query_one("#train-progress", ProgressBar)
                    bar.update(progress=event.fraction_done)
            case RunStarted():
                if self.following and self.run_dir is not None:
                    # Opened before its writer saved config.yaml: show its settings now.
                    self.load_form(run_dir=self.run_dir)
                budget = ", ".join(f"{v} {k}" for k, v in event.budget.items())
                verb = "resumed" if event.resumed else "started"
                self._log(f"{verb} {event.preset}: {event.n_items} items, budget {budget}")
            case References():
                self._log(
                    f"myopic oracle {format_number(event.oracle_return, '.2f')}, random "
                    f"{format_number(event.random_return, '.2f')} (normalised 1 and 0)"
                )
            case Evaluation():
                self._show_evaluation(event)
            case Checkpointed():
                self._log(f"checkpoint @ {event.env_steps:,}")
            case StateChanged():
                self._log(f"trainer {event.state}")
                if event.state in (RunState.RUNNING, RunState.PAUSED) and self.is_training:
                    self.run_state = event.state
            case RunFinished():
                self._finished(event, live)

    def _show_evaluation(self, event: Evaluation) -> None:
        self.last_evaluation = event
        self.query_one("#train-evals", DataTable).add_row(
            f"{event.env_steps:,}",
            format_number(event.return_mean, ".2f"),
            format_number(event.return_ci95, ".2f"),
            format_number(event.ctr, ".3f"),
            format_number(event.session_length, ".1f"),
            format_number(event.normalised, ".2f"),
        )
        self._log(
            f"eval @ {event.env_steps:,}: return {format_number(event.return_mean, '.2f')}"
            f" ± {format_number(event.return_ci95, '.2f')}"
        )

    def _finished(self, event: RunFinished, live: bool) -> None:
        self.last_finished = event
        evaluation = self.last_evaluation
        text, parts = finish_parts(event, None if evaluation is None else evaluation.normalised)
        self._log(text)
        reason = FinishReason(event.reason)
        explorable = live and reason.is_success and self.run_dir is not None
        if explorable:
            parts.append(EXPLORE_HINT)
        self.query_one("#train-status", StatusLine).update_parts(parts)
        if reason is FinishReason.BUDGET:
            self.query_one("#train-progress", ProgressBar).update(progress=1.0)
        if self.following:
            self._stop_following()
            if self.run_dir is not None and not live:
                # the followed run is complete: let Explore open its agent (no pane switch)
                self.rlrec_app.set_run(self.run_dir, show=False)
        self.run_state = RunState.IDLE
        self.replot_visible(force=True)
        if live:
            self.rlrec_app.runs_changed()
        if explorable and self.run_dir is not None and not self.rlrec_app.is_quitting:
            # Explore loads the agent now; the pane stays here so the final curves and the
            # evaluation line can be read first.
            self.rlrec_app.set_run(self.run_dir, show=False)
            if not self.is_visible_pane:
                # Seen from another pane, a notice says so. Here the status line says it: a
                # notice lands on the bottom right, over the log's last (the finish) line.
                self.notify(f"{self.run_dir.name} finished: press 3 (or e) to explore it")

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "train-form" and worker.state == WorkerState.ERROR:
            text = f"cannot load settings: {error_line(worker.error)}"
            loading = self.query("#train-form-loading")
            if loading:
                loading.first(Static).update(text)
            else:  # the form is up (this was another preset): it keeps its values
                self.post_message(ShowError("Cannot load settings", error_line(worker.error)))
            return
        if worker.group == "train-prepare" and worker.state == WorkerState.ERROR:
            self._preparing = False
            self.post_message(ShowError("Cannot start training", error_line(worker.error)))
            return
        if worker.group != "training":
            return
        if worker.state == WorkerState.ERROR:
            self.run_state = RunState.IDLE
            self._trainer = None
            error = worker.error
            self._log(f"error: {error_line(error)}")
            title = "Training failed" if not isinstance(error, RlrecError) else "Cannot train"
            self.post_message(ShowError(title, error_line(error)))
            self.rlrec_app.runs_changed()
        elif worker.state in (WorkerState.SUCCESS, WorkerState.CANCELLED):
            if self.is_training:
                self.run_state = RunState.IDLE
            self._trainer = None

    # -- drawing -------------------------------------------------------------------------------

    def _reset_view(self) -> None:
        self.store.clear()
        self.last_finished = None
        self.last_evaluation = None
        self.query_one("#train-evals", DataTable).clear()
        self.query_one("#train-log", RichLog).clear()
        self.query_one("#train-progress", ProgressBar).update(progress=0)
        self.query_one("#train-status", StatusLine).update("starting…")

    def _log(self, text: str) -> None:
        self.query_one("#train-log", RichLog).write(text)

    @property
    def is_visible_pane(self) -> bool:
        node: DOMNode | None = self
        while node is not None and node is not self.screen:
            if not node.display:
                return False
            node = node.parent
        return self.is_mounted

    def replot_visible(self, force: bool = False) -> None:
        """Timer tick: redraw the charts whose data changed, if this pane is on screen."""
        if not self.is_visible_pane:
            return
        with self.app.batch_update():
            for chart in self.query(CurveChart):
                chart.replot(force=force)
