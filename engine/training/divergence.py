"""Why a run diverged: the first of its inputs, weights or values that is not finite.

When a training loss is NaN or infinite the trainer ends the run as DIVERGED. `diagnose` looks
at what that loss is made of in the order a fault spreads — the transitions in the replay
memory (observations, rewards), then the network's weights, then its Q-values — and names the
first that is not finite, with advice that fits it: a lower learning rate does not mend a
reward signal that is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from rlrec.engine.agents.dqn import DQNAgent

TUNING = "try a lower agent.lr or agent.grad_clip"


@dataclass(frozen=True)
class Diagnosis:
    """`what` went non-finite (a clause: "the rewards in the replay memory hold NaN") and
    `advice` (what to change)."""

    what: str
    advice: str


def diagnose(agent: DQNAgent) -> Diagnosis:
    """The first non-finite part behind a non-finite loss of `agent` (see the module doc)."""
    replay = agent.replay
    filled = slice(0, len(replay))
    for name, tensor in (
        ("observations", replay.obs[filled]),
        ("next observations", replay.next_obs[filled]),
        ("rewards", replay.reward[filled]),
    ):
        bad = _kind(tensor)
        if bad:
            return Diagnosis(
                f"the {name} in the replay memory hold {bad}",
                "the simulator produced them: check the dataset's feature values and the "
                "env's reward settings",
            )
    for net_name, net in (("online", agent.online), ("target", agent.target)):
        for name, parameter in net.named_parameters():
            bad = _kind(parameter.detach())
            if bad:
                return Diagnosis(f"the {net_name} network's weights ({name}) hold {bad}", TUNING)
    sample = replay.obs[: min(len(replay), agent.config.batch_size)]
    q = agent._q(agent.online, sample.numpy()) if len(sample) else torch.zeros(0)
    bad = _kind(q)
    if bad:
        return Diagnosis(f"the Q-values hold {bad}", TUNING + ", or a smaller agent.gamma")
    largest = float(q.abs().max()) if q.numel() else 0.0
    return Diagnosis(
        f"the loss overflowed though inputs, weights and Q-values are finite (|Q| up to "
        f"{largest:.3g})",
        TUNING + ", or agent.loss: huber",
    )


def _kind(tensor: torch.Tensor) -> str:
    """ "NaN", "infinity" or "" (all finite)."""
    if tensor.numel() == 0 or bool(torch.isfinite(tensor).all()):
        return ""
    return "NaN" if bool(torch.isnan(tensor).any()) else "infinity"
