"""What will not fit is refused before anything is read or built: with the memory available
held at a small figure, importing a log (CSV, Parquet, MovieLens) and training (a new run, a
resumed one) each give one line with the estimate and the limit, exit 2, and write nothing;
with the machine's real figure the same small cases go through."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rlrec.data import memory
from rlrec.data.logtable import import_estimate
from tests.fixtures import save_tiny_dataset, train_tiny_run
from tests.test_cli_train import SMALL, rlrec

ROWS = "".join(f"u{i % 7},i{i % 11},{1 + i % 5},{1_600_000_000 + 60 * i}\n" for i in range(200))
LIMIT = 4096  # bytes "available": less than any real import or run needs
ONE_LINE = re.compile(
    r"^rlrec: error: .* needs about [\d.,]+ GiB .*, more than the 0\.0 GiB available"
)


@pytest.fixture
def tiny_limit(monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: LIMIT)


def _log_csv(folder: Path) -> Path:
    path = folder / "log.csv"
    path.write_text("user,item,rating,ts\n" + ROWS, encoding="utf-8")
    return path


def _log_parquet(folder: Path) -> Path:
    path = folder / "log.parquet"
    frame = pd.read_csv(_log_csv(folder))
    frame.to_parquet(path)
    return path


def _movielens_latest(folder: Path) -> Path:
    ml = folder / "ml-latest"
    ml.mkdir()
    ratings = "".join(
        f"{1 + i % 7},{1 + i % 11},{1 + i % 5}.0,{1_600_000_000 + 60 * i}\n" for i in range(200)
    )
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + ratings)
    movies = "".join(f"{k},Movie {k} (1999),Drama\n" for k in range(1, 12))
    (ml / "movies.csv").write_text("movieId,title,genres\n" + movies)
    return ml


def _import_argv(kind: str, tmp_path: Path) -> list:
    mapping = ["--user-col", "user", "--item-col", "item", "--rating-col", "rating"]
    if kind == "csv":
        return ["import", "csv", _log_csv(tmp_path), *mapping]
    if kind == "parquet":
        return ["import", "csv", _log_parquet(tmp_path), *mapping]
    return ["import", "movielens", _movielens_latest(tmp_path)]


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert ONE_LINE.match(lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", ["csv", "parquet", "movielens"])
def test_an_import_that_would_not_fit_is_refused_before_reading(kind, tmp_path, monkeypatch):
    argv = _import_argv(kind, tmp_path)
    out = tmp_path / "ds"
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: LIMIT)
    outcome = rlrec(*argv, "--out", out)
    assert outcome.returncode == 2 and outcome.stdout == ""
    line = _one_line(outcome.stderr)
    named = "ratings.csv" if kind == "movielens" else Path(argv[2]).name
    assert named in line and "rows of" in line and "to import" in line
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("kind", ["csv", "parquet", "movielens"])
def test_the_same_import_goes_through_with_the_real_limit(kind, tmp_path):
    outcome = rlrec(*_import_argv(kind, tmp_path), "--out", tmp_path / "ds")
    assert outcome.returncode == 0, outcome.stderr
    assert (tmp_path / "ds" / "meta.yaml").is_file()


def test_the_estimate_reads_rows_and_columns_without_reading_the_file(tmp_path):
    """Text: rows from the file size and a sampled first chunk; Parquet: from its metadata."""
    csv = tmp_path / "big.csv"
    csv.write_text("a;b;c\n" + "".join(f"{i:06d};{i % 3};x\n" for i in range(300_000)))
    rows, columns, need = import_estimate(csv)
    assert columns == 3 and abs(rows - 300_000) < 300_000 * 0.01 and need > 0
    rows, columns, _ = import_estimate(_log_parquet(tmp_path))
    assert (rows, columns) == (200, 4)
    assert import_estimate(tmp_path / "missing.csv") == (0, 0, 0)


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def test_a_run_that_would_not_fit_is_refused_before_its_folder_exists(
    tmp_path, small_config, tiny_limit
):
    dataset = save_tiny_dataset(tmp_path / "ds")
    runs = tmp_path / "runs"
    outcome = rlrec(
        "train", "--config", small_config, "--dataset", dataset, "--steps", 64, "--out", runs
    )
    assert outcome.returncode == 2 and outcome.stdout == ""
    assert "to train (" in _one_line(outcome.stderr)
    assert not runs.exists()


def test_a_large_dataset_is_named_with_its_sizes(tmp_path, small_config):
    """Only meta.yaml is read: 1M users x 100k items with 500M interactions names the dataset
    and its sizes and estimates the fit's pairs (tens of GiB) without building them."""
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.engine.usecases.training_memory import check_training_fits, training_memory

    folder = tmp_path / "big"
    folder.mkdir()
    meta = {"n_users": 1_000_000, "n_items": 100_000, "n_interactions": 500_000_000}
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))
    config = resolve_run_config(config_file=small_config, dataset=folder)
    estimate = training_memory(config)
    assert estimate.key == "dataset"
    assert 5e10 < estimate.parts["fit"] < 1e12  # O(rows): not the 10^11 users x items cells
    from rlrec.data.errors import RlrecError

    with pytest.raises(RlrecError, match=r"1,000,000 users × 100,000 items\) needs about") as err:
        check_training_fits(config)
    assert err.value.option == "dataset" and str(folder.resolve()) in str(err.value)


def test_the_driver_named_is_the_largest_part(tmp_path, small_config, monkeypatch):
    """A replay buffer far larger than the rest names agent.replay_size (the CLI's words)."""
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 200 * 2**20)
    runs = tmp_path / "runs"
    outcome = rlrec(
        "train", "--preset", "seed-classic", "--steps", 64, "--out", runs,
        "--config", _with(small_config, agent={"replay_size": 5_000_000}),
    )  # fmt: skip
    assert outcome.returncode == 2
    assert "agent.replay_size 5,000,000 needs about" in _one_line_any(outcome.stderr)
    assert not runs.exists()


def _with(config: Path, **sections) -> Path:
    raw = yaml.safe_load(config.read_text())
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    path = config.with_name("changed.yaml")
    path.write_text(yaml.safe_dump(raw))
    return path


def _one_line_any(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_resume_or_eval_that_would_not_fit_is_refused_and_leaves_the_run_as_it_was(
    tmp_path, monkeypatch
):
    dataset = save_tiny_dataset(tmp_path / "ds")
    run = tmp_path / "run"
    train_tiny_run(dataset, run, steps=256)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: LIMIT)
    outcome = rlrec("resume", run, "--steps", 64)
    assert outcome.returncode == 2
    assert "to train (" in _one_line(outcome.stderr)
    # Evaluating it builds the same simulators and agent (no replay buffer): refused alike.
    outcome = rlrec("eval", run, "--episodes", 8)
    assert outcome.returncode == 2 and outcome.stdout == ""
    assert "to evaluate (" in _one_line(outcome.stderr)
    assert "replay buffer" not in outcome.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_the_train_use_case_refuses_what_the_tui_starts(tmp_path, small_config, tiny_limit):
    """The TUI's Train pane starts runs through `start_training`: the same one error, with
    the `key` of the largest part for the form to mark, and no run folder."""
    from rlrec.data.errors import RlrecError
    from rlrec.engine.usecases.training import resolve_run_config, start_training

    dataset = save_tiny_dataset(tmp_path / "ds")
    config = resolve_run_config(config_file=small_config, dataset=dataset)
    with pytest.raises(RlrecError, match="more than the 0.0 GiB available") as err:
        start_training(config, run_dir=tmp_path / "runs" / "r1")
    assert err.value.key == "agent.replay_size"  # the largest part of a tiny run
    assert not (tmp_path / "runs").exists()


def test_a_small_run_fits_with_the_real_limit(tmp_path, small_config):
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.engine.usecases.training_memory import check_training_fits, training_memory

    dataset = save_tiny_dataset(tmp_path / "ds")
    config = resolve_run_config(config_file=small_config, dataset=dataset)
    estimate = training_memory(config)
    assert 0 < estimate.peak < memory.available_memory_bytes()
    assert estimate.parts["simulators"] > 0 and estimate.parts["replay buffer"] > 0
    check_training_fits(config)  # does not raise


def test_calibrate_refuses_a_fit_that_would_not_fit(tmp_path, tiny_limit):
    dataset = save_tiny_dataset(tmp_path / "ds")
    before = sorted(p.name for p in dataset.iterdir())
    outcome = rlrec("calibrate", dataset)
    assert outcome.returncode == 2 and outcome.stdout == ""
    line = _one_line(outcome.stderr)
    assert f"dataset {dataset}" in line and "to fit a simulator to it" in line
    assert sorted(p.name for p in dataset.iterdir()) == before


def test_the_train_pane_shows_the_one_line_and_leaves_no_run_folder(tmp_path, monkeypatch):
    """The TUI's Train pane starts the real engine: the refusal is its one line in the error
    dialog, and the run folder the pane prepared is gone again."""
    from rlrec.engine.usecases.training import resolve_run_config
    from rlrec.tui.panes import train as train_module
    from rlrec.tui.widgets.error_dialog import ErrorDialog
    from tests.tui.fake_trainer import app_without_dataset, screen_text, sync, wait_for

    config = resolve_run_config("seed-classic", overrides=SMALL)
    monkeypatch.setattr(train_module.TrainPane, "load_config", lambda self, p, o: config)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: LIMIT)
    runs = tmp_path / "runs"
    runs.mkdir()

    @sync
    async def drive() -> None:
        async with app_without_dataset(monkeypatch, runs, (160, 48)) as (app, pilot):
            pane = app.query_one(train_module.TrainPane)
            await wait_for(pilot, lambda: pane._form_built)
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), timeout=30)
            text = " ".join(screen_text(app).split())  # the dialog wraps the line
            assert "Cannot train" in text and "Traceback" not in text
            assert re.search(
                r"env.n_users 1,000 × env.n_items 500 needs about [\d.]+ GiB to train", text
            )

    drive()
    assert list(runs.iterdir()) == []


def test_a_generate_that_would_not_fit_is_refused_before_writing(tmp_path, tiny_limit):
    """The size asked for is named with the estimate and the limit; no folder is made."""
    out = tmp_path / "gen"
    outcome = rlrec("generate", "--users", 2000, "--items", 500, "--out", out)
    assert outcome.returncode == 2 and outcome.stdout == ""
    line = _one_line(outcome.stderr)
    assert "--users 2,000" in line and "500 items" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["baselines", "ab"])
def test_simulating_a_dataset_that_would_not_fit_is_refused_before_reading_it(
    command, tmp_path, monkeypatch
):
    """`baselines --dataset` and `ab --dataset` build the dataset's simulator (fitting its
    truth to an imported log): refused with the dataset's sizes, before it is loaded."""
    from rlrec.data import store

    dataset = save_tiny_dataset(tmp_path / "ds")
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    argv = {
        "baselines": ["baselines", "--dataset", dataset, "--episodes", 8, "--policies", "random"],
        "ab": ["ab", "popular", "random", "--dataset", dataset, "--users", 20],
    }[command]
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: LIMIT)
    loaded = []
    monkeypatch.setattr(store, "load_dataset", lambda *a, **k: loaded.append(a))
    outcome = rlrec(*argv)
    assert outcome.returncode == 2 and outcome.stdout == ""
    line = _one_line(outcome.stderr)
    assert f"dataset {dataset} (60 users × 80 items)" in line and "to simulate" in line
    assert loaded == []
    assert {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()} == before


def test_simulating_a_small_dataset_goes_through_with_the_real_limit(tmp_path):
    dataset = save_tiny_dataset(tmp_path / "ds")
    outcome = rlrec("ab", "popular", "random", "--dataset", dataset, "--users", 20, "--json")
    assert outcome.returncode == 0, outcome.stderr
