"""Dataset use cases: what `rlrec generate | import | info | split | calibrate` and the TUI's
Dataset pane do, written once.

Each function takes plain parameters (their names are the `option` an `RlrecError` names),
checks them before any work, and returns a dataclass; a face only turns input into a call and
the result into text, widgets or JSON. Building functions take a progress callback
`progress(fraction in [0, 1], message)`, called on the caller's thread; when `out` is given the
dataset is saved there atomically (the last `SAVE_SHARE` of the progress).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.generator import ACTIVITY_RANGE  # re-exported: the forms show the range

Progress = Callable[[float, str], None]

MAX_USERS = 10_000_000
MAX_ITEMS = 10_000_000
MAX_SEED = 2**63 - 1
# The parameters of `import_log_dataset` that describe the log (after the path).
LOG_OPTIONS = (
    "user_col",
    "item_col",
    "rating_col",
    "event_col",
    "timestamp_col",
    "category_col",
    "sep",
    "duplicates",
    "name",
    "encoding",
    "positive_threshold",
)
SEPARATOR_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
SAVE_SHARE = 0.1  # of the progress, for writing the folder
BUILT_IN = "built-in default"


def _no_progress(fraction: float, message: str) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True)
class BuiltDataset:
    """A dataset made by a use case, and where it is saved (None: only in memory)."""

    dataset: Dataset
    path: Path | None
    what: str  # "generated", "imported" or "opened"
    seconds: float  # wall-clock time of the whole call

    @property
    def notes(self) -> list[str]:
        """What the import changed in the input, one line each (empty for most files): rows
        dropped as duplicates, ratings of 0 read as "not rated"."""
        meta, notes = self.dataset.meta, []
        if meta.get("duplicates_dropped"):
            listed = meta.get("duplicate_rows_dropped", [])
            more = meta["duplicates_dropped"] - len(listed)
            tail = f" and {more} more" if more > 0 else ""
            notes.append(
                f"dropped {meta['duplicates_dropped']} duplicate row(s) (same user, item, "
                f"event and time): {', '.join(listed)}{tail}"
            )
        if meta.get("implicit_zero_ratings"):
            notes.append(
                f"{meta['implicit_zero_ratings']} rating(s) of 0 read as interactions without a "
                f"rating ({meta.get('rating_scale')}); they count as engaged, like clicks"
            )
        if meta.get("side_files"):
            notes.append(f"not imported (MovieLens side files): {', '.join(meta['side_files'])}")
        return notes

    def summary(self) -> dict[str, Any]:
        """Counts and place as plain data (`rlrec generate|import --json`); "notes" only
        when there are some (see `notes`)."""
        ds = self.dataset
        result = {
            "path": str(self.path) if self.path is not None else None,
            "name": ds.name,
            "source": ds.meta.get("source"),
            "n_users": ds.n_users,
            "n_items": ds.n_items,
            "n_interactions": len(ds.interactions),
            "seconds": round(self.seconds, 3),
        }
        if self.notes:
            result["notes"] = self.notes
        return result


@dataclass(frozen=True)
class DatasetInfo:
    """What `rlrec info` and the Dataset pane show: meta and the EDA (see `data.eda`)."""

    dataset: Dataset
    where: str  # the folder, or "built-in default"
    path: Path | None
    meta: dict[str, Any]  # meta.yaml without the long feature-name lists
    eda: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.where, "meta": self.meta, "eda": self.eda}


@dataclass(frozen=True)
class SplitResult:
    """A split stored beside its dataset: the split's summary plus each part's share."""

    folder: str
    summary: dict[str, Any]  # `Split.summary()` plus "dataset"
    shares: dict[str, float]  # part ("train", "validation", "test") -> fraction of rows

    def to_dict(self) -> dict[str, Any]:
        return self.summary


@dataclass(frozen=True)
class CalibrationReport:
    """The simulator fitted to a dataset's train split, checked decile by decile.

    Each decile row has `decile`, `pairs`, `predicted`, `observed` and `gap_points`
    (100 × (predicted − observed)); `max_abs_gap` is on the held-out train pairs.
    """

    dataset: str
    feedback: str  # "explicit" or "implicit"
    positive: str
    negatives: str
    alpha: float
    logit_scale: float
    logit_offset: float
    max_abs_gap: float
    deciles: list[dict[str, Any]]
    validation_deciles: list[dict[str, Any]]
    gaps: dict[str, list[float]] = field(default_factory=dict)  # table -> gap per row, points

    @property
    def max_abs_gap_points(self) -> float:
        return 100 * self.max_abs_gap

    def to_dict(self) -> dict[str, Any]:
        """The payload of `rlrec calibrate --json` (without the derived gaps)."""
        return {
            "dataset": self.dataset,
            "feedback": self.feedback,
            "positive": self.positive,
            "negatives": self.negatives,
            "alpha": self.alpha,
            "logit_scale": self.logit_scale,
            "logit_offset": self.logit_offset,
            "max_abs_gap": self.max_abs_gap,
            "deciles": self.deciles,
            "validation_deciles": self.validation_deciles,
        }


# -- checks before any work -------------------------------------------------------------------
def _check_int(option: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise RlrecError(
            [Option(option, str(value)), f": must be between {low:,} and {high:,}"],
            key=option,
            value=value,
            allowed=(low, high),
        )


def check_output(out: str | Path | None, force: bool) -> None:
    """Fail before any work if the folder `out` is taken (exists without `force`, or is not a
    dataset folder `force` may replace). Raises RlrecError with option "out"."""
    if out is None:
        return
    from rlrec.data.store import check_output_folder

    check_output_folder(Path(out), force)


def resolve_separator(sep: str | None) -> str | None:
    """`sep` as one character; the names tab/comma/semicolon/pipe and "\\t" are accepted.
    None or "" means: guess from the header. Raises RlrecError with option "sep"."""
    if not sep:
        return None
    resolved = SEPARATOR_ALIASES.get(sep.lower(), sep)
    if len(resolved) != 1:
        raise RlrecError(
            [Option("sep", repr(sep)), ": must be one character or tab/comma/semicolon/pipe"],
            value=sep,
            allowed=sorted(SEPARATOR_ALIASES),
        )
    return resolved


def check_movielens_folder(path: str | Path) -> None:
    """Raise RlrecError (option "path") unless `path` is a MovieLens folder or one of its
    files — the test `import_movielens_dataset` starts with, cheap enough to run as typed."""
    from rlrec.data.movielens import detect_format

    detect_format(Path(path))


# -- building ---------------------------------------------------------------------------------
def _build(
    what: str,
    build: Callable[[Progress], Dataset],
    out: str | Path | None,
    force: bool,
    progress: Progress | None,
) -> BuiltDataset:
    report = progress or _no_progress
    started = time.perf_counter()
    if out is None:
        dataset = build(report)
        return BuiltDataset(dataset, None, what, time.perf_counter() - started)
    dataset = build(lambda fraction, message: report((1 - SAVE_SHARE) * fraction, message))
    report(1 - SAVE_SHARE, f"writing {out}")
    path = save_dataset(dataset, out, force=force)
    return BuiltDataset(dataset, path, what, time.perf_counter() - started)


def generate_dataset(
    n_users: int = 1000,
    n_items: int = 500,
    seed: int = 42,
    *,
    activity: float = 1.0,
    n_interactions: int | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    reuse: bool = False,
    progress: Progress | None = None,
) -> BuiltDataset:
    """A synthetic dataset (the seed's population), saved to `out` if given. `n_interactions`
    (instead of `activity`): about that many interactions in all — the activity whose
    expected count it is (`data.generator.activity_for`); the count drawn is within a few
    percent and is the one reported. `reuse`: when `out` already holds the dataset these
    arguments generate (same sizes, seed, activity and name), it is opened, not written again
    (the same request twice is idempotent, and runs trained on it stay valid); anything else
    in `out` is refused as without `reuse`.

    Same sizes, seed and activity give byte-identical files. Raises RlrecError naming
    `n_users`/`n_items` (1..10^7), `seed` (0..2^63-1), `activity` (0.05..20),
    `n_interactions` (the counts activity 0.05..20 gives these users) or `out`.
    """
    from rlrec.data.generator import activity_for, expected_interactions, generate

    if n_interactions is not None:
        if activity != 1.0:
            raise RlrecError(
                [Option("activity"), " and ", Option("n_interactions"), ": give one of them"],
                key="n_interactions",
            )
        _check_int("n_users", n_users, 1, MAX_USERS)
        fewest, most = (round(expected_interactions(n_users, a)) for a in ACTIVITY_RANGE)
        _check_int("n_interactions", n_interactions, fewest, most)
        activity = activity_for(n_users, n_interactions)

    _check_int("n_users", n_users, 1, MAX_USERS)
    _check_int("n_items", n_items, 1, MAX_ITEMS)
    _check_int("seed", seed, 0, MAX_SEED)
    low, high = ACTIVITY_RANGE
    if not low <= activity <= high:  # also refuses nan
        raise RlrecError(
            [Option("activity", f"{activity:g}"), f": must be between {low:g} and {high:g}"],
            key="activity",
            value=activity,
            allowed=(low, high),
        )
    if reuse and out is not None and (Path(out) / "meta.yaml").is_file():
        try:
            existing = open_dataset(out, "out")
        except RlrecError:
            existing = None
        meta = {} if existing is None else existing.dataset.meta
        wanted = {"source": "synthetic", "n_users": n_users, "n_items": n_items, "seed": seed}
        if (
            existing is not None
            and all(meta.get(k) == v for k, v in wanted.items())
            and float(meta.get("activity", 1.0)) == activity
            and (name is None or meta.get("name") == name)
        ):
            return existing
    check_output(out, force)

    def build(report: Progress) -> Dataset:
        return generate(n_users, n_items, seed, name=name, progress=report, activity=activity)

    return _build("generated", build, out, force, progress)


def import_movielens_dataset(
    path: str | Path,
    *,
    name: str | None = None,
    encoding: str | None = None,
    positive_threshold: float | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> BuiltDataset:
    """Import a MovieLens 100K, 1M or ratings.csv (ml-latest, ml-20m, ml-25m) folder (see
    `data.movielens`), saved to `out` if given. `encoding` None: UTF-8 if valid, else Latin-1; `positive_threshold` None: 4.
    Raises RlrecError naming the file and line of the first problem."""
    from rlrec.data.importers import import_movielens
    from rlrec.data.scale import check_threshold
    from rlrec.data.textio import check_encoding

    check_encoding(encoding)
    check_threshold(positive_threshold)
    check_output(out, force)

    def build(report: Progress) -> Dataset:
        return import_movielens(
            path, name=name, progress=report, encoding=encoding,
            positive_threshold=positive_threshold,
        )  # fmt: skip

    return _build("imported", build, out, force, progress)


def import_log_dataset(
    path: str | Path,
    *,
    user_col: str,
    item_col: str,
    rating_col: str | None = None,
    event_col: str | None = None,
    timestamp_col: str | None = None,
    category_col: str | None = None,
    sep: str | None = None,
    duplicates: str = "error",
    name: str | None = None,
    encoding: str | None = None,
    positive_threshold: float | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> BuiltDataset:
    """Import a CSV/TSV (with a header) or Parquet interaction log with a column mapping (see
    `data.csvlog`), saved to `out` if given. Empty optional columns are treated as absent.
    `encoding` None: UTF-8 if valid, else Latin-1; `positive_threshold` None: from the rating
    scale (`data.scale`). Dropped duplicates are listed in the result's `notes`.
    Raises RlrecError naming the file, line, column and the option that named the column."""
    from rlrec.data.importers import import_csv
    from rlrec.data.scale import check_threshold
    from rlrec.data.textio import check_encoding

    check_encoding(encoding)
    check_threshold(positive_threshold)
    check_output(out, force)
    separator = resolve_separator(sep)
    optional = (rating_col, event_col, timestamp_col, category_col)
    columns = dict(zip(LOG_OPTIONS[2:6], (c or None for c in optional), strict=True))

    def build(report: Progress) -> Dataset:
        return import_csv(
            path, user_col, item_col, **columns, sep=separator, name=name,
            duplicates=duplicates, progress=report, encoding=encoding or None,
            positive_threshold=positive_threshold,
        )  # fmt: skip

    return _build("imported", build, out, force, progress)


def open_dataset(path: str | Path, option: str | None = None) -> BuiltDataset:
    """A dataset folder saved earlier, checked against the schema (see `data.store`).
    RlrecError naming `option` (the parameter that gave `path`) if it is no folder."""
    from rlrec.data.store import load_dataset

    started = time.perf_counter()
    dataset = load_dataset(path, option)
    return BuiltDataset(dataset, Path(path), "opened", time.perf_counter() - started)


def require_dataset_folder(path: str | Path, option: str = "dataset") -> Path:
    """`path` if it is a folder; else RlrecError (option=`option`) saying it is missing or a
    file. A cheap check before loading or fitting anything."""
    from rlrec.data.store import require_dataset_folder as require

    return require(path, option)


def save_dataset(dataset: Dataset, out: str | Path, *, force: bool = False) -> Path:
    """Write `dataset` to the folder `out` atomically (temp folder, then rename); returns it.
    Raises RlrecError with option "out" if the folder is taken (see `check_output`)."""
    from rlrec.data.store import save_dataset as store

    return Path(store(dataset, out, force=force))


# -- looking at a dataset ---------------------------------------------------------------------
def describe_dataset(dataset: Dataset, path: str | Path | None = None) -> DatasetInfo:
    """Meta and EDA of a dataset already in memory."""
    from rlrec.data.eda import compute_eda

    meta = {k: v for k, v in dataset.meta.items() if not k.endswith("_feature_names")}
    where = str(path) if path is not None else BUILT_IN
    folder = Path(path) if path is not None else None
    return DatasetInfo(dataset, where, folder, meta, compute_eda(dataset))


def dataset_info(folder: str | Path | None = None) -> DatasetInfo:
    """Meta and EDA of the dataset in `folder`, or of the built-in default when None."""
    if folder is None:
        from rlrec.data import default_dataset

        return describe_dataset(default_dataset())
    return describe_dataset(open_dataset(folder).dataset, folder)


# -- split and calibrate ----------------------------------------------------------------------
def split_dataset_folder(
    folder: str,
    *,
    method: str = "per-user",
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    cold_user_fraction: float = 0.1,
    seed: int = 0,
) -> SplitResult:
    """Split the dataset in `folder` in time and store split.parquet + split.yaml beside it.

    The parameters are checked before the dataset is read (RlrecError naming the parameter).
    """
    from rlrec.data.split import SplitConfig, save_split, split_dataset

    config = SplitConfig(
        method=method,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        cold_user_fraction=cold_user_fraction,
        seed=seed,
    )
    config.validate()
    dataset = open_dataset(folder).dataset
    split = split_dataset(dataset, config)
    save_split(folder, split)
    summary = split.summary() | {"dataset": folder}
    total = summary["train"] + summary["validation"] + summary["test"]
    shares = {part: summary[part] / total for part in ("train", "validation", "test")}
    return SplitResult(folder, summary, shares)


def calibrate_dataset(folder: str) -> CalibrationReport:
    """Fit the simulator to the train part of the dataset in `folder` (its stored split, or
    the default one) and compare predicted with observed positive rates per decile: on
    held-out train pairs (the calibration target) and on the validation part. RlrecError
    when the fit's estimated peak memory exceeds what is available (see `check_fit_fits`)."""
    from rlrec.data.scale import positive_threshold
    from rlrec.data.split import part_view, split_for
    from rlrec.engine.truth.calibration import calibration_table
    from rlrec.engine.truth.fit import FitConfig, fit_simulator, labelled_pairs
    from rlrec.engine.usecases.training_memory import check_fit_fits

    check_fit_fits(folder)  # before reading: the fit's pairs may not fit
    dataset = open_dataset(folder).dataset
    threshold = positive_threshold(dataset.meta)
    split = split_for(dataset, folder)
    fitted = fit_simulator(dataset, split=split, config=FitConfig(positive_rating=threshold))
    held_out = calibration_table(fitted.truth, fitted.calibration_pairs)
    validation = labelled_pairs(part_view(dataset, split, "validation"), fitted.config)
    temporal = calibration_table(fitted.truth, validation)
    truth = fitted.truth
    explicit = fitted.pairs.feedback == "explicit"
    negatives = f"sampled unobserved pairs, {fitted.config.negative_ratio:g} per logged pair" + (
        f", plus logged pairs rated below {threshold:g}"
        if explicit
        else ", plus logged views without a click"
    )
    return CalibrationReport(
        dataset=folder,
        feedback=fitted.pairs.feedback,
        positive=f"rating >= {threshold:g}" if explicit else "click or purchase",
        negatives=negatives,
        alpha=truth.alpha,
        logit_scale=truth.logit_scale,
        logit_offset=truth.logit_offset,
        max_abs_gap=max(abs(r["predicted"] - r["observed"]) for r in held_out),
        deciles=held_out,
        validation_deciles=temporal,
        gaps={
            "deciles": [100 * (r["predicted"] - r["observed"]) for r in held_out],
            "validation_deciles": [100 * (r["predicted"] - r["observed"]) for r in temporal],
        },
    )
