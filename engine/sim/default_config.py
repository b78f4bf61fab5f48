"""Settings of the `default` simulator (`env:` with `kind: default`), with their ranges."""

from __future__ import annotations

from dataclasses import dataclass

from rlrec.engine.config_base import param
from rlrec.engine.truth.model import DEFAULT_ALPHA, DEFAULT_APPEAL_WEIGHT


@dataclass
class DefaultConfig:
    kind: str = param("default", choices=("default",))
    dataset: str = param("", help="dataset folder; empty = the built-in synthetic default")
    alpha: float = param(
        DEFAULT_ALPHA, low=0, high=1, help="weight of latent factors vs content cosine"
    )
    max_length: int = param(50, low=1, high=10_000, unit="steps", help="longest session")
    noise_std: float = param(0.1, low=0, high=10, help="per-step noise on the click probability")
    appeal_weight: float = param(
        DEFAULT_APPEAL_WEIGHT, low=0, high=20, help="logit boost of clickbait appeal"
    )
    initial_satisfaction: float = param(2.0, low=0, high=100, low_open=True)
    satisfaction_jitter: float = param(0.5, low=0, high=100, help="± uniform spread at start")
    value_gain: float = param(0.6, low=0, high=100, help="satisfaction change per unit value")
    ignore_cost: float = param(0.1, low=0, high=100, help="satisfaction lost per ignored item")
    fatigue: float = param(0.08, low=0, high=100, help="satisfaction lost every step")
    satisfaction_weight: float = param(0.3, low=0, high=20, help="logit per unit satisfaction")
    satiation_weight: float = param(0.35, low=0, high=20, help="logit lost per unit satiation")
    satiation_decay: float = param(0.8, low=0, high=1, help="satiation kept per step")
    reward_engaged: float = param(1.0, low=-100, high=100)
    reward_ignored: float = param(-0.1, low=-100, high=100)
    purchase_bonus: float = param(0.0, low=0, high=100, help="extra reward for a purchase")
    diversity_penalty: float = param(0.05, low=0, high=100, help="λ per unit similarity")
    exploration_bonus: float = param(0.0, low=0, high=100, help="β for β/√(count+1)")
    history_window: int = param(5, low=1, high=100, help="engaged items the history averages")
    recency_decay: float = param(0.7, low=0, high=1, high_open=True, help="recency weighting")
    user_factors: bool = param(
        False,
        help="the agent also observes each user's latent factors from the hidden truth (on "
        "a log: the logistic MF fitted to its train part, what a production recommender "
        "would have; on synthetic data: the generator's own)",
    )
    history_ids: bool = param(
        False,
        help="the observation also ends with the ids of the last history_window engaged items "
        "(oldest first, newest last, n_items for an empty slot), for agent.sequence_encoder",
    )
    session_profile: bool = param(
        False,
        help="the observation also holds the summed features of the items engaged in this "
        "session (÷ max_length): with the step and ignore counts, what the session has done "
        "to the user so far, which the last history_window items alone do not show",
    )
    profile_decay: float = param(
        0.0,
        low=0,
        high=1,
        high_open=True,
        help="0 for none; else the observation also holds the features of the items engaged "
        "in this session, each weighted by profile_decay^(steps since its engagement) and the "
        "sum by (1 − profile_decay): a recent-consumption profile that fades every step, "
        "engaged or not, as satiation does (it counts time, unlike the recency mean)",
    )
    session_history: str = param(
        "log",
        choices=("log", "empty"),
        help="a session starts from the user's logged history, or from none",
    )
    candidates: int = param(
        -1,
        low=-1,
        high=100_000,
        unit="items",
        help="items offered to each session per step by a cheap retrieval; 0 = whole "
        "catalogue, -1 = auto (whole catalogue up to 2,000 items, else 200)",
    )
    candidate_popular: float = param(
        0.3, low=0, high=1, help="share of the candidates drawn by popularity"
    )
    candidate_neighbours: float = param(
        0.5,
        low=0,
        high=1,
        help="share drawn from the user's and their history's CF neighbourhood (rest: random)",
    )
