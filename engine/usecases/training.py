"""Use cases of training: resolve a run config, train a new run, resume one.

Both faces call exactly these: `rlrec train` / `rlrec resume` and the TUI's Train pane. Each
takes plain values and an optional event callback (called on the training thread for every
event; keep it quick) and returns a dataclass. The training itself may be driven from a
worker thread: `start_training` returns the `Trainer` so a face can pause or stop it, and
`TrainingResult.of(trainer, finished)` gives the same result `train` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import RlrecError
from rlrec.engine.training.budget import Budget
from rlrec.engine.training.events import Evaluation, Event, FinishReason, RunFinished
from rlrec.engine.training.run_config import RunConfig, load_run_config

if TYPE_CHECKING:  # the trainer imports torch; these functions import it when called
    from rlrec.engine.training.trainer import Trainer

EventCallback = Callable[[Event], None]
# Told what a slow step before training is doing ("fitting the simulator to the log of d…"),
# so a face can say so while nothing else moves.
PhaseCallback = Callable[[str], None]


def building_phase(config: RunConfig) -> str:
    """What building a trainer for `config` spends its time on, as one line for a face:
    loading the dataset and fitting the simulator to its log, or building the simulator."""
    env = config.env
    if getattr(env, "kind", "default") != "default":
        return f"building the {env.kind} simulator…"
    dataset = config.dataset or getattr(env, "dataset", "")
    # The folder's name, not its path: a status line is cut at the terminal's width.
    name = Path(dataset).name if dataset else "the built-in dataset"
    return f"fitting the simulator to the log of {name}…"


def epsilon_schedule_line(
    decay_steps: int | None, decay_fraction: float | None, decay_cap: int | None = 0
) -> str:
    """Which ε schedule an agent config follows, as one line for a face: over
    `agent.eps_decay_steps` env steps when that is > 0, else over `agent.eps_decay_fraction`
    of the run's budget, but at most `agent.eps_decay_cap` env steps when that is > 0
    (`DQNConfig`; a step count that is set wins). "" when a value is missing (a field being
    edited)."""
    if decay_steps is None or decay_fraction is None:
        return ""
    if decay_steps > 0:
        return f"ε decays over {decay_steps:,} env steps (decay share unused)"
    if decay_cap:
        return f"ε decays over {decay_fraction:.0%} of the budget, at most {decay_cap:,} env steps"
    return f"ε decays over {decay_fraction:.0%} of the budget"


@dataclass(frozen=True)
class TrainingResult:
    """How a run (or a resumed part of it) ended."""

    run_dir: Path
    reason: FinishReason
    message: str  # why it diverged or failed; "" otherwise
    env_steps: int
    updates: int
    seconds: float  # training time, earlier resumed parts included
    evaluation: Evaluation | None  # the last greedy evaluation, if any
    replay_capacity: int = 0  # transitions the replay buffer holds at most
    replay_bytes_per_transition: int = 0  # `ReplayBuffer.bytes_per_transition` of the run
    checkpoint_bytes: int | None = None  # size on disk of the last checkpoint this part wrote
    head: str = ""  # the agent's Q head, `agent.head: auto` resolved
    candidates: int = 0  # items offered per session per step (0 = the whole catalogue)
    n_items: int = 0  # the catalogue trained on

    @property
    def ok(self) -> bool:
        return self.reason.is_success

    @property
    def replay_bytes(self) -> int:
        """Memory the replay buffer takes (allocated for its whole capacity)."""
        return self.replay_capacity * self.replay_bytes_per_transition

    @property
    def steps_per_second(self) -> float | None:
        return self.env_steps / self.seconds if self.seconds > 0 else None

    @classmethod
    def of(cls, trainer: Trainer, finished: RunFinished) -> TrainingResult:
        return cls(
            run_dir=trainer.run_dir,
            reason=finished.reason,
            message=finished.message,
            env_steps=finished.env_steps,
            updates=finished.updates,
            seconds=finished.seconds,
            evaluation=trainer.last_evaluation,
            replay_capacity=trainer.agent.replay.capacity,
            replay_bytes_per_transition=replay_bytes_per_transition(trainer),
            checkpoint_bytes=trainer.checkpoint_bytes,
            head=trainer.agent.config.head,
            candidates=candidates_offered(trainer),
            n_items=trainer.sim.n_items,
        )


def candidates_offered(trainer: Trainer) -> int:
    """Items `trainer`'s simulator offers each session per step (0 = the whole catalogue)."""
    offered = trainer.sim.candidates()
    return 0 if offered is None else int(offered.shape[1])


def ranking_line(head: str, candidates: int, n_items: int) -> str:
    """What the agent ranks, as a face shows it: `embedding head, 200 candidates a step of
    100,000 items` or `per_item head, the whole catalogue of 500 items`."""
    offered = f"{candidates:,} candidates a step of" if candidates else "the whole catalogue of"
    return f"{head} head, {offered} {n_items:,} items"


def replay_bytes_per_transition(trainer: Trainer) -> int:
    """Bytes one transition of `trainer`'s replay buffer takes (see `ReplayBuffer`)."""
    replay = trainer.agent.replay
    return replay.bytes_per_transition(
        trainer.agent.obs_dim, replay.n_items, replay.n_candidates, replay.obs_dtype
    )


def replay_memory_line(capacity: int, per_transition: int) -> str:
    """The replay buffer's memory as a face shows it: `replay 200,000 × 1.2 kB = 240 MB`."""
    return (
        f"replay {capacity:,} × {format_bytes(per_transition)} = "
        f"{format_bytes(capacity * per_transition)}"
    )


def format_bytes(size: int | float) -> str:
    """A size in decimal units with three significant figures: 812 B, 1.2 kB, 240 MB."""
    value, unit = float(size), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 999.5 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def resolve_run_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    dataset: str | Path | None = None,
    budget: Budget | None = None,
    seed: int | None = None,
    torch_threads: int | None = None,
) -> RunConfig:
    """The checked `RunConfig`: preset (default `default`) ← `config_file` ← `overrides`
    (nested {"train": {...}, ...}) ← the named arguments. A `budget` replaces whatever budget
    the preset and file give. Raises RlrecError naming the bad key, value and allowed range,
    or the missing dataset folder."""
    merged: dict[str, Any] = {
        k: dict(v) if isinstance(v, dict) else v for k, v in (overrides or {}).items()
    }
    train = merged.setdefault("train", {})
    if budget is not None:
        train.update({"seconds": None, "steps": None, "episodes": None, **budget.as_dict()})
    if seed is not None:
        train["seed"] = seed
    if torch_threads is not None:
        train["torch_threads"] = torch_threads
    if dataset is not None:
        from rlrec.data.store import require_dataset_folder

        require_dataset_folder(dataset, "dataset")
        merged["dataset"] = str(dataset)
    if not train:
        del merged["train"]
    return load_run_config(preset, config_file, merged)


def run_settings(run_dir: str | Path) -> RunConfig:
    """The checked `RunConfig` the run in `run_dir` was trained with (its `config.yaml`).
    Raises RlrecError when `run_dir` is not a run folder or its config is damaged."""
    from rlrec.engine.training.run_folder import CONFIG_FILE
    from rlrec.engine.training.runs import read_config, require_run

    run_dir = require_run(run_dir)
    return RunConfig.from_dict(read_config(run_dir), origin=str(run_dir / CONFIG_FILE))


def start_training(
    config: RunConfig,
    runs_dir: str | Path | None = None,
    name: str | None = None,
    on_event: EventCallback | None = None,
    *,
    run_dir: str | Path | None = None,
    on_phase: PhaseCallback | None = None,
) -> Trainer:
    """The `Trainer` of a new run, not yet running. Its folder is `run_dir` when given (it
    must be new or empty), else a new `<runs_dir>/<name>` (default name
    `<YYYYmmdd-HHMMSS>-<preset>`). `on_phase` is told before the slow build (see
    `building_phase`). Nothing is left behind if building fails (RlrecError for a
    bad config, a used folder, a changed dataset, or an estimated peak memory the machine
    does not have — see `training_memory`)."""
    from rlrec.engine.training.runs import default_runs_dir, discard_unused_folder, new_run_dir
    from rlrec.engine.training.trainer import Trainer
    from rlrec.engine.usecases.training_memory import check_training_fits

    parent = Path(run_dir).parent if run_dir is not None else Path(runs_dir or default_runs_dir())
    made = [p for p in (parent, *parent.parents) if not p.exists()]  # deepest first
    folder = Path(run_dir) if run_dir is not None else new_run_dir(runs_dir, config.preset, name)
    try:
        check_training_fits(config)  # before any table is built
        if on_phase is not None:
            on_phase(building_phase(config))
        trainer = Trainer(config, folder)
    except BaseException:
        discard_unused_folder(folder)  # nothing written: leave no empty run behind
        for created in made:  # nor the runs folders this call made for it
            try:
                created.rmdir()
            except OSError:
                break
        raise
    if on_event is not None:
        trainer.subscribe(on_event)
    return trainer


def start_resume(
    run_dir: str | Path,
    more: Budget | None = None,
    on_event: EventCallback | None = None,
    on_phase: PhaseCallback | None = None,
) -> Trainer:
    """The `Trainer` of an existing run, restored from its checkpoint, not yet running.
    Without `more` it goes on to its original budget; with one it trains that much more.
    `on_phase` is told before the slow rebuild (see `building_phase`).
    Raises RlrecError for a folder that is not a run, has no or an unreadable checkpoint, or
    whose estimated peak memory the machine does not have (see `training_memory`)."""
    from rlrec.engine.training import runs
    from rlrec.engine.training.trainer import Trainer
    from rlrec.engine.usecases.training_memory import check_training_fits

    try:
        config = RunConfig.from_dict(runs.read_config(runs.require_run(run_dir)))
    except (RlrecError, OSError):
        config = None  # `Trainer.from_run` says what is wrong with the folder
    if config is not None:
        check_training_fits(config)
        if on_phase is not None:
            on_phase(building_phase(config))
    trainer = Trainer.from_run(run_dir, more)
    if on_event is not None:
        trainer.subscribe(on_event)
    return trainer


def train(
    config: RunConfig,
    runs_dir: str | Path | None = None,
    name: str | None = None,
    on_event: EventCallback | None = None,
) -> TrainingResult:
    """Train `config` in a new run folder until its budget is spent (blocking)."""
    trainer = start_training(config, runs_dir, name, on_event)
    return TrainingResult.of(trainer, trainer.run())


def resume(
    run_dir: str | Path, more: Budget | None = None, on_event: EventCallback | None = None
) -> TrainingResult:
    """Continue a run from its checkpoint (blocking); see `start_resume`."""
    trainer = start_resume(run_dir, more, on_event)
    return TrainingResult.of(trainer, trainer.run())
