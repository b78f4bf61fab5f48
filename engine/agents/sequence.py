"""A state body that reads the user's last engaged items by name, not only their mean features.

With `env.history_ids` the observation ends with the ids of the last H engaged items (oldest
first, newest last, `n_items` for an empty slot; `engine.sim.session_start`). `SequenceBody`
splits them off, embeds each id (the padding id embeds to a zero vector), summarises the
sequence with a GRU (Cho et al. 2014; its last hidden state, as GRU4Rec, Hidasi et al. 2016)
or with one self-attention layer over the ids plus learned positions (SASRec, Kang & McAuley
2018; mean over the filled slots), and feeds that summary beside the observation's features
into the usual MLP. It is a drop-in `body`: (B, obs_dim) → (B, width), so both Q heads, the
warm start and serving use it unchanged.

The encoder always runs in float32, also inside `network.bfloat16_body()`: only the MLP's
products are rounded to bfloat16 (a GRU's recurrence compounds rounding step by step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

SEQUENCE_ENCODERS = ("none", "gru", "attention")


@dataclass(frozen=True)
class SequenceSpec:
    """Where the ids are and how to read them: the last `length` observation columns are
    item ids below `n_items` (`n_items` itself = an empty slot; larger ids, items added
    after training, read as empty too); `kind` "gru" or "attention"; `width` the id
    embedding's and the summary's size."""

    kind: str
    length: int
    n_items: int
    width: int


class SequenceBody(nn.Module):
    """(B, obs_dim) → (B, mlp width): MLP(features ‖ encoder(ids)). `make_mlp(in_dim)` builds
    the hidden layers (returning them and their width), so dropout and batch norm follow the
    agent's settings. Built wherever the caller's device context says (meta, then
    `initialise_sequence`)."""

    def __init__(
        self, obs_dim: int, spec: SequenceSpec, make_mlp: Callable[[int], tuple[nn.Module, int]]
    ) -> None:
        super().__init__()
        if spec.kind not in SEQUENCE_ENCODERS[1:]:
            raise ValueError(f"sequence encoder {spec.kind!r} (allowed: gru, attention)")
        if not 0 < spec.length < obs_dim:
            raise ValueError(f"{spec.length} id columns in an observation of {obs_dim}")
        self.spec = spec
        self.n_features = obs_dim - spec.length
        self.embedding = nn.Embedding(spec.n_items + 1, spec.width, padding_idx=spec.n_items)
        self.gru: nn.GRU | None = None
        self.attention: nn.MultiheadAttention | None = None
        if spec.kind == "gru":
            self.gru = nn.GRU(spec.width, spec.width, batch_first=True)
        else:
            self.position = nn.Parameter(torch.empty(spec.length, spec.width))
            self.attention = nn.MultiheadAttention(spec.width, 1, batch_first=True)
            self.norm = nn.LayerNorm(spec.width)
        self.mlp, self.width = make_mlp(self.n_features + spec.width)

    def ids(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, H) int64 history ids; unknown ones (≥ n_items) read as empty."""
        pad = self.spec.n_items
        return obs[:, self.n_features :].round().long().clamp_(0, pad)

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, H) int64 ids → (B, width) float32 summary of the sequence (zero when every
        slot is empty with attention; the GRU's state after only padding otherwise)."""
        with torch.autocast("cpu", enabled=False):
            x = self.embedding(ids)
            if self.gru is not None:
                _, last = self.gru(x)  # left-padded, so the last step is the newest item
                return last[0]
            assert self.attention is not None
            filled = ids != self.spec.n_items
            x = (x + self.position) * filled.unsqueeze(-1)
            # A row with no item attends to every (zero) slot rather than to none (NaN).
            ignore = ~filled & filled.any(dim=1, keepdim=True)
            attended, _ = self.attention(x, x, x, key_padding_mask=ignore, need_weights=False)
            out = self.norm(x + attended) * filled.unsqueeze(-1)
            return out.sum(dim=1) / filled.sum(dim=1, keepdim=True).clamp(min=1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        summary = self.encode(self.ids(obs))
        return self.mlp(torch.cat([obs[:, : self.n_features], summary.to(obs.dtype)], dim=1))


def initialise_sequence(body: SequenceBody, generator: torch.Generator) -> None:
    """torch's default initialisation of the encoder's layers, drawn from `generator`: the id
    embedding N(0, 1) with the padding row zero, the GRU's weights and biases U(±1/√width),
    the attention's input projection Xavier-uniform with zero biases (its output projection
    is a Linear, initialised with the MLP), positions N(0, 1)."""
    width = body.spec.width
    with torch.no_grad():
        nn.init.normal_(body.embedding.weight, generator=generator)
        body.embedding.weight[body.spec.n_items].zero_()
        if body.gru is not None:
            bound = 1.0 / math.sqrt(width)
            for p in body.gru.parameters():
                nn.init.uniform_(p, -bound, bound, generator=generator)
        if body.attention is not None:
            nn.init.xavier_uniform_(body.attention.in_proj_weight, generator=generator)
            nn.init.zeros_(body.attention.in_proj_bias)
            nn.init.normal_(body.position, generator=generator)
            body.norm.reset_parameters()


def sequence_parameters(spec: SequenceSpec | None) -> int:
    """Weights the encoder adds (embedding table, GRU or attention), for memory estimates."""
    if spec is None:
        return 0
    w = spec.width
    table = (spec.n_items + 1) * w
    if spec.kind == "gru":
        return table + 3 * (2 * w * w + 2 * w)
    return table + spec.length * w + 4 * w * w + 4 * w + 2 * w
