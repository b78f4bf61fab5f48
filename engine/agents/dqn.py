"""The DQN agent: every hyperparameter in `DQNConfig`, acting on batches of sessions, learning
from a preallocated replay buffer with Double-DQN targets.

Read top to bottom: the config, then `DQNAgent` — acting (greedy and ε-greedy, with engaged
items masked, over the whole catalogue or a candidate set), one gradient update, the
schedules (ε by env steps, learning rate by updates), and checkpoint state. The trainer
decides *when* to act and learn; this module decides *how*.

What the agent serves — greedy evaluation, offline ranking, recommendations — can be a slow
Polyak average of the online weights (`serve_average` > 0) rather than the online net itself:
the online net's ranking of the items it rarely picks jitters from update to update, and the
average smooths that out. Exploration and learning always use the online net.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rlrec.data.errors import Option, RlrecError
from rlrec.data.memory import check_fits
from rlrec.engine.agents.network import (
    EmbeddingQNetwork,
    QNetwork,
    bfloat16_body,
    has_training_mode,
)
from rlrec.engine.agents.nstep import NStepReturns, Step
from rlrec.engine.agents.replay import OBS_DTYPES, ReplayBuffer
from rlrec.engine.agents.sequence import SEQUENCE_ENCODERS, SequenceSpec, sequence_parameters
from rlrec.engine.config_base import MAX_RUN_STEPS, param
from rlrec.engine.policies.base import Policy
from rlrec.engine.sim.base import WHOLE_CATALOGUE_ITEMS, VectorSimulator

# Masked items get a large finite penalty rather than -inf when only their argmax is wanted:
# adding it is one multiply-add over the (rows, items) block, ~5x faster on CPU than
# `masked_fill`, and the best unmasked item is the same (Q-values are far smaller than 1e30).
_MASK_PENALTY = torch.tensor(-1e30)


def masked_argmax(q: torch.Tensor, mask: np.ndarray | torch.Tensor | None) -> np.ndarray:
    """(N,) int64 column of each row's largest value in `q` ((N, M), no gradient needed)
    among the columns `mask` ((N, M) bool, numpy or torch; True = excluded) leaves; a row
    with every column masked gets its largest value overall. Ties go to the first column,
    as in torch and numpy. numpy does the argmax: torch's CPU argmax along rows took ~10×
    as long on (256, 500) blocks (torch 2.13)."""
    q = q.detach().float()
    if mask is not None:
        if isinstance(mask, np.ndarray):
            bits = torch.from_numpy(np.ascontiguousarray(mask, dtype=bool).view(np.uint8))
        else:
            bits = mask.view(torch.uint8)
        q = torch.addcmul(q, bits, _MASK_PENALTY)
    return q.numpy().argmax(axis=1)


def _distinct_buffers(
    copy: torch.nn.Module, net: torch.nn.Module
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(copy's buffer, net's buffer) pairs of the two nets that are separate tensors."""
    pairs = zip(copy.buffers(), net.buffers(), strict=True)
    return [(mine, theirs) for mine, theirs in pairs if mine is not theirs]


@dataclass
class DQNConfig:
    hidden: list[int] = param([256, 256, 128], low=1, high=8192, help="hidden layer widths")
    dropout: float = param(
        0.2, low=0, high=1, high_open=True, help="dropout after each hidden layer"
    )
    batch_norm: bool = param(False, help="batch norm after each hidden linear layer")
    gamma: float = param(
        0.9, low=0, high=1, help="discount per step (at the start of a γ schedule)"
    )
    gamma_final: float = param(
        0.9,
        low=0,
        high=1,
        high_open=True,
        help="γ at the end of the γ schedule (used when gamma_anneal_steps > 0 and it is above "
        "gamma: the schedule only raises γ)",
    )
    gamma_anneal_start: int = param(
        0,
        low=0,
        high=MAX_RUN_STEPS,
        help="env steps after which γ starts moving towards gamma_final",
        unit="env steps",
    )
    gamma_anneal_steps: int = param(
        0,
        low=0,
        high=MAX_RUN_STEPS,
        help="env steps over which γ moves from gamma to gamma_final, geometrically in "
        "1 − γ (0 = γ stays constant)",
        unit="env steps",
    )
    lr: float = param(1e-3, low=0, high=1, low_open=True, help="Adam learning rate")
    lr_final: float = param(1.0, low=0, high=1, help="final learning rate as a fraction of lr")
    lr_decay_updates: int = param(
        0,
        low=0,
        high=MAX_RUN_STEPS,
        help="updates over which lr decays linearly to lr × lr_final (0 = over "
        "lr_decay_fraction of the run's budget, or constant if that is 0 too)",
        unit="updates",
    )
    batch_size: int = param(256, low=1, high=65536, unit="transitions")
    replay_size: int = param(100_000, low=1, high=50_000_000, unit="transitions")
    learning_starts: int = param(
        2048,
        low=0,
        high=MAX_RUN_STEPS,
        help="env steps collected before the first update",
        unit="env steps",
    )
    replay_ratio: float = param(
        1 / 64, low=0, high=64, low_open=True, help="gradient updates per env step"
    )
    target_update: str = param(
        "soft", choices=("soft", "hard"), help="Polyak averaging (soft) or periodic copies (hard)"
    )
    tau: float = param(
        0.01, low=0, high=1, low_open=True, help="soft target update rate per update"
    )
    target_every: int = param(
        500, low=1, high=MAX_RUN_STEPS, help="hard target copy period", unit="updates"
    )
    double_dqn: bool = param(True, help="online net picks the next action, target net values it")
    loss: str = param("huber", choices=("huber", "mse"))
    huber_delta: float = param(
        1.0, low=0, high=1e6, low_open=True, help="where the Huber loss turns linear"
    )
    grad_clip: float = param(10.0, low=0, high=1e6, help="max gradient L2 norm (0 = no clipping)")
    weight_decay: float = param(0.0, low=0, high=1)
    n_step: int = param(
        1,
        low=1,
        high=100,
        help="rewards summed before bootstrapping: targets Σ γ^k r_{t+k} (k < n) + γ^n max Q",
        unit="env steps",
    )
    eps_start: float = param(1.0, low=0, high=1, help="ε at step 0")
    eps_end: float = param(0.05, low=0, high=1, help="ε after the decay")
    eps_decay_steps: int = param(
        200_000,
        low=0,
        high=MAX_RUN_STEPS,
        help="env steps over which ε decays linearly (0 = over eps_decay_fraction of the "
        "run's budget instead)",
        unit="env steps",
    )
    eps_decay_fraction: float = param(
        0.0,
        low=0,
        high=1,
        help="fraction of the run's budget over which ε decays linearly to eps_end, so a "
        "short run ends exploiting (used when eps_decay_steps is 0)",
    )
    eps_decay_cap: int = param(
        0,
        low=0,
        high=MAX_RUN_STEPS,
        help="with the budget-tied schedule (eps_decay_steps 0), ε reaches eps_end after at "
        "most this many env steps, however long the budget (0 = no cap)",
        unit="env steps",
    )
    lr_decay_fraction: float = param(
        0.0,
        low=0,
        high=1,
        help="fraction of the run's budget over which lr decays linearly to lr × lr_final "
        "(used when lr_decay_updates is 0; 0 = constant)",
    )
    mask_engaged: bool = param(True, help="never recommend an item already engaged in the session")
    serve_average: float = param(
        0.0,
        low=0,
        high=1,
        help="rate per update of the Polyak-averaged weights the agent serves (0 = online net)",
    )
    head: str = param(
        "auto",
        choices=("auto", "per_item", "embedding"),
        help="Q head: one output per item, or φ(state)·ψ(item features + id embedding); "
        "auto = per_item up to 2,000 items, else embedding",
    )
    dueling: bool = param(
        False,
        help="per-item head as V(s) + A(s, i) − mean A (Wang et al. 2016); "
        "not with head: embedding",
    )
    embedding_dim: int = param(
        32, low=1, high=4096, help="width of φ(state) and ψ(item) with head: embedding"
    )
    item_bias: bool = param(True, help="a learned per-item bias b(i) with head: embedding")
    train_precision: str = param(
        "float32",
        choices=("float32", "bfloat16"),
        help="precision of the network body's products in updates and ε-greedy acting "
        "(bfloat16: faster on CPUs with AVX-512 BF16; evaluation and serving stay float32)",
    )
    replay_dtype: str = param(
        "float32",
        choices=tuple(OBS_DTYPES),
        help="how the replay stores observations (float16 halves their memory)",
    )
    # Measured on the `default` preset (500 items, one torch thread, shared 2-core box;
    # normalised return at 2M / 6M env steps of a 6M run, seeds 0 and 1): none 0.998, 0.979 /
    # 1.310, 1.326; gru 0.857, 0.845 / 1.287, 1.255, at 15k against 27k env steps/s;
    # attention (seed 0) 0.934 / 1.268 at 14k env steps/s. Its users' next choice depends
    # on item features (category satiation, similarity), which the observation's means
    # already carry, so the ids add weights to learn and no signal.
    # MovieLens-100K, warm users' test NDCG@10 at 2M env steps (seed 0): none 0.138, gru
    # 0.136 (default); none 0.096, gru 0.090 (logs); right after the logs warm start, which
    # trains the GRU on the log's own sequences: none 0.201, gru 0.195.
    sequence_encoder: str = param(
        "none",
        choices=SEQUENCE_ENCODERS,
        help="read the observation's history item ids (env.history_ids: true) through an id "
        "embedding and a GRU (last state) or one self-attention layer (mean), beside the "
        "other features, into the MLP body (engine.agents.sequence); measured: no gain on "
        "the default preset or MovieLens-100K, about half the env steps per second",
    )
    sequence_width: int = param(
        32, low=1, high=1024, help="width of the history id embedding and the encoder's summary"
    )
    sequence_length: int = param(
        0,
        low=0,
        high=100,
        help="history ids at the end of the observation; 0 = env.history_window (filled in "
        "when the run's config is read)",
        unit="items",
    )
    warm_start_epochs: int = param(
        0,
        low=0,
        high=1000,
        help="passes over the train log's engaged choices the Q network learns (next-item "
        "softmax, engine.agents.warm_start) before simulated training; 0 = none",
    )
    warm_start_lr: float = param(
        1e-3, low=0, high=1, low_open=True, help="Adam learning rate of the warm start"
    )
    log_loss_weight: float = param(
        0.0,
        low=0,
        high=1000,
        help="weight of the next-item loss on logged train choices added to every update "
        "(keeps what the log says while learning the simulator; 0 = none)",
    )
    log_loss_temperature: float = param(
        1.0,
        low=0,
        high=1000,
        low_open=True,
        help="Q-values are divided by this before the next-item softmax (warm start and "
        "log_loss_weight): a smaller one asks for smaller Q gaps between items",
    )

    def validate(self) -> None:
        if self.gamma_anneal_steps > 0:
            if self.n_step > 1:
                # n-step rewards are summed with the γ of the step they were collected at.
                raise RlrecError(
                    "agent.gamma_anneal_steps > 0 needs agent.n_step = 1 (n-step rewards "
                    f"would mix discounts; n_step is {self.n_step})",
                    key="agent.n_step",
                    value=self.n_step,
                )
        if self.eps_decay_steps == 0 and self.eps_decay_fraction == 0:
            raise RlrecError(
                "agent.eps_decay_steps and agent.eps_decay_fraction are both 0: set one "
                "(env steps, or a fraction of the run's budget in (0, 1])",
                key="agent.eps_decay_steps",
                value=0,
            )
        if self.eps_end > self.eps_start:
            raise RlrecError(
                f"agent.eps_end = {self.eps_end:g} must not exceed agent.eps_start = {self.eps_start:g}",
                key="agent.eps_end",
                value=self.eps_end,
            )
        if self.batch_norm and self.batch_size < 2:
            # Batch statistics of one transition are undefined (torch refuses to train them).
            raise RlrecError(
                f"agent.batch_size = {self.batch_size} is out of range with agent.batch_norm: true "
                "(allowed: >= 2)",
                key="agent.batch_size",
                value=self.batch_size,
                allowed=(2, 65536),
            )


# Bytes per (item, transition) of one training batch (Q of the batch, of its next states from
# both nets, their masks and gradients) and per (item, session) of acting (scores, masked
# copy, the greedy pick's temporaries). Counted from the update and act code paths. With
# candidate sets the "items" are the C candidates; the embedding head then also holds ψ of
# each scored candidate (`embedding_dim + 1` floats) and its features.
BATCH_BYTES_PER_ITEM = 24
ACTING_BYTES_PER_ITEM = 12


def with_resolved_head(config: DQNConfig, n_items: int) -> DQNConfig:
    """`config` with `head: auto` made concrete for a catalogue of `n_items` (trained on):
    per_item up to `sim.base.WHOLE_CATALOGUE_ITEMS` items, embedding beyond — the line where
    the simulator, left on auto, stops offering the whole catalogue."""
    if config.head != "auto":
        return config
    head = "per_item" if n_items <= WHOLE_CATALOGUE_ITEMS else "embedding"
    return dataclasses.replace(config, head=head)


def scored_items(n_items: int, n_candidates: int) -> int:
    """How many items one state is scored against: its candidates, else the catalogue."""
    return n_candidates if n_candidates > 0 else n_items


def acting_bytes_per_session(
    n_items: int, config: DQNConfig, n_candidates: int = 0, item_dim: int = 0
) -> int:
    """Bytes acting takes per session: scores and their temporaries for each scored item,
    plus, with the embedding head and candidates, ψ and the features of each candidate."""
    config = with_resolved_head(config, n_items)
    scored = scored_items(n_items, n_candidates)
    per_item = ACTING_BYTES_PER_ITEM
    if config.head == "embedding" and n_candidates > 0:
        per_item += 4 * (config.embedding_dim + 1 + item_dim) + 8
    return per_item * scored


def dqn_memory_bytes(
    obs_dim: int, n_items: int, config: DQNConfig, n_candidates: int = 0, item_dim: int = 0
) -> int:
    """Bytes the agent takes while training, its replay buffer (`ReplayBuffer.bytes_per_
    transition` a slot) and acting (`acting_bytes_per_session`) aside: the weights of every
    layer in the online, target and served nets, their gradient and Adam's two moments, plus
    one batch. Per-item head: Linear layers obs_dim → hidden… → n_items. Embedding head:
    obs_dim → hidden… → embedding_dim, item_dim → embedding_dim + 1, an n_items ×
    (embedding_dim + 1) id table, and the (shared) item features; a batch scores its next
    states' `n_candidates` (or every item) in both nets. A sequence encoder adds its id
    table and recurrent or attention weights (`sequence.sequence_parameters`)."""
    config = with_resolved_head(config, n_items)
    copies = 6 if config.serve_average > 0 else 5
    encoder = 0
    if config.sequence_encoder != "none":
        spec = SequenceSpec(
            config.sequence_encoder,
            max(config.sequence_length, 1),
            n_items,
            config.sequence_width,
        )
        encoder = 4 * sequence_parameters(spec) * copies
    scored = scored_items(n_items, n_candidates)
    if config.head == "embedding":
        dim = config.embedding_dim
        widths = [obs_dim, *config.hidden, dim]
        weights = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
        weights += (item_dim + 1) * (dim + 1) + n_items * (dim + 1)
        per_item = BATCH_BYTES_PER_ITEM
        if n_candidates > 0:  # ψ and features of each candidate, gathered for both nets
            per_item += 2 * 4 * (dim + 1 + item_dim) + 8
        # The features, and ψ of the whole catalogue when a state is scored against it.
        tables = 4 * n_items * (item_dim + (dim + 1 if n_candidates == 0 else 0))
        return encoder + 4 * weights * copies + tables + per_item * config.batch_size * scored
    widths = [obs_dim, *config.hidden, n_items]
    weights = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return encoder + 4 * weights * copies + BATCH_BYTES_PER_ITEM * config.batch_size * scored


QNet = QNetwork | EmbeddingQNetwork


def sequence_spec(config: DQNConfig, n_items: int, obs_dim: int) -> SequenceSpec | None:
    """Where `config`'s sequence encoder reads the history ids of an `obs_dim` observation
    over `n_items` trained items (None without an encoder); RlrecError when the id count is
    unknown (`sequence_length` 0, left for the run config to fill) or leaves no feature."""
    if config.sequence_encoder == "none":
        return None
    if not 0 < config.sequence_length < obs_dim:
        raise RlrecError(
            f"agent.sequence_encoder: {config.sequence_encoder} reads the observation's last "
            f"agent.sequence_length ids, which is {config.sequence_length} for an observation "
            f"of {obs_dim} columns (set env.history_ids: true; the run config fills it in)",
            key="agent.sequence_length",
            value=config.sequence_length,
            allowed=(1, obs_dim - 1),
        )
    return SequenceSpec(
        config.sequence_encoder, config.sequence_length, n_items, config.sequence_width
    )


def clip_gradients(params: list[torch.Tensor], max_norm: float) -> None:
    """`torch.nn.utils.clip_grad_norm_` for parameters some of whose gradients are sparse
    (the id embedding's): the L2 norm over every gradient value, each scaled by
    max_norm / (norm + 1e-6) when that is below 1."""
    grads = []
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()  # one value per row, so the norm counts each once
            grads.append(p.grad._values())
        else:
            grads.append(p.grad)
    if not grads:
        return
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)


def item_features_for(sim: VectorSimulator, config: DQNConfig) -> np.ndarray | None:
    """(n_items, f) float32: the simulator's observable item features when the agent's head
    scores from them (`head: embedding`), else None (the per-item head needs none)."""
    if with_resolved_head(config, sim.n_items).head != "embedding":
        return None
    return np.asarray(sim.observable_item_features, dtype=np.float32)


class DQNAgent(Policy):
    """A DQN over an item catalogue. As a `Policy` it acts greedily (dropout off).

    `n_items` is the catalogue trained on. The embedding head needs `item_features`
    ((n_all, f) float32, n_all ≥ n_items: the observable features of every item it scores;
    rows from n_items on are items added after training, scored from features alone).
    `n_candidates` (C > 0) sizes the replay for simulators that offer C candidates a step."""

    name = "dqn"

    def __init__(
        self,
        obs_dim: int,
        n_items: int,
        config: DQNConfig,
        seed: int = 0,
        with_replay: bool = True,
        *,
        item_features: np.ndarray | None = None,
        n_candidates: int = 0,
    ) -> None:
        self.config = config = with_resolved_head(config, n_items)
        self.obs_dim = int(obs_dim)
        self.n_trained_items = int(n_items)
        self.n_items = int(n_items)
        self.item_features: torch.Tensor | None = None
        if config.head == "embedding":
            if config.dueling:
                raise RlrecError(
                    "agent.dueling: true needs the per-item head (agent.head: per_item, or "
                    f"auto with at most {WHOLE_CATALOGUE_ITEMS:,} items)",
                    key="agent.dueling",
                    value=True,
                )
            if item_features is None:
                raise RlrecError(
                    "agent.head: embedding needs the simulator's observable item features",
                    key="agent.head",
                    value=config.head,
                )
            self.item_features = torch.as_tensor(np.asarray(item_features, dtype=np.float32))
            self.n_items = len(self.item_features)
        # Every draw comes from the agent's own generators, never torch's global RNG: building
        # an agent anywhere (serving, the Explore pane) cannot change a training run.
        init_generator = torch.Generator().manual_seed(seed)
        self.dropout_generator = torch.Generator().manual_seed(seed + 3)
        self.sequence = sequence_spec(config, self.n_trained_items, self.obs_dim)
        self.online = self._network(init_generator, self.dropout_generator)
        self.target = self._copy_of(self.online)
        # The id embedding of the embedding head gets sparse gradients (a batch touches at most
        # batch_size of its rows) and a lazy Adam of its own (`SparseAdam`: moments and
        # updates only for the rows in the batch, no weight decay), so an update's cost does
        # not grow with the catalogue; every other weight has the usual Adam.
        self.embedding_optimizer: torch.optim.SparseAdam | None = None
        dense = list(self.online.parameters())
        if isinstance(self.online, EmbeddingQNetwork):
            table = self.online.item_embedding
            dense = [p for p in dense if p is not table]
            self.embedding_optimizer = torch.optim.SparseAdam([table], lr=config.lr)
        # fused: one kernel over all tensors, ~3× faster per step than the per-tensor loop
        # torch picks on CPU (measured on these layer shapes, torch 2.13); the same update.
        self.optimizer = torch.optim.Adam(
            dense, lr=config.lr, weight_decay=config.weight_decay, fused=True
        )
        # A loaded policy that only recommends needs no replay memory.
        capacity = config.replay_size if with_replay else 1
        self.n_candidates = int(n_candidates)
        check_fits(
            capacity,
            ReplayBuffer.bytes_per_transition(
                obs_dim, n_items, self.n_candidates, config.replay_dtype
            ),
            Option("agent.replay_size", f"{capacity:,}"),
            "the replay buffer",
            key="agent.replay_size",
        )
        self.replay = ReplayBuffer(
            capacity, obs_dim, n_items, self.n_candidates, config.replay_dtype
        )
        self.sample_generator = torch.Generator().manual_seed(seed + 1)
        self.explore_rng = np.random.default_rng(seed + 2)
        self.updates = 0
        self.budget_fraction = 0.0  # of the run's budget done; set by the trainer
        self.env_steps = 0  # the run's env steps so far (the γ schedule); set by the trainer
        self.n_step = NStepReturns(config.n_step, config.gamma)
        # A loss on the online net added to every update's TD loss (set by a warm start).
        self.auxiliary_loss: Callable[[QNet], torch.Tensor] | None = None
        self._online_params: list[torch.Tensor] = list(self.online.parameters())
        self._target_params: list[torch.Tensor] = list(self.target.parameters())
        self.served = self.online
        if config.serve_average > 0:
            self.served = self._copy_of(self.online)
        self._served_params: list[torch.Tensor] = list(self.served.parameters())
        self._mode_matters = has_training_mode(self.online)
        # Batch-norm running statistics are buffers, not parameters, so the copies copy them;
        # the item features are one tensor all nets share, nothing to copy.
        self._target_buffers = _distinct_buffers(self.target, self.online)
        self._served_buffers = _distinct_buffers(self.served, self.online)

    def _network(
        self, init_generator: torch.Generator, dropout_generator: torch.Generator | None = None
    ) -> QNet:
        c = self.config
        if self.item_features is not None:
            return EmbeddingQNetwork(
                self.obs_dim,
                self.item_features,
                self.n_trained_items,
                c.hidden,
                c.dropout,
                c.batch_norm,
                c.embedding_dim,
                c.item_bias,
                init_generator=init_generator,
                dropout_generator=dropout_generator,
                sequence=self.sequence,
            )
        return QNetwork(
            self.obs_dim,
            self.n_items,
            c.hidden,
            c.dropout,
            c.batch_norm,
            c.dueling,
            init_generator=init_generator,
            dropout_generator=dropout_generator,
            sequence=self.sequence,
        )

    def _copy_of(self, net: QNet) -> QNet:
        """A frozen copy of `net` in eval mode (the target net, the served average)."""
        copy = self._network(torch.Generator())  # weights overwritten by the copy below
        copy.load_state_dict(net.state_dict())
        copy.eval()
        for p in copy.parameters():
            p.requires_grad_(False)
        return copy

    # -- acting ------------------------------------------------------------------------
    def q_values(self, obs: np.ndarray) -> torch.Tensor:
        """(N, n_items) Q-values of the served net in eval mode (no dropout)."""
        return self._q(self.served, obs)

    def _q(self, net: QNet, obs: np.ndarray, candidates: np.ndarray | None = None) -> torch.Tensor:
        """(N, n_items) Q-values of `net` in eval mode, or (N, C) at `candidates`."""
        with self._evaluating(net), torch.inference_mode():
            states = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            if candidates is None:
                return net(states)
            return net.candidate_q(states, torch.as_tensor(np.asarray(candidates, np.int64)))

    @contextlib.contextmanager
    def _evaluating(self, net: QNet) -> Iterator[None]:
        """`net` in eval mode within the block, back to its mode after. Without dropout or
        batch norm the modes compute the same, and switching walks every module (~5 % of
        an update's time), so it is skipped."""
        if not (net.training and self._mode_matters):
            yield
            return
        net.eval()
        try:
            yield
        finally:
            net.train()

    def _acting_mask(self, mask: np.ndarray | None) -> np.ndarray | None:
        """`mask` when engaged items are masked (`mask_engaged`), else None."""
        return mask if self.config.mask_engaged else None

    def _masked(self, q: torch.Tensor, mask: np.ndarray | None) -> torch.Tensor:
        """`q` with the masked items at -inf (scores that are shown or ranked)."""
        mask = self._acting_mask(mask)
        if mask is not None:
            q = q.masked_fill(torch.from_numpy(np.asarray(mask, dtype=bool)), -math.inf)
        return q

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self._masked(self.q_values(obs), mask).numpy()

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return masked_argmax(self.q_values(obs), self._acting_mask(mask))

    def candidate_scores(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, C) Q-values of the served net at `candidates` ((N, C) item ids); masked ones
        (`mask` (N, C), with `mask_engaged`) are -inf."""
        return self._masked(self._q(self.served, obs, candidates), mask).numpy()

    def act_candidates(
        self, obs: np.ndarray, candidates: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """(N,) int64 item ids: each session's best unmasked candidate (served net)."""
        best = masked_argmax(self._q(self.served, obs, candidates), self._acting_mask(mask))
        return np.asarray(candidates[np.arange(len(best)), best], dtype=np.int64)

    def act_explore(
        self,
        obs: np.ndarray,
        mask: np.ndarray | None,
        epsilon: float,
        candidates: np.ndarray | None = None,
    ) -> np.ndarray:
        """ε-greedy on the online net: greedy for most sessions, a uniformly random allowed
        item for the rest. Without `candidates`, over the catalogue with `mask` (N, n_items);
        with them ((N, C) item ids), among each session's candidates with `mask` (N, C)."""
        if candidates is not None:
            return self._explore_candidates(obs, mask, epsilon, candidates)
        with self._training_precision():
            q = self._q(self.online, obs)
        actions = masked_argmax(q, self._acting_mask(mask))
        explore = np.flatnonzero(self.explore_rng.random(len(actions)) < epsilon)
        if explore.size:
            actions[explore] = self._random_items(explore, mask)
        return actions

    def _explore_candidates(
        self, obs: np.ndarray, mask: np.ndarray | None, epsilon: float, candidates: np.ndarray
    ) -> np.ndarray:
        with self._training_precision():
            q = self._q(self.online, obs, candidates)
        positions = masked_argmax(q, self._acting_mask(mask))
        explore = np.flatnonzero(self.explore_rng.random(len(positions)) < epsilon)
        if explore.size:
            positions[explore] = self._random_positions(explore, mask, candidates.shape[1])
        return np.asarray(candidates[np.arange(len(positions)), positions], dtype=np.int64)

    def _random_positions(
        self, rows: np.ndarray, mask: np.ndarray | None, width: int
    ) -> np.ndarray:
        """A uniformly random unmasked position among `width` candidates for each of `rows`
        (any position where every candidate of the row is masked)."""
        rng = self.explore_rng
        if mask is None or not self.config.mask_engaged:
            return rng.integers(0, width, size=rows.size)
        noise = rng.random((rows.size, width))
        noise[np.asarray(mask, dtype=bool)[rows]] -= 2.0  # masked ones lose unless all are
        return noise.argmax(axis=1)

    def _random_items(self, rows: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Uniform random items, redrawn where they hit the mask (masks are sparse, so a
        redraw or two settles almost every row)."""
        rng = self.explore_rng
        items = rng.integers(0, self.n_items, size=rows.size)
        if mask is None or not self.config.mask_engaged:
            return items
        for _ in range(8):
            bad = np.flatnonzero(mask[rows, items])
            if bad.size == 0:
                return items
            items[bad] = rng.integers(0, self.n_items, size=bad.size)
        bad = np.flatnonzero(mask[rows, items])
        if bad.size:  # nearly full masks: pick among the allowed items exactly
            noise = rng.random((bad.size, self.n_items))
            noise[mask[rows[bad]]] = -1.0
            items[bad] = noise.argmax(axis=1)
        return items

    # -- schedules ---------------------------------------------------------------------
    # Both schedules are linear; each runs over a fixed count (env steps, updates) when that
    # count is set (> 0), else over its `*_decay_fraction` of the run's budget — which the
    # trainer keeps in `budget_fraction` (in [0, 1]) — so a 60-second run and a 10-minute run
    # both end exploiting with a small learning rate. A count someone sets always wins, so
    # a preset, the Train form or `--set agent.eps_decay_steps=N` means what it says.
    def epsilon(self, env_steps: int) -> float:
        """ε for the next ε-greedy step, after `env_steps` env steps (or at `budget_fraction`)."""
        c = self.config
        if c.eps_decay_steps > 0:
            frac = min(1.0, env_steps / c.eps_decay_steps)
        else:
            frac = min(1.0, self.budget_fraction / c.eps_decay_fraction)
            if c.eps_decay_cap > 0:  # a long budget explores no longer than the cap
                frac = max(frac, min(1.0, env_steps / c.eps_decay_cap))
        return (1.0 - frac) * c.eps_start + frac * c.eps_end

    def discount(self) -> float:
        """γ for the next update's targets, after the trainer's `env_steps`: `gamma` for the
        first `gamma_anneal_start` env steps, then 1 − γ moves geometrically from 1 − gamma
        to 1 − gamma_final over `gamma_anneal_steps` (log(1 − γ) linear in env steps), and
        stays there. The schedule only raises γ: with `gamma` at or above `gamma_final` (a
        search or a config setting γ alone) γ stays `gamma`. A longer horizon is learnt once
        the short one has settled: the increasing discount of François-Lavet, Fonteneau &
        Ernst (2015), "How to Discount Deep Reinforcement Learning: Towards New Dynamic
        Strategies", whose per-epoch update 1 − γ_{k+1} = 0.98 (1 − γ_k) is this schedule on
        a discrete clock. Counted in env steps, not the budget, so a short run keeps the
        short horizon it learns fastest."""
        c = self.config
        if (
            c.gamma_anneal_steps <= 0
            or c.gamma_final <= c.gamma
            or self.env_steps <= c.gamma_anneal_start
        ):
            return c.gamma
        frac = min(1.0, (self.env_steps - c.gamma_anneal_start) / c.gamma_anneal_steps)
        start, end = math.log1p(-c.gamma), math.log1p(-c.gamma_final)
        return -math.expm1(start + frac * (end - start))

    def learning_rate(self) -> float:
        """Adam's learning rate for the next update."""
        c = self.config
        if c.lr_decay_updates > 0:
            frac = min(1.0, self.updates / c.lr_decay_updates)
        elif c.lr_decay_fraction > 0:
            frac = min(1.0, self.budget_fraction / c.lr_decay_fraction)
        else:
            return c.lr
        return c.lr * (1.0 + frac * (c.lr_final - 1.0))

    # -- learning ----------------------------------------------------------------------
    def remember(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        done: np.ndarray,
        next_mask: np.ndarray | None,
        next_candidates: np.ndarray | None = None,
    ) -> None:
        """Store N transitions: obs and next_obs (N, obs_dim), actions (N,) item ids, rewards
        (N,), done (N,) bool, next_mask (N, n_items) bool (kept only with `mask_engaged`) —
        or, when the next states were offered candidates, `next_candidates` (N, C) item ids
        and next_mask (N, C) aligned with them (the Double-DQN target maximises over them).
        With `n_step` n > 1 the replay gets each transition n steps later, as an n-step one
        (`engine.agents.nstep`)."""
        step = Step(
            obs,
            actions,
            rewards,
            next_obs,
            done,
            next_mask if self.config.mask_engaged else None,
            next_candidates,
        )
        ready = self.n_step.push(step)
        if ready is not None:
            self.replay.add_batch(*ready)

    def update(self) -> float:
        """One gradient step on a replay batch; returns the loss. A non-finite loss is
        returned without touching the weights (the trainer then stops the run)."""
        c = self.config
        batch = self.replay.sample(c.batch_size, self.sample_generator)
        with self._training_precision():
            q = self.online.q_at(batch["obs"], batch["action"])
            target = batch["reward"]
            gamma = self.discount()
            if gamma > 0:  # γ = 0 needs no next-state values at all
                # An n-step reward already sums γ^k r_{t+k} for k < n; the bootstrap is n away.
                discount = gamma**c.n_step
                target = target + discount * (~batch["done"]).float() * self._next_value(batch)
        if c.loss == "huber":
            loss = F.smooth_l1_loss(q, target, beta=c.huber_delta)
        else:
            loss = F.mse_loss(q, target)
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            return loss_value
        if self.auxiliary_loss is not None:
            loss = loss + self.auxiliary_loss(self.online)
        optimizers: list[torch.optim.Optimizer] = [self.optimizer]
        if self.embedding_optimizer is not None:
            optimizers.append(self.embedding_optimizer)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate()
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            if self.embedding_optimizer is None:
                torch.nn.utils.clip_grad_norm_(self._online_params, c.grad_clip)
            else:
                clip_gradients(self._online_params, c.grad_clip)
        for optimizer in optimizers:
            optimizer.step()
        self.updates += 1
        self._update_target()
        if self.served is not self.online:
            with torch.no_grad():
                torch._foreach_lerp_(self._served_params, self._online_params, c.serve_average)
                for s_buf, o_buf in self._served_buffers:
                    s_buf.copy_(o_buf)
        return loss_value

    def _training_precision(self) -> contextlib.AbstractContextManager[None]:
        """The precision of training's forward passes (`train_precision`); evaluation and
        serving call the networks outside it, in float32."""
        return bfloat16_body(self.config.train_precision == "bfloat16")

    @torch.no_grad()
    def _next_value(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        next_obs = batch["next_obs"]
        mask = batch["next_mask"] if self.config.mask_engaged else None
        if "next_candidates" in batch:
            return self._next_value_among(next_obs, batch["next_candidates"], mask)
        target_q = self.target(next_obs)
        if self.config.double_dqn:
            with self._evaluating(self.online):
                chooser = self.online(next_obs)
        else:
            chooser = target_q
        best = torch.from_numpy(masked_argmax(chooser, mask))
        return target_q.gather(1, best[:, None]).squeeze(1)

    def _next_value_among(
        self, next_obs: torch.Tensor, candidates: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """max over each next state's stored candidates (B, C): the online net picks, the
        target net values its pick (Double DQN), so the target scores one item a state."""
        if self.config.double_dqn:
            with self._evaluating(self.online):
                chooser = self.online.candidate_q(next_obs, candidates)
        else:
            chooser = target_q = self.target.candidate_q(next_obs, candidates)
        best = torch.from_numpy(masked_argmax(chooser, mask))[:, None]
        if not self.config.double_dqn:
            return target_q.gather(1, best).squeeze(1)
        return self.target.q_at(next_obs, candidates.gather(1, best).squeeze(1))

    def _update_target(self) -> None:
        c = self.config
        if c.target_update == "soft":
            with torch.no_grad():
                torch._foreach_lerp_(self._target_params, self._online_params, c.tau)
                for t_buf, o_buf in self._target_buffers:
                    t_buf.copy_(o_buf)
        elif self.updates % c.target_every == 0:
            self.target.load_state_dict(self.online.state_dict())

    # -- checkpoint state --------------------------------------------------------------
    def state_dict(self, include_replay: bool = True) -> dict:
        state = {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **(
                {}
                if self.embedding_optimizer is None
                else {"embedding_optimizer": self.embedding_optimizer.state_dict()}
            ),
            "updates": self.updates,
            "sample_generator": self.sample_generator.get_state(),
            "dropout_generator": self.dropout_generator.get_state(),
            "explore_rng": self.explore_rng.bit_generator.state,
        }
        if self.served is not self.online:
            state["served"] = self.served.state_dict()
        if self.config.n_step > 1:  # steps not yet in the replay (they go with it)
            state["n_step"] = self.n_step.state_dict() if include_replay else {"count": 0}
        if include_replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`'s output. KeyError, RuntimeError (a tensor of another
        shape), TypeError or ValueError when it does not fit this agent: callers reading a
        checkpoint turn those into one line."""
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        if self.served is not self.online:
            # A run trained without the served average: start it at the online net.
            self.served.load_state_dict(state.get("served", state["online"]))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.embedding_optimizer is not None:
            self.embedding_optimizer.load_state_dict(state["embedding_optimizer"])
        self.updates = int(state["updates"])
        self.sample_generator.set_state(state["sample_generator"])
        self.dropout_generator.set_state(state["dropout_generator"])
        self.explore_rng.bit_generator.state = state["explore_rng"]
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])
        if "n_step" in state:
            self.n_step.load_state_dict(state["n_step"])
