"""Collaborative features an agent may observe on logged data.

A real recommender knows each logged user's past and every item's audience, and summarises
them as embeddings. Here: a truncated SVD of the (degree-normalised) binary train
interaction matrix — deliberately a different, simpler model than the hidden truth's
logistic MF, so the agent sees a noisy view of users' tastes, not the simulator's truth.
Users without train interactions get a zero embedding (they are cold: demographics only).
Computed by randomised SVD (a few power iterations; Halko, Martinsson & Tropp 2011, alg. 4.4)
with sparse products of the CSR interaction matrix: O(nnz · dims) time, no users × items table.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlrec.data.dataset import Dataset
from rlrec.engine.truth.pairs import distinct_keys


def interaction_embeddings(
    train: Dataset, dims: int = 8, seed: int = 0, power_iterations: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """(n_users, dims) and (n_items, dims) float32 embeddings with unit spread per column."""
    n_users, n_items = train.n_users, train.n_items
    dims = max(1, min(dims, n_users - 1, n_items - 1))
    log = train.interactions
    key = log["user_id"].to_numpy(np.int64) * n_items + log["item_id"].to_numpy(np.int64)
    users, items = np.divmod(distinct_keys(key), n_items)  # distinct pairs: a binary matrix
    # Degree normalisation keeps heavy users and blockbusters from taking every component.
    user_degree = np.sqrt(np.maximum(np.bincount(users, minlength=n_users), 1.0))
    item_degree = np.sqrt(np.maximum(np.bincount(items, minlength=n_items), 1.0))
    values = 1.0 / (user_degree[users] * item_degree[items])
    matrix = sp.csr_matrix((values, (users, items)), shape=(n_users, n_items))
    del key, users, items, values

    rng = np.random.default_rng(seed)
    basis = matrix @ rng.standard_normal((n_items, dims + 4))
    for _ in range(power_iterations):
        basis, _ = np.linalg.qr(basis)
        basis = matrix @ (matrix.T @ basis)
    basis, _ = np.linalg.qr(basis)
    left, singular, right_t = np.linalg.svd((matrix.T @ basis).T, full_matrices=False)
    user_part = (basis @ left)[:, :dims] * np.sqrt(singular[:dims])
    item_part = right_t[:dims].T * np.sqrt(singular[:dims])
    # SVD signs are arbitrary: fix them so the same data gives the same features.
    signs = np.sign(item_part.sum(axis=0) + 1e-12)
    user_part, item_part = user_part * signs, item_part * signs
    return _unit_spread(user_part), _unit_spread(item_part)


def _unit_spread(x: np.ndarray) -> np.ndarray:
    spread = x.std(axis=0)
    return (x / np.where(spread > 0, spread, 1.0)).astype(np.float32)
