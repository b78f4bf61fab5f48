"""The Train pane's settings form: which engine config fields it shows, with what labels and
starting values, and where an engine error about them is shown. The fields themselves (and
their range checks, taken from the engine's config dataclasses) come from `tui.widgets.forms`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textual.widget import Widget
from textual.widgets import Static

from rlrec.data.errors import RlrecError

if TYPE_CHECKING:  # the run config imports pandas; the form loads it in a worker
    from rlrec.engine.training.run_config import RunConfig
    from rlrec.tui.widgets.forms import ValidatedForm

# Form rows: (config section, label, candidate field names in the engine's config dataclass).
# The first name the dataclass really has wins, so the form follows the engine's naming.
FORM_ROWS = (
    ("agent", "learning rate", ("learning_rate", "lr")),
    ("agent", "batch size", ("batch_size",)),
    ("agent", "gamma γ", ("gamma",)),
    ("agent", "ε start", ("epsilon_start", "eps_start")),
    ("agent", "ε end", ("epsilon_end", "eps_end")),
    ("agent", "ε decay steps", ("epsilon_decay_steps", "eps_decay_steps", "epsilon_decay")),
    ("agent", "ε decay share", ("eps_decay_fraction",)),
    ("agent", "hidden units", ("hidden", "hidden_units", "hidden_sizes")),
    ("agent", "dropout", ("dropout",)),
    ("agent", "target τ", ("tau", "target_tau", "soft_tau")),
    ("train", "budget s", ("seconds", "budget_seconds")),
    ("train", "budget steps", ("steps", "budget_steps")),
    ("train", "log every", ("log_every",)),
)
# Live curves want a point every few vector steps; presets log sparsely for headless runs.
LIVE_LOG_EVERY_VECTOR_STEPS = 4
# The two settings of the ε schedule: a step count > 0 wins over the budget fraction, and
# the note under them (EPS_NOTE_ID) says which one applies.
EPS_STEPS_KEY = "agent.eps_decay_steps"
EPS_FRACTION_KEY = "agent.eps_decay_fraction"
EPS_NOTE_ID = "train-eps-note"


def list_presets() -> list[str]:
    from rlrec.engine.presets import PRESETS

    return list(PRESETS)


def place_error(form: ValidatedForm, error: RlrecError) -> bool:
    """Show an engine error beside the field its `option`/`key` names; True if one did (the
    error's fields decide, its text is never parsed)."""
    return form.show_error(error)


def settings_fields(
    config: RunConfig, presets: list[str], preset: str, *, live_logging: bool = True
) -> list[Widget]:
    """The form's fields for a `RunConfig`: the preset choice, then each FORM_ROWS entry the
    engine's config has, starting from the config's values. `live_logging` lowers the
    preset's `log_every` to a live-curve cadence (off when showing a finished run's own
    settings, which are shown as they were)."""
    from rlrec.engine.usecases.training import epsilon_schedule_line
    from rlrec.tui.widgets.forms import choice_field, config_field

    fields: list[Widget] = [choice_field("preset", "preset", presets, preset, id="field-preset")]
    for section, label, names in FORM_ROWS:
        part = getattr(config, section, None)
        if part is None or not dataclasses.is_dataclass(part):
            continue
        have = {f.name for f in dataclasses.fields(part)}
        name = next((n for n in names if n in have), None)
        if name is None:
            continue
        value = getattr(part, name)
        if section == "train" and value is None:
            # No budget set in the preset: show the engine's default (60 s) as a value.
            value = config.train.budget.get(name)
        if section == "train" and name == "log_every" and live_logging:
            n_envs = getattr(part, "n_envs", 1)
            value = min(value, LIVE_LOG_EVERY_VECTOR_STEPS * n_envs)
        fields.append(
            config_field(
                type(part),
                name,
                key=f"{section}.{name}",
                label=label,
                value=value,
                id=f"field-{section}-{name}",
            )
        )
        if f"{section}.{name}" == EPS_FRACTION_KEY:
            cap = getattr(part, "eps_decay_cap", 0)
            note = epsilon_schedule_line(getattr(part, "eps_decay_steps", None), value, cap)
            fields.append(EpsilonNote(note, cap, id=EPS_NOTE_ID, classes="form-note"))
    return fields


class EpsilonNote(Static):
    """The line under the ε fields saying which schedule applies. It keeps the config's
    `eps_decay_cap`, which the form does not show, so the line can be said again as the
    fields change."""

    def __init__(self, text: str, cap: int, *, id: str, classes: str) -> None:
        super().__init__(text, id=id, classes=classes)
        self.cap = cap


def refresh_epsilon_note(form: ValidatedForm) -> None:
    """Say again which ε schedule applies, after one of its two fields changed."""
    from rlrec.engine.usecases.training import epsilon_schedule_line

    notes = form.query(f"#{EPS_NOTE_ID}")
    if not notes:
        return
    try:
        steps = form.field(EPS_STEPS_KEY).value
        fraction = form.field(EPS_FRACTION_KEY).value
    except KeyError:
        return
    note = notes.first(EpsilonNote)
    note.update(epsilon_schedule_line(steps, fraction, note.cap))
