"""Simulated A/B tests: a real difference is found, a policy against itself mostly is not,
and the statistics agree with textbook values."""

import math

import numpy as np
import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.evaluation.ab import (
    ratio_with_se,
    run_ab,
    student_t_two_sided_p,
    two_proportion_z_test,
    welch_t_test,
)


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (2.0, 10, 0.07339),
        (1.0, 3, 0.39100),
        (2.5758, 1e6, 0.01),
        (0.0, 5, 1.0),
        (12.0, 4, 0.00027643),
    ],
)
def test_student_t_tail_matches_tables(t, df, p):
    assert student_t_two_sided_p(t, df) == pytest.approx(p, rel=2e-3)


def test_welch_test_on_known_samples():
    a = np.array([19.1, 21.3, 20.4, 18.7, 22.0])
    b = np.array([23.5, 24.1, 22.8, 25.0, 23.9, 24.4])
    result = welch_t_test(a, b)
    # By hand: diff 3.9833, se = sqrt(var_a/5 + var_b/6).
    se = math.sqrt(a.var(ddof=1) / 5 + b.var(ddof=1) / 6)
    assert result["difference"] == pytest.approx(b.mean() - a.mean())
    assert result["t"] == pytest.approx((b.mean() - a.mean()) / se)
    assert 5 < result["df"] < 7
    # Independent check: integrate the Student t density numerically.
    df, t = result["df"], result["t"]
    x = np.linspace(t, 4000.0, 2_000_001)
    density = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    tail = 2 * np.trapezoid(density * (1 + x * x / df) ** (-(df + 1) / 2), x)
    assert result["p_value"] == pytest.approx(tail, rel=1e-3)


def test_ctr_test_uses_users_as_the_unit():
    rng = np.random.default_rng(0)
    shown = rng.integers(1, 40, size=500)
    clicks = rng.binomial(shown, 0.3)
    ctr, se = ratio_with_se(clicks, shown)
    assert ctr == pytest.approx(clicks.sum() / shown.sum())
    assert 0 < se < 0.01
    same = two_proportion_z_test(clicks, shown, clicks, shown)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    better = rng.binomial(shown, 0.36)
    assert two_proportion_z_test(clicks, shown, better, shown)["p_value"] < 0.01


def test_known_difference_between_two_baselines_is_found():
    report = run_ab("random", "oracle", users=600, seed=1)
    a, b = report["arms"]
    assert (a["policy"], b["policy"]) == ("random", "oracle")
    assert b["return"] > a["return"] and b["ctr"] > a["ctr"]
    assert report["return_difference"]["p_value"] < 0.01
    assert report["ctr_difference"]["p_value"] < 0.01
    assert a["return_ci95"][0] < a["return"] < a["return_ci95"][1]


def test_a_policy_against_itself_is_mostly_not_significant():
    p_values = [
        run_ab("popular", "popular", users=300, seed=seed)["return_difference"]["p_value"]
        for seed in range(8)
    ]
    assert sum(p > 0.05 for p in p_values) >= 6, p_values
    ctr_p = [
        run_ab("popular", "popular", users=300, seed=seed)["ctr_difference"]["p_value"]
        for seed in range(8)
    ]
    assert sum(p > 0.05 for p in ctr_p) >= 6, ctr_p


def test_an_arm_that_is_neither_run_nor_baseline_is_a_one_line_error(tmp_path):
    with pytest.raises(RlrecError, match="neither a run folder nor a baseline"):
        run_ab("random", str(tmp_path / "nope"), users=10)
    with pytest.raises(RlrecError, match="users = 2 is out of range") as error:
        run_ab("random", "popular", users=2)
    # The engine names the parameter; each face spells it (the CLI as --users).
    assert error.value.option == "users" and error.value.allowed == (4, None)
