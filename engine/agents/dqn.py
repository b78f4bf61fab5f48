"""The DQN agent: every hyperparameter in `DQNConfig`, acting on batches of sessions, learning
from a preallocated replay buffer with Double-DQN targets.

Read top to bottom: the config, then `DQNAgent` — acting (greedy and ε-greedy, with engaged
items masked), one gradient update, the schedules (ε by env steps, learning rate by updates),
and checkpoint state. The trainer decides *when* to act and learn; this module decides *how*.

What the agent serves — greedy evaluation, offline ranking, recommendations — can be a slow
Polyak average of the online weights (`serve_average` > 0) rather than the online net itself:
the online net's ranking of the items it rarely picks jitters from update to update, and the
average smooths that out. Exploration and learning always use the online net.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rlrec.data.errors import Option, RlrecError
from rlrec.data.memory import check_fits
from rlrec.engine.agents.network import QNetwork
from rlrec.engine.agents.replay import ReplayBuffer
from rlrec.engine.config_base import MAX_RUN_STEPS, param
from rlrec.engine.policies.base import Policy


@dataclass
class DQNConfig:
    hidden: list[int] = param([256, 256, 128], low=1, high=8192, help="hidden layer widths")
    dropout: float = param(
        0.2, low=0, high=1, high_open=True, help="dropout after each hidden layer"
    )
    batch_norm: bool = param(False, help="batch norm after each hidden linear layer")
    gamma: float = param(0.9, low=0, high=1, help="discount per step")
    lr: float = param(1e-3, low=0, high=1, low_open=True, help="Adam learning rate")
    lr_final: float = param(1.0, low=0, high=1, help="final learning rate as a fraction of lr")
    lr_decay_updates: int = param(
        0,
        low=0,
        high=MAX_RUN_STEPS,
        help="updates over which lr decays linearly to lr × lr_final (0 = constant)",
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
    eps_start: float = param(1.0, low=0, high=1, help="ε at step 0")
    eps_end: float = param(0.05, low=0, high=1, help="ε after the decay")
    eps_decay_steps: int = param(
        200_000,
        low=1,
        high=MAX_RUN_STEPS,
        help="env steps over which ε decays linearly",
        unit="env steps",
    )
    mask_engaged: bool = param(True, help="never recommend an item already engaged in the session")
    serve_average: float = param(
        0.0,
        low=0,
        high=1,
        help="rate per update of the Polyak-averaged weights the agent serves (0 = online net)",
    )

    def validate(self) -> None:
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
# copy, the greedy pick's temporaries). Counted from the update and act code paths.
BATCH_BYTES_PER_ITEM = 24
ACTING_BYTES_PER_ITEM = 12


def dqn_memory_bytes(obs_dim: int, n_items: int, config: DQNConfig) -> int:
    """Bytes the agent takes while training, its replay buffer (`ReplayBuffer.bytes_per_
    transition` a slot) and acting (`ACTING_BYTES_PER_ITEM` per session and item) aside: the
    weights of every Linear layer (obs_dim → hidden… → n_items) in the online, target and
    served nets, their gradient and Adam's two moments, plus one batch."""
    widths = [obs_dim, *config.hidden, n_items]
    weights = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    copies = 6 if config.serve_average > 0 else 5
    return 4 * weights * copies + BATCH_BYTES_PER_ITEM * config.batch_size * n_items


class DQNAgent(Policy):
    """A DQN over a fixed item catalogue. As a `Policy` it acts greedily (dropout off)."""

    name = "dqn"

    def __init__(
        self, obs_dim: int, n_items: int, config: DQNConfig, seed: int = 0, with_replay: bool = True
    ) -> None:
        self.config = config
        self.obs_dim = int(obs_dim)
        self.n_items = int(n_items)
        # Every draw comes from the agent's own generators, never torch's global RNG: building
        # an agent anywhere (serving, the Explore pane) cannot change a training run.
        init_generator = torch.Generator().manual_seed(seed)
        self.dropout_generator = torch.Generator().manual_seed(seed + 3)
        self.online = QNetwork(
            obs_dim,
            n_items,
            config.hidden,
            config.dropout,
            config.batch_norm,
            init_generator=init_generator,
            dropout_generator=self.dropout_generator,
        )
        self.target = self._copy_of(self.online)
        self.optimizer = torch.optim.Adam(
            self.online.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        # A loaded policy that only recommends needs no replay memory.
        capacity = config.replay_size if with_replay else 1
        check_fits(
            capacity,
            ReplayBuffer.bytes_per_transition(obs_dim, n_items),
            Option("agent.replay_size", f"{capacity:,}"),
            "the replay buffer",
            key="agent.replay_size",
        )
        self.replay = ReplayBuffer(capacity, obs_dim, n_items)
        self.sample_generator = torch.Generator().manual_seed(seed + 1)
        self.explore_rng = np.random.default_rng(seed + 2)
        self.updates = 0
        self._online_params: list[torch.Tensor] = list(self.online.parameters())
        self._target_params: list[torch.Tensor] = list(self.target.parameters())
        self.served = self.online
        if config.serve_average > 0:
            self.served = self._copy_of(self.online)
        self._served_params: list[torch.Tensor] = list(self.served.parameters())

    def _copy_of(self, net: QNetwork) -> QNetwork:
        """A frozen copy of `net` in eval mode (the target net, the served average)."""
        c = self.config
        copy = QNetwork(
            self.obs_dim,
            self.n_items,
            c.hidden,
            c.dropout,
            c.batch_norm,
            init_generator=torch.Generator(),  # overwritten by the copy below
        )
        copy.load_state_dict(net.state_dict())
        copy.eval()
        for p in copy.parameters():
            p.requires_grad_(False)
        return copy

    # -- acting ------------------------------------------------------------------------
    def q_values(self, obs: np.ndarray) -> torch.Tensor:
        """(N, n_items) Q-values of the served net in eval mode (no dropout)."""
        return self._q(self.served, obs)

    def _q(self, net: torch.nn.Module, obs: np.ndarray) -> torch.Tensor:
        was_training = net.training
        net.eval()
        with torch.inference_mode():
            q = net(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
        if was_training:
            net.train()
        return q

    def _masked(self, q: torch.Tensor, mask: np.ndarray | None) -> torch.Tensor:
        if mask is not None and self.config.mask_engaged:
            q = q.masked_fill(torch.from_numpy(np.asarray(mask, dtype=bool)), -math.inf)
        return q

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self._masked(self.q_values(obs), mask).numpy()

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self._masked(self.q_values(obs), mask).argmax(dim=1).numpy()

    def act_explore(self, obs: np.ndarray, mask: np.ndarray | None, epsilon: float) -> np.ndarray:
        """ε-greedy on the online net: greedy for most sessions, a uniformly random allowed
        item for the rest."""
        actions = self._masked(self._q(self.online, obs), mask).argmax(dim=1).numpy()
        explore = np.flatnonzero(self.explore_rng.random(len(actions)) < epsilon)
        if explore.size:
            actions[explore] = self._random_items(explore, mask)
        return actions

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
    def epsilon(self, env_steps: int) -> float:
        c = self.config
        frac = min(1.0, env_steps / c.eps_decay_steps)
        return (1.0 - frac) * c.eps_start + frac * c.eps_end

    def learning_rate(self) -> float:
        c = self.config
        if c.lr_decay_updates <= 0:
            return c.lr
        frac = min(1.0, self.updates / c.lr_decay_updates)
        return c.lr * (1.0 + frac * (c.lr_final - 1.0))

    # -- learning ----------------------------------------------------------------------
    def remember(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        done: np.ndarray,
        next_mask: np.ndarray,
    ) -> None:
        """Store N transitions: obs and next_obs (N, obs_dim), actions (N,) item ids, rewards
        (N,), done (N,) bool, next_mask (N, n_items) bool (kept only with `mask_engaged`)."""
        self.replay.add_batch(
            obs, actions, rewards, next_obs, done, next_mask if self.config.mask_engaged else None
        )

    def update(self) -> float:
        """One gradient step on a replay batch; returns the loss. A non-finite loss is
        returned without touching the weights (the trainer then stops the run)."""
        c = self.config
        batch = self.replay.sample(c.batch_size, self.sample_generator)
        q = self.online(batch["obs"]).gather(1, batch["action"].unsqueeze(1)).squeeze(1)
        target = batch["reward"]
        if c.gamma > 0:  # γ = 0 needs no next-state values at all
            target = target + c.gamma * (~batch["done"]).float() * self._next_value(batch)
        if c.loss == "huber":
            loss = F.smooth_l1_loss(q, target, beta=c.huber_delta)
        else:
            loss = F.mse_loss(q, target)
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            return loss_value
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._online_params, c.grad_clip)
        self.optimizer.step()
        self.updates += 1
        self._update_target()
        if self.served is not self.online:
            with torch.no_grad():
                torch._foreach_lerp_(self._served_params, self._online_params, c.serve_average)
            for s_buf, o_buf in zip(self.served.buffers(), self.online.buffers(), strict=True):
                s_buf.copy_(o_buf)
        return loss_value

    @torch.no_grad()
    def _next_value(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        next_obs = batch["next_obs"]
        mask = batch["next_mask"] if self.config.mask_engaged else None
        target_q = self.target(next_obs)
        if self.config.double_dqn:
            self.online.eval()
            chooser = self.online(next_obs)
            self.online.train()
        else:
            chooser = target_q
        if mask is not None:
            chooser = chooser.masked_fill(mask, -math.inf)
        best = chooser.argmax(dim=1, keepdim=True)
        return target_q.gather(1, best).squeeze(1)

    def _update_target(self) -> None:
        c = self.config
        if c.target_update == "soft":
            with torch.no_grad():
                torch._foreach_lerp_(self._target_params, self._online_params, c.tau)
            # Batch-norm running statistics are buffers, not parameters: copy them.
            for t_buf, o_buf in zip(self.target.buffers(), self.online.buffers(), strict=True):
                t_buf.copy_(o_buf)
        elif self.updates % c.target_every == 0:
            self.target.load_state_dict(self.online.state_dict())

    # -- checkpoint state --------------------------------------------------------------
    def state_dict(self, include_replay: bool = True) -> dict:
        state = {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "sample_generator": self.sample_generator.get_state(),
            "dropout_generator": self.dropout_generator.get_state(),
            "explore_rng": self.explore_rng.bit_generator.state,
        }
        if self.served is not self.online:
            state["served"] = self.served.state_dict()
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
        self.updates = int(state["updates"])
        self.sample_generator.set_state(state["sample_generator"])
        self.dropout_generator.set_state(state["dropout_generator"])
        self.explore_rng.bit_generator.state = state["explore_rng"]
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])
