"""The charts' env-steps axis: round ticks labelled as whole steps, thousands and millions
short (`500k`, `1.2M`), on every chart of the Train pane, never plotext's raw floats."""

from __future__ import annotations

import re

import pytest

from rlrec.engine.training.events import Progress, References
from rlrec.tui.widgets.charts import CurveChart
from rlrec.tui.widgets.step_axis import format_steps, format_value, round_ticks, step_ticks
from tests.tui.fake_trainer import screen_text, sync, train_app

# A tick label as the charts write it: 950, 40k, 1.5k, 1.2M, 2B, or a comma-grouped whole
# number where the span is too short for a short form.
Y_TICK = re.compile(r"(-?\d[\d.]*[kMB]?)┤")
TICK_LABEL = re.compile(r"^(\d{1,3}(\.\d{1,2})?[kMB]?|\d{1,3}(,\d{3})+)$")


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (950, None, "950"),
        (40_000, 10_000, "40k"),
        (1_500, 500, "1.5k"),
        (500_000, 500_000, "500k"),
        (1_200_000, 200_000, "1.2M"),
        (2_000_000_000, 1e9, "2B"),
        (1_000_050, 50, "1,000,050"),
    ],
)
def test_steps_are_written_short(value, step, text):
    assert format_steps(value, step) == text


def test_ticks_are_round_steps_inside_the_span():
    assert step_ticks(1024, 40_960, 4) == [10_000, 20_000, 30_000, 40_000]
    assert step_ticks(1_000, 1_234_567, 4) == [500_000, 1_000_000]
    assert step_ticks(0, 3, 10) == [0, 1, 2, 3]  # whole steps, never fractions
    assert step_ticks(7, 7, 4) == [7]


def test_value_ticks_are_round_with_the_decimals_their_spacing_needs():
    assert round_ticks(0.05, 1.0, 5) == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert round_ticks(4.4, 34.2, 4) == [10, 20, 30]
    assert round_ticks(0.0012, 0.0093, 3) == [0.002, 0.006]  # never a lone tick
    assert round_ticks(0.3, 0.3, 4) == [0.3]
    assert [format_value(v, 0.2) for v in (0.2, 1.0)] == ["0.2", "1.0"]
    assert [format_value(v, 10) for v in (10, 30)] == ["10", "30"]
    assert format_value(32_500, 500) == "32.5k"
    assert format_value(32_560.3) == "32.6k"  # a flat line's single tick, written short


def _number(label: str) -> float:
    scale = {"k": 1e3, "M": 1e6, "B": 1e9}.get(label[-1], 1.0)
    return float(label.rstrip("kMB")) * scale


def progress(steps: int) -> Progress:
    return Progress(
        env_steps=steps,
        updates=steps // 4,
        episodes=steps // 10,
        seconds=steps / 1000,
        episode_return=5.0 + steps / 1e6,
        episode_length=10.0,
        ctr=0.4 + steps / 1e7,
        epsilon=max(0.05, 1 - steps / 1e6),
        loss=0.5 - steps / 1e7,
        learning_rate=1e-3,
        steps_per_second=4321.0,
        fraction_done=steps / 1_240_000,
        eta_seconds=1.0,
    )


@sync
async def test_every_chart_labels_env_steps_short_at_160x48(tmp_path, monkeypatch):
    # Steps that do not fall on round numbers: plotext's own ticks would be raw floats.
    async with train_app(monkeypatch, tmp_path, (160, 48)) as t:
        pane = t.pane
        events = [References(random_return=4.0, oracle_return=9.0)]
        events += [progress(1_003 + w * 30_863) for w in range(40)]
        pane.store.extend(events)
        pane.replot_visible(force=True)
        await t.pilot.pause(0.2)
        text = screen_text(t.app).splitlines()
        charts = [c for c in pane.query(CurveChart) if c.display]
        assert len(charts) == 6  # return, ε, loss, CTR, steps/s, learning rate
        for chart in charts:
            region = chart.region
            rows = [line[region.x : region.right] for line in text[region.y : region.bottom]]
            frame = max(i for i, row in enumerate(rows) if "└" in row)
            labels = rows[frame + 1].split()
            assert len(labels) >= 2, (chart.title, rows[frame + 1])
            assert all(TICK_LABEL.match(label) for label in labels), (chart.title, labels)
            assert labels[-2:] == ["500k", "1M"], (chart.title, labels)
            # The y labels (left of ┤) are round: multiples of their spacing, no raw floats.
            values = [_number(m.group(1)) for row in rows if (m := Y_TICK.search(row))]
            assert values, (chart.title, rows)
            if len(values) > 1:
                step = abs(values[0] - values[1])
                assert all(abs(v / step - round(v / step)) < 1e-6 for v in values), values
