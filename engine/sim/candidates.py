"""Candidate sets: the few hundred items a cheap retrieval stage hands the ranker each step.

A real recommender does not score a 100k-item catalogue for every request; a retrieval stage
proposes a few hundred items and the policy re-ranks them. `CandidateRetrieval` draws, for
every session, `size` distinct items from a mix of three sources:
- popularity: items drawn uniformly from the most popular ones (`POPULAR_POOL` times as
  many as the popularity share of a set);
- collaborative neighbours: items drawn from the session's neighbour pool, the
  `NEIGHBOUR_POOL` × share items with the highest ⟨p_u, q_i⟩ (the truth's latent factors, a
  fitted MF on imported logs) among `NEIGHBOUR_SAMPLE` times as many random items. The pool
  is ranked once when the session starts, one BLAS product for all sessions starting at that
  step against one shared sample — never users × items or items × items;
- uniform random exploration.
Items excluded for the session (already engaged or consumed) and repeats within a row are
redrawn from the same source a few times, then uniformly; a row that still cannot be filled
(a tiny catalogue nearly exhausted) is completed exactly, with excluded items last and
flagged in the candidate mask.

Draws come from their own generator (`candidate_generator`), so offering candidates does not
move any draw of the session dynamics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.engine.sim import session_items
from rlrec.engine.truth.model import HiddenTruth

# Mixed into the simulator's seed so the candidate stream differs from the dynamics' stream.
CANDIDATE_STREAM = 0x63616E64
# A session's neighbour pool holds this many times its neighbour share of a set, the best
# of this many times as many random items.
NEIGHBOUR_POOL = 2
NEIGHBOUR_SAMPLE = 16
SHUFFLE_SEED = 12
# The popularity source draws from this many times its share of a set's most popular items.
POPULAR_POOL = 4
# Redraws of a repeated or excluded candidate from its own source, then uniformly at random.
SOURCE_ROUNDS = 4
UNIFORM_ROUNDS = 8

POPULAR, NEIGHBOUR, RANDOM = 0, 1, 2

# excluded(rows, items) -> bool of the broadcast shape: True where items[i] is excluded for
# session rows[i].
Excluded = Callable[[np.ndarray, np.ndarray], np.ndarray]


def candidate_generator(seed: int | None) -> np.random.Generator:
    """The generator candidate draws come from, derived from the simulator's `seed` (fresh
    entropy for None)."""
    return np.random.default_rng(None if seed is None else [CANDIDATE_STREAM, int(seed)])


def check_candidate_settings(size: int, popular: float, neighbours: float, n_items: int) -> None:
    """RlrecError (naming the env option) if `size` candidates exceed a catalogue of
    `n_items`, or the popularity and neighbour shares add up to more than 1."""
    if size > n_items:
        raise RlrecError(
            f"env.candidates = {size:,} exceeds the catalogue's {n_items:,} items",
            option="env.candidates",
            value=size,
        )
    if popular + neighbours > 1.0 + 1e-9:
        raise RlrecError(
            f"env.candidate_popular + env.candidate_neighbours = {popular + neighbours:g} "
            "exceeds 1 (the rest is drawn at random)",
            option="env.candidate_neighbours",
            value=neighbours,
        )


class CandidateRetrieval:
    """Draws (N, `size`) candidate sets for sessions of `truth`'s users.

    `popular` and `neighbours` are the shares of the popularity and neighbour sources (the
    rest is uniform); their counts per row are rounded, popularity first. RlrecError (naming
    the env option) if `size` exceeds the catalogue or the shares exceed 1."""

    def __init__(self, truth: HiddenTruth, size: int, popular: float, neighbours: float):
        n_items = truth.n_items
        check_candidate_settings(size, popular, neighbours, n_items)
        self.size, self.n_items = int(size), n_items
        k_popular = min(int(round(size * popular)), size)
        k_neighbour = min(int(round(size * neighbours)), size - k_popular)
        self.counts = (k_popular, k_neighbour, size - k_popular - k_neighbour)
        self.source = np.repeat(np.array([POPULAR, NEIGHBOUR, RANDOM], np.int8), self.counts)

        pool = min(n_items, POPULAR_POOL * max(k_popular, 1))
        by_popularity = np.argsort(-np.asarray(truth.item_popularity), kind="stable")
        self.popular_pool = by_popularity[:pool]

        self.pool_size = min(n_items, NEIGHBOUR_POOL * max(k_neighbour, 1))
        self._sample_size = min(n_items, NEIGHBOUR_SAMPLE * self.pool_size)
        self._user_latent = truth.user_latent
        # Items in a fixed random order, their factors stored in that order, so that a sample
        # is a contiguous block (no gather before the product).
        self._order = np.random.default_rng(SHUFFLE_SEED).permutation(n_items)
        self._ordered_latent = np.ascontiguousarray(truth.item_latent[self._order])

    def neighbour_pool(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """(len(users), pool_size) int32: for each user the items of highest ⟨p_u, q_i⟩
        among one random sample of items shared by these users (a random block of a fixed
        shuffle of the catalogue; the whole catalogue when it is small), best first."""
        start = int(rng.integers(0, self.n_items - self._sample_size + 1))
        block = slice(start, start + self._sample_size)
        sample = self._order[block]
        scores = _single_thread_product(self._user_latent[users], self._ordered_latent[block])
        top = np.argpartition(-scores, self.pool_size - 1, axis=1)[:, : self.pool_size]
        order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
        return sample[np.take_along_axis(top, order, 1)].astype(np.int32)

    def draw(
        self,
        rng: np.random.Generator,
        pools: np.ndarray,
        excluded: Excluded,
        excluded_keys: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates for N sessions whose neighbour pools are `pools` ((N, pool_size), from
        `neighbour_pool`); `excluded` tests (session, item) pairs and `excluded_keys` lists
        every excluded pair as `session_items.row_keys` (any order). Returns (N, size) int64
        distinct item ids per row and the (N, size) bool mask, True only where an excluded
        item had to fill the row.

        Each source first fills its columns with distinct items (a random arithmetic
        progression over its pool, stride coprime with the pool's size); repeats across
        sources and excluded items are then redrawn."""
        n, size = len(pools), self.size
        k_popular, k_neighbour, _ = self.counts
        candidates = np.empty((n, size), dtype=np.int64)
        pool = self.popular_pool
        candidates[:, :k_popular] = pool[_progressions(rng, n, k_popular, len(pool))]
        near = _progressions(rng, n, k_neighbour, pools.shape[1])
        candidates[:, k_popular : k_popular + k_neighbour] = np.take_along_axis(pools, near, 1)
        candidates[:, k_popular + k_neighbour :] = rng.integers(
            0, self.n_items, (n, size - k_popular - k_neighbour)
        )
        r, c = np.nonzero(_repeated_or_excluded(candidates, excluded_keys, self.n_items))
        for round_ in range(SOURCE_ROUNDS + UNIFORM_ROUNDS):
            if not r.size:
                break
            source = self.source[c] if round_ < SOURCE_ROUNDS else np.full(r.size, RANDOM)
            items = self._draw(rng, source, r, pools)
            candidates[r, c] = items
            # A redrawn item is bad if it now occurs twice in its row (the other copy stays).
            repeated = (candidates[r] == items[:, None]).sum(axis=1) > 1
            still = repeated | excluded(r, items)
            r, c = r[still], c[still]
        mask = np.zeros((n, size), dtype=bool)
        if r.size:
            bad = np.zeros((n, size), dtype=bool)
            bad[r, c] = True
            for row in np.unique(r):
                self._complete_row(rng, candidates[row], bad[row], mask[row], int(row), excluded)
        return candidates, mask

    def _draw(
        self,
        rng: np.random.Generator,
        source: np.ndarray,
        rows: np.ndarray,
        pools: np.ndarray,
    ) -> np.ndarray:
        """(len(rows),) int64 one item per position from its `source` for session `rows`."""
        out = np.empty(len(rows), dtype=np.int64)
        popular = np.flatnonzero(source == POPULAR)
        if popular.size:
            pool = self.popular_pool
            out[popular] = pool[rng.integers(0, len(pool), popular.size)]
        near = np.flatnonzero(source == NEIGHBOUR)
        if near.size:
            picked = rng.integers(0, pools.shape[1], near.size)
            out[near] = pools[rows[near], picked]
        uniform = np.flatnonzero(source == RANDOM)
        if uniform.size:
            out[uniform] = rng.integers(0, self.n_items, uniform.size)
        return out

    def _complete_row(
        self,
        rng: np.random.Generator,
        row_items: np.ndarray,
        bad: np.ndarray,
        row_mask: np.ndarray,
        row: int,
        excluded: Excluded,
    ) -> None:
        """Fill the `bad` positions of one row in place with distinct items not yet in it,
        allowed items first (random order), then excluded ones (flagged in `row_mask`)."""
        every = np.arange(self.n_items)
        out = excluded(np.full(self.n_items, row), every)
        free = np.setdiff1d(every[~out], row_items[~bad])
        blocked = np.setdiff1d(every[out], row_items[~bad])
        fill = np.concatenate([rng.permutation(free), rng.permutation(blocked)])[: int(bad.sum())]
        row_items[bad] = fill
        row_mask[bad] = out[fill]


# Multiply-adds up to which OpenBLAS runs a product on the calling thread (its
# GEMM_MULTITHREAD_THRESHOLD of 4 × 65,536). Past it, it wakes its thread pool, which on a
# busy 2-core machine (the trainer's torch threads, other processes) made one step's
# neighbour pools 30 times slower than the same products run as single-threaded blocks.
SINGLE_THREAD_MACS = 4 * 65_536


def _single_thread_product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right.T ((n, d) and (m, d) → (n, m)), in blocks of `right`'s rows small enough
    for BLAS to compute each on the calling thread."""
    n, d = left.shape
    out = np.empty((n, len(right)), dtype=np.result_type(left, right))
    step = max(1, SINGLE_THREAD_MACS // max(n * d, 1))
    for start in range(0, len(right), step):
        out[:, start : start + step] = left @ right[start : start + step].T
    return out


@functools.lru_cache(maxsize=16)
def _units(size: int) -> np.ndarray:
    """Strides 1..size−1 coprime with `size` ([1] for size 1): an arithmetic progression with
    such a stride visits distinct positions modulo `size`."""
    strides = np.arange(1, max(size, 2))
    return strides[np.gcd(strides, size) == 1]


def _progressions(rng: np.random.Generator, n: int, k: int, size: int) -> np.ndarray:
    """(n, k) int64 positions in [0, size), distinct within each row (k ≤ size): a random
    start plus a random stride coprime with `size`, modulo `size`."""
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    units = _units(size)
    start = rng.integers(0, size, (n, 1))
    stride = units[rng.integers(0, len(units), (n, 1))]
    return (start + np.arange(k) * stride) % size


def _repeated_or_excluded(
    candidates: np.ndarray, excluded_keys: np.ndarray, n_items: int
) -> np.ndarray:
    """(n, C) bool: True where a candidate occurs earlier in its row or is excluded for the
    row's session. Each row is sorted once (items tagged with their column, so the first
    copy of an item sorts first); the sorted rows' `session_items.row_keys` are then sorted
    as a whole, so each excluded pair is found by one binary search."""
    n, size = candidates.shape
    ordered, column = np.divmod(np.sort(candidates * size + np.arange(size), axis=1), size)
    bad = np.zeros((n, size), dtype=bool)
    rows = np.arange(n)[:, None]
    repeat = ordered[:, 1:] == ordered[:, :-1]
    bad[np.broadcast_to(rows, repeat.shape)[repeat], column[:, 1:][repeat]] = True
    keys = session_items.row_keys(rows, ordered, n_items).ravel()
    excluded_keys = np.asarray(excluded_keys, np.int64)
    where = np.minimum(np.searchsorted(keys, excluded_keys), keys.size - 1)
    found = where[keys[where] == excluded_keys]
    bad[found // size, column.ravel()[found]] = True
    return bad
