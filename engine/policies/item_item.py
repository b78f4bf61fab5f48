"""Item-item reference policies fitted on the binary user × item matrix of a log: EASE and
ItemKNN, each with its one hyperparameter chosen on the validation part of the split.

- EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW): with
  G = XᵀX and P = (G + λI)⁻¹, the item-item weights are B = I − P·diag(1/diag(P)), so
  diag(B) = 0; a user's scores are x_u·B. B is dense items × items, so it is fitted only over
  the items the log engaged at all (the others' rows and columns of B are exactly 0) and
  refused above `EASE_MAX_ITEMS` of them or what the memory can hold.
- ItemKNN (Sarwar et al. 2001, "Item-based collaborative filtering recommendation
  algorithms"; Deshpande & Karypis 2004, "Item-based top-N recommendation algorithms"):
  cosine similarity of item columns of X, each item keeping its `k` most similar neighbours
  (sparse); a user's score for an item is the sum of its similarities to their history items.

X is binary: 1 where the user engaged the item (`rlrec.data.schema.positive_rows`). The
hyperparameter (EASE's λ, ItemKNN's k) is chosen by NDCG@10 over the validation part's warm
users — fitted on the train part, each user's train items as history and excluded from the
ranking, as offline evaluation does — then the scorer is fitted on the log it serves from.
A user's history is what the batch says they engaged before (offline evaluation of the test
part: train and validation, as the agent's state sees), else their row of that log.
Scoring is one sparse × (dense or sparse) product per batch of users; nothing users × items
exists beyond the batch being scored. A user with no history (cold start) gets the log's
most popular items, as a tie-break every score carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rlrec.data.dataset import Dataset
from rlrec.data.errors import Option, RlrecError
from rlrec.data.memory import check_bytes_fit
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import positive_rows
from rlrec.data.split import PART_NAMES, Split, part_view
from rlrec.engine.policies.ranking import top_k
from rlrec.engine.policies.ranking_metrics import ndcg_per_user
from rlrec.engine.policies.user_scorers import UserBatch, UserScorer
from rlrec.engine.sim.base import DENSE_TABLE_LIMIT

# Past this many engaged items EASE is left out: its dense inverse of that size takes
# minutes on two cores and ~3 GiB for each of the three items × items float64 matrices.
EASE_MAX_ITEMS = 20_000
# λ as multiples of the mean diagonal of XᵀX (the mean engaged count of an item), so logs of
# any size get a comparable search: Steck's best λ were 500 on ML-20M, 200 on the Million
# Song Dataset and 1,000 on Netflix, 0.3–1 times those logs' mean item counts; small logs
# want more (measured on validation: MovieLens-100K best at 5×, flat from 5× to 20×;
# ml-latest-small still rising at 2×).
EASE_LAMBDA_FRACTIONS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
# Small logs want many neighbours (MovieLens-100K's validation NDCG@10 rose from 0.07 at
# k = 100 to 0.115 at k = 500, flat past it), large ones fewer.
KNN_NEIGHBOURS = (20, 50, 100, 200, 500, 1000)
# Validation users ranked at once (their users × items score table is one chunk).
_CHUNK_USERS = 2048
_NDCG_K = 10


def engaged_matrix(log: Dataset) -> sp.csr_matrix:
    """(n_users, n_items) float32 CSR of 1 where the user engaged the item in `log` (once,
    however often they did)."""
    interactions = log.interactions
    engaged = positive_rows(interactions, positive_threshold(log.meta))
    users = interactions["user_id"].to_numpy(np.int64)[engaged]
    items = interactions["item_id"].to_numpy(np.int64)[engaged]
    matrix = sp.csr_matrix(
        (np.ones(len(users), np.float32), (users, items)), shape=(log.n_users, log.n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def active_items(matrix: sp.csr_matrix) -> np.ndarray:
    """(m,) int64 ids of the items some user engaged (non-empty columns of `matrix`)."""
    return np.flatnonzero(np.diff(matrix.tocsc().indptr)).astype(np.int64)


def ease_refusal(n_active: int) -> str:
    """Why EASE cannot be fitted over `n_active` engaged items (one line), or ""."""
    if n_active > EASE_MAX_ITEMS:
        return (
            f"EASE needs a dense {n_active:,} × {n_active:,} inverse, above its limit of "
            f"{EASE_MAX_ITEMS:,} engaged items (minutes and ~3 GiB per matrix past it)"
        )
    try:
        # The Gram matrix, its inverse, the weights and the best weights so far.
        check_bytes_fit(n_active**2 * 8 * 4, [Option("policy", "ease")], "for its weights")
    except RlrecError as exc:
        return str(exc)
    return ""


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """(m, m) float32 EASE weights B for the Gram matrix `gram` = XᵀX ((m, m) float64 over the
    engaged items) and L2 weight `lam` > 0: B = I − P·diag(1/diag(P)), P = (G + λI)⁻¹, so
    B[i, j] = −P[i, j] / P[j, j] off the diagonal and 0 on it (Steck 2019, eq. 8). `gram`
    is changed while the inverse is taken and restored exactly."""
    diagonal = np.diag_indices_from(gram)
    original = gram[diagonal].copy()
    gram[diagonal] += lam  # in place and restored: no second m × m copy
    try:
        inverse = np.linalg.inv(gram)
    finally:
        gram[diagonal] = original
    inverse /= -np.diag(inverse).copy()[None, :]
    np.fill_diagonal(inverse, 0.0)
    return inverse.astype(np.float32)


def knn_neighbours(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """(n_items, n_items) float32 CSR: row i keeps the cosine similarities of item i's `k`
    most similar other items (columns of the binary `matrix`, (n_users, n_items)), most
    similar first; items without engagements have empty rows. Cosine of binary columns is
    |U_i ∩ U_j| / √(|U_i|·|U_j|). Computed a block of rows at a time, so no dense
    items × items table exists beyond `DENSE_TABLE_LIMIT` entries. RlrecError (one line)
    when the n_items × k neighbour lists would not fit in memory."""
    n_items = matrix.shape[1]
    # Row, column and value of every kept pair, twice while the CSR is assembled.
    check_bytes_fit(
        n_items * min(k, n_items) * 20 * 2, [Option("policy", "itemknn")], "for its neighbours"
    )
    by_item = matrix.T.tocsr()
    norms = np.sqrt(np.asarray(by_item.sum(axis=1)).ravel())
    inverse_norm = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)
    k = max(1, min(k, n_items - 1))
    block = max(1, DENSE_TABLE_LIMIT // max(n_items, 1))
    rows, cols, values = [], [], []
    for lo in range(0, n_items, block):
        hi = min(lo + block, n_items)
        overlap = (by_item[lo:hi] @ matrix).toarray()
        cosine = overlap * inverse_norm[lo:hi, None] * inverse_norm[None, :]
        cosine[np.arange(hi - lo), np.arange(lo, hi)] = 0.0  # an item is not its own neighbour
        part = np.argpartition(-cosine, k - 1, axis=1)[:, :k]
        part_values = np.take_along_axis(cosine, part, axis=1)
        order = np.argsort(-part_values, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        part_values = np.take_along_axis(part_values, order, axis=1)
        keep = part_values > 0
        rows.append(np.broadcast_to(np.arange(lo, hi)[:, None], part.shape)[keep])
        cols.append(part[keep])
        values.append(part_values[keep])
    return sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


def first_neighbours(neighbours: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """`neighbours` (rows most similar first, as `knn_neighbours` gives) cut to each row's
    first `k` entries."""
    lengths = np.diff(neighbours.indptr)
    rank = np.arange(neighbours.nnz) - np.repeat(neighbours.indptr[:-1], lengths)
    kept = rank < k
    indptr = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(np.minimum(lengths, k), out=indptr[1:])
    return sp.csr_matrix(
        (neighbours.data[kept], neighbours.indices[kept], indptr), shape=neighbours.shape
    )


@dataclass(frozen=True)
class ValidationUsers:
    """Warm users of the validation part: dataset rows `users` (n,), their train history
    `history` (n, n_items) CSR, `relevant` (n, n_items) CSR of the items they engaged in
    validation, `exclude` (n, n_items) CSR of every item they met in train."""

    users: np.ndarray
    history: sp.csr_matrix
    relevant: sp.csr_matrix
    exclude: sp.csr_matrix


def validation_users(dataset: Dataset, split: Split, train: sp.csr_matrix) -> ValidationUsers:
    """The validation part's warm users with train history (see `ValidationUsers`); none
    (n = 0) when the split has no validation part."""
    log = dataset.interactions
    users = log["user_id"].to_numpy(np.int64)
    items = log["item_id"].to_numpy(np.int64)
    engaged = positive_rows(log, positive_threshold(dataset.meta))
    in_validation = (split.labels == PART_NAMES["validation"]) & engaged
    has_history = np.diff(train.indptr) > 0
    candidates = np.unique(users[in_validation])
    chosen = candidates[has_history[candidates] & ~np.isin(candidates, split.cold_users)]
    row = np.full(dataset.n_users, -1)
    row[chosen] = np.arange(len(chosen))

    def table(mask: np.ndarray) -> sp.csr_matrix:
        kept = mask & (row[users] >= 0)
        pairs = (row[users[kept]], items[kept])
        table = sp.csr_matrix(
            (np.ones(int(kept.sum()), bool), pairs), shape=(len(chosen), dataset.n_items)
        )
        table.sum_duplicates()
        return table

    in_train = split.labels == PART_NAMES["train"]
    return ValidationUsers(chosen, train[chosen], table(in_validation), table(in_train))


def validation_ndcg(
    scores_of: Callable[[sp.csr_matrix], np.ndarray], held: ValidationUsers
) -> float:
    """Mean NDCG@10 over `held`'s users of the top lists of `scores_of(history)` ((n, n_items)
    scores for a CSR batch of histories), their train items excluded."""
    values = []
    for lo in range(0, len(held.users), _CHUNK_USERS):
        hi = min(lo + _CHUNK_USERS, len(held.users))
        scores = scores_of(held.history[lo:hi])
        top = top_k(scores, _NDCG_K, held.exclude[lo:hi].toarray())
        values.append(ndcg_per_user(top, held.relevant[lo:hi].toarray(), _NDCG_K))
    return float(np.concatenate(values).mean()) if values else float("nan")


def choose(
    grid: Sequence[float], measure: Callable[[float], float]
) -> tuple[float, dict[float, float]]:
    """The grid value with the highest `measure` (the first on ties) and every value's
    measure; the grid's middle value when nothing could be measured (all nan)."""
    measured = {value: measure(value) for value in grid}
    finite = {v: m for v, m in measured.items() if np.isfinite(m)}
    if not finite:
        return grid[len(grid) // 2], measured
    best = max(finite.values())
    return next(v for v, m in finite.items() if m == best), measured


# Popularity's share of a score: only breaks ties, so items no history reaches, and users
# with no history at all (cold start), are ranked by popularity, not by item id.
POPULARITY_TIE_BREAK = 1e-6


class ItemItemScorer(UserScorer):
    """Scores = a user's history row of the log (binary, over all items) times item-item
    weights, plus a popularity tie-break (`POPULARITY_TIE_BREAK` × engaged count / the
    largest); `choice` says which hyperparameter value was used and how it was chosen."""

    def __init__(self, history: sp.csr_matrix, setting: float, choice: str):
        self.history = sp.csr_matrix(history, dtype=np.float32)
        self.setting = float(setting)
        self.choice = choice
        counts = np.asarray(self.history.sum(axis=0), np.float64).ravel()
        self.prior = POPULARITY_TIE_BREAK * counts / max(float(counts.max(initial=0.0)), 1.0)

    def history_of(self, batch: UserBatch) -> sp.csr_matrix:
        """(n, n_items) the batch's histories: its own when given, else the fitted log's."""
        if batch.history is not None:
            return sp.csr_matrix(batch.history, dtype=np.float32)
        return self.history[batch.users]

    def _history_arrays(self) -> dict[str, np.ndarray]:
        return {
            "history_indptr": self.history.indptr.astype(np.int64),
            "history_indices": self.history.indices.astype(np.int32),
            "history_shape": np.array(self.history.shape, np.int64),
            "setting": np.array([self.setting]),
            "choice": np.array(self.choice),
        }

    @staticmethod
    def _history_from(arrays: dict[str, np.ndarray]) -> tuple[sp.csr_matrix, float, str]:
        indices = arrays["history_indices"]
        history = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, arrays["history_indptr"]),
            shape=tuple(int(v) for v in arrays["history_shape"]),
        )
        return history, float(arrays["setting"][0]), str(arrays["choice"])


class EASEScorer(ItemItemScorer):
    """EASE: x_u · B over the engaged items `active` ((m,) ids, B (m, m)); items the log never
    engaged score 0, as the full B's zero rows and columns give."""

    name = "ease"

    def __init__(
        self,
        history: sp.csr_matrix,
        active: np.ndarray,
        weights: np.ndarray,
        setting: float,
        choice: str,
    ):
        super().__init__(history, setting, choice)
        self.active = np.asarray(active, np.int64)
        self.weights = np.asarray(weights, np.float32)

    def scores(self, batch: UserBatch) -> np.ndarray:
        return ease_scores(self.history_of(batch), self.active, self.weights) + self.prior

    def arrays(self) -> dict[str, np.ndarray]:
        return {**self._history_arrays(), "active": self.active, "weights": self.weights}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> EASEScorer:
        history, setting, choice = cls._history_from(arrays)
        return EASEScorer(history, arrays["active"], arrays["weights"], setting, choice)


def ease_scores(history: sp.csr_matrix, active: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n, n_items) float64 EASE scores of the histories `history` ((n, n_items) CSR) with
    weights `weights` ((m, m)) over the items `active` ((m,))."""
    scores = np.zeros(history.shape, np.float64)
    scores[:, active] = history[:, active] @ weights
    return scores


class ItemKNNScorer(ItemItemScorer):
    """ItemKNN: x_u · S with S the sparse top-k cosine neighbours (`knn_neighbours`)."""

    name = "itemknn"

    def __init__(
        self, history: sp.csr_matrix, neighbours: sp.csr_matrix, setting: float, choice: str
    ):
        super().__init__(history, setting, choice)
        self.neighbours = sp.csr_matrix(neighbours, dtype=np.float32)

    def scores(self, batch: UserBatch) -> np.ndarray:
        scores = (self.history_of(batch) @ self.neighbours).toarray()
        return np.asarray(scores, np.float64) + self.prior

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            **self._history_arrays(),
            "neighbour_indptr": self.neighbours.indptr.astype(np.int64),
            "neighbour_indices": self.neighbours.indices.astype(np.int32),
            "neighbour_values": self.neighbours.data,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemKNNScorer:
        history, setting, choice = cls._history_from(arrays)
        n_items = history.shape[1]
        neighbours = sp.csr_matrix(
            (arrays["neighbour_values"], arrays["neighbour_indices"], arrays["neighbour_indptr"]),
            shape=(n_items, n_items),
        )
        return ItemKNNScorer(history, neighbours, setting, choice)


def _choice_note(what: str, value: float, measured: dict[float, float]) -> str:
    """One line: the value used, each grid value's validation NDCG@10 (in grid order)."""
    shown = ", ".join(f"{v:g}: {m:.4f}" for v, m in measured.items())
    if not any(np.isfinite(m) for m in measured.values()):
        return f"{what} = {value:g} (no warm validation users to choose on)"
    grid = list(measured)
    # Best at an end of the grid: the best value may lie beyond it, which a reader should know.
    edge = "; the grid's edge" if len(grid) > 1 and value in (grid[0], grid[-1]) else ""
    return f"{what} = {value:g}, chosen by validation NDCG@10 ({shown}{edge})"


def fit_ease(log: Dataset, dataset: Dataset, split: Split) -> EASEScorer:
    """EASE on `log`, λ chosen on `split`'s validation part of `dataset` (see module doc).
    RlrecError (one line, `ease_refusal`) when too many items are engaged."""
    train = engaged_matrix(part_view(dataset, split, "train"))
    served = engaged_matrix(log)
    for matrix in (train, served):
        why = ease_refusal(len(active_items(matrix)))
        if why:
            raise RlrecError(why)
    active = active_items(train)
    gram = (train[:, active].T @ train[:, active]).toarray().astype(np.float64)
    scale = float(np.mean(np.diag(gram))) if len(active) else 1.0
    grid = [round(f * scale, 6) for f in EASE_LAMBDA_FRACTIONS]
    held = validation_users(dataset, split, train)
    best: dict[float, tuple[float, np.ndarray]] = {}  # only the best weights so far are kept

    def measure(lam: float) -> float:
        if not len(held.users):
            return float("nan")  # nothing to choose on: no inverse is worth taking
        weights = ease_weights(gram, lam)
        value = validation_ndcg(lambda h: ease_scores(h, active, weights), held)
        if not best or value > next(iter(best.values()))[0]:
            best.clear()
            best[lam] = (value, weights)
        return value

    lam, measured = choose(grid, measure)
    note = _choice_note("λ", lam, measured)
    if (served != train).nnz == 0 and lam in best:  # offline: the log is the train part
        return EASEScorer(served, active, best[lam][1], lam, note)
    served_active = active_items(served)
    served_gram = (served[:, served_active].T @ served[:, served_active]).toarray()
    weights = ease_weights(served_gram.astype(np.float64), lam)
    return EASEScorer(served, served_active, weights, lam, note)


def fit_itemknn(log: Dataset, dataset: Dataset, split: Split) -> ItemKNNScorer:
    """ItemKNN on `log`, k chosen on `split`'s validation part of `dataset` (module doc)."""
    train = engaged_matrix(part_view(dataset, split, "train"))
    served = engaged_matrix(log)
    widest = knn_neighbours(train, max(KNN_NEIGHBOURS))
    held = validation_users(dataset, split, train)

    def measure(k: float) -> float:
        if not len(held.users):
            return float("nan")
        neighbours = first_neighbours(widest, int(k))
        return validation_ndcg(lambda h: (h @ neighbours).toarray(), held)

    k, measured = choose(KNN_NEIGHBOURS, measure)
    note = _choice_note("k", k, measured)
    source = widest if (served != train).nnz == 0 else knn_neighbours(served, max(KNN_NEIGHBOURS))
    return ItemKNNScorer(served, first_neighbours(source, int(k)), k, note)
