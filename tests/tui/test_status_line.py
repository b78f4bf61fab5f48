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
