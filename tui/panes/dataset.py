"""Dataset pane: generate a synthetic dataset, import MovieLens or a CSV log, or open a saved
folder; then a summary and the seed's EDA figure.

Building runs in a thread worker that calls the engine's dataset use cases
(`engine.usecases.datasets`, the same functions `rlrec generate|import|info` call); their
progress callback posts `BuildProgress` messages (coalesced) that feed the progress bar. An
`RlrecError` is shown beside the form field its `option` (or `key`) names, worded with the
fields' labels — the worker never lets one escape. When a dataset is ready the pane posts
`DatasetChanged` and the app makes it the current dataset.

Every number shown comes from the use case's `DatasetInfo` (EDA) or the dataset's meta; this
pane formats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Input, ProgressBar, Static, Tab, Tabs

from rlrec.data.errors import Option, RlrecError, error_line
from rlrec.tui.heap import settle_heap
from rlrec.tui.messages import DatasetChanged, ShowError, StateUpdated
from rlrec.tui.panes.dataset_forms import (
    csv_form,
    generate_form,
    movielens_form,
    open_form,
    save_form,
)
from rlrec.tui.widgets.eda_plots import EdaPlots
from rlrec.tui.widgets.forms import FormField, ValidatedField, ValidatedForm

if TYPE_CHECKING:
    from rlrec.engine.usecases.datasets import BuiltDataset

# Source tab id → (form id, tab label, button label)
SOURCES = {
    "source-generate": ("form-generate", "Generate", "Generate"),
    "source-movielens": ("form-movielens", "MovieLens", "Import"),
    "source-csv": ("form-csv", "CSV", "Import"),
    "source-open": ("form-open", "Open", "Open"),
}
# Use-case parameters the save form holds, by field key (the source forms' keys are the
# use cases' own parameter names).
SAVE_FIELDS = {"out": "save_to", "force": "overwrite"}


class BuildProgress(Message):
    """The data layer reported progress (fraction in [0, 1]); newer replaces queued older."""

    def __init__(self, fraction: float, text: str) -> None:
        super().__init__()
        self.fraction = fraction
        self.text = text

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BuildProgress)


class BuildDone(Message):
    def __init__(self, dataset: Any, path: Path | None, eda: dict[str, Any], what: str) -> None:
        super().__init__()
        self.dataset = dataset
        self.path = path
        self.eda = eda
        self.what = what


class BuildFailed(Message):
    def __init__(self, form_id: str, error: Exception) -> None:
        super().__init__()
        self.form_id = form_id
        self.error = error

    @property
    def expected(self) -> bool:
        """An RlrecError (bad input), not a bug."""
        return isinstance(self.error, RlrecError)


class SummaryReady(Message):
    """EDA of a dataset that arrived from elsewhere (the app's default, the command line)."""

    def __init__(self, dataset: Any, path: Path | None, eda: dict[str, Any]) -> None:
        super().__init__()
        self.dataset = dataset
        self.path = path
        self.eda = eda


def format_summary(dataset: Any, path: Path | None, eda: dict[str, Any]) -> str:
    """The summary block: counts, sparsity, source — formatted, never computed, here."""
    meta = dataset.meta
    counts = eda.get("counts") or {}
    n_users = counts.get("users", meta.get("n_users", dataset.n_users))
    n_items = counts.get("items", meta.get("n_items", dataset.n_items))
    n_interactions = counts.get("interactions", meta.get("n_interactions"))
    sparsity = eda.get("sparsity")
    lines = [
        f"[b]{escape(str(meta.get('name', 'dataset')))}[/b]",
        f"source        {escape(str(meta.get('source', '?')))}"
        + (f"  (seed {meta['seed']})" if meta.get("seed") is not None else ""),
        f"users         {n_users:,}",
        f"items         {n_items:,}",
        f"interactions  {n_interactions:,}" if n_interactions is not None else "",
        f"sparsity      {sparsity:.2%}" if sparsity is not None else "",
        f"saved in      {escape(str(path))}"
        if path
        else "saved in      (not saved — give a folder to keep it)",
    ]
    return "\n".join(line for line in lines if line)


class DatasetPane(Widget):
    """Generate / import / open a dataset; summary and EDA plots of the current one."""

    HELP = """\
## Dataset

Make the dataset the simulator and the agent learn from.

- **Generate**: a synthetic population (users, items, seed) as in the seed's design.
- **MovieLens**: a folder with `u.data`/`u.item`/`u.user` (100K), `ratings.dat`/`movies.dat`/`users.dat` (1M), or `ratings.csv`/`movies.csv` (ml-latest, ml-latest-small, ml-20m, ml-25m).
- **CSV**: a log file with a column mapping (user and item columns required; rating, event, timestamp optional).
- **Open**: a dataset folder saved earlier.

Give **save to** a folder to keep the result (set **overwrite** to replace an existing one).
Press **enter** in a field or **ctrl+g** to run. Messages beside a field say what is wrong with it.
The summary and the EDA charts (age, price on a log axis, category, interaction type,
interactions per user and per item, ratings) follow the current dataset.
"""

    BINDINGS = [
        Binding(
            "ctrl+g",
            "build",
            "Build",
            id="dataset.build",
            tooltip="Generate / import / open with the current form",
        ),
        Binding(
            "ctrl+t",
            "next_source",
            "Source",
            id="dataset.source",
            tooltip="Switch between Generate, MovieLens, CSV and Open",
        ),
    ]

    DEFAULT_CSS = """
    DatasetPane {
        height: 1fr;
    }
    DatasetPane #dataset-body {
        height: 1fr;
    }
    DatasetPane #dataset-side {
        width: 52;
        height: 1fr;
        border-right: vkey $foreground 20%;
    }
    DatasetPane.-narrow #dataset-body {
        layout: vertical;
        overflow-y: auto;
    }
    DatasetPane.-narrow #dataset-side {
        width: 1fr;
        height: auto;
        border-right: none;
    }
    DatasetPane.-narrow #dataset-results {
        height: auto;
    }
    DatasetPane #dataset-source {
        height: auto;
        padding: 1 0 0 0;
    }
    DatasetPane #dataset-actions {
        height: auto;
        padding: 1 0 0 0;
    }
    DatasetPane #dataset-run {
        min-width: 12;
    }
    DatasetPane #dataset-progress {
        padding: 0 1;
        width: 1fr;
    }
    DatasetPane #dataset-status {
        height: auto;
        color: $text-muted;
    }
    DatasetPane #dataset-status.-error {
        color: $text-error;
    }
    DatasetPane #dataset-results {
        padding: 0 1;
    }
    DatasetPane #dataset-summary {
        height: auto;
        padding: 0 0 1 0;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown_dataset: Any = None
        self._summary_for: Any = None

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="dataset-body"):
            with VerticalScroll(id="dataset-side", can_focus=False):
                yield Tabs(
                    *(Tab(label, id=tab_id) for tab_id, (_, label, _) in SOURCES.items()),
                    id="dataset-source-tabs",
                )
                with ContentSwitcher(id="dataset-source", initial="form-generate"):
                    yield generate_form()
                    yield movielens_form()
                    yield csv_form()
                    yield open_form()
                yield save_form()
                with Horizontal(id="dataset-actions"):
                    yield Button("Generate", id="dataset-run", variant="primary")
                    yield ProgressBar(total=100, show_eta=False, id="dataset-progress")
                yield Static("", id="dataset-status", markup=False)
            with VerticalScroll(id="dataset-results"):
                yield Static("Loading the dataset…", id="dataset-summary")
                yield EdaPlots(id="dataset-eda")

    def on_mount(self) -> None:
        self.query_one(EdaPlots).display = False
        self.sync_with_state()

    def on_state_updated(self, message: StateUpdated) -> None:
        if message.field == "dataset":
            self.sync_with_state()

    def focus_default(self) -> None:
        """Where keys go when the pane is shown: the source tabs (left/right switch source),
        so that the app's keys 1–4 still work until the user enters a field."""
        self.query_one("#dataset-source-tabs", Tabs).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")

    # -- following the app's current dataset -------------------------------------------------
    def sync_with_state(self) -> None:
        """Show the app's current dataset if it is not the one on display."""
        state = getattr(self.app, "state", None)
        dataset = getattr(state, "dataset", None)
        if dataset is None or dataset is self._shown_dataset or dataset is self._summary_for:
            return
        self._summary_for = dataset
        self._summarise(dataset, getattr(state, "dataset_path", None))

    # Described here: Textual's default description is repr() of the arguments, and a large
    # dataset's repr takes long on the event loop.
    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="dataset-summary",
        description="summarise dataset",
    )
    def _summarise(self, dataset: Any, path: Path | None) -> None:
        try:
            from rlrec.engine.usecases.datasets import describe_dataset

            info = describe_dataset(dataset, path)
        except Exception as exc:  # noqa: BLE001 — shown, the app stays usable
            self.post_message(ShowError("Cannot analyse the dataset", error_line(exc)))
            return
        self.post_message(SummaryReady(dataset, path, info.eda))

    @on(SummaryReady)
    def _summary_ready(self, message: SummaryReady) -> None:
        self._show(message.dataset, message.path, message.eda)
        # A large dataset's summary (EDA, plots) is a big load settled: keep full
        # collections of the heap short from here on (see `tui.heap`).
        self.call_after_refresh(settle_heap)

    def _show(self, dataset: Any, path: Path | None, eda: dict[str, Any]) -> None:
        self._shown_dataset = dataset
        with self.app.batch_update():
            self.query_one("#dataset-summary", Static).update(format_summary(dataset, path, eda))
            plots = self.query_one(EdaPlots)
            plots.display = True
            plots.show(eda)

    # -- the forms ---------------------------------------------------------------------------
    @property
    def active_source(self) -> str:
        return self.query_one("#dataset-source-tabs", Tabs).active or "source-generate"

    @on(Tabs.TabActivated, "#dataset-source-tabs")
    def _source_changed(self, event: Tabs.TabActivated) -> None:
        event.stop()
        form_id, _, button = SOURCES.get(self.active_source, SOURCES["source-generate"])
        self.query_one("#dataset-source", ContentSwitcher).current = form_id
        self.query_one("#dataset-run", Button).label = button
        # A field of the previous source may have had focus; it is hidden now, and with no
        # focus the pane's keys (ctrl+g) would not reach it.
        self.call_after_refresh(self._keep_focus)

    def _keep_focus(self) -> None:
        if not self.is_on_screen:
            # The source tabs also switch while the pane is hidden (their first activation
            # comes when the pane mounts, after the first frame): focusing a hidden widget
            # would take the keys from the pane the user is looking at.
            return
        focused = self.app.focused
        if focused is None or not focused.is_on_screen or focused.is_disabled:
            self.focus_default()

    def action_next_source(self) -> None:
        tabs = self.query_one("#dataset-source-tabs", Tabs)
        order = list(SOURCES)
        tabs.active = order[(order.index(self.active_source) + 1) % len(order)]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_build()

    @on(Button.Pressed, "#dataset-run")
    def _run_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_build()

    def action_build(self) -> None:
        """Validate the active form and the save form; if both are fine, build in a worker."""
        if self.query_one("#dataset-run", Button).disabled:
            # One build at a time: a worker thread cannot be interrupted, and a second one
            # would race the first to become the current dataset.
            self.notify("Still building the previous dataset…", timeout=3)
            return
        form_id = SOURCES[self.active_source][0]
        form = self.query_one(f"#{form_id}", ValidatedForm)
        save = self.query_one("#form-save", ValidatedForm)
        if not (form.validate() & save.validate()):
            self._status("Fix the fields marked in red.", error=True)
            return
        values = form.values()
        save_values = save.values()
        self.query_one("#dataset-run", Button).disabled = True
        self.query_one("#dataset-progress", ProgressBar).update(progress=0)
        self._status("Working…")
        self._build(form_id, values, save_values["save_to"], bool(save_values["overwrite"]))

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#dataset-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @work(thread=True, exclusive=True, exit_on_error=False, group="dataset-build")
    def _build(
        self, form_id: str, values: dict[str, Any], save_to: Path | None, overwrite: bool
    ) -> None:
        """Runs on a worker thread: only posts messages, never touches widgets."""

        def progress(fraction: float, text: str = "") -> None:
            self.post_message(BuildProgress(float(fraction), str(text)))

        try:
            from rlrec.engine.usecases.datasets import describe_dataset

            result = self._run(form_id, values, save_to, overwrite, progress)
            info = describe_dataset(result.dataset, result.path)
        except Exception as exc:  # noqa: BLE001 — bad input or a bug: both shown, stay up
            self.post_message(BuildFailed(form_id, exc))
            return
        self.post_message(BuildDone(result.dataset, result.path, info.eda, result.what))

    @staticmethod
    def _run(
        form_id: str, values: dict[str, Any], out: Path | None, force: bool, progress: Any
    ) -> BuiltDataset:
        """The use case for the form; the forms' keys are its parameter names."""
        from rlrec.engine.usecases import datasets

        if form_id == "form-generate":
            return datasets.generate_dataset(
                values["n_users"],
                values["n_items"],
                values["seed"],
                activity=values["activity"],
                name=values["name"],
                out=out,
                force=force,
                progress=progress,
            )
        if form_id == "form-movielens":
            return datasets.import_movielens_dataset(
                values["path"], out=out, force=force, progress=progress
            )
        if form_id == "form-csv":
            return datasets.import_log_dataset(
                values["path"],
                user_col=values["user_col"],
                item_col=values["item_col"],
                rating_col=values["rating_col"],
                event_col=values["event_col"],
                timestamp_col=values["timestamp_col"],
                sep=values["sep"],
                encoding=values["encoding"],
                positive_threshold=values["positive_threshold"],
                out=out,
                force=force,
                progress=progress,
            )
        opened = datasets.open_dataset(values["path"])
        if out is None:
            return opened
        progress(1.0, f"writing {out}")
        path = datasets.save_dataset(opened.dataset, out, force=force)
        return dataclasses.replace(opened, path=path)

    @on(BuildProgress)
    def _progress(self, message: BuildProgress) -> None:
        self.query_one("#dataset-progress", ProgressBar).update(progress=100 * message.fraction)
        if message.text:
            self._status(message.text)

    @on(BuildFailed)
    def _failed(self, message: BuildFailed) -> None:
        self.query_one("#dataset-run", Button).disabled = False
        self.query_one("#dataset-progress", ProgressBar).update(progress=0)
        form = self.query_one(f"#{message.form_id}", ValidatedForm)
        error = message.error
        if isinstance(error, RlrecError):
            text = error.worded(self._wording(form))
            target = self._field_for(error, form)
        else:
            text = error_line(error)
            target = None
        self._status(text, error=True)
        if target is None:
            # The error names no field (e.g. "not a MovieLens folder"): the path field, or
            # else the form's first field, is the culprit.
            fields = form.fields
            target = next((f for f in fields if f.key in ("path", "save_to")), fields[0])
        target.show_error(text)
        if isinstance(target, ValidatedField):
            target.focus_input()
        if not message.expected:
            self.post_message(ShowError("Dataset build failed", text))

    def _field_for(self, error: RlrecError, form: ValidatedForm) -> FormField | None:
        """The field of `form`, or of the save form, that the error's option names."""
        if error.option in SAVE_FIELDS:
            return self.query_one("#form-save", ValidatedForm).field(SAVE_FIELDS[error.option])
        return form.field_for(error)

    def _wording(self, form: ValidatedForm) -> Callable[[Option], str]:
        """Options as this pane calls them: the label of their field in `form` or the save
        form, then the value the message shows."""
        save = self.query_one("#form-save", ValidatedForm)
        labels = {f.key: f.label for f in [*save.fields, *form.fields]}

        def word(option: Option) -> str:
            label = labels.get(SAVE_FIELDS.get(option.name, option.name), option.name)
            return label if option.shown is None else f"{label} {option.shown}"

        return word

    @on(BuildDone)
    def _done(self, message: BuildDone) -> None:
        self.query_one("#dataset-run", Button).disabled = False
        self.query_one("#dataset-progress", ProgressBar).update(progress=100)
        where = f" and saved to {message.path}" if message.path else ""
        self._status(f"{message.dataset.name}: {message.what}{where}.")
        self._summary_for = message.dataset
        self._show(message.dataset, message.path, message.eda)
        self.post_message(DatasetChanged(message.dataset, message.path))
