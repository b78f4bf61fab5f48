"""Simulated A/B test: two policies (a run folder or a baseline name) serve disjoint random
halves of simulated traffic; CTR and return per arm with 95 % CIs and p-values.

Each arm gets its own copy of the same simulator (same hidden truth and env config) with
`users` sessions; every session is a user drawn at random from the population, so the arms
are two independent random samples of users — the randomised assignment of a real A/B test.
Each user is observed for exactly one session. Per-user returns are compared with Welch's
t-test; CTR (engagements / impressions) with a two-proportion z-test whose variance treats the user,
not the impression, as the unit (delta method): impressions within a session are not
independent, and the textbook pooled test finds spurious differences between a policy and
itself.

The statistics are implemented with `math` (no scipy): the Student t tail comes from the
regularised incomplete beta function by its continued fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlrec.data.errors import Option, RlrecError
from rlrec.engine.evaluation.metrics import mean_ci95
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.registry import SIMULATION_BASELINES, build_for_simulation
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.sim.rollout import rollout
from rlrec.engine.sim.sibling import sibling_simulator

# -- statistics -------------------------------------------------------------------------------


def normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def regularised_incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with `df` degrees of freedom."""
    if not math.isfinite(t):
        return 0.0 if not math.isnan(t) else float("nan")
    return regularised_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def welch_t_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Difference of means mean(b) − mean(a), Welch's t, its degrees of freedom, p-value."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise RlrecError(
            ["a t-test needs at least 2 users per arm (", Option("users", "≥ 4"), ")"],
            allowed=(4, None),
        )
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0.0:
        return {"difference": diff, "t": 0.0 if diff == 0 else math.inf, "df": math.nan,
                "p_value": 1.0 if diff == 0 else 0.0}  # fmt: skip
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    return {"difference": diff, "t": t, "df": df, "p_value": student_t_two_sided_p(t, df)}


def ratio_with_se(clicks: np.ndarray, shown: np.ndarray) -> tuple[float, float]:
    """CTR = Σ clicks / Σ impressions over users, and its standard error by the delta method
    with users as the unit (impressions of one session are not independent draws)."""
    clicks, shown = np.asarray(clicks, np.float64), np.asarray(shown, np.float64)
    m, total = len(shown), shown.sum()
    if total == 0 or m < 2:
        return math.nan, math.nan
    ratio = clicks.sum() / total
    residual = clicks - ratio * shown
    se = math.sqrt(residual.var(ddof=1) * m) / total
    return float(ratio), float(se)


def two_proportion_z_test(
    clicks_a: np.ndarray, shown_a: np.ndarray, clicks_b: np.ndarray, shown_b: np.ndarray
) -> dict[str, float]:
    """CTR_b − CTR_a, its z statistic and two-sided p-value, from per-user clicks and
    impressions. The variance of each CTR is the user-clustered (delta-method) one: the
    textbook pooled z treats every impression as independent and, with sessions that differ,
    finds "significant" differences between a policy and itself."""
    ctr_a, se_a = ratio_with_se(clicks_a, shown_a)
    ctr_b, se_b = ratio_with_se(clicks_b, shown_b)
    se = math.hypot(se_a, se_b)
    diff = ctr_b - ctr_a
    if not math.isfinite(se):
        return {"difference": diff, "z": math.nan, "p_value": math.nan}
    if se == 0.0:
        return {"difference": diff, "z": 0.0, "p_value": 1.0 if diff == 0 else 0.0}
    z = diff / se
    return {"difference": diff, "z": z, "p_value": normal_two_sided_p(z)}


# -- one arm ----------------------------------------------------------------------------------


@dataclass
class ArmOutcome:
    name: str
    returns: np.ndarray  # (users,) return of each user's session
    engagements: np.ndarray  # (users,)
    impressions: np.ndarray  # (users,) session length
    purchases: np.ndarray  # (users,)


def serve_sessions(name: str, policy: Policy, sim: VectorSimulator) -> ArmOutcome:
    """Run one session for each of the simulator's `n_envs` users with `policy`."""
    n = sim.n_envs
    obs = sim.reset()
    policy.begin_episodes()
    finished = np.zeros(n, bool)
    returns = np.zeros(n)
    engaged_count = np.zeros(n, np.int64)
    length = np.zeros(n, np.int64)
    purchases = np.zeros(n, np.int64)
    steps = [0]

    def record(actions: np.ndarray, result: StepResult) -> bool:
        live = ~finished
        purchases[live] += result.purchased[live]
        ended = live & result.done
        returns[ended] = result.episode_return[ended]
        engaged_count[ended] = result.episode_engagements[ended]
        length[ended] = result.episode_length[ended]
        finished[:] |= result.done
        steps[0] += 1
        return steps[0] < sim.max_steps and not finished.all()

    if sim.max_steps > 0:
        rollout(policy, sim, obs, record)
    return ArmOutcome(name, returns, engaged_count, length, purchases)


def summarise_arm(outcome: ArmOutcome, arm: str) -> dict[str, Any]:
    clicks, shown = int(outcome.engagements.sum()), int(outcome.impressions.sum())
    ctr, ctr_se = ratio_with_se(outcome.engagements, outcome.impressions)
    mean_return, half = mean_ci95(outcome.returns)
    return {
        "arm": arm,
        "policy": outcome.name,
        "users": int(len(outcome.returns)),
        "impressions": shown,
        "engagements": clicks,
        "purchases": int(outcome.purchases.sum()),
        "ctr": ctr,
        "ctr_ci95": [ctr - 1.96 * ctr_se, ctr + 1.96 * ctr_se],
        "return": mean_return,
        "return_ci95": [mean_return - half, mean_return + half],
        "session_length": float(outcome.impressions.mean()) if len(outcome.impressions) else 0.0,
    }


def compare_arms(a: ArmOutcome, b: ArmOutcome) -> dict[str, Any]:
    """Both arms summarised, and B versus A: return (Welch) and CTR (two-proportion z)."""
    return {
        "arms": [summarise_arm(a, "A"), summarise_arm(b, "B")],
        "return_difference": welch_t_test(a.returns, b.returns),
        "ctr_difference": two_proportion_z_test(
            a.engagements, a.impressions, b.engagements, b.impressions
        ),
    }


# -- arms from names --------------------------------------------------------------------------


def _is_baseline(spec: str) -> bool:
    return spec in SIMULATION_BASELINES


def not_an_arm(spec: str) -> RlrecError:
    """The error for an arm that is neither a run folder nor a baseline name."""
    return RlrecError(
        f"arm {spec!r} is neither a run folder nor a baseline "
        f"(baselines: {', '.join(SIMULATION_BASELINES)})"
    )


def _same_population(first: Any, second: Any) -> None:
    a, b = first.config, second.config
    if (a.dataset_fingerprint, type(a.env).__name__) != (
        b.dataset_fingerprint,
        type(b.env).__name__,
    ):
        raise RlrecError(
            f"runs {first.path} and {second.path} were trained on different datasets or "
            "simulators; an A/B test needs one population"
        )


def check_users(users: int) -> None:
    """RlrecError unless an A/B test of `users` simulated users (half per arm) can run."""
    if users < 4:
        raise RlrecError(
            [Option("users", f"= {users}"), " is out of range (allowed: [4, inf))"],
            value=users,
            allowed=(4, None),
        )


def run_ab(
    arm_a: str,
    arm_b: str,
    users: int = 2000,
    seed: int = 0,
    base_sim: VectorSimulator | None = None,
    runs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A/B test between two arms (run folders or baseline names) on `users` simulated users
    (half each). `runs` maps each arm that is not a baseline name to its loaded run (with
    `.sim`, `.policy`, `.config`, `.path`). The population is the first run's simulator,
    else `base_sim`, else the built-in `default` simulator."""
    check_users(users)
    runs = dict(runs or {})
    for spec in (arm_a, arm_b):
        if not _is_baseline(spec) and spec not in runs:
            raise not_an_arm(spec)
    loaded = [runs[spec] for spec in (arm_a, arm_b) if not _is_baseline(spec)]
    if len(loaded) == 2:
        _same_population(*loaded)
    if loaded:
        base_sim = loaded[0].sim
    elif base_sim is None:
        from rlrec.engine.sim import make_simulator

        base_sim = make_simulator(None, n_envs=1, seed=seed)
    per_arm = users // 2
    outcomes = []
    for index, spec in enumerate((arm_a, arm_b)):
        # Different session seeds per arm: independent samples of users, like real traffic.
        sim = sibling_simulator(base_sim, per_arm, seed=seed * 2 + index)
        if _is_baseline(spec):
            policy = build_for_simulation(spec, sim, seed=seed * 2 + index)
        else:
            run = runs[spec]
            if run.sim.obs_dim != sim.obs_dim or run.sim.n_items != sim.n_items:
                raise RlrecError(f"run {spec} does not fit this population's simulator")
            policy = run.policy
        outcomes.append(serve_sessions(spec, policy, sim))
    report = compare_arms(*outcomes)
    report.update({"users": per_arm * 2, "seed": seed, "arm_a": arm_a, "arm_b": arm_b})
    return report
