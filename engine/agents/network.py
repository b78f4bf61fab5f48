"""The Q-network: an MLP from an observation to one Q-value per item.

Hidden layers are Linear → (BatchNorm) → ReLU → Dropout, as the seed specifies (256→256→128,
dropout 0.2). The output layer is the only place that knows items are a fixed-width head, so a
future embedding head `Q(s, i) = φ(s)·ψ(item_i)` replaces `head` and nothing else.

Randomness comes only from generators the caller owns: the initial weights from
`init_generator`, the dropout masks from `dropout_generator`. Nothing here touches torch's
process-wide RNG, so building a network in one thread (a served policy, the Explore pane)
never changes what a training run in another thread draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


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


def initialise(module: nn.Module, generator: torch.Generator) -> None:
    """torch's default initialisation of each Linear (Kaiming-uniform weights, uniform bias
    in ±1/√fan_in) and BatchNorm layer, drawn from `generator`."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, nn.BatchNorm1d):
            layer.reset_parameters()


class QNetwork(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        n_items: int,
        hidden: Sequence[int] = (256, 256, 128),
        dropout: float = 0.2,
        batch_norm: bool = False,
        *,
        init_generator: torch.Generator | None = None,
        dropout_generator: torch.Generator | None = None,
    ) -> None:
        """Weights from `init_generator` (a fresh one seeded 0 if None); dropout masks from
        `dropout_generator` (only drawn in training mode)."""
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        # Built on the meta device (no memory, no draws from the global RNG), then
        # materialised and initialised from our own generator.
        with torch.device("meta"):
            for size in hidden:
                layers.append(nn.Linear(width, size))
                if batch_norm:
                    layers.append(nn.BatchNorm1d(size))
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(GeneratorDropout(dropout, dropout_generator))
                width = size
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(width, n_items)
        self.to_empty(device="cpu")
        initialise(self, init_generator or torch.Generator().manual_seed(0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B, n_items) Q-values."""
        return self.head(self.body(obs))
