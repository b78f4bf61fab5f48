"""How long a run trains: one `Budget` of env steps, finished sessions or wall-clock seconds.

The trainer asks `budget.spent(...)` once per vector step — the one place a budget is checked —
and `Progress` events report `budget.fraction_done(...)` and `budget.eta_seconds(...)`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rlrec.data.errors import Option, RlrecError
from rlrec.engine.config_base import MAX_RUN_SECONDS, MAX_RUN_STEPS


class BudgetKind(StrEnum):
    STEPS = "steps"  # env steps (one recommendation to one session each)
    EPISODES = "episodes"  # finished sessions
    SECONDS = "seconds"  # wall-clock training time (pauses and evaluations excluded)


# The longest budget of each kind (a run of 1e40 seconds never ends); `train.*` in a config
# declares the same bounds.
MAX_AMOUNT = {
    BudgetKind.STEPS: MAX_RUN_STEPS,
    BudgetKind.EPISODES: MAX_RUN_STEPS,
    BudgetKind.SECONDS: MAX_RUN_SECONDS,
}


def check_amount(kind: BudgetKind | str, amount: Any, context: str = "") -> None:
    """RlrecError unless `amount` is a number in (0, MAX_AMOUNT[kind]] (a whole number for
    steps and episodes; NaN and infinity never). The error names the option `kind`
    (`seconds`, `steps`, `episodes`), which the CLI words as its flag (`--seconds nan`)."""
    kind = BudgetKind(kind)
    is_number = isinstance(amount, numbers.Real) and not isinstance(amount, bool)
    whole = kind is BudgetKind.SECONDS or (is_number and float(amount).is_integer())
    top = MAX_AMOUNT[kind]
    if not (is_number and math.isfinite(amount) and 0 < amount <= top and whole):
        what = "a number" if kind is BudgetKind.SECONDS else "a whole number"
        allowed = f"{what} in (0, {top}]"
        shown = f"{amount:g}" if isinstance(amount, float) else repr(amount)
        raise RlrecError(
            [context, Option(str(kind), shown), f" is out of range (allowed: {allowed})"],
            key=f"budget.{kind}",
            value=amount,
            allowed=(0, top),
        )


@dataclass(frozen=True)
class Budget:
    """`amount` of `kind`, counted from the start of the run (not of a resumed part).

    `amount` keeps the type it was given (an int number of steps stays an int), because it is
    written back into `metrics.jsonl` and `config.yaml` as given."""

    kind: BudgetKind
    amount: float

    def __post_init__(self) -> None:
        # The one budget check: train, resume (`extended_by`), configs and checkpoints all
        # build a Budget, so NaN, infinity (a run that never ends) and <= 0 stop here.
        check_amount(self.kind, self.amount)

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> Budget:
        """From the one-entry form `{"steps": 100000}` used in configs, checkpoints and events.
        Raises RlrecError for anything but exactly one known kind with a positive amount."""
        if len(mapping) != 1:
            raise RlrecError(
                f"budget: give exactly one of steps, episodes, seconds (got {mapping})"
            )
        ((kind, amount),) = mapping.items()
        try:
            budget_kind = BudgetKind(kind)
        except ValueError:
            raise RlrecError(
                f"budget: unknown kind {kind!r} (allowed: steps, episodes, seconds)"
            ) from None
        check_amount(budget_kind, amount, context="budget: ")
        return cls(budget_kind, amount)

    def as_dict(self) -> dict[str, Any]:
        """`{"steps": 100000}`: the form stored in events, checkpoints and configs."""
        return {str(self.kind): self.amount}

    def done(self, env_steps: int, episodes: int, seconds: float) -> float:
        """How much of this budget's kind has been used so far."""
        if self.kind is BudgetKind.STEPS:
            return env_steps
        if self.kind is BudgetKind.EPISODES:
            return episodes
        return seconds

    def spent(self, env_steps: int, episodes: int, seconds: float) -> bool:
        return self.done(env_steps, episodes, seconds) >= self.amount

    def fraction_done(self, env_steps: int, episodes: int, seconds: float) -> float:
        """In [0, 1]."""
        return float(min(1.0, self.done(env_steps, episodes, seconds) / self.amount))

    def eta_seconds(
        self, env_steps: int, episodes: int, seconds: float, steps_per_second: float
    ) -> float:
        """Seconds left at the current speed; nan when unknown (no speed, nothing done yet)."""
        if self.kind is BudgetKind.SECONDS:
            return max(0.0, self.amount - seconds)
        if self.kind is BudgetKind.STEPS:
            if steps_per_second <= 0:
                return math.nan
            return max(0.0, self.amount - env_steps) / steps_per_second
        fraction = self.fraction_done(env_steps, episodes, seconds)
        return seconds * (1 - fraction) / fraction if fraction > 0 else math.nan

    def extended_by(self, more: Budget, env_steps: int, episodes: int, seconds: float) -> Budget:
        """A budget that ends `more` after the current counters (`rlrec resume --steps N`)."""
        return Budget(more.kind, more.done(env_steps, episodes, seconds) + more.amount)
