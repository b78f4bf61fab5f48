"""What every simulator offers: N user sessions stepped together with array operations.

Conventions shared by the agents, the trainer, the Gymnasium wrappers and the TUI:
- `step(actions)` takes one item id per session and returns a `StepResult`.
- A session that ends is reset automatically inside `step`: `result.obs[i]` is then the first
  observation of the next session and `result.done[i]` is True. `done` is terminal (the
  observation carries session progress, so the fixed length is part of the state), so the
  learner does not bootstrap from it.
- `mask` is True where an item was already engaged in the session's current episode; agents
  may exclude those items (masking is on by default in the DQN).
- Hidden truth (`true_preference`, `expected_reward`) is for oracles, evaluation and the
  explorer's "hidden truth" column; agents never read it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlrec.data.errors import RlrecError

# Entries up to which a simulator keeps the dense tables it always had (the default one's
# users × items logits and items × items similarities, seed-classic's users × items
# preferences), each filled by one BLAS product. The last bits of a BLAS product depend on the
# matrix's shape (its tile edges), so the on-demand dot products differ from those tables by
# an ulp now and then, which is enough to change a trained run; on a small population the
# tables cost little (the built-in default: 3 MB) and keep every published number of the
# presets. Larger populations never hold anything users × items or items × items.
DENSE_TABLE_LIMIT = 4_000_000


# `env.candidates: -1` (auto): a catalogue of up to WHOLE_CATALOGUE_ITEMS items is offered
# whole every step (the seed's design, and every preset's numbers); a larger one gets
# AUTO_CANDIDATES items a step from the retrieval, as a production recommender re-ranks a
# candidate set. The agent's `head: auto` follows the same line (`engine.agents.dqn`): one Q
# output per item up to it, the item-embedding head beyond, where a per-item output layer
# would be as wide as the catalogue.
WHOLE_CATALOGUE_ITEMS = 2_000
AUTO_CANDIDATES = 200


def offered_candidates(setting: int, n_items: int) -> int:
    """Items offered per session per step for `env.candidates` = `setting` on a catalogue of
    `n_items`: the setting itself when ≥ 0 (0 = the whole catalogue), and for -1 (auto) 0 up
    to `WHOLE_CATALOGUE_ITEMS` items, else `AUTO_CANDIDATES`."""
    if setting >= 0:
        return int(setting)
    return 0 if n_items <= WHOLE_CATALOGUE_ITEMS else AUTO_CANDIDATES


def dense_table_entries(rows: int, cols: int) -> int:
    """Entries of the `rows` × `cols` table a simulator keeps, or 0 past `DENSE_TABLE_LIMIT`
    (then the pairs a step needs are computed on demand)."""
    entries = rows * cols
    return entries if entries <= DENSE_TABLE_LIMIT else 0


@dataclass
class StepResult:
    obs: np.ndarray  # (N, obs_dim) float32; new session's first obs where done
    reward: np.ndarray  # (N,) float32, shaped reward of this step
    engaged: np.ndarray  # (N,) bool, the user clicked / consumed the item
    purchased: np.ndarray  # (N,) bool, engaged and bought (always False where unmodelled)
    done: np.ndarray  # (N,) bool, the session ended with this step
    # Totals of the sessions that ended with this step (valid where done, 0 elsewhere).
    episode_return: np.ndarray  # (N,) float32
    episode_length: np.ndarray  # (N,) int32
    episode_engagements: np.ndarray  # (N,) int32
    # Last observation of the sessions that ended, rows aligned with `np.flatnonzero(done)`;
    # only kept when the simulator's `keep_final_obs` is True (the Gymnasium wrappers).
    final_obs: np.ndarray | None = None


class VectorSimulator(ABC):
    n_envs: int
    n_users: int
    n_items: int
    obs_dim: int
    max_steps: int  # longest possible session
    keep_final_obs: bool = False  # also observe ended sessions before restarting them

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start N fresh sessions (random users); returns obs (N, obs_dim) float32. A `seed`
        replaces the simulator's random generator first."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._start(self._arange)
        return self._observe()

    @abstractmethod
    def step(self, actions: np.ndarray) -> StepResult:
        """Recommend `actions[i]` (item id) to session i; auto-resets finished sessions."""

    # What `reset` needs: the generator every draw of the dynamics comes from, and
    # (N,) 0..N-1, "every session" for `_start`.
    _rng: np.random.Generator
    _arange: np.ndarray
    # Every simulator keeps these two as arrays of its own; the views are the same for all.
    _mask: np.ndarray
    _users: np.ndarray
    # Per-session running totals that `_finish_step` reports when a session ends.
    _return: np.ndarray  # (N,) float32
    _t: np.ndarray  # (N,) int32, steps taken in the current session
    _n_engaged: np.ndarray  # (N,) int32

    @property
    def mask(self) -> np.ndarray:
        """(N, n_items) bool: items already engaged in each session's current episode."""
        return self._mask

    @property
    def user_ids(self) -> np.ndarray:
        """(N,) int: the user of each current session."""
        return self._users

    def candidates(self) -> np.ndarray | None:
        """(N, C) int64 item ids offered to each current session at this step (the candidate
        set a retrieval stage hands the ranker), or None when every session is offered the
        whole catalogue. Valid until the next `step` or `reset`."""
        return None

    def candidate_mask(self) -> np.ndarray | None:
        """(N, C) bool aligned with `candidates()`, True where a candidate is excluded (already
        engaged in the session); None when `candidates()` is None."""
        return None

    @abstractmethod
    def true_preference(self, user_ids: np.ndarray) -> np.ndarray:
        """(len(user_ids), n_items) noiseless engagement probability: the hidden truth."""

    @abstractmethod
    def expected_reward(self, items: np.ndarray | None = None) -> np.ndarray:
        """(N, n_items) expected immediate reward of each item in each current session
        (what a myopic oracle maximises); for `items` ((N, C) ids per session) only those,
        (N, C)."""

    @abstractmethod
    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        """(len(user_ids), obs_dim): the first observation of a new session for these users."""

    @property
    @abstractmethod
    def item_popularity(self) -> np.ndarray:
        """(n_items,) share of interest per item in (0, 1], for novelty (−log2 popularity)."""

    @property
    @abstractmethod
    def item_vectors(self) -> np.ndarray:
        """(n_items, d) item representation for similarity / intra-list diversity."""

    @property
    def observation_bound(self) -> float:
        """No feature column of an observation exceeds this in absolute value (for
        Gymnasium's Box; the trailing `history_id_columns` hold ids in [0, n_items])."""
        return float("inf")

    @property
    def history_id_columns(self) -> int:
        """How many trailing observation columns are item ids rather than features (0 here)."""
        return 0

    @property
    def observable_item_features(self) -> np.ndarray:
        """(n_items, f) item features an agent may see (default: `item_vectors`)."""
        return self.item_vectors

    # The arrays that make up the sessions in progress (besides the RNG): what a checkpoint
    # stores so a resumed run continues every session exactly where it was.
    _session_arrays: tuple[str, ...] = ()

    def session_state(self) -> dict[str, Any]:
        """The sessions in progress as plain data: each array of `_session_arrays` (copied)
        and "rng", the numpy Generator's state as a dict of ints (JSON-safe)."""
        state: dict[str, Any] = {name: getattr(self, name).copy() for name in self._session_arrays}
        state["rng"] = self._rng.bit_generator.state
        return state

    def restore_session_state(self, state: dict[str, Any]) -> None:
        """Continue the sessions `session_state()` returned, in a simulator built from the same
        config and data. RlrecError naming the culprit for a missing key or an array of
        another shape or dtype; nothing is changed then."""
        arrays = {}
        for name in self._session_arrays:
            if name not in state:
                raise RlrecError(f"session state: no {name!r}", key=name)
            value, current = np.asarray(state[name]), getattr(self, name)
            if value.shape != current.shape or value.dtype != current.dtype:
                raise RlrecError(
                    f"session state: {name!r} is {value.dtype}{list(value.shape)}, this "
                    f"simulator needs {current.dtype}{list(current.shape)}",
                    key=name,
                )
            arrays[name] = value
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise RlrecError(f"session state: bad 'rng' ({exc})", key="rng") from None
        for name, value in arrays.items():
            setattr(self, name, value.copy())
        self._rng = rng

    def _start(self, envs: np.ndarray) -> None:
        """Start a new session (new user, zeroed totals) in each of the sessions `envs`."""
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        """(N, obs_dim) float32: the current observation of every session."""
        raise NotImplementedError

    def _finish_step(
        self, reward: np.ndarray, engaged: np.ndarray, purchased: np.ndarray, done: np.ndarray
    ) -> StepResult:
        """Shared end of `step` for simulators that keep per-session `_return`, `_t` and
        `_n_engaged` arrays and define `_start(envs)` and `_observe()`: report the totals of
        the sessions that ended, restart them, and observe."""
        # Totals and final observations are read before the restart overwrites them.
        episode_return = np.where(done, self._return, 0.0).astype(np.float32)
        episode_length = np.where(done, self._t, 0).astype(np.int32)
        episode_engagements = np.where(done, self._n_engaged, 0).astype(np.int32)
        finished = np.flatnonzero(done)
        final_obs = None
        if self.keep_final_obs and finished.size:
            final_obs = self._observe()[finished]
        if finished.size:
            self._start(finished)
        return StepResult(
            obs=self._observe(),
            reward=reward,
            engaged=engaged,
            purchased=purchased,
            done=done,
            episode_return=episode_return,
            episode_length=episode_length,
            episode_engagements=episode_engagements,
            final_obs=final_obs,
        )
