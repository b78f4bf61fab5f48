"""Warm start: teach the agent's Q network the train log's own next choices before it
learns in the simulator.

The simulator is fitted to the train log, so an agent that only learns in it can at best
rank held-out items as well as the fitted truth does. The log itself says more: each user's
engaged items in time order are a sequence of choices, and the state just before each choice
is the state the simulator would show (`SessionStart.observation_with_history`: user
features ‖ the last H engaged items ‖ context). Pre-training on (state → chosen item) pairs
with a softmax over the catalogue — the next-item objective of sequential recommenders
(GRU4Rec, Hidasi et al. 2016; YouTube's candidate network, Covington et al. 2016) — puts the
log's item-to-item and user-to-item regularities into the network before the first
simulated step. The Q head's outputs are trained as logits, so the ranking starts from the
log and the scale is then set by the TD targets.

Only the truth's engaged train histories are read (`HiddenTruth.history_items`): validation
and test interactions never reach the warm start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from rlrec.engine.agents.network import EmbeddingQNetwork
from rlrec.engine.sim.base import VectorSimulator
from rlrec.engine.sim.session_start import SessionStart
from rlrec.engine.truth.model import HiddenTruth

if TYPE_CHECKING:
    from rlrec.engine.agents.dqn import DQNAgent


@dataclass(frozen=True)
class LoggedChoices:
    """Every engaged train choice: user `users[k]` chose `items[k]` as the `positions[k]`-th
    engaged item of their history (0 = first). All (n,) int64."""

    users: np.ndarray
    positions: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return len(self.items)


def logged_choices(truth: HiddenTruth) -> LoggedChoices:
    """The engaged choices of the truth's train histories (none when it has no histories)."""
    offsets = truth.history_offsets
    if offsets is None:
        empty = np.zeros(0, np.int64)
        return LoggedChoices(empty, empty, empty)
    counts = np.diff(offsets)
    users = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    positions = np.arange(len(users), dtype=np.int64) - offsets[users]
    return LoggedChoices(users, positions, np.asarray(truth.history_items, np.int64))


def states_before(
    start: SessionStart, truth: HiddenTruth, users: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """(n, obs_dim) float32: the session-start state of each user just before their
    `positions`-th engaged item — their previous `history_window` engaged items as history."""
    assert truth.history_offsets is not None
    window = start.config.history_window
    index = positions[:, None] - window + np.arange(window)[None, :]  # oldest slot first
    filled = index >= 0
    flat = truth.history_offsets[users][:, None] + np.maximum(index, 0)
    recent = np.where(filled, truth.history_items[flat], start.n_items)
    return start.observation_with_history(users, recent)


def earlier_choices(
    truth: HiddenTruth, users: np.ndarray, positions: np.ndarray, n_items: int
) -> torch.Tensor:
    """(n, n_items) bool: the items each user engaged before that choice (not a next item
    they could be recommended, as the simulator masks them)."""
    assert truth.history_offsets is not None
    lengths = positions
    rows = np.repeat(np.arange(len(users)), lengths)
    first = np.repeat(truth.history_offsets[users], lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    mask = torch.zeros((len(users), n_items), dtype=torch.bool)
    mask[torch.from_numpy(rows), torch.from_numpy(truth.history_items[first + within])] = True
    return mask


def catalogue_q(net: torch.nn.Module, obs: torch.Tensor, train_ids: bool = True) -> torch.Tensor:
    """(n, n_items) `net`'s Q-values of the whole catalogue for `obs` (n, obs_dim). Without
    `train_ids`, an item-embedding head's id embeddings are held fixed (no gradient): during
    simulated training their optimizer takes the sparse gradients of the rows a TD batch
    touches, and a softmax over the catalogue would give every row a dense one."""
    if train_ids or not isinstance(net, EmbeddingQNetwork):
        return net(obs)
    table = net.feature_proj(net.features)
    known = net.n_known
    ids = net.item_embedding.detach()
    table = torch.cat([table[:known] + ids, table[known:]]) if known < len(table) else table + ids
    return net.phi(obs) @ table.T


def next_item_loss(
    q: torch.Tensor, items: torch.Tensor, excluded: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean softmax cross-entropy of the chosen `items` (n,) over the catalogue's Q-values
    `q` (n, n_items) divided by `temperature`, with the `excluded` (n, n_items) items left
    out of the softmax (the chosen item never is). The softmax ignores a per-state constant,
    so Q(s, ·) = V(s) + T·log p(· | s) fits it whatever V: a small temperature asks for Q
    gaps of the size a simulator's rewards give."""
    excluded = excluded.clone()
    excluded[torch.arange(len(items)), items] = False
    return F.cross_entropy((q / temperature).masked_fill(excluded, -torch.inf), items)


def candidate_q(
    net: torch.nn.Module, obs: torch.Tensor, candidates: torch.Tensor, train_ids: bool = True
) -> torch.Tensor:
    """(n, c) `net`'s Q-values of `candidates` (n, c) item ids for `obs` (n, obs_dim);
    `train_ids` as in `catalogue_q`."""
    if not isinstance(net, EmbeddingQNetwork):
        return net.candidate_q(obs, candidates)  # type: ignore[operator]
    ids = net.item_embedding if train_ids else net.item_embedding.detach()
    known = candidates < net.n_known
    psi = net.feature_proj(net.features[candidates])
    psi = psi + ids[torch.where(known, candidates, 0)] * known.unsqueeze(-1)
    return torch.einsum("nd,ncd->nc", net.phi(obs), psi)


def sampled_next_item_loss(
    q: torch.Tensor, negatives: torch.Tensor, items: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """`next_item_loss` with the softmax over each chosen item and its `negatives` (n, m)
    uniformly drawn items only (sampled softmax, Jean et al. 2015), so a step never scores
    the whole catalogue: `q` (n, 1 + m) are the Q-values of the chosen `items` (n,) then of
    the negatives; a negative that is the chosen item is left out."""
    logits = q / temperature
    duplicate = torch.cat(
        [torch.zeros_like(items[:, None], dtype=torch.bool), negatives == items[:, None]], 1
    )
    target = torch.zeros(len(items), dtype=torch.int64)
    return F.cross_entropy(logits.masked_fill(duplicate, -torch.inf), target)


# Past this many items the loss samples its softmax (`SAMPLED_NEGATIVES` a choice) instead
# of scoring the catalogue. Scoring it is one (batch × items) product, cheap up to here (on
# ml-latest-small's 9.7k items, 5× faster per batch than 1,000 sampled items a choice, whose
# gathered item vectors cost more than the product); past it, the (batch × items) logits
# and their gradient grow to hundreds of MB.
EXACT_SOFTMAX_ITEMS = 20_000
SAMPLED_NEGATIVES = 1_000


# The most of a run's budget (time, steps or sessions) the pre-training may take: on a large
# log on a busy machine eight passes can take minutes, and a run must still learn in the
# simulator.
WARM_START_SHARE = 0.25


class LoggedChoiceLoss:
    """`next_item_loss` (`sampled_next_item_loss` past `EXACT_SOFTMAX_ITEMS` items) on batches
    of the log's engaged choices (`logged_choices`): in order
    through shuffled passes (`epoch_batches`, the warm start) or drawn at random (`__call__`,
    the term added to every simulated update with `agent.log_loss_weight`). Batches are drawn
    from `seed` only."""

    def __init__(
        self,
        start: SessionStart,
        truth: HiddenTruth,
        batch_size: int,
        temperature: float,
        seed: int,
    ) -> None:
        self.start, self.truth = start, truth
        self.choices = logged_choices(truth)
        self.batch_size, self.temperature = int(batch_size), float(temperature)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.choices)

    def loss_of(
        self, net: torch.nn.Module, batch: np.ndarray, train_ids: bool = True
    ) -> torch.Tensor:
        """The loss of `net` on the choices at positions `batch` (k,) (`train_ids`: see
        `catalogue_q`)."""
        users, positions = self.choices.users[batch], self.choices.positions[batch]
        obs = torch.from_numpy(states_before(self.start, self.truth, users, positions))
        items = torch.from_numpy(self.choices.items[batch])
        n_items = self.start.n_items
        if n_items > EXACT_SOFTMAX_ITEMS:
            negatives = torch.from_numpy(
                self.rng.integers(0, n_items, (len(batch), SAMPLED_NEGATIVES))
            )
            q = candidate_q(net, obs, torch.cat([items[:, None], negatives], 1), train_ids)
            return sampled_next_item_loss(q, negatives, items, self.temperature)
        excluded = earlier_choices(self.truth, users, positions, n_items)
        return next_item_loss(catalogue_q(net, obs, train_ids), items, excluded, self.temperature)

    def epoch_batches(self) -> list[np.ndarray]:
        """One shuffled pass over the choices in batches of `batch_size`."""
        order = self.rng.permutation(len(self.choices))
        return [order[lo : lo + self.batch_size] for lo in range(0, len(order), self.batch_size)]

    def __call__(self, net: torch.nn.Module) -> torch.Tensor:
        """The loss of `net` on `batch_size` choices drawn uniformly, an item-embedding
        head's id embeddings held fixed (the term added to simulated updates)."""
        drawn = self.rng.integers(0, len(self.choices), self.batch_size)
        return self.loss_of(net, drawn, train_ids=False)


def warm_start(
    net: torch.nn.Module,
    choices: LoggedChoiceLoss,
    epochs: int,
    lr: float,
    stop: Callable[[], bool] | None = None,
) -> list[float]:
    """Train `net` (a Q network whose `forward` gives (B, n_items)) for `epochs` shuffled
    passes over the log's engaged choices with Adam at `lr`. Returns the mean loss of each
    epoch (empty when there is nothing to learn from). The caller copies the weights into
    its target and served nets. `stop()`, asked between batches, ends it early (an epoch cut
    short reports the mean over the batches it did). Cost per epoch: choices / batch_size
    forward-backward passes over the catalogue (or the sampled items)."""
    if epochs == 0 or len(choices) == 0:
        return []
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    was_training = net.training
    net.train()
    losses = []
    for _ in range(epochs):
        total, seen = 0.0, 0
        for batch in choices.epoch_batches():
            if stop is not None and stop():
                break
            loss = choices.loss_of(net, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(batch)
            seen += len(batch)
        if seen == 0:
            break
        losses.append(total / seen)
        if seen < len(choices):
            break
    net.train(was_training)
    return losses


def warm_start_agent(
    agent: DQNAgent,
    sim: VectorSimulator,
    seed: int,
    pretrain: bool = True,
    stop: Callable[[], bool] | None = None,
) -> list[float]:
    """Learn from the log `sim` was fitted to, as `agent`'s settings say: with `pretrain` (a
    new run, not a resumed one) pre-train the online net for `warm_start_epochs` passes and
    start its target and served nets from the result; with `log_loss_weight` > 0, add that
    weight × the next-item loss on random logged choices to each of its simulated updates
    (`DQNAgent.auxiliary_loss`). Nothing on a simulator without logged histories. Batches
    are drawn from `seed` (the agent's own generators are not drawn from; a resumed run
    draws its auxiliary batches afresh). `stop()` ends the pre-training early (the trainer:
    once it has taken `WARM_START_SHARE` of the run's budget). Returns the mean loss of each
    warm-start epoch."""
    config = agent.config
    start = getattr(sim, "session_start", None)
    if not isinstance(start, SessionStart) or start.truth.history_offsets is None:
        return []
    if config.warm_start_epochs == 0 and config.log_loss_weight == 0:
        return []
    choices = LoggedChoiceLoss(
        start, start.truth, config.batch_size, config.log_loss_temperature, seed
    )
    epochs = config.warm_start_epochs if pretrain else 0
    losses = warm_start(agent.online, choices, epochs, config.warm_start_lr, stop)
    if losses:
        with torch.no_grad():
            for net in (agent.target, agent.served):
                if net is not agent.online:
                    net.load_state_dict(agent.online.state_dict())
    if config.log_loss_weight > 0:
        weight = config.log_loss_weight
        agent.auxiliary_loss = lambda net: weight * choices(net)
    return losses
