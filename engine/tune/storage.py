"""Where a study lives: a folder in the runs folder holding the Optuna study in SQLite, the
search request it was made with, the best trial's config and the trials' run folders.

    <runs>/<study>/study.db       the Optuna study (an embedded SQLite database)
    <runs>/<study>/study.yaml     the request (`StudySpec`), written once
    <runs>/<study>/best.yaml      the best trial's config, ready for `rlrec train --config`
    <runs>/<study>/trial-0003/    a trial's run (`trial-0003-seed1`, … with several seeds)

SQLite, not a server: a search survives Ctrl+C and kill -9 (every finished trial is
committed), another process can read the study while it grows (the TUI follows it), and the
folder can be copied elsewhere whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlrec.data.errors import Option, RlrecError
from rlrec.data.files import atomic_write_text
from rlrec.engine.config_base import load_yaml
from rlrec.engine.training.run_folder import check_run_name, default_runs_dir

if TYPE_CHECKING:
    import optuna

STUDY_DB = "study.db"
STUDY_SPEC = "study.yaml"
BEST_CONFIG = "best.yaml"
# Seconds a writer waits for another process's SQLite transaction before giving up: trials in
# parallel processes commit at the same moments (a trial's end), each in milliseconds.
SQLITE_BUSY_SECONDS = 60.0


def is_study(path: str | Path) -> bool:
    """A study folder: it holds both the study database and its request."""
    path = Path(path)
    return (path / STUDY_DB).is_file() and (path / STUDY_SPEC).is_file()


def study_dir(runs_dir: str | Path | None, name: str) -> Path:
    """`<runs_dir>/<name>` (runs_dir default `default_runs_dir()`). RlrecError (option
    "study") if `name` is not one plain folder name."""
    try:
        check_run_name(name)
    except RlrecError:
        raise RlrecError(
            [
                Option("study", repr(name)),
                ": must be one plain folder name (no '/', no '..', not empty, not starting "
                "with '.')",
            ],
            key="study",
            value=name,
            option="study",
        ) from None
    parent = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    return parent / name


def storage_url(folder: Path) -> str:
    """The SQLAlchemy URL of `folder`'s study database (absolute, so any process finds it)."""
    return f"sqlite:///{(Path(folder) / STUDY_DB).resolve()}"


def open_storage(folder: str | Path) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on `<folder>/study.db` (created if missing), waiting up to
    `SQLITE_BUSY_SECONDS` for a lock another process holds."""
    import optuna

    return optuna.storages.RDBStorage(
        storage_url(Path(folder)),
        engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_SECONDS}},
    )


@dataclass(frozen=True)
class StudySpec:
    """The search request a study was made with (its `study.yaml`). Re-running `rlrec tune`
    with the same request continues the study; a different one is refused (`differences`)."""

    name: str
    space: str  # the --space argument: a shipped space's name or a YAML path
    preset: str
    objective: str  # "return" | "ndcg@10"
    trial_budget: dict[str, float]  # each run's budget: {"seconds": s} | {"steps": n} | …
    config: str | None = None  # a --config YAML on top of the preset (absolute)
    dataset: str | None = None  # absolute dataset folder; None = the preset's own data
    seeds: int = 1
    sampler: str = "tpe"
    pruner: str = "median"
    backend: str = "optuna"  # "optuna" | "ray"
    space_params: dict[str, Any] = field(default_factory=dict)  # the parsed space, shown

    # What must match for a second command to continue this study. The backend and the
    # number of parallel jobs may change between commands; the trials stay comparable.
    IDENTITY = (
        "space_params",
        "preset",
        "objective",
        "trial_budget",
        "config",
        "dataset",
        "seeds",
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], origin: str = STUDY_SPEC) -> StudySpec:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in raw
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if unknown or missing:
            what = f"unknown key '{unknown[0]}'" if unknown else f"missing key '{missing[0]}'"
            raise RlrecError(f"{origin}: {what} (not a study.yaml rlrec wrote)", file=origin)
        return cls(**raw)

    def differences(self, other: StudySpec) -> list[str]:
        """The identity keys whose values differ between two requests."""
        return [k for k in self.IDENTITY if getattr(self, k) != getattr(other, k)]


def write_spec(folder: Path, spec: StudySpec) -> None:
    import yaml

    atomic_write_text(Path(folder) / STUDY_SPEC, yaml.safe_dump(spec.to_dict(), sort_keys=False))


def read_spec(folder: str | Path) -> StudySpec:
    """The request of the study in `folder`. RlrecError: not a study folder, damaged file."""
    path = Path(folder) / STUDY_SPEC
    if not path.is_file():
        raise RlrecError(f"{folder}: not a study folder (no {STUDY_SPEC})", file=folder)
    return StudySpec.from_dict(load_yaml(path), origin=str(path))


def trial_run_names(number: int, seeds: int) -> list[str]:
    """The run folders of trial `number` run with `seeds` seeds (one without a seed suffix)."""
    return [trial_run_name(number, None if seeds == 1 else i) for i in range(seeds)]


def trial_run_name(number: int, seed_index: int | None = None) -> str:
    """The run folder of trial `number` (and of its `seed_index`-th seed when it has several)."""
    base = f"trial-{number:04d}"
    return base if seed_index is None else f"{base}-seed{seed_index}"
