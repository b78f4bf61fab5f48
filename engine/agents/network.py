"""The Q-network: an MLP from an observation to one Q-value per item.

Hidden layers are Linear → (BatchNorm) → ReLU → Dropout, as the seed specifies (256→256→128,
dropout 0.2). The output layer is the only place that knows items are a fixed-width head, so a
future embedding head `Q(s, i) = φ(s)·ψ(item_i)` replaces `head` and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class QNetwork(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        n_items: int,
        hidden: Sequence[int] = (256, 256, 128),
        dropout: float = 0.2,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_items)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, n_items) Q-values."""
        return self.head(self.body(obs))
