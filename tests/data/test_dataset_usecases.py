"""The dataset use cases both faces call (engine.usecases.datasets)."""

from __future__ import annotations

import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.usecases import datasets
from tests.data.ml_fixtures import write_csv_log, write_ml100k


def test_generate_reports_progress_and_saves(tmp_path):
    seen = []
    result = datasets.generate_dataset(
        30, 20, 1, out=tmp_path / "ds", progress=lambda f, m: seen.append(f)
    )
    assert result.path == tmp_path / "ds" and (result.path / "meta.yaml").exists()
    assert result.what == "generated" and result.dataset.n_users == 30
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1 - datasets.SAVE_SHARE)
    summary = result.summary()
    assert summary["n_items"] == 20 and summary["path"] == str(tmp_path / "ds")


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [({"n_users": 0}, "n_users"), ({"n_items": -1}, "n_items"), ({"seed": -3}, "seed")],
)
def test_generate_checks_parameters_before_any_work(kwargs, option):
    calls = []
    with pytest.raises(RlrecError) as caught:
        datasets.generate_dataset(**kwargs, progress=lambda f, m: calls.append(f))
    assert caught.value.option == option and calls == []


def test_taken_output_folder_fails_first_and_names_out(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(RlrecError) as caught:
        datasets.import_movielens_dataset(write_ml100k(tmp_path / "ml"), out=tmp_path / "taken")
    assert caught.value.option == "out"
    assert str(caught.value).endswith("folder exists (pass force to replace it)")


def test_csv_separator_names_are_accepted_and_bad_ones_name_sep(tmp_path):
    log = write_csv_log(tmp_path / "log.csv")
    result = datasets.import_log_dataset(log, user_col="visitor", item_col="product", sep="comma")
    assert result.dataset.n_users > 0 and result.path is None
    with pytest.raises(RlrecError) as caught:
        datasets.import_log_dataset(log, user_col="visitor", item_col="product", sep="::")
    assert caught.value.option == "sep"


def test_open_describe_and_split(tmp_path):
    datasets.generate_dataset(60, 30, 2, out=tmp_path / "ds")
    info = datasets.dataset_info(tmp_path / "ds")
    assert info.where == str(tmp_path / "ds") and info.eda["counts"]["users"] == 60
    assert not any(key.endswith("_feature_names") for key in info.meta)
    split = datasets.split_dataset_folder(str(tmp_path / "ds"), test_fraction=0.3)
    assert sum(split.shares.values()) == pytest.approx(1.0)
    assert (tmp_path / "ds" / "split.parquet").exists()
    with pytest.raises(RlrecError) as caught:
        datasets.split_dataset_folder(str(tmp_path / "ds"), test_fraction=1.5)
    assert caught.value.option == "test_fraction"
