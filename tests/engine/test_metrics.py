"""Every metric against values worked out by hand, including the edge cases."""

import math

import numpy as np
import pytest

from rlrec.engine.evaluation import metrics

# Two users. User 0's list hits at ranks 1 and 3 of 4 relevant items; user 1 has no hits.
RECOMMENDED = np.array([[1, 2, 3], [4, 5, 6]])
RELEVANT_SETS = [{1, 3, 7, 8}, {9}]


def relevant_matrix(sets, n_items=10):
    matrix = np.zeros((len(sets), n_items), dtype=bool)
    for row, items in enumerate(sets):
        matrix[row, list(items)] = True
    return matrix


@pytest.fixture(params=["sets", "matrix"])
def relevant(request):
    return RELEVANT_SETS if request.param == "sets" else relevant_matrix(RELEVANT_SETS)


def test_precision_recall_hit_rate(relevant):
    assert metrics.precision_per_user(RECOMMENDED, relevant, 3) == pytest.approx([2 / 3, 0])
    assert metrics.precision_at_k(RECOMMENDED, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.recall_per_user(RECOMMENDED, relevant, 3) == pytest.approx([2 / 4, 0])
    assert metrics.recall_at_k(RECOMMENDED, relevant, 3) == pytest.approx(0.25)
    assert metrics.hit_rate_at_k(RECOMMENDED, relevant, 3) == pytest.approx(0.5)
    # Only the first item counts at K = 1.
    assert metrics.precision_at_k(RECOMMENDED, relevant, 1) == pytest.approx(0.5)


def test_ndcg_uses_log2_discount_and_truncated_ideal(relevant):
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # min(|rel| = 4, K = 3)
    assert metrics.ndcg_per_user(RECOMMENDED, relevant, 3) == pytest.approx([dcg / ideal, 0])
    assert metrics.ndcg_at_k(RECOMMENDED, relevant, 3) == pytest.approx(dcg / ideal / 2)


def test_map_divides_by_min_relevant_and_k(relevant):
    # Precision at the hit ranks: 1/1 and 2/3; divided by min(4, 3) = 3.
    expected = (1 + 2 / 3) / 3
    assert metrics.average_precision_per_user(RECOMMENDED, relevant, 3) == pytest.approx(
        [expected, 0]
    )
    assert metrics.map_at_k(RECOMMENDED, relevant, 3) == pytest.approx(expected / 2)


def test_perfect_list_scores_one():
    recommended = np.array([[3, 1, 0]])
    relevant = [{1, 3}]
    assert metrics.ndcg_at_k(recommended, relevant, 2) == pytest.approx(1.0)
    assert metrics.map_at_k(recommended, relevant, 2) == pytest.approx(1.0)
    assert metrics.recall_at_k(recommended, relevant, 2) == pytest.approx(1.0)


def test_user_without_relevant_items_scores_zero_and_can_be_excluded():
    recommended = np.array([[0, 1], [0, 1]])
    relevant = [set(), {1}]
    assert metrics.ndcg_per_user(recommended, relevant, 2)[0] == 0.0
    assert metrics.recall_per_user(recommended, relevant, 2)[0] == 0.0
    assert metrics.average_precision_per_user(recommended, relevant, 2)[0] == 0.0
    assert metrics.has_relevant(relevant).tolist() == [False, True]
    # User 1: hit at rank 2 → DCG 1/log2(3), ideal 1 (one relevant item).
    assert metrics.ndcg_per_user(recommended, relevant, 2)[1] == pytest.approx(1 / math.log2(3))


def test_k_larger_than_the_list_counts_missing_slots_as_misses():
    recommended = np.array([[5, 6]])
    relevant = [{5, 9}]
    # Precision@5 divides by K: one hit in five slots.
    assert metrics.precision_at_k(recommended, relevant, 5) == pytest.approx(1 / 5)
    assert metrics.recall_at_k(recommended, relevant, 5) == pytest.approx(1 / 2)
    ideal = 1 + 1 / math.log2(3)  # two relevant items, K = 5
    assert metrics.ndcg_at_k(recommended, relevant, 5) == pytest.approx(1 / ideal)
    assert metrics.map_at_k(recommended, relevant, 5) == pytest.approx(1 / 2)
    assert metrics.hit_rate_at_k(recommended, relevant, 5) == 1.0


def test_a_repeated_item_is_credited_once():
    recommended = np.array([[2, 2, 2]])
    assert metrics.precision_at_k(recommended, [{2}], 3) == pytest.approx(1 / 3)
    assert metrics.ndcg_at_k(recommended, [{2}], 3) == pytest.approx(1.0)


def test_k_below_one_is_rejected():
    with pytest.raises(ValueError):
        metrics.precision_at_k(RECOMMENDED, RELEVANT_SETS, 0)


def test_mean_ci95():
    mean, half = metrics.mean_ci95(np.array([1.0, 2.0, 3.0, 4.0]))
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(1.96 * np.std([1, 2, 3, 4], ddof=1) / 2)
    assert math.isnan(metrics.mean_ci95(np.array([5.0]))[1])
    assert math.isnan(metrics.mean_ci95(np.array([]))[0])


def test_rates_and_normalised_score():
    assert metrics.ctr(3, 12) == pytest.approx(0.25)
    assert math.isnan(metrics.ctr(0, 0))
    assert metrics.conversion(1, 4) == pytest.approx(0.25)
    assert metrics.normalised_score(7.0, 4.0, 10.0) == pytest.approx(0.5)
    assert metrics.normalised_score(13.0, 4.0, 10.0) == pytest.approx(1.5)
    assert math.isnan(metrics.normalised_score(7.0, 5.0, 5.0))


def test_intra_list_diversity():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # Pairs of [0, 1, 2]: cos 0, cos 1/√2, cos 1/√2 → mean of (1, 1 − 1/√2, 1 − 1/√2).
    expected = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    assert metrics.intra_list_diversity(np.array([[0, 1, 2]]), vectors) == pytest.approx(expected)
    # Identical items are not diverse; padding (-1) is ignored; single items have no pairs.
    lists = np.array([[0, 0, -1], [2, -1, -1]])
    assert metrics.intra_list_diversity(lists, vectors) == pytest.approx(0.0)
    assert math.isnan(metrics.intra_list_diversity(np.array([[1, -1]]), vectors))


def test_coverage_and_novelty():
    assert metrics.catalog_coverage(np.array([[0, 1], [1, 3]]), 8) == pytest.approx(3 / 8)
    popularity = np.array([1.0, 0.5, 0.25])
    assert metrics.novelty(np.array([0, 1, 2, 2]), popularity) == pytest.approx((0 + 1 + 2 + 2) / 4)
