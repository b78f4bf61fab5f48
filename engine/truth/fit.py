"""Fit the `default` simulator's hidden truth to logged interactions (train part only).

What is fitted, and on what:
- **Labels.** Each logged (user, item) pair of the TRAIN part gets a label. Explicit feedback
  (most rows carry a rating): positive when the best rating of the pair is ≥
  `positive_rating` (4 on a 1–5 scale), negative otherwise. Implicit feedback (event logs):
  positive when the pair was clicked or purchased (or rated ≥ `positive_rating`), negative
  when it was only viewed; a log with no views at all is all positives. Unobserved pairs
  are sampled uniformly (`negative_ratio` per logged pair, per user in proportion to their
  activity) and labelled negative: the simulator has to know that a user does not engage
  with most of the catalogue. The "observed positive rate" of the calibration is the rate
  on this mix, so it depends on `negative_ratio` — state it with the table.
- **Latent part.** Logistic MF (alternating IRLS) with user and item biases on those labels
  (confidence weights 1 + `confidence`·log(1 + count) on implicit positives), over the
  labelled pairs only (`rlrec.engine.truth.logistic_mf`): O(pairs), no users × items table;
  the sweeps stop early once the held-out calibration pairs' log-loss stops improving.
- **Content part.** `rlrec.engine.truth.model.truth_with_latents` builds item content and user
  profiles from the train log; users with no train history get a profile — and latent
  factors — predicted from their demographics by ridge regression on the warm users.
- **Calibration.** On train pairs held out of the MF (`calibration_fraction`), a logistic
  regression of the label on each signal — MF interaction, user bias, item bias, user
  activity, item popularity, content cosine, category taste — sets their weights, folded
  into the latent vectors and the cosine scale, so the `default` simulator's fresh-session
  engagement probability (at the env's default α) is calibrated. Logged data gets no
  synthetic clickbait appeal (its measured engagement already includes it).
  `calibration_table` reports predicted versus observed positive rate by decile.
- **Observables.** The agent sees demographics plus a small SVD embedding of the train log
  (`rlrec.engine.truth.cf_features`), not the hidden truth's factors.

Only the dataset passed in is read: `fit_truth` cuts it to its train split first, so
validation and test interactions cannot reach the simulator (tests/engine/test_fit.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.data.scale import positive_threshold
from rlrec.data.schema import is_explicit, positive_rows
from rlrec.data.split import Split, split_for, train_view
from rlrec.engine.config_base import MAX_SEED, param
from rlrec.engine.truth.calibration import calibrate_engagement, predicted_probability
from rlrec.engine.truth.cf_features import interaction_embeddings
from rlrec.engine.truth.logistic_mf import factorise as logistic_factorise
from rlrec.engine.truth.model import HiddenTruth, truth_with_latents
from rlrec.engine.truth.pairs import LabelledPairs, distinct_keys


@dataclass
class FitConfig:
    factors: int = param(16, low=1, high=256, help="latent dimensions of the MF")
    iterations: int = param(12, low=1, high=200, help="ALS sweeps at most")
    tolerance: float = param(
        1e-3,
        low=0,
        high=1,
        help="stop the sweeps once one lowers the held-out log-loss by less than this share"
        " (from 100k held-out pairs; 0 = run every sweep)",
    )
    regularization: float = param(
        0.3, low=0, high=100, help="ridge weight per unit of a row's total Newton weight"
    )
    negative_ratio: float = param(
        4.0, low=0.1, high=20, help="sampled unobserved pairs (negatives) per logged pair"
    )
    positive_rating: float | None = param(
        None,
        low=0,
        high=1e9,
        help="ratings ≥ this are positive; empty: the dataset's own (meta positive_threshold)",
    )
    confidence: float = param(2.0, low=0, high=100, help="implicit positives' extra weight")
    calibration_fraction: float = param(
        0.15,
        low=0.01,
        high=0.5,
        help="share of train pairs held out of the MF to calibrate probabilities on",
    )
    observable_dims: int = param(
        16, low=0, high=64, help="CF embedding dims the agent observes (0 = demographics only)"
    )
    seed: int = param(
        0, low=0, high=MAX_SEED, help="seed of the negative sampling and initial factors"
    )


@dataclass
class FittedSimulator:
    """The fitted truth plus what offline evaluation and reports need from the fit."""

    truth: HiddenTruth
    pairs: LabelledPairs  # the pairs the MF was fitted on
    calibration_pairs: LabelledPairs  # held-out train pairs the probabilities were fitted on
    config: FitConfig
    warm_users: np.ndarray  # bool (n_users,): had train interactions
    mf_user: np.ndarray  # (n_users, d+2) the MF's own factors [p, b_u, 1], before calibration
    mf_item: np.ndarray  # (n_items, d+2) [q, 1, b_i]

    def mf_scores(self, user_ids: np.ndarray) -> np.ndarray:
        """(n, n_items) the fitted MF model's own score (factors and biases)."""
        return np.asarray(self.mf_user[user_ids] @ self.mf_item.T)

    def engagement_probability(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        return predicted_probability(self.truth, user_ids, item_ids)


# -- labels -------------------------------------------------------------------------------


def labelled_pairs(train: Dataset, config: FitConfig | None = None) -> LabelledPairs:
    """Label the train log's distinct pairs and add sampled unobserved negatives.

    Returns the logged pairs (sorted by user, then item) followed by the distinct sampled
    negatives: `negative_ratio` draws per logged pair, the user drawn in proportion to their
    distinct logged pairs and the item uniformly; draws that hit a logged pair or repeat
    another draw are dropped, so slightly fewer negatives than drawn remain. Memory is
    O(rows · (1 + negative_ratio)): keys `user · n_items + item` in int64 and their sorts.
    RlrecError when the log is empty."""
    config = config or FitConfig()
    threshold = config.positive_rating
    if threshold is None:
        threshold = positive_threshold(train.meta)
    log = train.interactions
    if len(log) == 0:
        raise RlrecError(f"dataset {train.name!r} has no training interactions to fit")
    n_items = train.n_items
    key = log["user_id"].to_numpy(np.int64) * n_items + log["item_id"].to_numpy(np.int64)
    explicit = is_explicit(log)
    row_positive = positive_rows(log, threshold)
    pair_key, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    del key
    # A pair is positive when any of its rows is.
    label = np.bincount(inverse, weights=row_positive, minlength=len(pair_key)) > 0
    del inverse
    weight = np.ones(len(pair_key), np.float32)
    if not explicit:
        weight = np.where(label, 1.0 + config.confidence * np.log1p(counts), 1.0)

    rng = np.random.default_rng(config.seed)
    n_negative = int(round(config.negative_ratio * len(pair_key)))
    neg_key = rng.choice(pair_key // n_items, size=n_negative)  # users, ∝ their activity
    neg_key *= n_items
    neg_key += rng.integers(0, n_items, size=n_negative)
    neg_key = distinct_keys(neg_key)
    # pair_key is sorted: membership by binary search, without np.isin's merged sort.
    where = np.minimum(np.searchsorted(pair_key, neg_key), len(pair_key) - 1)
    neg_key = neg_key[pair_key[where] != neg_key]
    del where
    n_logged, n_sampled = len(pair_key), len(neg_key)
    users = np.empty(n_logged + n_sampled, np.int32)
    items = np.empty(n_logged + n_sampled, np.int32)
    for part, keys in ((slice(0, n_logged), pair_key), (slice(n_logged, None), neg_key)):
        users[part] = keys // n_items
        items[part] = keys % n_items
    return LabelledPairs(
        users=users,
        items=items,
        labels=np.r_[label.astype(np.float32), np.zeros(n_sampled, np.float32)],
        weights=np.r_[weight.astype(np.float32), np.ones(n_sampled, np.float32)],
        logged=np.r_[np.ones(n_logged, bool), np.zeros(n_sampled, bool)],
        feedback="explicit" if explicit else "implicit",
    )


# -- memory -----------------------------------------------------------------------------

# Peak bytes of fitting per logged log row: the labelled pairs (17 bytes each, ~2.6 pairs per
# row at the default `negative_ratio` once the train split is taken), the MF's by-user copy
# of its pairs (16 bytes each) and per-pair Newton terms (8), sort temporaries.
FIT_BYTES_PER_ROW = 160
# Per user and per item: factors, a half-step's Gram matrices ((k+1)² float64 plus packed
# float32 copies at the default 16 factors), calibration and CF-embedding columns.
FIT_BYTES_PER_ENTITY = 6_000
# Measured peaks (resident memory of the whole process, the dataset's 100 B/row included):
# 1M rows × 6.5k users × 12k items 0.53 GiB; 2.3M × 100k × 10k 1.2 GiB; 25M × 162k × 62k
# (ML-25M-shaped) 5.6 GiB; the estimate keeps a margin for the calibration tables after it.


def fit_memory_bytes(n_users: int, n_items: int, n_pairs: int) -> int:
    """Peak bytes `fit_simulator` takes for a log of `n_pairs` logged rows (interactions)
    over `n_users` users and `n_items` items: O(rows + users + items), no users × items
    table. An estimate for refusing before allocating, at the default `FitConfig`."""
    return FIT_BYTES_PER_ROW * n_pairs + FIT_BYTES_PER_ENTITY * (n_users + n_items)


def factorise(
    pairs: LabelledPairs,
    n_users: int,
    n_items: int,
    config: FitConfig,
    held_out: LabelledPairs | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic MF with biases over the labelled pairs only (`rlrec.engine.truth.logistic_mf`):
    user (n_users, d+2) and item (n_items, d+2) factors whose dot product is the score minus
    the global logit. Sweeps stop early once the `held_out` pairs' log-loss stops improving
    by `config.tolerance`."""
    return logistic_factorise(
        pairs,
        n_users,
        n_items,
        factors=config.factors,
        iterations=config.iterations,
        regularization=config.regularization,
        seed=config.seed,
        held_out=held_out,
        tolerance=config.tolerance,
    )


def _ridge_from_demographics(
    features: np.ndarray, warm: np.ndarray, targets: np.ndarray, reg: float = 1.0
) -> np.ndarray:
    """Predict `targets` rows of cold users from user features, fitted on warm users."""
    x = np.c_[np.nan_to_num(np.asarray(features, np.float64)), np.ones(len(features))]
    xw = x[warm]
    coef = np.linalg.solve(xw.T @ xw + reg * np.eye(x.shape[1]), xw.T @ targets[warm])
    return x @ coef


# -- the whole fit --------------------------------------------------------------------------


def fit_simulator(
    dataset: Dataset,
    split: Split | None = None,
    config: FitConfig | None = None,
    folder: str | Path | None = None,
) -> FittedSimulator:
    """Fit the hidden truth to the train part of `dataset` (its stored or default split)."""
    config = config or FitConfig()
    split = split if split is not None else split_for(dataset, folder)
    train = train_view(dataset, split)
    labelled = labelled_pairs(train, config)
    # Calibrating on pairs the MF has not seen keeps the probabilities honest: in-sample
    # scores of a factorisation are overconfident. The same pairs tell the MF when to stop:
    # once a sweep barely lowers their log-loss, further sweeps only fit the MF's own pairs.
    draws = np.random.default_rng(config.seed + 1).random(len(labelled.labels))
    held = draws < config.calibration_fraction
    pairs, calibration_pairs = labelled.subset(~held), labelled.subset(held)
    del labelled, draws, held  # the two subsets are copies: keep the peak at one set of pairs
    user_f, item_f = factorise(pairs, dataset.n_users, dataset.n_items, config, calibration_pairs)
    warm = np.bincount(pairs.users[pairs.logged], minlength=dataset.n_users) > 0
    features = np.asarray(dataset.user_features).reshape(dataset.n_users, -1)
    if (~warm).any() and warm.any():
        user_f[~warm, :-1] = _ridge_from_demographics(features, warm, user_f[:, :-1])[~warm]
    truth = truth_with_latents(train, user_f, item_f)
    if (~warm).any() and warm.any():
        # Cold users' content taste from demographics instead of the catalogue average.
        profile = _ridge_from_demographics(features, warm, truth.user_profile.astype(np.float64))
        norm = np.linalg.norm(profile, axis=1, keepdims=True)
        cold_profile = (profile / np.maximum(norm, 1e-8)).astype(np.float32)
        truth.user_profile[~warm] = cold_profile[~warm]
    # On logged data the measured engagement already contains whatever "clickbait" appeal an
    # item has (the MF's item biases carry it); adding the synthetic appeal on top would
    # double-count it and break the calibration. Lasting value still drives satisfaction.
    truth = dataclasses.replace(truth, item_appeal=np.zeros(dataset.n_items, np.float32))
    mf_user, mf_item = truth.user_latent.copy(), truth.item_latent.copy()
    truth = calibrate_engagement(truth, calibration_pairs, train, config.factors, seed=config.seed)
    truth = with_collaborative_features(truth, train, config.observable_dims, config.seed)
    return FittedSimulator(
        truth=truth,
        pairs=pairs,
        calibration_pairs=calibration_pairs,
        config=config,
        warm_users=warm,
        mf_user=mf_user,
        mf_item=mf_item,
    )


def with_collaborative_features(
    truth: HiddenTruth, train: Dataset, dims: int, seed: int = 0
) -> HiddenTruth:
    """Append train-log CF embeddings (`rlrec.engine.truth.cf_features`) to what the agent observes of
    users and items; 0 dims leaves the observation as it was."""
    if dims == 0:
        return truth
    user_cf, item_cf = interaction_embeddings(train, dims, seed)
    names = [f"cf_{j}" for j in range(user_cf.shape[1])]
    return dataclasses.replace(
        truth,
        user_observable=np.c_[truth.user_observable, user_cf].astype(np.float32),
        item_observable=np.c_[truth.item_observable, item_cf].astype(np.float32),
        user_feature_names=list(truth.user_feature_names) + names,
        item_feature_names=list(truth.item_feature_names) + names,
    )


def fit_truth(
    dataset: Dataset, split: Split | None = None, folder: str | Path | None = None
) -> HiddenTruth:
    """The `default` simulator's hidden truth for a dataset without latent factors."""
    return fit_simulator(dataset, split=split, folder=folder).truth
