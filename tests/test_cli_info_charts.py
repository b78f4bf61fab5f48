"""`rlrec info` charts tell the truth: the chart text is read back and every bar's length is
checked against its count; many distinct ratings are binned with the most frequent visible;
the output does not depend on the terminal's height; a log without timestamps shows no
dates."""

import re

import numpy as np
import pandas as pd
import pytest

from rlrec.cli.data_plots import PARTIAL_BLOCKS, bar_chart
from rlrec.cli.main import main
from rlrec.data.eda import bar_lengths

ROW = re.compile(r"^\s*(?P<label>.*) \((?P<count>[\d,]+)\) │(?P<bar>[█▏▎▍▌▋▊▉]*)$")


def read_chart(text: str, title: str) -> list[tuple[str, int, int]]:
    """(label, count, bar length in eighths) for each row of the chart titled `title`."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    rows = []
    for line in lines[start:]:
        match = ROW.match(line)
        if not match:
            break
        bar = match["bar"]
        eighths = 8 * bar.count("█") + sum(PARTIAL_BLOCKS.index(c) for c in bar if c != "█")
        rows.append((match["label"], int(match["count"].replace(",", "")), eighths))
    return rows


def assert_proportional(rows: list[tuple[str, int, int]]) -> None:
    largest_count = max(count for _, count, _ in rows)
    largest_bar = max(eighths for _, _, eighths in rows)
    for label, count, eighths in rows:
        expected = largest_bar * count / largest_count
        # Rounded to the nearest eighth; a non-zero count is never drawn empty.
        assert abs(eighths - expected) <= 0.5 or (count and eighths == 1 and expected < 1), label


def run_info(capsys, folder, env_lines=None, monkeypatch=None):
    if env_lines is not None:
        monkeypatch.setenv("LINES", str(env_lines))
    assert main(["info", str(folder)]) == 0
    return capsys.readouterr().out


def _import(capsys, tmp_path, frame: pd.DataFrame, *mapping: str) -> str:
    log = tmp_path / "log.csv"
    frame.to_csv(log, index=False)
    folder = tmp_path / "ds"
    argv = ["import", "csv", str(log), *mapping, "--out", str(folder), "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    return folder


@pytest.mark.parametrize("width", [40, 72, 100, 120])
def test_bars_are_proportional_at_any_width(width):
    counts = [60, 30, 15, 8, 4, 1, 0]
    labels = ["1", "2", "3", "4", "5", "6", "7"]
    rows = read_chart(bar_chart("Ratings", labels, counts, width, color=False), "Ratings")
    assert [count for _, count, _ in rows] == counts
    assert_proportional(rows)
    assert rows[1][2] * 2 == rows[0][2]  # "2 (30)" is half as long as "1 (60)"
    assert rows[-1][2] == 0 and rows[-2][2] >= 1


def test_bar_lengths_in_eighths():
    assert bar_lengths([60, 30, 1, 0], 10) == [80, 40, 1, 0]
    assert bar_lengths([], 10) == [] and bar_lengths([0, 0], 10) == [0, 0]


def test_ratings_chart_from_a_csv_reads_true(tmp_path, capsys):
    ratings = [1] * 60 + [2] * 30 + [3] * 15 + [4] * 8 + [5] * 4
    frame = pd.DataFrame({"user": range(117), "item": range(117), "rating": ratings})
    folder = _import(capsys, tmp_path, frame, "--user-col", "user", "--item-col", "item",
                     "--rating-col", "rating")  # fmt: skip
    rows = read_chart(run_info(capsys, folder), "Ratings")
    assert [(label, count) for label, count, _ in rows] == [
        ("1", 60), ("2", 30), ("3", 15), ("4", 8), ("5", 4)]  # fmt: skip
    assert_proportional(rows)


def test_play_counts_are_binned_deterministically_without_dates(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    weights = [1] * 60 + sorted(rng.choice(np.arange(74, 11138), 300, replace=False).tolist())
    frame = pd.DataFrame(
        {"userID": np.arange(360) % 20, "artistID": np.arange(360), "weight": weights}
    )
    folder = _import(capsys, tmp_path, frame, "--user-col", "userID", "--item-col",
                     "artistID", "--rating-col", "weight")  # fmt: skip
    text = run_info(capsys, folder)
    rows = read_chart(text, "Ratings")
    assert sum(count for _, count, _ in rows) == 360  # every value is in some bar
    assert rows[0][0].startswith("1–") and rows[0][1] == 60  # the most frequent, visible
    assert_proportional(rows)
    assert "1970" not in text
    assert "time range    row order (the log has no timestamps)" in text
    assert run_info(capsys, folder, 50, monkeypatch) == text
    assert run_info(capsys, folder, 10, monkeypatch) == text


def test_every_chart_of_a_generated_dataset_reads_true(tmp_path, capsys):
    assert main(["generate", "--users", "200", "--items", "60", "--out", str(tmp_path / "g")]) == 0
    capsys.readouterr()
    text = run_info(capsys, tmp_path / "g")
    titles = [line for line in text.splitlines() if line and line[0].isupper() and "│" not in line]
    charted = [t for t in titles if read_chart(text, t)]
    assert len(charted) == 7
    for title in charted:
        assert_proportional(read_chart(text, title))
