"""The Train status packs whole parts, most wanted first, into the lines it has."""

from __future__ import annotations

from rlrec.tui.widgets.status import pack_parts

PARTS = ["40,960 steps", "4,096 steps/s", "ETA 0:12", "return 7.15", "CTR 0.639"]


def test_parts_fill_lines_whole_and_in_order():
    assert pack_parts(PARTS, 40, 2) == [
        "40,960 steps · 4,096 steps/s · ETA 0:12",
        "return 7.15 · CTR 0.639",
    ]


def test_what_does_not_fit_is_left_out_from_the_first_part_that_does_not():
    # "CTR 0.639" fits on no line left: it (and all after it) is left out, never cut.
    assert pack_parts(PARTS, 30, 2) == ["40,960 steps · 4,096 steps/s", "ETA 0:12 · return 7.15"]
    assert pack_parts(PARTS, 30, 1) == ["40,960 steps · 4,096 steps/s"]
    assert pack_parts(PARTS, 200, 1) == [" · ".join(PARTS)]


def test_a_part_wider_than_the_line_is_cut_and_no_width_shows_nothing():
    assert pack_parts(["a very long part"], 6, 1) == ["a very"]
    assert pack_parts(PARTS, 0, 2) == []


def test_a_finished_first_run_keeps_its_step_count_time_and_score_whole_at_80_columns():
    from rlrec.engine.training.events import RunFinished
    from rlrec.tui.widgets.status import finish_parts

    event = RunFinished(reason="budget", env_steps=2_000_896, updates=15_632, seconds=60.2)
    sentence, parts = finish_parts(event, 1.16)
    assert sentence == "finished (budget) after 2,000,896 steps in 1:00 · eval norm 1.16"
    # The Train status line at 80×24 is 45 columns by 2 lines (with the explore hint after).
    lines = pack_parts([*parts, "e or 3: explore it"], 45, 2)
    assert lines == [
        "finished (budget) · 2,000,896 steps in 1:00",
        "eval norm 1.16 · e or 3: explore it",
    ]
    stopped = RunFinished(reason="diverged", env_steps=10, updates=1, seconds=1, message="loss nan")
    assert finish_parts(stopped, 0.5) == (
        "finished (diverged) after 10 steps in 0:01: loss nan",
        ["finished (diverged) after 10 steps in 0:01: loss nan"],
    )
