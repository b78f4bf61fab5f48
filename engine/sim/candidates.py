"""Candidate sets: the few hundred items a cheap retrieval stage hands the ranker each step.

A real recommender does not score a 100k-item catalogue for every request; a retrieval stage
proposes a few hundred items and the policy re-ranks them. `CandidateRetrieval` draws, for
every session, `size` distinct items from a mix of three sources:
- popularity: items drawn in proportion to their share of interest (inverse CDF);
- collaborative neighbours: items in the same locality-sensitive-hash bucket as the user's
  latent factors or as one of the session's history items (random hyperplanes over the
  truth's centred latent factors, Charikar 2002, "Similarity estimation techniques from
  rounding algorithms"): items whose factors point the same way, found without any
  items × items or users × items table;
- uniform random exploration.
Items excluded for the session (already engaged or consumed) and repeats within a row are
redrawn from the same source a few times, then uniformly; a row that still cannot be filled
(a tiny catalogue nearly exhausted) is completed exactly, with excluded items last and
flagged in the candidate mask.

Draws come from their own generator (`candidate_generator`), so offering candidates does not
move any draw of the session dynamics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlrec.data.errors import RlrecError
from rlrec.engine.truth.model import HiddenTruth

# Mixed into the simulator's seed so the candidate stream differs from the dynamics' stream.
CANDIDATE_STREAM = 0x63616E64
# The hyperplanes of the neighbour hash are a property of the truth, not of a run's seed.
HASH_SEED = 12
# Items a neighbour bucket should hold per neighbour candidate drawn from it, on average.
BUCKET_ITEMS_PER_DRAW = 4
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


class CandidateRetrieval:
    """Draws (N, `size`) candidate sets for sessions of `truth`'s users.

    `popular` and `neighbours` are the shares of the popularity and neighbour sources (the
    rest is uniform); their counts per row are rounded, popularity first. RlrecError (naming
    the env option) if `size` exceeds the catalogue or the shares exceed 1."""

    def __init__(self, truth: HiddenTruth, size: int, popular: float, neighbours: float):
        n_items = truth.n_items
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
        self.size, self.n_items = int(size), n_items
        k_popular = min(int(round(size * popular)), size)
        k_neighbour = min(int(round(size * neighbours)), size - k_popular)
        self.counts = (k_popular, k_neighbour, size - k_popular - k_neighbour)
        self.source = np.repeat(np.array([POPULAR, NEIGHBOUR, RANDOM], np.int8), self.counts)

        weights = np.asarray(truth.item_popularity, np.float64)
        self._popularity_cdf = np.cumsum(weights / weights.sum())

        # Locality-sensitive hash of the latent factors: sign pattern over `bits` hyperplanes.
        target = BUCKET_ITEMS_PER_DRAW * max(k_neighbour, 1)
        bits = int(np.clip(np.floor(np.log2(max(n_items / target, 1.0))), 0, 20))
        latent = np.asarray(truth.item_latent, np.float32)
        self._centre = latent.mean(axis=0) if n_items else np.zeros(latent.shape[1], np.float32)
        planes = np.random.default_rng(HASH_SEED).standard_normal((latent.shape[1], bits))
        self._planes = planes.astype(np.float32)
        self._user_latent = truth.user_latent
        bucket = self._hash(latent)
        self._bucket_items = np.argsort(bucket, kind="stable")
        sizes = np.bincount(bucket, minlength=1 << bits)
        self._bucket_size = sizes
        self._bucket_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        # Row n_items (an empty history slot) hashes to -1: use the user's bucket instead.
        self._item_bucket = np.append(bucket, -1)

    def _hash(self, factors: np.ndarray) -> np.ndarray:
        """(n,) int64 bucket of each row of `factors` (n, d)."""
        bits = self._planes.shape[1]
        signs = ((factors - self._centre) @ self._planes) > 0
        return (signs.astype(np.int64) << np.arange(bits)).sum(axis=1)

    def draw(
        self,
        rng: np.random.Generator,
        users: np.ndarray,
        recent: np.ndarray,
        excluded: Excluded,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates for sessions of `users` ((N,) ids) whose history slots are `recent`
        ((N, H), padded with n_items): (N, size) int64 distinct item ids per row and the
        (N, size) bool mask, True only where an excluded item had to fill the row."""
        n, size = len(users), self.size
        user_bucket = self._hash(self._user_latent[users])
        rows = np.repeat(np.arange(n), size)
        candidates = self._draw(rng, np.tile(self.source, n), rows, user_bucket, recent)
        candidates = candidates.reshape(n, size)
        bad = _repeats(candidates) | excluded(np.arange(n)[:, None], candidates)
        for round_ in range(SOURCE_ROUNDS + UNIFORM_ROUNDS):
            r, c = np.nonzero(bad)
            if not r.size:
                break
            source = self.source[c] if round_ < SOURCE_ROUNDS else np.full(r.size, RANDOM)
            items = self._draw(rng, source, r, user_bucket, recent)
            candidates[r, c] = items
            touched = np.unique(r)
            again = _repeats(candidates[touched])
            again[np.searchsorted(touched, r), c] |= excluded(r, items)
            bad[touched] = again
        mask = np.zeros((n, size), dtype=bool)
        for row in np.flatnonzero(bad.any(axis=1)):
            self._complete_row(rng, candidates[row], bad[row], mask[row], int(row), excluded)
        return candidates, mask

    def _draw(
        self,
        rng: np.random.Generator,
        source: np.ndarray,
        rows: np.ndarray,
        user_bucket: np.ndarray,
        recent: np.ndarray,
    ) -> np.ndarray:
        """(len(rows),) int64 one item per position from its `source` for session `rows`."""
        out = np.empty(len(rows), dtype=np.int64)
        popular = np.flatnonzero(source == POPULAR)
        if popular.size:
            u = rng.random(popular.size)
            out[popular] = np.minimum(
                np.searchsorted(self._popularity_cdf, u, side="right"), self.n_items - 1
            )
        near = np.flatnonzero(source == NEIGHBOUR)
        if near.size:
            out[near] = self._neighbours(rng, rows[near], user_bucket, recent)
        uniform = np.flatnonzero(source == RANDOM)
        if uniform.size:
            out[uniform] = rng.integers(0, self.n_items, uniform.size)
        return out

    def _neighbours(
        self,
        rng: np.random.Generator,
        rows: np.ndarray,
        user_bucket: np.ndarray,
        recent: np.ndarray,
    ) -> np.ndarray:
        """One item per position from the bucket of the session's user or of one of its
        history items (chosen uniformly; an empty slot means the user), or a uniform item
        if that bucket is empty."""
        width = recent.shape[1]
        slot = rng.integers(0, width + 1, len(rows))
        history = recent[rows, np.maximum(slot - 1, 0)]
        bucket = np.where(slot > 0, self._item_bucket[history], -1)
        bucket = np.where(bucket < 0, user_bucket[rows], bucket)
        sizes = self._bucket_size[bucket]
        offset = (rng.random(len(rows)) * sizes).astype(np.int64)
        picked = self._bucket_items[
            np.minimum(self._bucket_start[bucket] + offset, self.n_items - 1)
        ]
        empty = sizes == 0
        if empty.any():
            picked[empty] = rng.integers(0, self.n_items, int(empty.sum()))
        return picked

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


def _repeats(candidates: np.ndarray) -> np.ndarray:
    """(n, C) bool: True where an item already occurs earlier in its row."""
    order = np.argsort(candidates, axis=1, kind="stable")
    ordered = np.take_along_axis(candidates, order, axis=1)
    repeat = np.zeros(candidates.shape, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    out = np.empty_like(repeat)
    np.put_along_axis(out, order, repeat, axis=1)
    return out
