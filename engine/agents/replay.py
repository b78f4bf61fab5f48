"""Experience replay: a ring buffer preallocated as torch tensors.

Whole batches of N transitions (one vectorised simulator step) go in with one slice
assignment; sampling is one `torch.randint` and one gather per field. The engaged-item mask of
the next state (for masking the Double-DQN argmax) is stored bit-packed: n_items / 8 bytes per
transition instead of n_items.
"""

from __future__ import annotations

import numpy as np
import torch

# numpy.packbits is big-endian within a byte: bit 7 of byte 0 is item 0.
_BIT_SHIFTS = torch.arange(7, -1, -1, dtype=torch.uint8)


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """(N, n_items) bool → (N, ceil(n_items / 8)) uint8."""
    return np.packbits(mask, axis=1)


def unpack_mask(packed: torch.Tensor, n_items: int) -> torch.Tensor:
    """(B, n_bytes) uint8 → (B, n_items) bool."""
    bits = (packed.unsqueeze(-1) >> _BIT_SHIFTS) & 1
    return bits.reshape(packed.shape[0], -1)[:, :n_items].bool()


class ReplayBuffer:
    @staticmethod
    def bytes_per_transition(obs_dim: int, n_items: int) -> int:
        """Bytes one stored transition takes: obs and next obs (float32), action (int64),
        reward (float32), done (bool) and the next mask packed to bits."""
        return 2 * 4 * obs_dim + 8 + 4 + 1 + (n_items + 7) // 8

    def __init__(self, capacity: int, obs_dim: int, n_items: int) -> None:
        self.capacity = int(capacity)
        self.n_items = int(n_items)
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.next_obs = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.action = torch.zeros(capacity, dtype=torch.int64)
        self.reward = torch.zeros(capacity, dtype=torch.float32)
        self.done = torch.zeros(capacity, dtype=torch.bool)
        self.next_mask = torch.zeros((capacity, (n_items + 7) // 8), dtype=torch.uint8)
        self.position = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add_batch(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        done: np.ndarray,
        next_mask: np.ndarray | None,
    ) -> None:
        """Append N transitions (numpy arrays with a leading batch axis of N)."""
        n = len(action)
        if n > self.capacity:  # keep only the newest that fit
            keep = slice(n - self.capacity, n)
            obs, action, reward, next_obs, done = (
                obs[keep],
                action[keep],
                reward[keep],
                next_obs[keep],
                done[keep],
            )
            next_mask = None if next_mask is None else next_mask[keep]
            n = self.capacity
        start = self.position
        first = min(n, self.capacity - start)  # slots before the ring wraps
        for lo, hi, dst in ((0, first, start), (first, n, 0)):
            if hi <= lo:
                continue
            rows = slice(dst, dst + hi - lo)
            self.obs[rows] = torch.from_numpy(np.ascontiguousarray(obs[lo:hi]))
            self.next_obs[rows] = torch.from_numpy(np.ascontiguousarray(next_obs[lo:hi]))
            self.action[rows] = torch.from_numpy(np.asarray(action[lo:hi], dtype=np.int64))
            self.reward[rows] = torch.from_numpy(np.asarray(reward[lo:hi], dtype=np.float32))
            self.done[rows] = torch.from_numpy(np.asarray(done[lo:hi], dtype=bool))
            if next_mask is None:
                self.next_mask[rows] = 0
            else:
                self.next_mask[rows] = torch.from_numpy(pack_mask(next_mask[lo:hi]))
        self.position = (start + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        return {
            "obs": self.obs[idx],
            "action": self.action[idx],
            "reward": self.reward[idx],
            "next_obs": self.next_obs[idx],
            "done": self.done[idx],
            "next_mask": unpack_mask(self.next_mask[idx], self.n_items),
        }

    _FIELDS = ("obs", "next_obs", "action", "reward", "done", "next_mask")

    def state_dict(self) -> dict:
        """The filled part only, as numpy arrays (a checkpoint stores them in its `.npz`), so
        a checkpoint of a young run stays small."""
        n = self.size
        state: dict = {"capacity": self.capacity, "position": self.position, "size": n}
        for name in self._FIELDS:
            state[name] = getattr(self, name)[:n].numpy().copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`'s output (numpy arrays or tensors). ValueError when it does
        not fit this buffer (capacity, sizes, shapes or dtypes)."""
        n, position = int(state["size"]), int(state["position"])
        if int(state["capacity"]) != self.capacity:
            raise ValueError("replay capacity differs from the checkpoint's")
        if not (0 <= n <= self.capacity and 0 <= position < max(self.capacity, 1)):
            raise ValueError(f"replay size {n} / position {position} out of range")
        arrays = {name: torch.as_tensor(np.asarray(state[name])) for name in self._FIELDS}
        for name, value in arrays.items():
            buffer = getattr(self, name)
            if value.shape != (n, *buffer.shape[1:]) or value.dtype != buffer.dtype:
                raise ValueError(f"replay {name} has shape {tuple(value.shape)} {value.dtype}")
        for name, value in arrays.items():
            getattr(self, name)[:n] = value
        self.position = position
        self.size = n
