"""engine.metrics.moving_average: the smoothed return curve the TUI draws."""

import numpy as np

from rlrec.engine.evaluation.metrics import moving_average


def test_trailing_mean_with_short_start():
    out = moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 3)
    assert np.allclose(out, [1.0, 1.5, 2.0, 3.0, 4.0])


def test_window_one_is_identity_and_large_window_is_running_mean():
    values = np.array([3.0, -1.0, 4.0, 1.0])
    assert np.allclose(moving_average(values, 1), values)
    assert np.allclose(moving_average(values, 100), np.cumsum(values) / np.arange(1, 5))


def test_empty_and_bad_window():
    assert moving_average([], 5).size == 0
    assert np.allclose(moving_average([2.0, 4.0], 0), [2.0, 4.0])
