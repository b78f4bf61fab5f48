"""A dataset on disk: one folder, written atomically, validated on load.

    users.parquet  items.parquet  interactions.parquet
    user_features.npy  item_features.npy  [user_latent.npy  item_latent.npy]
    meta.yaml

`save_dataset` writes into a hidden temporary folder beside the target and renames it into
place, so a crash or an error never leaves a half-written dataset. Nothing written depends on
the clock, so the same dataset gives byte-identical files. `load_dataset` checks the folder
against the schema in `data.dataset` and names the file, column and row (counted from 1) of the
first problem — NaN and infinity included: feature matrices, ratings and the numeric attributes
of users and items must be finite (a nullable integer column may leave a value unknown).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.data.errors import Option, RlrecError, require_file
from rlrec.data.files import atomic_folder, check_folder_target, folder_write_error
from rlrec.data.jsonsafe import json_safe
from rlrec.data.schema import EVENTS

TABLE_FILES = ("users.parquet", "items.parquet", "interactions.parquet")
FEATURE_FILES = ("user_features.npy", "item_features.npy")
LATENT_FILES = ("user_latent.npy", "item_latent.npy")
META_FILE = "meta.yaml"

# Required columns and the dtype each is stored and loaded as.
REQUIRED_COLUMNS: dict[str, dict[str, str]] = {
    "users.parquet": {"user_id": "int32", "original_id": "str"},
    "items.parquet": {"item_id": "int32", "original_id": "str", "category": "str"},
    "interactions.parquet": {
        "user_id": "int32",
        "item_id": "int32",
        "event": "str",
        "rating": "float32",
        "timestamp": "int64",
        "session_id": "int64",
    },
}
REQUIRED_META = ("name", "source", "schema_version", "user_feature_names", "item_feature_names")


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def save_dataset(ds: Dataset, path: str | os.PathLike, force: bool = False) -> Path:
    """Write `ds` as a dataset folder at `path`, atomically; returns the folder.

    Raises RlrecError (option "out") if `path` exists and `force` is false, or if it is not a
    dataset folder or an empty one (never replaces other files), or its parent is not writable.
    """
    target = Path(path)
    check_output_folder(target, force)
    try:
        return atomic_folder(target, lambda folder: _write_tables_and_arrays(ds, folder))
    except OSError as exc:
        raise folder_write_error(exc, target, "out") from None


def check_output_folder(target: Path, force: bool) -> None:
    """Fail before any work if `target` is taken: it exists without `force`, or `force` would
    replace something that is not a dataset folder (see `check_replaceable`), or a file
    stands where it or a parent folder would be (see `check_folder_target`)."""
    check_folder_target(target, "out")
    if target.exists() and not force:
        raise RlrecError(
            [
                Option("out", str(target)),
                ": folder exists (pass ",
                Option("force"),
                " to replace it)",
            ],
            file=target,
            option="out",
        )
    if target.exists():
        check_replaceable(target)


def check_replaceable(target: Path) -> None:
    """`force` replaces only a dataset folder or an empty one, never other files."""
    if not target.is_dir():
        raise RlrecError([Option("out", str(target)), ": exists and is not a folder"], file=target)
    if any(target.iterdir()) and not (target / META_FILE).is_file():
        raise RlrecError(
            [
                Option("out", str(target)),
                f": not an rlrec dataset folder (no {META_FILE}); refusing to replace it",
            ],
            file=target,
        )


def _write_tables_and_arrays(ds: Dataset, folder: Path) -> None:
    _write_table(ds.users, folder / "users.parquet")
    _write_table(ds.items, folder / "items.parquet")
    _write_table(ds.interactions, folder / "interactions.parquet")
    np.save(folder / "user_features.npy", np.ascontiguousarray(ds.user_features, np.float32))
    np.save(folder / "item_features.npy", np.ascontiguousarray(ds.item_features, np.float32))
    for name, latent in zip(LATENT_FILES, (ds.user_latent, ds.item_latent), strict=True):
        if latent is not None:
            np.save(folder / name, np.ascontiguousarray(latent, np.float32))
    meta = dict(ds.meta)
    meta.setdefault("name", folder.name)
    meta.setdefault("source", "unknown")
    meta["schema_version"] = SCHEMA_VERSION
    meta["n_users"] = ds.n_users
    meta["n_items"] = ds.n_items
    meta["n_interactions"] = len(ds.interactions)
    meta.setdefault("user_feature_names", [f"f{i}" for i in range(ds.user_features.shape[1])])
    meta.setdefault("item_feature_names", [f"f{i}" for i in range(ds.item_features.shape[1])])
    text = yaml.safe_dump(json_safe(meta), sort_keys=False, allow_unicode=True)
    (folder / META_FILE).write_text(text, encoding="utf-8")


# -- loading ----------------------------------------------------------------------------------


def require_dataset_folder(path: str | os.PathLike, option: str | None = None) -> Path:
    """`path` as a Path if it is a folder; else RlrecError saying it does not exist or is a
    file, naming `option` (the use-case parameter that gave the path, e.g. "dataset") when
    given: "--dataset afile: is a file, not a dataset folder"."""
    folder = Path(path)
    named: list[str | Option] = [str(folder) if option is None else Option(option, str(folder))]
    if not folder.exists():
        raise RlrecError([*named, ": no such dataset folder"], file=folder, option=option)
    if not folder.is_dir():
        what = "is a file" if folder.is_file() else "is not a folder"
        raise RlrecError(
            [*named, f": {what}, not a dataset folder (a dataset is a folder with {META_FILE})"],
            file=folder,
            option=option,
        )
    return folder


def load_dataset(path: str | os.PathLike, option: str | None = None) -> Dataset:
    """Read and validate a dataset folder; any problem is an RlrecError naming where it is
    (and `option`, the parameter that named the folder, when it is not a folder at all)."""
    folder = require_dataset_folder(path, option)
    for name in (META_FILE, *TABLE_FILES, *FEATURE_FILES):
        require_file(folder / name, "missing", "not a complete rlrec dataset folder")
    meta = _load_meta(folder / META_FILE)
    users = _load_table(folder / "users.parquet")
    items = _load_table(folder / "items.parquet")
    interactions = _load_table(folder / "interactions.parquet")
    _check_ids(folder / "users.parquet", users, "user_id")
    _check_ids(folder / "items.parquet", items, "item_id")
    _check_interactions(folder / "interactions.parquet", interactions, len(users), len(items))
    for name, frame in (("users.parquet", users), ("items.parquet", items)):
        _check_finite_columns(folder / name, frame)
    _check_finite_columns(folder / "interactions.parquet", interactions)
    user_features = _load_matrix(
        folder / "user_features.npy", len(users), meta["user_feature_names"]
    )
    item_features = _load_matrix(
        folder / "item_features.npy", len(items), meta["item_feature_names"]
    )
    latents = []
    for name, rows in zip(LATENT_FILES, (len(users), len(items)), strict=True):
        latents.append(
            _load_matrix(folder / name, rows, None) if (folder / name).exists() else None
        )
    if (latents[0] is None) != (latents[1] is None):
        raise RlrecError(
            f"{folder}: has only one of {LATENT_FILES[0]} and {LATENT_FILES[1]}", file=folder
        )
    user_latent, item_latent = latents
    if (
        user_latent is not None
        and item_latent is not None
        and (user_latent.shape[1] != item_latent.shape[1])
    ):
        raise RlrecError(
            f"{folder / LATENT_FILES[1]}: {item_latent.shape[1]} latent columns but "
            f"{LATENT_FILES[0]} has {user_latent.shape[1]}"
        )
    for key, actual in (
        ("n_users", len(users)),
        ("n_items", len(items)),
        ("n_interactions", len(interactions)),
    ):
        if key in meta and meta[key] != actual:
            raise RlrecError(
                f"{folder / META_FILE}: {key}: {meta[key]} but the table has {actual}",
                file=folder / META_FILE,
            )
    return Dataset(
        users=users,
        items=items,
        interactions=interactions,
        user_features=user_features,
        item_features=item_features,
        meta=meta,
        user_latent=latents[0],
        item_latent=latents[1],
    )


def _load_meta(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RlrecError(f"{path}: not valid YAML ({type(exc).__name__})", file=path) from None
    if not isinstance(meta, dict):
        raise RlrecError(
            f"{path}: expected a mapping of keys, got {type(meta).__name__}", file=path
        )
    for key in REQUIRED_META:
        if key not in meta:
            raise RlrecError(f"{path}: missing key {key!r}", file=path)
    if meta["schema_version"] != SCHEMA_VERSION:
        raise RlrecError(
            f"{path}: schema_version {meta['schema_version']!r} is not supported "
            f"(this rlrec reads {SCHEMA_VERSION})"
        )
    for key in ("user_feature_names", "item_feature_names"):
        if not isinstance(meta[key], list):
            raise RlrecError(f"{path}: {key} must be a list of names", file=path)
    return meta


def _load_table(path: Path) -> pd.DataFrame:
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise RlrecError(
            f"{path}: not a readable Parquet file ({type(exc).__name__})", file=path
        ) from None
    for column, dtype in REQUIRED_COLUMNS[path.name].items():
        if column not in frame.columns:
            raise RlrecError(f"{path}: missing column {column!r}", file=path)
        if dtype == "str":
            frame[column] = frame[column].astype(str)
            continue
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values):
            raise RlrecError(
                f"{path}: column {column!r} is {values.dtype}, expected {dtype}", file=path
            )
        if dtype.startswith("int") and values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
            raise RlrecError(
                f"{path}: row {row}: column {column!r} is empty", file=path, row=row, key=column
            )
        frame[column] = values.astype(dtype)
    return frame


def _check_ids(path: Path, frame: pd.DataFrame, column: str) -> None:
    ids = frame[column].to_numpy()
    wrong = np.flatnonzero(ids != np.arange(len(ids)))
    if len(wrong):
        index = int(wrong[0])
        raise RlrecError(
            f"{path}: row {index + 1}: {column} is {ids[index]}, expected {index} "
            "(ids are 0..n-1 in row order)",
            file=path,
            row=index + 1,
            key=column,
            value=ids[index],
        )


def _check_interactions(path: Path, frame: pd.DataFrame, n_users: int, n_items: int) -> None:
    for column, n in (("user_id", n_users), ("item_id", n_items)):
        ids = frame[column].to_numpy()
        bad = np.flatnonzero((ids < 0) | (ids >= n))
        if len(bad):
            index = int(bad[0])
            raise RlrecError(
                f"{path}: row {index + 1}: {column} {ids[index]} is outside 0..{n - 1}",
                file=path,
                row=index + 1,
                key=column,
                value=ids[index],
            )
    unknown = ~frame["event"].isin(EVENTS).to_numpy()
    if unknown.any():
        index = int(np.flatnonzero(unknown)[0])
        event = frame["event"].iloc[index]
        raise RlrecError(
            f"{path}: row {index + 1}: event {event!r} is not one of {', '.join(EVENTS)}",
            file=path,
            row=index + 1,
            key="event",
            value=event,
        )


# Columns where NaN has a meaning: a rating is NaN where the event has none.
NAN_ALLOWED = {"interactions.parquet": ("rating",)}


def _check_finite_columns(path: Path, frame: pd.DataFrame) -> None:
    """RlrecError naming the first row and column of `frame` (read from `path`) holding an
    infinity, or a NaN in a float column that gives it no meaning (see `NAN_ALLOWED`)."""
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue  # integers (nullable ones too, <NA> = unknown) are finite
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(array)
        if column not in NAN_ALLOWED.get(path.name, ()):
            bad |= np.isnan(array)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise RlrecError(
                f"{path}: row {index + 1}: column {column!r} is {_non_finite(array[index])} "
                "(numeric columns must hold finite numbers)",
                file=path,
                row=index + 1,
                key=str(column),
                value=float(array[index]),
            )


def _non_finite(value: float) -> str:
    return "NaN" if np.isnan(value) else ("-inf" if value < 0 else "inf")


def _load_matrix(path: Path, rows: int, names: list[Any] | None) -> np.ndarray:
    """The (rows, len(names)) float32 matrix in `path` (any width when `names` is None),
    every value finite."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RlrecError(
            f"{path}: not a readable .npy array ({type(exc).__name__})", file=path
        ) from None
    if matrix.ndim != 2:
        raise RlrecError(f"{path}: expected a 2-D array, got shape {matrix.shape}", file=path)
    if matrix.dtype.kind not in "biuf":
        raise RlrecError(f"{path}: holds {matrix.dtype} values, expected numbers", file=path)
    if matrix.shape[0] != rows:
        raise RlrecError(f"{path}: {matrix.shape[0]} rows but the table has {rows}", file=path)
    if names is not None and matrix.shape[1] != len(names):
        raise RlrecError(
            f"{path}: {matrix.shape[1]} columns but meta.yaml names {len(names)} features",
            file=path,
        )
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: infinity
        matrix = matrix.astype(np.float32, copy=False)
    # One float64 sum is finite exactly when every value is (NaN and infinity propagate).
    if not np.isfinite(matrix.sum(dtype=np.float64)):
        finite = np.isfinite(matrix)
        index, column = (int(i) for i in np.argwhere(~finite)[0])
        name = f" ({names[column]})" if names is not None else ""
        raise RlrecError(
            f"{path}: row {index + 1}, column {column + 1}{name}: "
            f"{_non_finite(float(matrix[index, column]))} (features must be finite numbers)",
            file=path,
            row=index + 1,
            key=str(names[column]) if names is not None else str(column),
            value=float(matrix[index, column]),
        )
    return matrix
