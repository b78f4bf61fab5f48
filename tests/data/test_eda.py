"""EDA as plain data: the six distributions, ratings, sparsity; None where a column is absent."""

import json

import numpy as np
import pytest

from rlrec.data.eda import compute_eda, histogram
from rlrec.data.generator import generate
from rlrec.data.importers import import_movielens
from tests.data.ml_fixtures import write_ml100k


@pytest.fixture(scope="module")
def synthetic():
    return generate(n_users=300, n_items=80, seed=4)


def test_synthetic_eda_counts_add_up(synthetic):
    eda = compute_eda(synthetic)
    json.dumps(eda)  # plain data only
    n_inter = len(synthetic.interactions)
    assert eda["counts"]["interactions"] == n_inter
    assert sum(eda["user_age"]["counts"]) == 300
    assert eda["user_age"]["labels"] == ["18", "25", "35", "45", "55", "65"]
    assert sum(eda["item_price"]["counts"]) == 80
    assert sum(eda["item_category"]["counts"]) == 80
    assert eda["item_category"]["counts"] == sorted(eda["item_category"]["counts"], reverse=True)
    assert eda["interaction_type"]["labels"] == ["view", "click", "purchase", "rating"]
    assert sum(eda["interaction_type"]["counts"]) == n_inter
    assert sum(eda["interactions_per_user"]["counts"]) == 300
    assert sum(eda["interactions_per_item"]["counts"]) == 80
    rated = synthetic.interactions["rating"].notna().sum()
    assert sum(eda["rating"]["counts"]) == rated
    pairs = len(synthetic.interactions[["user_id", "item_id"]].drop_duplicates())
    assert eda["density"] == pytest.approx(pairs / (300 * 80))
    assert eda["sparsity"] == pytest.approx(1 - pairs / (300 * 80))


def test_price_bins_are_log_spaced(synthetic):
    edges = np.array(compute_eda(synthetic)["item_price"]["edges"])
    ratios = edges[1:] / edges[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6)
    assert edges[0] == pytest.approx(synthetic.items["price"].min())


def test_movielens_has_no_price_and_binned_ages(tmp_path):
    eda = compute_eda(import_movielens(write_ml100k(tmp_path / "ml")))
    assert eda["item_price"] is None
    assert eda["user_age"]["labels"] == ["17", "24", "53"]
    assert eda["interaction_type"] == {"kind": "categorical", "labels": ["rating"], "counts": [6]}
    assert eda["rating"]["labels"] == ["1", "2", "3", "4", "5"]
    assert eda["rating"]["counts"] == [1, 1, 1, 1, 2]
    assert eda["interactions_per_item"]["zero"] == 1  # item 50 is never rated


def test_histogram_of_many_values_and_of_a_constant():
    many = histogram(np.arange(100), bins=10)
    assert many["counts"] == [10] * 10 and len(many["edges"]) == 11
    constant = histogram(np.full(5, 3.0), log=True)
    assert constant["counts"] == [5]


def test_heavy_tailed_counts_get_log_bins_and_zero_is_counted(synthetic):
    from rlrec.data.eda import _per_entity

    ids = np.concatenate([np.zeros(1000, dtype=int), np.arange(1, 50), np.arange(1, 50)])
    result = _per_entity(ids, 60)  # user 0: 1000, users 1..49: 2 each, 50..59: none
    json.dumps(result)
    assert result["log"] is True
    assert result["zero"] == 10
    assert sum(result["counts"]) == 50
    edges = np.array(result["edges"])
    np.testing.assert_allclose(edges[1:] / edges[:-1], edges[1] / edges[0])
