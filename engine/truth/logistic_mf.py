"""Logistic matrix factorisation with biases over labelled (user, item) pairs only.

The model: P(engage | u, i) = σ(μ + b_u + b_i + ⟨p_u, q_i⟩), fitted by alternating IRLS
(iteratively reweighted least squares; Hastie, Tibshirani & Friedman, *The Elements of
Statistical Learning*, §4.4.1): each half-step is one Newton step of every user's (then
every item's) weighted logistic ridge regression on the other side's factors, solved for all
rows at once. Only the labelled pairs enter — the logged ones and the sampled negatives of
`rlrec.engine.truth.pairs.LabelledPairs` — so time and memory are O(pairs + (users + items)
· k²), never users × items:
- the Newton weight a = w·σ'(s) and working target z = s + (y − σ(s))/σ'(s) of each pair
  are computed in cache-sized chunks of the pairs (`PAIR_CHUNK`);
- each row's Gram matrix Σ a·x xᵀ is one sparse product: the pairs as a CSR matrix (rows ×
  fixed side, values a) times the table of the fixed side's upper-triangle outer products
  (fixed × k(k+1)/2), in float32 like the dense products it replaces;
- the ridge weight is `regularization` per unit of a row's total Newton weight (plus one), so
  heavy and light rows are shrunk alike.

Why our own solver rather than `implicit`'s ALS: implicit ALS fits a weighted *squared* loss
in which every unobserved pair is a zero with unit confidence (Hu, Koren & Volinsky 2008);
our labels are explicit positives and negatives (low ratings, views without a click, sampled
unobserved pairs) under a *logistic* loss whose score is a calibrated logit. The IRLS
half-step is the same batched ridge solve ALS does, with weights that change per pair.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlrec.engine.truth.pairs import LabelledPairs, pair_dot

# Pairs whose scores are computed at once: the gathered factor rows (2 · chunk · k float32)
# stay in cache, and the temporaries stay small whatever the log's size.
PAIR_CHUNK = 1 << 17
# Held-out pairs needed before their log-loss may stop the sweeps: a 1e-3 relative change of
# a mean log-loss is within the noise of a few thousand pairs, and fits that small are cheap.
MIN_HELD_OUT = 100_000


class _PairRows:
    """The labelled pairs grouped by user: CSR row offsets over users, user and item ids,
    and the per-pair weight and label in that order. The item half-step reads the same
    arrays through the transposed (CSC) matrix, so the pairs are held once."""

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        labels: np.ndarray,
        n_users: int,
        n_items: int,
    ) -> None:
        order = np.argsort(users, kind="stable")
        index = np.int32 if len(users) < 2**31 else np.int64
        self.shape = (n_users, n_items)
        self.users = users[order].astype(index)
        self.items = items[order].astype(index)
        self.weights = weights[order].astype(np.float32)
        self.labels = labels[order].astype(np.float32)
        self.indptr = np.zeros(n_users + 1, index)
        np.cumsum(np.bincount(users, minlength=n_users), out=self.indptr[1:])

    def matrix(self, values: np.ndarray, by_user: bool) -> sp.csr_matrix | sp.csc_matrix:
        """One value per pair as a (users, items) CSR matrix, or its (items, users) CSC
        transpose when not `by_user` (no copy)."""
        users_by_items = sp.csr_matrix((values, self.items, self.indptr), shape=self.shape)
        return users_by_items if by_user else users_by_items.T


def _newton_terms(
    rows_of_pairs: np.ndarray,
    cols_of_pairs: np.ndarray,
    weights: np.ndarray,
    labels: np.ndarray,
    row_f: np.ndarray,
    row_b: np.ndarray,
    col_f: np.ndarray,
    col_b: np.ndarray,
    mean: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the Newton weight a = w·max(σ'(s), 1e-3) and a times the row's regression
    target z − μ − b_col (= ⟨p_row, f_col⟩ + b_row + (y − σ(s))/σ'(s)), the values of the
    two sparse products of a half-step."""
    n = len(rows_of_pairs)
    weight = np.empty(n, np.float32)
    weighted_target = np.empty(n, np.float32)
    row_f32, col_f32 = row_f.astype(np.float32), col_f.astype(np.float32)
    row_b32, col_b32 = row_b.astype(np.float32), col_b.astype(np.float32)
    for start in range(0, n, PAIR_CHUNK):
        part = slice(start, min(n, start + PAIR_CHUNK))
        rows, cols = rows_of_pairs[part], cols_of_pairs[part]
        # In place: a dozen passes over a cache-sized chunk, no fresh arrays.
        row_part = np.einsum("nd,nd->n", row_f32[rows], col_f32[cols])
        row_part += row_b32[rows]
        prob = col_b32[cols]
        prob += row_part
        prob += np.float32(mean)  # the score s
        np.clip(prob, -30.0, 30.0, out=prob)
        np.negative(prob, out=prob)
        np.exp(prob, out=prob)
        prob += 1
        np.reciprocal(prob, out=prob)  # σ(s)
        curvature = 1 - prob
        curvature *= prob
        np.maximum(curvature, np.float32(1e-3), out=curvature)
        a = np.multiply(weights[part], curvature, out=weight[part])
        residual = np.subtract(labels[part], prob, out=prob)
        residual /= curvature
        residual += row_part
        np.multiply(residual, a, out=weighted_target[part])
    return weight, weighted_target


def _half_step(
    pairs: _PairRows,
    by_user: bool,
    row_f: np.ndarray,
    row_b: np.ndarray,
    col_f: np.ndarray,
    col_b: np.ndarray,
    mean: float,
    reg: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One Newton step of every row's (every user's if `by_user`, else every item's)
    logistic ridge regression on x = [f_col, 1]: (Σ a x xᵀ + reg·(1 + Σ a)·I) β = Σ a·t·x,
    solved for all rows at once. Returns the rows' new factors (n, d) and biases (n,)."""
    rows, cols = (pairs.users, pairs.items) if by_user else (pairs.items, pairs.users)
    weight, weighted_target = _newton_terms(
        rows, cols, pairs.weights, pairs.labels, row_f, row_b, col_f, col_b, mean
    )
    fixed = np.c_[col_f, np.ones(len(col_f))].astype(np.float32)  # (C, k)
    k = fixed.shape[1]
    upper_i, upper_j = np.triu_indices(k)
    outer = fixed[:, upper_i] * fixed[:, upper_j]  # (C, k(k+1)/2)
    packed = np.asarray(pairs.matrix(weight, by_user) @ outer)
    del outer
    rhs = np.asarray(pairs.matrix(weighted_target, by_user) @ fixed, np.float64)
    # Each (i, j) entry of the symmetric Gram matrix is packed column (min, max) of (i, j).
    column = np.empty((k, k), np.int64)
    column[upper_i, upper_j] = column[upper_j, upper_i] = np.arange(len(upper_i))
    gram = packed[:, column.ravel()].astype(np.float64).reshape(-1, k, k)
    total = gram[:, k - 1, k - 1].copy()  # the [1, 1] entry: Σ a of the row
    del packed
    diagonal = np.arange(k)
    gram[:, diagonal, diagonal] += (reg * (1.0 + total))[:, None]
    solved = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    return solved[:, : k - 1], solved[:, k - 1]


def held_out_log_loss(
    pairs: LabelledPairs,
    user_f: np.ndarray,
    user_b: np.ndarray,
    item_f: np.ndarray,
    item_b: np.ndarray,
    mean: float,
) -> float:
    """The weighted mean log-loss (nats per unit weight) of the model on `pairs`."""
    score = pair_dot(user_f, pairs.users, item_f, pairs.items)
    score += user_b[pairs.users] + item_b[pairs.items] + mean
    # −log σ(s) for positives and −log σ(−s) for negatives, as log1p(e^{∓s}) (stable).
    signed = np.where(pairs.labels > 0, -score, score)
    loss = np.logaddexp(0.0, signed)
    return float(np.average(loss, weights=pairs.weights))


def factorise(
    pairs: LabelledPairs,
    n_users: int,
    n_items: int,
    factors: int,
    iterations: int,
    regularization: float,
    seed: int,
    held_out: LabelledPairs | None = None,
    tolerance: float = 0.0,
    min_held_out: int = MIN_HELD_OUT,
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic MF with biases over `pairs` (see the module doc). The score is a logit, so
    the calibration afterwards only has to correct its scale.

    Runs `iterations` sweeps (a user then an item half-step), or fewer: with at least
    `min_held_out` `held_out` pairs and `tolerance` > 0 it stops after the first sweep that
    lowers their log-loss by less than `tolerance` (relative) — past that the sweeps only fit
    the training pairs closer (early stopping; Hastie et al., §11.5.2).

    Returns user (n_users, factors+2) and item (n_items, factors+2) float64 factors
    [p_u, b_u, 1] and [q_i, 1, b_i] whose dot product is the score minus the global logit μ.
    Users and items without pairs keep zero factors and biases. Memory: about 24 bytes per
    pair plus (n_users + n_items)·(factors+1)²·12 bytes."""
    d = factors
    base_rate = float(np.clip(np.average(pairs.labels, weights=pairs.weights), 1e-3, 1 - 1e-3))
    mean = float(np.log(base_rate / (1 - base_rate)))
    grouped = _PairRows(pairs.users, pairs.items, pairs.weights, pairs.labels, n_users, n_items)
    rng = np.random.default_rng(seed)
    user_f = rng.normal(0, 0.1, size=(n_users, d))
    item_f = rng.normal(0, 0.1, size=(n_items, d))
    user_b, item_b = np.zeros(n_users), np.zeros(n_items)
    watch = held_out is not None and tolerance > 0 and len(held_out.labels) >= min_held_out
    previous = np.inf
    for _ in range(iterations):
        user_f, user_b = _half_step(
            grouped, True, user_f, user_b, item_f, item_b, mean, regularization
        )
        item_f, item_b = _half_step(
            grouped, False, item_f, item_b, user_f, user_b, mean, regularization
        )
        if watch:
            assert held_out is not None
            loss = held_out_log_loss(held_out, user_f, user_b, item_f, item_b, mean)
            if previous - loss < tolerance * previous:
                break
            previous = loss
    users = np.c_[user_f, user_b, np.ones(n_users)]
    items = np.c_[item_f, np.ones(n_items), item_b]
    return users, items
