"""Every reference policy, found by name in one place, with how to build each.

A policy can be used in up to three ways, and its entry says which:
- `simulation`: bound to a simulator and stepped in it (baselines table, online evaluation,
  A/B arms) — built by `build_for_simulation`;
- `offline` / `serving`: scoring known users from what a log taught it (offline metrics on
  the split, `recommend`) — fitted by `fit_scorer`, then plain arrays (`UserScorer`).
The oracles read the hidden truth of the very sessions being stepped, so they exist only in
simulation. The trained agent is not here: it comes from a run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.data.split import Split
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.baselines import (
    FarsightedPolicy,
    LinUCBPolicy,
    MyopicOraclePolicy,
    PopularityPolicy,
    RandomPolicy,
    observation_sample,
    warm_up_linucb,
)
from rlrec.engine.policies.content import DemographicContent, popularity_scores
from rlrec.engine.policies.item_item import (
    EASE_LAMBDA_FRACTIONS,
    EASEScorer,
    ItemKNNScorer,
    active_items,
    ease_refusal,
    engaged_matrix,
    fit_ease,
    fit_itemknn,
)
from rlrec.engine.policies.user_scorers import (
    ContentScorer,
    LinUCBScorer,
    MFScorer,
    PopularScorer,
    RandomScorer,
    UserScorer,
)
from rlrec.engine.sim.base import VectorSimulator


@dataclass(frozen=True)
class ScorerInputs:
    """What fitting a user scorer may read.

    `log` is what popularity and content are fitted on (the train part offline; everything
    logged when serving); MF is fitted on `dataset`'s train part under `split`; LinUCB learns
    online for `linucb_steps` steps in a sibling of `sim` seeded with `seed`; random draws
    from `seed` (or per user when `random_per_user`)."""

    log: Dataset
    dataset: Dataset
    split: Split
    sim: VectorSimulator
    seed: int = 0
    linucb_steps: int = 200
    random_per_user: bool = False


def _fit_mf(inputs: ScorerInputs) -> UserScorer:
    from rlrec.engine.truth.fit import fit_simulator  # the whole fit: only when asked for

    fitted = fit_simulator(inputs.dataset, split=inputs.split)
    return MFScorer(fitted.mf_user, fitted.mf_item)


def _ease_refusal(inputs: ScorerInputs) -> str:
    return ease_refusal(len(active_items(engaged_matrix(inputs.log))))


@dataclass(frozen=True)
class PolicySpec:
    """One reference policy: its name, a label for people, what it is, and how to build it
    for each use it supports (None: not available that way)."""

    name: str
    label: str
    description: str
    simulate: Callable[[VectorSimulator, int | None], Policy] | None = None
    fit: Callable[[ScorerInputs], UserScorer] | None = None
    scorer: type[UserScorer] | None = None
    needs_dynamics: bool = False  # simulation only on a simulator with session dynamics
    # Said while a run fits this scorer for the first time, when that is slow.
    first_fit_note: str = ""
    # Why it cannot be fitted on these inputs (one line), or "": offline evaluation leaves it
    # out of the table with that note, `fit_scorer` raises it.
    refusal: Callable[[ScorerInputs], str] | None = None

    @property
    def simulation(self) -> bool:
        return self.simulate is not None

    @property
    def scores_users(self) -> bool:
        return self.fit is not None


POLICIES: dict[str, PolicySpec] = {
    spec.name: spec
    for spec in (
        PolicySpec(
            "random",
            "random",
            "uniformly random items",
            simulate=lambda sim, seed: RandomPolicy(sim.n_items, seed=seed),
            fit=lambda i: RandomScorer(i.seed, i.random_per_user).with_items(i.dataset.n_items),
            scorer=RandomScorer,
        ),
        PolicySpec(
            "popular",
            "most popular",
            "the same ranking for everyone: items by interactions in the log",
            simulate=lambda sim, seed: PopularityPolicy(sim.item_popularity),
            fit=lambda i: PopularScorer(popularity_scores(i.log)),
            scorer=PopularScorer,
        ),
        PolicySpec(
            "content",
            "content (demographics)",
            "taste over item content predicted from demographics",
            fit=lambda i: ContentScorer(DemographicContent(i.log)),
            scorer=ContentScorer,
        ),
        PolicySpec(
            "mf",
            "matrix factorisation",
            "the matrix factorisation fitted on the train part of the split",
            fit=_fit_mf,
            scorer=MFScorer,
        ),
        PolicySpec(
            "linucb",
            "LinUCB",
            "a contextual bandit (one linear model over user × item features)",
            simulate=lambda sim, seed: LinUCBPolicy(
                sim.observable_item_features, observation_sample(sim, seed or 0)
            ),
            fit=lambda i: LinUCBScorer(warm_up_linucb(i.sim, i.linucb_steps, i.seed)),
            scorer=LinUCBScorer,
            # LinUCB learns on the simulator once per run, then is kept in the run folder.
            first_fit_note="first time for this run: tens of seconds",
        ),
        PolicySpec(
            "ease",
            "EASE",
            "closed-form item-item weights (Steck 2019), λ chosen on the validation part",
            fit=lambda i: fit_ease(i.log, i.dataset, i.split),
            scorer=EASEScorer,
            refusal=_ease_refusal,
            first_fit_note=(
                "first time for this run: a dense inverse for each of "
                f"{len(EASE_LAMBDA_FRACTIONS)} λ values"
            ),
        ),
        PolicySpec(
            "itemknn",
            "ItemKNN",
            "cosine item-item neighbours of the user's history, k chosen on the validation part",
            fit=lambda i: fit_itemknn(i.log, i.dataset, i.split),
            scorer=ItemKNNScorer,
        ),
        PolicySpec(
            "oracle",
            "myopic oracle",
            "the best expected immediate reward, read from the hidden truth",
            simulate=lambda sim, seed: MyopicOraclePolicy(sim),
        ),
        PolicySpec(
            "farsighted",
            "farsighted heuristic",
            "immediate reward plus the expected change of hidden satisfaction",
            simulate=lambda sim, seed: FarsightedPolicy(sim),
            needs_dynamics=True,
        ),
    )
}

# Names by use, in registry order.
SIMULATION_BASELINES: tuple[str, ...] = tuple(n for n, s in POLICIES.items() if s.simulation)
USER_SCORERS: tuple[str, ...] = tuple(n for n, s in POLICIES.items() if s.scores_users)


def policy_spec(
    name: str, allowed: tuple[str, ...] | None = None, what: str = "policy"
) -> PolicySpec:
    """The entry for `name`; RlrecError naming the allowed names if it is unknown or not
    among `allowed`."""
    allowed = tuple(POLICIES) if allowed is None else allowed
    if name not in allowed:
        raise RlrecError(f"unknown {what} '{name}' ({what}s: {', '.join(allowed)})")
    return POLICIES[name]


def build_for_simulation(name: str, sim: VectorSimulator, seed: int | None = 0) -> Policy:
    """The simulation baseline `name`, bound to `sim` where it reads the hidden truth.
    RlrecError: unknown name, or a policy that needs session dynamics `sim` lacks."""
    spec = policy_spec(name, SIMULATION_BASELINES, "baseline")
    assert spec.simulate is not None
    return spec.simulate(sim, seed)


def baselines_for(sim: VectorSimulator) -> tuple[str, ...]:
    """The simulation baselines that make sense on `sim` (some need session dynamics)."""
    dynamic = hasattr(sim, "expected_satisfaction_change")
    return tuple(n for n in SIMULATION_BASELINES if dynamic or not POLICIES[n].needs_dynamics)


def refusal(name: str, inputs: ScorerInputs) -> str:
    """Why the user scorer `name` cannot be fitted on `inputs` (one line), or ""."""
    spec = policy_spec(name, USER_SCORERS)
    return spec.refusal(inputs) if spec.refusal is not None else ""


def fit_scorer(name: str, inputs: ScorerInputs) -> UserScorer:
    """The user scorer `name` fitted on `inputs` (see `ScorerInputs`). RlrecError (one line)
    when it cannot be fitted on them (`refusal`)."""
    spec = policy_spec(name, USER_SCORERS)
    assert spec.fit is not None
    why = refusal(name, inputs)
    if why:
        raise RlrecError(why)
    return spec.fit(inputs)


def scorer_from_arrays(name: str, arrays: dict[str, np.ndarray]) -> UserScorer:
    """The user scorer `name` rebuilt from its cached `arrays()`, without fitting."""
    spec = policy_spec(name, USER_SCORERS)
    assert spec.scorer is not None
    return spec.scorer.from_arrays(arrays)
