"""The fit works on the labelled pairs only: its IRLS half-step is the per-row Newton step it
claims, and a log over a catalogue far too large for a users × items table fits in memory
proportional to the log."""

import tracemalloc

import numpy as np
import pandas as pd

from rlrec.data.dataset import SCHEMA_VERSION, Dataset
from rlrec.engine.truth.calibration import calibration_table
from rlrec.engine.truth.fit import FitConfig, fit_memory_bytes, fit_simulator
from rlrec.engine.truth.logistic_mf import _half_step, _PairRows
from rlrec.engine.truth.pairs import LabelledPairs, distinct_keys, pair_dot


def test_a_half_step_is_every_rows_newton_step_of_its_ridge_logistic_regression():
    rng = np.random.default_rng(3)
    n_users, n_items, d, reg, mean = 7, 9, 3, 0.3, -0.4
    key = distinct_keys(rng.integers(0, (n_users - 1) * n_items, 40))  # last user: none
    users, items = np.divmod(key, n_items)
    labels = (rng.random(len(key)) < 0.4).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, len(key)).astype(np.float32)
    user_f, item_f = rng.normal(0, 0.5, (n_users, d)), rng.normal(0, 0.5, (n_items, d))
    user_b, item_b = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    pairs = _PairRows(users, items, weights, labels, n_users, n_items)
    new_f, new_b = _half_step(pairs, True, user_f, user_b, item_f, item_b, mean, reg)
    item_new_f, item_new_b = _half_step(pairs, False, item_f, item_b, user_f, user_b, mean, reg)

    def by_hand(mine, row_f, row_b, other_f, other_b, other):
        x = np.c_[other_f[other[mine]], np.ones(mine.sum())]
        score = x @ np.r_[row_f, row_b] + mean + other_b[other[mine]]
        p = 1 / (1 + np.exp(-score))
        curvature = np.maximum(p * (1 - p), 1e-3)
        a = weights[mine] * curvature
        target = score - mean - other_b[other[mine]] + (labels[mine] - p) / curvature
        gram = x.T @ (a[:, None] * x) + reg * (1 + a.sum()) * np.eye(d + 1)
        return np.linalg.solve(gram, x.T @ (a * target))

    for u in range(n_users - 1):
        beta = by_hand(users == u, user_f[u], user_b[u], item_f, item_b, items)
        np.testing.assert_allclose(np.r_[new_f[u], new_b[u]], beta, rtol=1e-4, atol=1e-5)
    for i in np.unique(items):
        beta = by_hand(items == i, item_f[i], item_b[i], user_f, user_b, users)
        np.testing.assert_allclose(np.r_[item_new_f[i], item_new_b[i]], beta, rtol=1e-4, atol=1e-5)
    assert not new_f[-1].any() and new_b[-1] == 0  # a row without pairs: zero factors


def test_distinct_keys_and_pair_dot_agree_with_numpy():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 10**12, 5000)
    keys[::7] = keys[0]
    np.testing.assert_array_equal(distinct_keys(keys), np.unique(keys))
    assert len(distinct_keys(keys[:0])) == 0
    left, right = rng.normal(size=(30, 4)), rng.normal(size=(20, 4))
    li, ri = rng.integers(0, 30, 1000), rng.integers(0, 20, 1000)
    np.testing.assert_allclose(pair_dot(left, li, right, ri), (left[li] * right[ri]).sum(1))


def test_the_memory_estimate_grows_with_the_log_not_with_users_times_items():
    small, large = fit_memory_bytes(10**6, 10**5, 10**6), fit_memory_bytes(10**6, 10**5, 10**7)
    assert large > small
    assert fit_memory_bytes(10**6, 10**5, 25 * 10**6) < 10**6 * 10**5  # < 1 byte per U×I cell


def _huge_catalogue_log(n_users: int, n_items: int, rows: int, seed: int = 0) -> Dataset:
    """A log of `rows` ratings by a few thousand users of a few thousand items, inside a
    catalogue whose users × items table would take tens of GB."""
    rng = np.random.default_rng(seed)
    active_users = rng.choice(n_users, 3000, replace=False)
    active_items = rng.choice(n_items, 2000, replace=False)
    taste = rng.normal(size=(3000, 4))
    kind = rng.normal(size=(2000, 4))
    u = rng.integers(0, 3000, rows)
    i = np.minimum(rng.zipf(1.3, rows) - 1, 1999)
    rating = np.clip(np.round(3.2 + (taste[u] * kind[i]).sum(1)), 1, 5)
    log = pd.DataFrame(
        {
            "user_id": active_users[u].astype(np.int32),
            "item_id": active_items[i].astype(np.int32),
            "event": "rating",
            "rating": rating.astype(np.float32),
            "timestamp": rng.integers(1_600_000_000, 1_700_000_000, rows),
            "session_id": active_users[u].astype(np.int64),
        }
    )
    users = pd.DataFrame(
        {"user_id": np.arange(n_users, dtype=np.int32), "original_id": np.arange(n_users)}
    )
    items = pd.DataFrame(
        {"item_id": np.arange(n_items, dtype=np.int32), "original_id": np.arange(n_items)}
    )
    user_features = rng.normal(size=(n_users, 2)).astype(np.float32)
    meta = {
        "name": "huge-catalogue",
        "source": "test",
        "n_users": n_users,
        "n_items": n_items,
        "n_interactions": rows,
        "schema_version": SCHEMA_VERSION,
    }
    return Dataset(users, items, log, user_features, np.zeros((n_items, 0), np.float32), meta)


def test_a_catalogue_too_large_for_a_dense_table_fits_in_memory_of_the_log():
    # 100k users × 50k items: a single float32 users × items table would be 20 GB.
    dataset = _huge_catalogue_log(100_000, 50_000, 60_000)
    tracemalloc.start()
    try:
        fitted = fit_simulator(dataset, config=FitConfig(iterations=4, observable_dims=4))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.2e9  # per-user Gram matrices and factors, nothing users × items
    assert fitted.truth.user_latent.shape[0] == 100_000
    assert fitted.truth.item_observable.shape[0] == 50_000
    table = calibration_table(fitted.truth, fitted.calibration_pairs)
    assert table[-1]["observed"] > 3 * table[0]["observed"]  # the fit ranks pairs


def test_labelled_pairs_are_compact():
    from rlrec.engine.truth.fit import labelled_pairs

    pairs: LabelledPairs = labelled_pairs(_huge_catalogue_log(20_000, 10_000, 5_000))
    assert pairs.users.dtype == np.int32 and pairs.items.dtype == np.int32
    assert pairs.labels.dtype == np.float32 and pairs.weights.dtype == np.float32
    assert pairs.users.max() < 20_000 and pairs.items.max() < 10_000


def test_the_sweeps_stop_once_the_held_out_loss_stops_improving():
    from rlrec.engine.truth.fit import labelled_pairs
    from rlrec.engine.truth.logistic_mf import factorise

    dataset = _huge_catalogue_log(4_000, 3_000, 20_000)
    pairs = labelled_pairs(dataset)
    held = np.random.default_rng(0).random(len(pairs.labels)) < 0.2
    train, held_out = pairs.subset(~held), pairs.subset(held)

    def fit(iterations, tolerance):
        return factorise(train, 4_000, 3_000, 4, iterations, 0.3, 0, held_out, tolerance, 1)

    # Any tolerance ≥ 1 stops after the second sweep; 0 runs every sweep.
    np.testing.assert_array_equal(fit(12, 1.0)[0], fit(2, 0.0)[0])
    assert not np.array_equal(fit(12, 0.0)[0], fit(2, 0.0)[0])
    # Too few held-out pairs to tell a change from noise: every sweep runs.
    few = factorise(train, 4_000, 3_000, 4, 12, 0.3, 0, held_out, 1.0, len(held_out.labels) + 1)
    np.testing.assert_array_equal(few[0], fit(12, 0.0)[0])
