"""Preset `default`: a long-horizon user simulator where long-term value differs from the
myopic choice (in the spirit of RecSim's long-term-satisfaction environment).

Each session has a hidden satisfaction that is also the user's patience:
- engaging an item changes it by `value_gain · value_i` (good items raise it, clickbait with
  negative value lowers it); an ignored recommendation costs `ignore_cost`; every step costs
  `fatigue`. The session ends when it reaches zero, or after `max_length` steps.
- The click probability is `sigmoid(preference logit + appeal_weight · appeal_i
  + satisfaction_weight · (satisfaction − initial) − satiation_weight · satiation[category_i])`
  plus per-step noise. Clickbait is the most clickable, so a myopic policy burns the user's
  patience; a planner trades a little click-through now for longer sessions.
- Per-category satiation grows by 1 with each engagement in that category and decays by
  `satiation_decay` every step.
Reward: `reward_engaged` (+ `purchase_bonus` on a purchase) or `reward_ignored`,
minus `diversity_penalty · Σ max(0, cos(item, recent engaged))`, plus
`exploration_bonus / √(times recommended this session + 1)`.

Observation = observable user features ‖ mean features of the last H engaged items ‖
recency-weighted mean of engaged items' features ‖ context (progress, history length,
ignored share, last step engaged, hour and day of week as sin/cos) ‖ with
`session_profile`, the summed features of the items engaged in this session ÷ max_length
(their quality column summed is the satisfaction the session has gained, which a window of
H items cannot show) ‖ with `profile_decay` d > 0, (1 − d)·Σ d^(steps since engaged) of
the session's engaged items' features (with d = `satiation_decay`, the category columns of
the features read each category's satiation) ‖ with `history_ids`, the H history item ids
themselves (`SessionStart.write_history_ids`).

A session starts where the user's logged (train) history ends (`session_history: log`): its
last H engaged items fill the history slots and the items already consumed are masked, so
the agent learns to serve a user with a real past something new — the very question it is
asked offline and in the explorer — rather than only users met with a blank slate. It is a
new session all the same: no satiation, the diversity penalty counts only items engaged in
the session, and the context counters start at zero. (A user who has consumed nearly the
whole catalogue keeps it unmasked, so a session never runs out of items.)

Candidate sets (`env.candidates` = k > 0, or -1 = auto: k = 200 past 2,000 items, see
`base.offered_candidates`): every session is offered k distinct items per step, redrawn after every step and reset from a generator of their own (see
`engine.sim.candidates`); the dynamics draw exactly as without them. `expected_reward`,
`engagement_probability` and `expected_satisfaction_change` take (N, k) item ids so oracles
score only the candidates.

Memory: the truth's factor tables plus the sessions' state; click logits and similarities
are computed for the (user, item) pairs a step needs. Only a population of at most
`base.DENSE_TABLE_LIMIT` entries keeps the users × items logit and items × items similarity
tables, whose BLAS-rounded values the presets' published numbers were made with. Sessions
keep (N, n_items) exclusion masks and recommendation counts unless candidates are offered
and sessions × items exceeds that limit: then each session keeps its engaged and recommended
ids ((N, max_length) each) and its user's logged items as sorted keys
(`engine.sim.session_items`), and `mask` is built only when read.
"""

from __future__ import annotations

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.engine.sim import base as sim_base
from rlrec.engine.sim import session_items
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.sim.candidates import CandidateRetrieval, candidate_generator
from rlrec.engine.sim.default_config import DefaultConfig
from rlrec.engine.sim.session_start import SessionStart, sigmoid
from rlrec.engine.truth.model import HiddenTruth

__all__ = ["DefaultConfig", "DefaultSimulator"]


# Bytes a simulator keeps per (user, item) pair (`base_logit`, float32), per (item, item) pair
# (`_similarity`) and per (session, item) (`_mask` and `_counts`), and what building
# `base_logit` holds beyond it per pair at its peak (the latent and cosine parts, their sum
# and its float32 copy: 16 counted; 14 fits the measured peaks, see
# `engine.usecases.training_memory`).
KEPT_BYTES_PER_PAIR = 4
BUILD_BYTES_PER_PAIR = 14
KEPT_BYTES_PER_ITEM_PAIR = 4
KEPT_BYTES_PER_SESSION_ITEM = 5
# With sparse session state: bytes per session per step of the longest session (engaged and
# recommended ids, int32 each).
KEPT_BYTES_PER_SESSION_STEP = 8
# Per candidate of a session: its id and mask bit kept, and the draw's temporaries (sources,
# rows, keys, sort order: a few int64 each).
BYTES_PER_CANDIDATE = 64
# The retrieval's per-item tables: the popularity ranking (int64, while building), the
# shuffled item order (int64) and the latent factors in that order (float32, up to 32).
RETRIEVAL_BYTES_PER_ITEM = 8 + 8 + 4 * 32


def default_session_bytes(
    n_items: int, n_envs: int, candidates: int = 0, max_length: int = 50
) -> int:
    """Bytes the per-session state of a `DefaultSimulator` with `n_envs` sessions takes:
    (N, n_items) tables, or with `candidates` > 0 on a catalogue past
    `base.DENSE_TABLE_LIMIT` sessions × items, (N, max_length) ids — plus the candidate sets.
    (The sessions' logged items, kept as sorted keys, are 8 bytes per logged interaction of
    the current users: small beside these, left out.) `candidates` is the `env.candidates`
    setting (-1 = auto, `base.offered_candidates`)."""
    candidates = sim_base.offered_candidates(candidates, n_items)
    sparse = candidates > 0 and not sim_base.dense_table_entries(n_envs, n_items)
    per_session = (
        KEPT_BYTES_PER_SESSION_STEP * max_length
        if sparse
        else KEPT_BYTES_PER_SESSION_ITEM * n_items
    )
    return n_envs * (per_session + BYTES_PER_CANDIDATE * candidates)


def default_simulator_bytes(
    n_users: int, n_items: int, n_envs: int, candidates: int = 0, max_length: int = 50
) -> tuple[int, int]:
    """(kept, extra while building): bytes a `DefaultSimulator` of `n_envs` sessions over
    `n_users` × `n_items` (offering `candidates` per session, sessions up to `max_length`
    steps; the `env.candidates` setting, -1 = auto) keeps, and the transient bytes building
    it adds on top."""
    candidates = sim_base.offered_candidates(candidates, n_items)
    pairs = sim_base.dense_table_entries(n_users, n_items)
    item_pairs = sim_base.dense_table_entries(n_items, n_items)
    kept = (
        KEPT_BYTES_PER_PAIR * pairs
        + KEPT_BYTES_PER_ITEM_PAIR * (item_pairs + n_items)
        + default_session_bytes(n_items, n_envs, candidates, max_length)
        + (RETRIEVAL_BYTES_PER_ITEM * n_items if candidates else 0)
    )
    return kept, BUILD_BYTES_PER_PAIR * pairs


class DefaultSimulator(VectorSimulator):
    """The `default` preset's simulator over `truth` with `n_envs` sessions seeded `seed`.

    With `config.candidates` = k > 0 every session is offered k candidates per step
    (`candidates()`, redrawn after every step and reset, see `engine.sim.candidates`). Each
    session's excluded items and recommendation counts are kept as (N, n_items) tables when
    sessions × items is at most `base.DENSE_TABLE_LIMIT` or no candidates are offered, else
    as (N, max_length) ids (`sparse_sessions` forces either way): memory per session is then
    independent of the catalogue, and `mask` builds the dense view only when read."""

    _session_arrays: tuple[str, ...] = (
        "_users",
        "_t",
        "_n_engaged",
        "_n_ignored",
        "_last_engaged",
        "_satisfaction",
        "_initial",
        "_satiation",
        "_recent",
        "_in_session",
        "_history_sum",
        "_history_filled",
        "_recency",
        "_clock",
        "_mask",
        "_counts",
        "_return",
    )

    def __init__(
        self,
        truth: HiddenTruth,
        config: DefaultConfig | None = None,
        n_envs: int = 1,
        seed: int | None = None,
        sparse_sessions: bool | None = None,
    ):
        self.config = cfg = config or DefaultConfig()
        self.truth = truth = truth.with_alpha(cfg.alpha)
        self.n_envs = n = int(n_envs)
        self.n_users, self.n_items = truth.n_users, truth.n_items
        self.max_steps = cfg.max_length
        # Items offered per session per step (0 = the whole catalogue), auto resolved here.
        self.n_candidates = sim_base.offered_candidates(cfg.candidates, self.n_items)
        self.n_categories = max(truth.n_categories, 1)
        # Engagement logits and item similarities are computed from the truth's factors for
        # the pairs a step needs, except on small catalogues (see `base.DENSE_TABLE_LIMIT`).
        self._logit_table: np.ndarray | None = None
        if sim_base.dense_table_entries(self.n_users, self.n_items):
            self._logit_table = (
                truth.preference_logit_dense() + cfg.appeal_weight * truth.item_appeal[None, :]
            ).astype(np.float32)
        self._similarity_table: np.ndarray | None = None
        if sim_base.dense_table_entries(self.n_items, self.n_items):
            unit = truth.item_content
            self._similarity_table = np.maximum(unit @ unit.T, 0.0).astype(np.float32)
        self.item_value = truth.item_value.astype(np.float32)
        self.item_category = truth.item_category.astype(np.int64)
        # How a session's first observation is built: shared with serving, which needs it
        # without the rest of the simulator.
        self.session_start = start = SessionStart(truth, cfg)
        self._item_dim, self._user_dim, self.obs_dim = start.item_dim, start.user_dim, start.obs_dim
        self._user_obs = start.user_obs
        self._item_pad = start.item_pad  # row n_items: the zero row of an empty history slot

        w = cfg.history_window
        self._rng = np.random.default_rng(seed)
        self._arange = np.arange(n)
        self._users = np.zeros(n, dtype=np.int64)
        self._t = np.zeros(n, dtype=np.int32)
        self._n_engaged = np.zeros(n, dtype=np.int32)
        self._n_ignored = np.zeros(n, dtype=np.int32)
        self._last_engaged = np.zeros(n, dtype=np.float32)
        self._satisfaction = np.zeros(n, dtype=np.float32)
        self._initial = np.zeros(n, dtype=np.float32)
        self._satiation = np.zeros((n, self.n_categories), dtype=np.float32)
        self._recent = np.full((n, w), self.n_items, dtype=np.int64)  # newest last
        self._in_session = np.zeros((n, w), dtype=bool)  # slot engaged in this session
        # Running sum and count of the history slots' features, so an observation does not
        # gather all H items again every step.
        self._history_sum = np.zeros((n, self._item_dim), dtype=np.float32)
        self._history_filled = np.zeros(n, dtype=np.int32)
        self._recency = np.zeros((n, self._item_dim), dtype=np.float32)
        self._profile_column = start.profile_column
        self._session_sum = np.zeros((n, self._item_dim), dtype=np.float32)
        if cfg.session_profile:  # a checkpoint without the profile still restores
            self._session_arrays = (*self._session_arrays, "_session_sum")
        self._decayed_column = start.decayed_column
        self._decayed_sum = np.zeros((n, self._item_dim), dtype=np.float32)
        if cfg.profile_decay > 0:
            self._session_arrays = (*self._session_arrays, "_decayed_sum")
        self._clock = np.zeros((n, 4), dtype=np.float32)  # hour sin/cos, weekday sin/cos
        self._return = np.zeros(n, dtype=np.float32)
        if sparse_sessions is None:
            sparse_sessions = bool(self.n_candidates) and not sim_base.dense_table_entries(
                n, self.n_items
            )
        self._sparse = sparse_sessions
        if sparse_sessions:
            # Sorted engaged ids (padded with n_items) and recommended ids in order (-1 = not
            # yet); the log's consumed items as sorted session keys, rebuilt from `_users`.
            self._engaged_ids = np.full((n, cfg.max_length), self.n_items, dtype=np.int32)
            self._recommended = np.full((n, cfg.max_length), -1, dtype=np.int32)
            self._log_keys = np.zeros(0, dtype=np.int64)
            swap = {"_mask": "_engaged_ids", "_counts": "_recommended"}
            self._session_arrays = tuple(swap.get(a, a) for a in self._session_arrays)
        else:
            self._mask = np.zeros((n, self.n_items), dtype=bool)
            self._counts = np.zeros((n, self.n_items), dtype=np.int32)
        self._retrieval: CandidateRetrieval | None = None
        if self.n_candidates:
            self._retrieval = CandidateRetrieval(
                truth, self.n_candidates, cfg.candidate_popular, cfg.candidate_neighbours
            )
            self._candidate_rng = candidate_generator(seed)
            self._candidates = np.zeros((n, self.n_candidates), dtype=np.int64)
            self._candidate_excluded = np.zeros((n, self.n_candidates), dtype=bool)
            pool = self._retrieval.pool_size
            self._neighbour_pool = np.zeros((n, pool), dtype=np.int32)
            self._session_arrays = (
                *self._session_arrays,
                "_candidates",
                "_candidate_excluded",
                "_neighbour_pool",
            )
        self.reset(seed)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None and self._retrieval is not None:
            self._candidate_rng = candidate_generator(seed)
        obs = super().reset(seed)
        self._draw_candidates()
        return obs

    # -- session state -------------------------------------------------------------------
    def _start(self, envs: np.ndarray) -> None:
        cfg, k = self.config, len(envs)
        self._users[envs] = self._rng.integers(0, self.n_users, size=k)
        self._t[envs] = 0
        self._n_engaged[envs] = 0
        self._n_ignored[envs] = 0
        self._last_engaged[envs] = 0.0
        start = cfg.initial_satisfaction + cfg.satisfaction_jitter * self._rng.uniform(-1, 1, k)
        self._initial[envs] = np.maximum(start, 1e-3)
        self._satisfaction[envs] = self._initial[envs]
        self._satiation[envs] = 0.0
        recent = self.session_start.start_history(self._users[envs])
        self._recent[envs] = recent
        self._in_session[envs] = False
        self._history_sum[envs] = self._item_pad[recent].sum(axis=1)
        self._history_filled[envs] = (recent < self.n_items).sum(axis=1)
        self._recency[envs] = self.session_start.recency_of(recent)
        self._session_sum[envs] = 0.0
        self._decayed_sum[envs] = 0.0
        hour = self._rng.integers(0, 24, size=k) * (2 * np.pi / 24)
        day = self._rng.integers(0, 7, size=k) * (2 * np.pi / 7)
        self._clock[envs] = np.column_stack([np.sin(hour), np.cos(hour), np.sin(day), np.cos(day)])
        if self._sparse:
            self._engaged_ids[envs] = self.n_items
            self._recommended[envs] = -1
            self._log_keys = self._consumed_keys()
        else:
            self._mask[envs] = False
            if cfg.session_history == "log":
                rows, items = self.truth.consumed(self._users[envs])
                room = np.bincount(rows, minlength=k) < self.n_items - cfg.max_length
                keep = room[rows]
                self._mask[envs[rows[keep]], items[keep]] = True
            self._counts[envs] = 0
        self._return[envs] = 0.0
        if self._retrieval is not None:
            pool = self._retrieval.neighbour_pool(self._candidate_rng, self._users[envs])
            self._neighbour_pool[envs] = pool

    def _consumed_keys(self) -> np.ndarray:
        """Sorted `session_items.row_keys` of every session's logged consumed items (those
        `_start` masks), for the sparse session state."""
        cfg = self.config
        if cfg.session_history != "log":
            return np.zeros(0, dtype=np.int64)
        rows, items = self.truth.consumed(self._users)
        room = np.bincount(rows, minlength=self.n_envs) < self.n_items - cfg.max_length
        keep = room[rows]
        keys = session_items.row_keys(rows[keep], items[keep], self.n_items)
        if keys.size > 1 and (keys[1:] < keys[:-1]).any():
            keys.sort()
        return keys

    def _excluded(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """bool of the broadcast shape: item `items[i]` is excluded for session `rows[i]`."""
        if not self._sparse:
            return self._mask[rows, items]
        keys = session_items.row_keys(rows, items, self.n_items)
        engaged = session_items.padded_keys(self._engaged_ids, self.n_items)
        return session_items.contains(self._log_keys, keys) | session_items.contains(engaged, keys)

    def _times_recommended(self, items: np.ndarray | None) -> np.ndarray:
        """Times each of `items` ((N, C) ids, or None: every item) was recommended in each
        session's current episode: (N, C) or (N, n_items) int."""
        if not self._sparse:
            if items is None:
                return self._counts
            return np.take_along_axis(self._counts, items, axis=1)
        if items is None:
            counts = np.zeros((self.n_envs, self.n_items + 1), dtype=np.int32)
            shown = np.where(self._recommended < 0, self.n_items, self._recommended)
            np.add.at(counts, (self._arange[:, None], shown), 1)
            return counts[:, : self.n_items]
        counts = np.zeros(items.shape, dtype=np.int32)
        for column in range(int(self._t.max(initial=0))):
            counts += items == self._recommended[:, column : column + 1]
        return counts

    def _draw_candidates(self) -> None:
        """New candidate sets for every session (nothing without `env.candidates`)."""
        if self._retrieval is None:
            return
        self._candidates, self._candidate_excluded = self._retrieval.draw(
            self._candidate_rng, self._neighbour_pool, self._excluded, self._excluded_keys()
        )

    def _excluded_keys(self) -> np.ndarray:
        """`session_items.row_keys` of every excluded (session, item) pair, unsorted."""
        if not self._sparse:
            rows, items = np.nonzero(self._mask)
            return session_items.row_keys(rows, items, self.n_items)
        engaged = session_items.padded_keys(self._engaged_ids, self.n_items)
        padding = engaged % (self.n_items + 1) == self.n_items
        return np.concatenate([self._log_keys, engaged[~padding]])

    def candidates(self) -> np.ndarray | None:
        """(N, env.candidates) int64 distinct item ids offered to each session at this step,
        or None when `env.candidates` is 0 (the whole catalogue)."""
        return None if self._retrieval is None else self._candidates

    def candidate_mask(self) -> np.ndarray | None:
        """(N, env.candidates) bool, True where a candidate is excluded for the session
        (only when too few allowed items were left to fill its set); None without
        candidates."""
        return None if self._retrieval is None else self._candidate_excluded

    @property
    def mask(self) -> np.ndarray:
        """(N, n_items) bool: items excluded in each session's current episode. With sparse
        session state this view is built on every read (N × n_items bytes): on a large
        catalogue read `candidate_mask()` instead."""
        if not self._sparse:
            return self._mask
        out = session_items.dense_rows(self._engaged_ids, self.n_items)
        rows, items = np.divmod(self._log_keys, self.n_items + 1)
        out[rows, items] = True
        return out

    def session_state(self) -> dict:
        """The base class's state plus, with candidates, "candidate_rng" (JSON-safe)."""
        state = super().session_state()
        if self._retrieval is not None:
            state["candidate_rng"] = self._candidate_rng.bit_generator.state
        return state

    def restore_session_state(self, state: dict) -> None:
        """As the base class, also restoring the candidate generator (RlrecError if its
        state is missing or bad; nothing is changed then)."""
        rng = None
        if self._retrieval is not None:
            rng = np.random.default_rng()
            try:
                rng.bit_generator.state = state["candidate_rng"]
            except (KeyError, TypeError, ValueError) as exc:
                raise RlrecError(
                    f"session state: bad 'candidate_rng' ({exc})", key="candidate_rng"
                ) from None
        super().restore_session_state(state)
        if rng is not None:
            self._candidate_rng = rng
        if self._sparse:
            self._log_keys = self._consumed_keys()

    def _observe(self) -> np.ndarray:
        cfg = self.config
        u, f = self._user_dim, self._item_dim
        obs = np.empty((self.n_envs, self.obs_dim), dtype=np.float32)
        obs[:, :u] = self._user_obs[self._users]
        obs[:, u : u + f] = self._history_sum / np.maximum(self._history_filled, 1)[:, None]
        obs[:, u + f : u + 2 * f] = self._recency
        c = u + 2 * f
        horizon = float(cfg.max_length)
        obs[:, c] = self._t / horizon
        obs[:, c + 1] = self._n_engaged / horizon
        obs[:, c + 2] = self._n_ignored / np.maximum(self._t, 1)
        obs[:, c + 3] = self._last_engaged
        obs[:, c + 4 : c + 8] = self._clock
        if cfg.session_profile:
            p = self._profile_column
            obs[:, p : p + f] = self._session_sum / horizon
        if cfg.profile_decay > 0:
            p = self._decayed_column
            obs[:, p : p + f] = (1 - cfg.profile_decay) * self._decayed_sum
        self.session_start.write_history_ids(obs, self._recent)
        return obs

    def _click_probability(self, rows: np.ndarray, items: np.ndarray | slice) -> np.ndarray:
        """Noiseless engagement probability of `items` for sessions `rows` in their state."""
        cfg = self.config
        users = self._users[rows]
        if isinstance(items, slice):  # every item: (n, I)
            logit = self._logits(users, None)
            logit = logit - cfg.satiation_weight * self._satiation[rows][:, self.item_category]
            mood = cfg.satisfaction_weight * (self._satisfaction[rows] - self._initial[rows])
            return sigmoid(logit + mood[:, None])
        logit = self._logits(users, items)
        mood = cfg.satisfaction_weight * (self._satisfaction[rows] - self._initial[rows])
        if items.ndim == 2:  # (n, k) candidates per session
            satiation = np.take_along_axis(self._satiation[rows], self.item_category[items], 1)
            return sigmoid(logit - cfg.satiation_weight * satiation + mood[:, None])
        logit = logit - cfg.satiation_weight * self._satiation[rows, self.item_category[items]]
        return sigmoid(logit + mood)

    def _logits(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """float32 fresh-session engagement logits (`HiddenTruth.logits` shapes)."""
        if self._logit_table is None:
            return self.truth.logits(users, items, self.config.appeal_weight)
        if items is None:
            return self._logit_table[users]
        return self._logit_table[users[:, None] if items.ndim == 2 else users, items]

    def _session_similarity(self, items: np.ndarray, slot: int | None = None) -> np.ndarray:
        """float32 similarity of `items` ((N, k) ids) to each session's history items engaged
        in this session (0 for other slots): (N, H, k), or (N, k) for one history `slot`."""
        recent = self._recent if slot is None else self._recent[:, slot]
        in_session = self._in_session if slot is None else self._in_session[:, slot]
        # A slot engaged in this session always holds a real item; others score 0.
        engaged = np.where(in_session, recent, 0)[..., None]
        if slot is None:
            items = items[:, None, :]
        if self._similarity_table is None:
            similarity = self.truth.item_similarity(engaged, items)
        else:
            similarity = self._similarity_table[engaged, items]
        return similarity * in_session[..., None]

    def step(self, actions: np.ndarray) -> StepResult:
        cfg, n, rows = self.config, self.n_envs, self._arange
        actions = np.asarray(actions, dtype=np.int64).reshape(n)
        prob = self._click_probability(rows, actions) + self._rng.normal(0.0, cfg.noise_std, n)
        draws = self._rng.random((2, n))
        engaged = draws[0] < np.clip(prob, 0.0, 1.0)
        purchased = engaged & (draws[1] < self.truth.item_purchase_prob[actions])
        similarity = self._session_similarity(actions[:, None])[:, :, 0].sum(axis=1)
        if self._sparse:
            count = (self._recommended == actions[:, None]).sum(axis=1)
        else:
            count = self._counts[rows, actions]
        reward = (
            np.where(engaged, cfg.reward_engaged, cfg.reward_ignored)
            + cfg.purchase_bonus * purchased
            - cfg.diversity_penalty * similarity
            + cfg.exploration_bonus / np.sqrt(count + 1.0)
        ).astype(np.float32)
        if self._sparse:
            self._recommended[rows, self._t] = actions
        else:
            self._counts[rows, actions] = count + 1

        # Satisfaction: value of what was consumed, cost of what was ignored, fatigue.
        self._satisfaction += (
            np.where(engaged, cfg.value_gain * self.item_value[actions], -cfg.ignore_cost)
            - cfg.fatigue
        )
        self._satiation *= cfg.satiation_decay
        if cfg.profile_decay > 0:
            self._decayed_sum *= cfg.profile_decay
        hit = np.flatnonzero(engaged)
        if hit.size:
            items = actions[hit]
            self._satiation[hit, self.item_category[items]] += 1.0
            evicted = self._recent[hit, 0]  # n_items (a zero row) while slots are free
            self._history_sum[hit] += self._item_pad[items] - self._item_pad[evicted]
            self._history_filled[hit] += evicted == self.n_items
            self._recent[hit, :-1] = self._recent[hit, 1:]
            self._recent[hit, -1] = items
            self._in_session[hit, :-1] = self._in_session[hit, 1:]
            self._in_session[hit, -1] = True
            if self._sparse:
                session_items.insert_sorted(self._engaged_ids, hit, items)
            else:
                self._mask[hit, items] = True
            decay = cfg.recency_decay
            self._recency[hit] = decay * self._recency[hit] + (1 - decay) * self._item_pad[items]
            if cfg.session_profile:
                self._session_sum[hit] += self._item_pad[items]
            if cfg.profile_decay > 0:
                self._decayed_sum[hit] += self._item_pad[items]
        self._n_engaged += engaged
        self._n_ignored += ~engaged
        self._last_engaged = engaged.astype(np.float32)
        self._t += 1
        self._return += reward
        done = (self._t >= cfg.max_length) | (self._satisfaction <= 0.0)
        result = self._finish_step(reward, engaged, purchased, done)
        self._draw_candidates()
        return result

    # -- views -----------------------------------------------------------------------------
    @property
    def satisfaction(self) -> np.ndarray:
        """(N,) hidden satisfaction / patience of each session (the session ends at 0)."""
        return self._satisfaction

    def true_preference(self, user_ids: np.ndarray) -> np.ndarray:
        """Noiseless engagement probability of a fresh session (no satiation, initial mood)."""
        return sigmoid(self._logits(np.asarray(user_ids, np.int64), None))

    def engagement_probability(self, items: np.ndarray | None = None) -> np.ndarray:
        """Noiseless engagement probability in each current session's state: of every item,
        (N, n_items), or of `items` ((N, C) ids per session), (N, C)."""
        if items is None:
            return self._click_probability(self._arange, slice(None))
        return self._click_probability(self._arange, np.asarray(items, np.int64))

    def expected_reward(self, items: np.ndarray | None = None) -> np.ndarray:
        """Expected immediate reward of recommending each item (None: (N, n_items)) or each
        of `items` ((N, C) ids per session: (N, C)) in each current session; a candidate's
        value equals its entry in the whole-catalogue table."""
        if items is not None:
            return self._expected_reward_of(np.asarray(items, np.int64))
        cfg, n = self.config, self.n_envs
        p = self.engagement_probability()
        engaged_reward = cfg.reward_engaged + cfg.purchase_bonus * self.truth.item_purchase_prob
        similarity = np.zeros((n, self.n_items), np.float32)
        for slot in range(self.config.history_window):  # oldest first, as the step sums
            similarity += self._session_similarity(np.arange(self.n_items)[None, :], slot)
        return (
            p * engaged_reward
            + (1 - p) * cfg.reward_ignored
            - cfg.diversity_penalty * similarity
            + cfg.exploration_bonus / np.sqrt(self._times_recommended(None) + 1.0)
        )

    def _expected_reward_of(self, items: np.ndarray) -> np.ndarray:
        """`expected_reward` of (N, C) item ids, the same operations on the gathered items."""
        cfg = self.config
        p = self.engagement_probability(items)
        purchase = self.truth.item_purchase_prob[items]
        engaged_reward = cfg.reward_engaged + cfg.purchase_bonus * purchase
        similarity = np.zeros(items.shape, np.float32)
        for slot in range(self.config.history_window):  # oldest first, as the step sums
            similarity += self._session_similarity(items, slot)
        # Without a bonus the counts do not matter (0 / √(count + 1) = 0): skip counting.
        counts = self._times_recommended(items) if cfg.exploration_bonus else np.zeros(1)
        return (
            p * engaged_reward
            + (1 - p) * cfg.reward_ignored
            - cfg.diversity_penalty * similarity
            + cfg.exploration_bonus / np.sqrt(counts + 1.0)
        )

    def expected_satisfaction_change(self, items: np.ndarray | None = None) -> np.ndarray:
        """Expected change of the hidden satisfaction if each item (None: (N, n_items)) or
        each of `items` ((N, C) ids per session: (N, C)) were recommended."""
        cfg = self.config
        p = self.engagement_probability(items)
        value = self.item_value if items is None else self.item_value[np.asarray(items, np.int64)]
        return p * cfg.value_gain * value - (1 - p) * cfg.ignore_cost - cfg.fatigue

    def fresh_observation(self, user_ids: np.ndarray) -> np.ndarray:
        """(n, obs_dim) first observation of a new session for these users (their logged
        history, if the config starts sessions from it), at hour 0 on a Monday."""
        return self.session_start.fresh_observation(user_ids)

    def observation_with_history(self, user_ids: np.ndarray, recent: np.ndarray) -> np.ndarray:
        """(n, obs_dim) first observation of a new session for users whose latest engaged
        items are `recent` ((n, H), oldest first, padded with n_items)."""
        return self.session_start.observation_with_history(user_ids, recent)

    @property
    def item_popularity(self) -> np.ndarray:
        return self.truth.item_popularity

    @property
    def item_vectors(self) -> np.ndarray:
        return self.truth.item_content

    @property
    def history_id_columns(self) -> int:
        """How many trailing observation columns are history item ids (`env.history_ids`)."""
        return self.session_start.id_columns

    @property
    def observation_bound(self) -> float:
        # Features, (recency-weighted) means of features, fractions and sin/cos; the history
        # id columns (in [0, n_items]) are names, bounded apart (`gym_api`).
        features = max(np.abs(self._user_obs).max(initial=0), np.abs(self._item_pad).max())
        return float(max(1.0, np.ceil(features)))

    @property
    def observable_item_features(self) -> np.ndarray:
        return self.truth.item_observable
