"""The Q-networks: an MLP body from an observation, then one of two heads.

Hidden layers are Linear → (BatchNorm) → ReLU → Dropout, as the seed specifies (256→256→128,
dropout 0.2). `QNetwork` ends in one output per item (a catalogue fixed at training time);
`EmbeddingQNetwork` scores `Q(s, i) = φ(s)·ψ(i)` with ψ built from the item's observable
features plus a learned id embedding, so it scores a candidate set without touching the rest
of the catalogue and scores items added after training from their features alone (the
two-tower form of YouTube's candidate ranking, Covington et al. 2016, used as a Q-function
over items as in Ie et al. 2019, "SlateQ").

Both offer the same three ways in: `forward(obs)` (B, n_items) for the whole catalogue,
`candidate_q(obs, candidates)` (B, C) and `q_at(obs, items)` (B,).

With `sequence` (a `sequence.SequenceSpec`) the body is a `sequence.SequenceBody`: the
observation's trailing history ids go through an id embedding and a GRU or self-attention,
whose summary joins the other columns into the MLP.

`bfloat16_body()` runs the MLP body's matrix products in bfloat16 (torch's CPU autocast) while
the head, the losses and every weight stay float32: the DQN's updates and ε-greedy acting use
it when `agent.train_precision: bfloat16`; evaluation and serving never do.

Randomness comes only from generators the caller owns: the initial weights from
`init_generator`, the dropout masks from `dropout_generator`. Nothing here touches torch's
process-wide RNG, so building a network in one thread (a served policy, the Explore pane)
never changes what a training run in another thread draws.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rlrec.engine.agents.sequence import SequenceBody, SequenceSpec, initialise_sequence


class GeneratorDropout(nn.Module):
    """`nn.Dropout` drawing its mask from `generator` (torch's global RNG if None)."""

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep.div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


_BFLOAT16_BODY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rlrec_bfloat16_body", default=False
)


@contextlib.contextmanager
def bfloat16_body(enabled: bool = True) -> Iterator[None]:
    """Within this block (this thread only), network bodies multiply in bfloat16.

    The body's output is cast back to float32 before the head, so Q-values keep float32
    resolution between items; only the hidden activations are rounded (8-bit mantissa).
    On CPUs with AVX-512 BF16 an update costs about 0.6-0.75× the float32 one
    (bench/learning.py; torch CPU autocast, https://pytorch.org/docs/stable/amp.html)."""
    token = _BFLOAT16_BODY.set(enabled)
    try:
        yield
    finally:
        _BFLOAT16_BODY.reset(token)


def run_body(body: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """(B, obs_dim) → (B, width) float32: `body(obs)`, in bfloat16 inside `bfloat16_body()`."""
    if not _BFLOAT16_BODY.get():
        return body(obs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = body(obs)
    return out.float()


def has_training_mode(net: nn.Module) -> bool:
    """Whether `net` computes differently in training and eval mode: it holds batch norm, or
    a layer that drops out with a positive rate (`GeneratorDropout`, `nn.Dropout`, a GRU's
    or an attention layer's `dropout`)."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return True
        rate = (
            getattr(module, "p", None)
            if isinstance(module, GeneratorDropout | nn.Dropout)
            else None
        )
        if rate is None:
            rate = getattr(module, "dropout", 0.0)
        if isinstance(rate, float | int) and rate > 0:
            return True
    return False


def initialise(module: nn.Module, generator: torch.Generator) -> None:
    """torch's default initialisation of each Linear (Kaiming-uniform weights, uniform bias
    in ±1/√fan_in) and BatchNorm layer, and of a sequence encoder's layers
    (`sequence.initialise_sequence`), drawn from `generator`."""
    for layer in module.modules():
        if isinstance(layer, SequenceBody):
            initialise_sequence(layer, generator)
        elif isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, nn.BatchNorm1d):
            layer.reset_parameters()


def mlp_body(
    obs_dim: int,
    hidden: Sequence[int],
    dropout: float,
    batch_norm: bool,
    dropout_generator: torch.Generator | None,
) -> tuple[nn.Sequential, int]:
    """The hidden layers (built where the caller's device context says) and their width."""
    layers: list[nn.Module] = []
    width = obs_dim
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(GeneratorDropout(dropout, dropout_generator))
        width = size
    return nn.Sequential(*layers), width


def state_body(
    obs_dim: int,
    hidden: Sequence[int],
    dropout: float,
    batch_norm: bool,
    dropout_generator: torch.Generator | None,
    sequence: SequenceSpec | None = None,
) -> tuple[nn.Module, int]:
    """`mlp_body` over the observation, or with `sequence` a `SequenceBody` around it."""
    if sequence is None:
        return mlp_body(obs_dim, hidden, dropout, batch_norm, dropout_generator)

    def make_mlp(in_dim: int) -> tuple[nn.Module, int]:
        return mlp_body(in_dim, hidden, dropout, batch_norm, dropout_generator)

    body = SequenceBody(obs_dim, sequence, make_mlp)
    return body, body.width


class QNetwork(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        n_items: int,
        hidden: Sequence[int] = (256, 256, 128),
        dropout: float = 0.2,
        batch_norm: bool = False,
        dueling: bool = False,
        *,
        init_generator: torch.Generator | None = None,
        dropout_generator: torch.Generator | None = None,
        sequence: SequenceSpec | None = None,
    ) -> None:
        """Weights from `init_generator` (a fresh one seeded 0 if None); dropout masks from
        `dropout_generator` (only drawn in training mode). `dueling`: the head is split into
        a state value V(s) and advantages A(s, i), Q = V + A − mean_i A (Wang et al. 2016,
        "Dueling Network Architectures for Deep Reinforcement Learning", eq. 9), so what
        all items share is learned once rather than per item. `sequence`: the observation
        ends with history ids read by a sequence encoder (`state_body`)."""
        super().__init__()
        # Built on the meta device (no memory, no draws from the global RNG), then
        # materialised and initialised from our own generator.
        with torch.device("meta"):
            self.body, width = state_body(
                obs_dim, hidden, dropout, batch_norm, dropout_generator, sequence
            )
            self.head = nn.Linear(width, n_items)
            self.value = nn.Linear(width, 1) if dueling else None
        self.to_empty(device="cpu")
        initialise(self, init_generator or torch.Generator().manual_seed(0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, n_items) Q-values."""
        features = run_body(self.body, obs)
        if self.value is None:
            return self.head(features)
        advantage = self.head(features)
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)

    def candidate_q(self, obs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim), (B, C) item ids → (B, C): the head's outputs gathered at the
        candidates (the whole catalogue is computed: a per-item head has no cheaper way)."""
        return self(obs).gather(1, candidates)

    def q_at(self, obs: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim), (B,) item ids → (B,) Q-values of those items."""
        return self(obs).gather(1, items.unsqueeze(1)).squeeze(1)


class EmbeddingQNetwork(nn.Module):
    """`Q(s, i) = φ(s)·ψ(i) + b(i)`.

    φ(s): the MLP body projected to `dim`. ψ(i) and the bias b(i): a linear map of item i's
    observable features (`item_features`, (n_all, f) float32, kept as a non-persistent buffer:
    dataset-derived, never part of the state_dict) plus a learned id embedding for the first
    `n_known` items (those seen in training; zero at the start, so an item starts from what
    its features say). Items from `n_known` on (added after training) get the feature part
    alone. Both parts are stored as one (·, dim + 1) table whose last column is the bias when
    `item_bias`, so a score is one dot product of `[φ(s), 1]` with a row.
    """

    features: torch.Tensor  # (n_items, f) float32, a non-persistent buffer

    def __init__(
        self,
        obs_dim: int,
        item_features: torch.Tensor,
        n_known: int,
        hidden: Sequence[int] = (256, 256, 128),
        dropout: float = 0.2,
        batch_norm: bool = False,
        dim: int = 64,
        item_bias: bool = True,
        *,
        init_generator: torch.Generator | None = None,
        dropout_generator: torch.Generator | None = None,
        sequence: SequenceSpec | None = None,
    ) -> None:
        super().__init__()
        features = torch.as_tensor(item_features, dtype=torch.float32)
        if features.ndim != 2 or len(features) < n_known:
            raise ValueError(
                f"item features of shape {tuple(features.shape)} for {n_known} known items"
            )
        self.n_known = int(n_known)
        self.item_bias = bool(item_bias)
        width_out = dim + int(item_bias)
        with torch.device("meta"):
            self.body, width = state_body(
                obs_dim, hidden, dropout, batch_norm, dropout_generator, sequence
            )
            self.state_proj = nn.Linear(width, dim)
            self.feature_proj = nn.Linear(features.shape[1], width_out)
        self.to_empty(device="cpu")
        initialise(self, init_generator or torch.Generator().manual_seed(0))
        self.item_embedding = nn.Parameter(torch.zeros(self.n_known, width_out))
        self.register_buffer("features", features, persistent=False)
        self._table_cache: tuple[tuple[tuple[int, int], ...], torch.Tensor] | None = None

    @property
    def n_items(self) -> int:
        """Items this network scores: the known ones and any added after training."""
        return len(self.features)

    def phi(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, dim [+1]): the state's vector (with a 1 for the item bias)."""
        phi = self.state_proj(run_body(self.body, obs))
        if self.item_bias:
            phi = torch.cat([phi, phi.new_ones(len(phi), 1)], dim=1)
        return phi

    def psi(self, items: torch.Tensor) -> torch.Tensor:
        """Item ids of any shape (…) → (…, dim [+1]): features through the linear map plus the
        id embedding (zero for items from `n_known` on)."""
        from_features = self.feature_proj(self.features[items])
        if self.n_known == self.n_items:
            return from_features + self.item_embedding[items]
        known = items < self.n_known
        embedding = self.item_embedding[torch.where(known, items, 0)]
        return from_features + embedding * known.unsqueeze(-1)

    def item_table(self) -> torch.Tensor:
        """(n_items, dim [+1]): ψ of every item. Without autograd (serving, evaluation) the
        table is kept until a tensor it is made from changes in place (an update, a Polyak
        step, a load), so ranking the whole catalogue for one state is one product, not the
        feature map of every item again (7 ms a request at 100k items)."""
        if torch.is_grad_enabled():
            return self._item_table()
        # Identity and in-place version of each input: a copy of this net (deepcopy) has
        # other tensors, so it never takes this net's table for its own.
        key = tuple(
            (id(t), t._version)
            for t in (self.features, self.feature_proj.weight, self.item_embedding)
            + ((self.feature_proj.bias,) if self.feature_proj.bias is not None else ())
        )
        cached = self._table_cache
        if cached is None or cached[0] != key:
            cached = self._table_cache = (key, self._item_table())
        return cached[1]

    def _item_table(self) -> torch.Tensor:
        table = self.feature_proj(self.features)
        if self.n_known == self.n_items:
            return table + self.item_embedding
        return torch.cat([table[: self.n_known] + self.item_embedding, table[self.n_known :]])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, n_items) Q-values of the whole catalogue (serving, offline
        ranking, a simulator without candidate sets)."""
        return self.phi(obs) @ self.item_table().T

    def candidate_q(self, obs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim), (B, C) item ids → (B, C), never a (B, n_items) product.

        Two equal ways, whichever moves less memory: when the B·C candidates outnumber the
        catalogue (acting for many sessions on a small catalogue), ψ of every item once and a
        gather of its rows; otherwise, per candidate, `φ·(W·x + e) = (Wᵀφ)·x + φ·e` — the
        features x and the id embedding e gathered, the feature map applied to φ once."""
        batch, width = candidates.shape
        flat = candidates.reshape(-1)
        phi = self.phi(obs)
        if flat.numel() >= self.n_items:
            psi = self.item_table().index_select(0, flat).view(batch, width, -1)
            return torch.bmm(psi, phi.unsqueeze(2)).squeeze(2)
        proj = self.feature_proj
        features = self.features.index_select(0, flat).view(batch, width, -1)
        q = torch.bmm(features, (phi @ proj.weight).unsqueeze(2)).squeeze(2)
        q = q + (phi @ proj.bias).unsqueeze(1)
        if self.n_known == self.n_items:
            embedding = self.item_embedding.index_select(0, flat)
        else:  # items added after training have no id embedding
            known = flat < self.n_known
            embedding = self.item_embedding.index_select(0, torch.where(known, flat, 0))
            embedding = embedding * known.unsqueeze(1)
        embedding = embedding.view(batch, width, -1)
        return q + torch.bmm(embedding, phi.unsqueeze(2)).squeeze(2)

    def q_at(self, obs: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim), (B,) item ids → (B,) Q-values of those items. The id embedding's
        gradient is sparse (the rows of `items` only) when every item is known, as in
        training."""
        if self.n_known < self.n_items:
            return (self.phi(obs) * self.psi(items)).sum(dim=1)
        from_features = self.feature_proj(self.features.index_select(0, items))
        psi = from_features + F.embedding(items, self.item_embedding, sparse=True)
        return (self.phi(obs) * psi).sum(dim=1)
