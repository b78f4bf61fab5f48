"""Experience replay: a ring buffer preallocated as torch tensors.

Whole batches of N transitions (one vectorised simulator step) go in with one slice
assignment; sampling is one `torch.randint` and one gather per field. The engaged-item mask of
the next state (for masking the Double-DQN argmax) is stored bit-packed: n_items / 8 bytes per
transition instead of n_items. When the simulator offers C candidates a step, the next state's
candidate ids are stored instead (int32, 4·C bytes) with their mask packed over C, so a
transition's size does not grow with the catalogue. Observations may be stored as float16
(`obs_dtype`), halving the largest part; they are sampled back as float32.
"""

from __future__ import annotations

import numpy as np
import torch

OBS_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """(N, n_items) bool → (N, ceil(n_items / 8)) uint8."""
    return np.packbits(mask, axis=1)


def unpack_mask(packed: torch.Tensor, n_items: int) -> torch.Tensor:
    """(B, n_bytes) uint8 → (B, n_items) bool (numpy's table-driven unpacking: ~8× faster
    than shifting the bits out in torch)."""
    bits = np.unpackbits(packed.numpy(), axis=1, count=n_items)
    return torch.from_numpy(bits.view(bool))


class ReplayBuffer:
    @staticmethod
    def bytes_per_transition(
        obs_dim: int, n_items: int, n_candidates: int = 0, obs_dtype: str = "float32"
    ) -> int:
        """Bytes one stored transition takes: obs and next obs (4 bytes a value as float32,
        2 as float16), action (int64), reward (float32), done (bool), and the next state's
        choice set: the engaged mask packed to bits over n_items, or with `n_candidates` C > 0
        the C candidate ids (int32) and their mask packed over C."""
        obs_bytes = 2 * OBS_DTYPES[obs_dtype].itemsize * obs_dim
        if n_candidates > 0:
            choice = 4 * n_candidates + (n_candidates + 7) // 8
        else:
            choice = (n_items + 7) // 8
        return obs_bytes + 8 + 4 + 1 + choice

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        n_items: int,
        n_candidates: int = 0,
        obs_dtype: str = "float32",
    ) -> None:
        """Room for `capacity` transitions; `n_candidates` C > 0 stores each next state's C
        candidates instead of its mask over the catalogue."""
        self.capacity = int(capacity)
        self.n_items = int(n_items)
        self.n_candidates = int(n_candidates)
        self.obs_dtype = obs_dtype
        dtype = OBS_DTYPES[obs_dtype]
        self.obs = torch.zeros((capacity, obs_dim), dtype=dtype)
        self.next_obs = torch.zeros((capacity, obs_dim), dtype=dtype)
        self.action = torch.zeros(capacity, dtype=torch.int64)
        self.reward = torch.zeros(capacity, dtype=torch.float32)
        self.done = torch.zeros(capacity, dtype=torch.bool)
        mask_width = self.n_candidates if self.n_candidates > 0 else self.n_items
        self.next_mask = torch.zeros((capacity, (mask_width + 7) // 8), dtype=torch.uint8)
        self.next_candidates: torch.Tensor | None = None
        if self.n_candidates > 0:
            self.next_candidates = torch.zeros((capacity, self.n_candidates), dtype=torch.int32)
        self.position = 0  # next slot to write
        self.size = 0

    @property
    def nbytes(self) -> int:
        """Bytes the buffer's arrays hold (allocated for its whole capacity)."""
        fields = [getattr(self, name) for name in self._fields()]
        return sum(t.element_size() * t.numel() for t in fields)

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
        next_candidates: np.ndarray | None = None,
    ) -> None:
        """Append N transitions (numpy arrays with a leading batch axis of N). With
        `next_candidates` ((N, C) item ids; C must be the buffer's `n_candidates`),
        `next_mask` is (N, C) aligned with them; without, (N, n_items). ValueError when the
        candidates do not fit the buffer."""
        n = len(action)
        if (next_candidates is None) != (self.next_candidates is None) or (
            next_candidates is not None and next_candidates.shape[1] != self.n_candidates
        ):
            given = "none" if next_candidates is None else next_candidates.shape[1]
            raise ValueError(
                f"replay sized for {self.n_candidates} candidates a state, given {given}"
            )
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
            next_candidates = None if next_candidates is None else next_candidates[keep]
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
            if next_candidates is not None and self.next_candidates is not None:
                self.next_candidates[rows] = torch.from_numpy(
                    np.asarray(next_candidates[lo:hi], dtype=np.int32)
                )
        self.position = (start + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A uniform batch (with replacement) as float32 / int64 / bool tensors: "obs",
        "action", "reward", "next_obs", "done", "next_mask" ((B, n_items), or (B, C) with
        "next_candidates" (B, C) int64 when the buffer stores candidates)."""
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)

        # index_select, not tensor[idx]: the same rows, ~5× faster for fresh indices on CPU.
        def rows(field: torch.Tensor) -> torch.Tensor:
            return field.index_select(0, idx)

        obs, next_obs = rows(self.obs), rows(self.next_obs)
        if obs.dtype != torch.float32:
            obs, next_obs = obs.float(), next_obs.float()
        batch = {
            "obs": obs,
            "action": rows(self.action),
            "reward": rows(self.reward),
            "next_obs": next_obs,
            "done": rows(self.done),
        }
        if self.next_candidates is None:
            batch["next_mask"] = unpack_mask(rows(self.next_mask), self.n_items)
        else:
            batch["next_mask"] = unpack_mask(rows(self.next_mask), self.n_candidates)
            batch["next_candidates"] = rows(self.next_candidates).long()
        return batch

    _FIELDS = ("obs", "next_obs", "action", "reward", "done", "next_mask")

    def _fields(self) -> tuple[str, ...]:
        if self.next_candidates is None:
            return self._FIELDS
        return (*self._FIELDS, "next_candidates")

    def state_dict(self) -> dict:
        """The filled part only, as numpy arrays (a checkpoint stores them in its `.npz`), so
        a checkpoint of a young run stays small."""
        n = self.size
        state: dict = {"capacity": self.capacity, "position": self.position, "size": n}
        for name in self._fields():
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
        arrays = {name: torch.as_tensor(np.asarray(state[name])) for name in self._fields()}
        for name, value in arrays.items():
            buffer = getattr(self, name)
            if value.shape != (n, *buffer.shape[1:]) or value.dtype != buffer.dtype:
                raise ValueError(f"replay {name} has shape {tuple(value.shape)} {value.dtype}")
        for name, value in arrays.items():
            getattr(self, name)[:n] = value
        self.position = position
        self.size = n
