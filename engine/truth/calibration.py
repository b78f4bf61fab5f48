"""Calibration of the fitted simulator's engagement probability, and its report.

`calibrate_engagement` weighs each known signal (MF interaction, user and item biases, user
activity, item popularity, content cosine, category taste) by a logistic regression on
labelled pairs the MF has not seen, and folds the weights into the truth's latent vectors
and cosine scale, so that the `default` simulator's fresh-session engagement probability —
exactly what `predicted_probability` computes — is calibrated. `calibration_table` reports
predicted versus observed positive rate by decile of the prediction.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.engine.truth.model import DEFAULT_ALPHA, DEFAULT_APPEAL_WEIGHT, HiddenTruth
from rlrec.engine.truth.pairs import LabelledPairs, pair_dot

# Pairs the calibration's logistic regression reads at most: its eight weights are pinned to
# ~1e-3 by a million pairs, and a 25M-row log's held-out share is ~15M pairs.
CALIBRATION_SAMPLE = 1_000_000


def _logistic_fit(x: np.ndarray, y: np.ndarray, offset: np.ndarray, steps: int = 60) -> np.ndarray:
    """Logistic regression with a fixed per-row offset, by Newton's method (few columns)."""
    beta = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ beta + offset)))
        grad = x.T @ (y - p) - 1e-6 * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def _standardised_parts(
    truth: HiddenTruth, users: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    latent = pair_dot(truth.user_latent, users, truth.item_latent, items)
    cosine = pair_dot(truth.user_profile, users, truth.item_content, items)
    return (
        (latent - truth.latent_shift) * truth.latent_scale,
        (cosine - truth.cosine_shift) * truth.cosine_scale,
    )


def calibrate_engagement(
    truth: HiddenTruth,
    pairs: LabelledPairs,
    train: Dataset,
    factors: int,
    alpha: float = DEFAULT_ALPHA,
    appeal_weight: float = DEFAULT_APPEAL_WEIGHT,
    seed: int = 0,
) -> HiddenTruth:
    """Weigh each known signal so the `default` simulator's fresh-session engagement
    probability matches the labels: a logistic regression of the label on the MF
    interaction ⟨p_u, q_i⟩, the MF user and item biases, the standardised content cosine,
    the item's train popularity, the user's train activity (log counts) and the user's
    taste for the item's category (log share of their train interactions).

    Every signal but the cosine is per-user, per-item or a dot product, so the weighted sum
    folds exactly into new latent vectors; the cosine weight folds into its scale. At the
    env's α the preference logit then equals the fitted one; moving α away from the default
    still shifts weight between the latent and the content part. `alpha` and
    `appeal_weight` are the simulator's (`env.alpha`, `env.appeal_weight`). Beyond
    `CALIBRATION_SAMPLE` pairs the regression runs on a uniform sample of them (`seed`)."""
    alpha = float(np.clip(alpha, 1e-3, 1 - 1e-3))
    d = factors
    if len(pairs.labels) > CALIBRATION_SAMPLE:  # eight weights: a large sample pins them
        rng = np.random.default_rng(seed)
        pairs = pairs.subset(np.sort(rng.choice(len(pairs.labels), CALIBRATION_SAMPLE, False)))
    users, items = pairs.users, pairs.items
    popularity = np.log1p(np.bincount(train.interactions["item_id"], minlength=train.n_items))
    activity = np.log1p(np.bincount(train.interactions["user_id"], minlength=train.n_users))
    user_f, user_b = truth.user_latent[:, :d], truth.user_latent[:, d]
    item_f, item_b = truth.item_latent[:, :d], truth.item_latent[:, d + 1]
    _, cosine = _standardised_parts(truth, users, items)
    category = truth.item_category.astype(np.int64)
    taste = _category_log_share(train, category, truth.n_categories)
    signals = np.c_[
        pair_dot(user_f, users, item_f, items),
        user_b[users],
        item_b[items],
        activity[users],
        popularity[items],
        cosine,
        taste[users, category[items]],
        np.ones(len(users)),
    ]
    appeal = appeal_weight * truth.item_appeal[items].astype(np.float64)
    beta = _logistic_fit(signals, pairs.labels, appeal)
    if beta[5] <= 0:  # content carries no signal beyond the rest: weight 0
        beta = np.insert(_logistic_fit(np.delete(signals, 5, axis=1), pairs.labels, appeal), 5, 0)
    w_mf, w_user_bias, w_item_bias, w_activity, w_popularity, w_cosine, w_taste, offset = beta
    # ⟨user, item⟩ = w_mf·p·q + (w_ub·b_u + w_act·act_u)·1 + 1·(w_ib·b_i + w_pop·pop_i)
    #               + w_taste·taste_u · onehot(category_i)
    user_latent = np.c_[
        w_mf * user_f,
        w_user_bias * user_b + w_activity * activity,
        np.ones(len(user_f)),
        w_taste * taste,
    ]
    item_latent = np.c_[
        item_f,
        np.ones(len(item_f)),
        w_item_bias * item_b + w_popularity * popularity,
        np.eye(truth.n_categories)[category],
    ]
    return dataclasses.replace(
        truth,
        user_latent=user_latent.astype(np.float32),
        item_latent=item_latent.astype(np.float32),
        alpha=alpha,
        latent_shift=0.0,
        latent_scale=1.0 / alpha,
        cosine_scale=float(truth.cosine_scale * w_cosine / (1 - alpha)),
        logit_scale=1.0,
        logit_offset=float(offset),
    )


def _category_log_share(train: Dataset, category: np.ndarray, n_categories: int) -> np.ndarray:
    """(n_users, n_categories) log of each user's smoothed share of train interactions per
    category: a per-user taste any log shows."""
    users = train.interactions["user_id"].to_numpy(np.int64)
    items = train.interactions["item_id"].to_numpy(np.int64)
    cell = users * n_categories + category[items]
    counts = np.bincount(cell, minlength=train.n_users * n_categories).astype(np.float64)
    counts = counts.reshape(train.n_users, n_categories)
    return np.log((counts + 1.0) / (counts.sum(axis=1, keepdims=True) + n_categories))


def predicted_probability(
    truth: HiddenTruth,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    alpha: float = DEFAULT_ALPHA,
    appeal_weight: float = DEFAULT_APPEAL_WEIGHT,
) -> np.ndarray:
    """The `default` simulator's fresh-session engagement probability for matching
    (user, item) pairs (n,): sigmoid(preference logit + appeal_weight · appeal)."""
    truth = truth.with_alpha(alpha)
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    latent, cosine = _standardised_parts(truth, user_ids, item_ids)
    logit = truth.logit_scale * (truth.alpha * latent + (1 - truth.alpha) * cosine)
    logit = logit + truth.logit_offset + appeal_weight * truth.item_appeal[item_ids]
    return 1.0 / (1.0 + np.exp(-logit))


def calibration_table(
    truth: HiddenTruth, pairs: LabelledPairs, bins: int = 10
) -> list[dict[str, Any]]:
    """Predicted (by the simulator, fresh session) versus observed positive rate by decile of
    the prediction; equal-count bins."""
    predicted = predicted_probability(truth, pairs.users, pairs.items)
    order = np.argsort(predicted, kind="stable")
    rows = []
    for number, chunk in enumerate(np.array_split(order, bins), start=1):
        if len(chunk) == 0:
            continue
        rows.append(
            {
                "decile": number,
                "pairs": int(len(chunk)),
                "predicted": float(predicted[chunk].mean()),
                "observed": float(pairs.labels[chunk].mean()),
                "low": float(predicted[chunk].min()),
                "high": float(predicted[chunk].max()),
            }
        )
    return rows
