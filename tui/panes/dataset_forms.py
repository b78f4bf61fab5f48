"""The Dataset pane's forms: one per source (generate, MovieLens, CSV, open) and the save form.

Field keys are the dataset use cases' parameter names (`n_users`, `item_col`, …), the names an
`RlrecError` carries in `option`, so an error lands beside the right field
(`ValidatedForm.field_for`).
"""

from __future__ import annotations

from pathlib import Path

from rlrec.tui.widgets.forms import (
    ValidatedForm,
    choice_field,
    float_field,
    int_field,
    path_field,
    text_field,
)


def _check_movielens_folder(path: Path) -> None:
    """The use case's own test, so the message matches `rlrec import movielens`."""
    from rlrec.engine.usecases.datasets import check_movielens_folder

    check_movielens_folder(path)


def _check_encoding(encoding: str) -> None:
    """The data layer's test, so the message matches `rlrec import csv --encoding`."""
    from rlrec.data.textio import check_encoding

    check_encoding(encoding)


def generate_form() -> ValidatedForm:
    """The synthetic generator: sizes, seed and log density (names match the generator's
    messages)."""
    from rlrec.engine.usecases.datasets import ACTIVITY_RANGE, MAX_ITEMS, MAX_USERS

    return ValidatedForm(
        int_field("n_users", "users", 1000, low=1, high=MAX_USERS, id="gen-users"),
        int_field("n_items", "items", 500, low=1, high=MAX_ITEMS, id="gen-items"),
        int_field("seed", "seed", 42, low=0, id="gen-seed"),
        float_field(
            "activity",
            "activity",
            1.0,
            low=ACTIVITY_RANGE[0],
            high=ACTIVITY_RANGE[1],
            id="gen-activity",
            help="interactions per user, relative to the default (means 5 / 20 / 50)",
        ),
        text_field(
            "name",
            "name",
            optional=True,
            id="gen-name",
            help="dataset name (default: synthetic-UxI-seedS)",
        ),
        id="form-generate",
    )


def movielens_form() -> ValidatedForm:
    """A MovieLens folder (100K, 1M, or a ratings.csv + movies.csv release: ml-latest,
    ml-latest-small, ml-20m, ml-25m), checked by the data layer as it is typed."""
    return ValidatedForm(
        path_field(
            "path",
            "folder",
            kind="dir",
            check=_check_movielens_folder,
            id="ml-path",
            help="MovieLens folder: 100K, 1M, ml-latest(-small), ml-20m or ml-25m",
        ),
        id="form-movielens",
    )


def csv_form() -> ValidatedForm:
    """A CSV/Parquet log and its column mapping (names match the importer's flags)."""
    return ValidatedForm(
        path_field(
            "path",
            "file",
            kind="file",
            id="csv-path",
            help="CSV or Parquet interaction log",
        ),
        text_field("user_col", "user column", "user_id", id="csv-user"),
        text_field("item_col", "item column", "item_id", id="csv-item"),
        text_field("rating_col", "rating column", optional=True, id="csv-rating"),
        text_field("event_col", "event column", optional=True, id="csv-event"),
        text_field("timestamp_col", "time column", optional=True, id="csv-time"),
        text_field(
            "sep",
            "separator",
            optional=True,
            id="csv-sep",
            help="field separator; empty = detect",
        ),
        text_field(
            "encoding",
            "encoding",
            optional=True,
            check=_check_encoding,
            id="csv-encoding",
            help="text encoding; empty = UTF-8 if valid, else Latin-1",
        ),
        float_field(
            "positive_threshold",
            "positive at",
            optional=True,
            id="csv-positive",
            help="ratings at or above count as positive; empty = from the rating scale",
        ),
        id="form-csv",
    )


def open_form() -> ValidatedForm:
    """A dataset folder saved earlier."""
    return ValidatedForm(
        path_field(
            "path",
            "folder",
            kind="dir",
            id="open-path",
            help="a dataset folder written by rlrec",
        ),
        id="form-open",
    )


def save_form() -> ValidatedForm:
    """Where to keep the result, and whether to replace a folder that exists."""
    return ValidatedForm(
        path_field(
            "save_to",
            "save to",
            must_exist=False,
            optional=True,
            id="save-to",
            help="folder to write the dataset to (optional)",
        ),
        choice_field("overwrite", "overwrite", [False, True], False, id="save-overwrite"),
        id="form-save",
    )
