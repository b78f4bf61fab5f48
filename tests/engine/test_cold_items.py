"""Items added to a trained run's catalogue get scores from the embedding head (from their
features alone) and can be recommended; a per-item head refuses such a catalogue."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from rlrec.cli.main import main
from rlrec.data.errors import RlrecError
from rlrec.data.generator import generate
from rlrec.data.store import load_dataset, save_dataset

N_NEW = 6


def _train(tmp_path, folder, name, head):
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"agent: {{head: {head}, hidden: [32], embedding_dim: 8}}\n")
    argv = ["train", "--dataset", str(folder), "--config", str(config), "--steps", "1500"]
    argv += ["--seed", "0", "--threads", "1", "--out", str(tmp_path), "--name", name, "--json"]
    assert main(argv) == 0
    return tmp_path / name


def _grown(dataset, folder):
    """The dataset with N_NEW items appended: the best-rated items' descriptions under new
    ids (so their features say they are worth recommending), no interactions yet."""
    n = dataset.n_items
    best = np.argsort(-dataset.items["quality"].to_numpy())[:N_NEW]
    added = dataset.items.iloc[best].copy()
    added["item_id"] = np.arange(n, n + N_NEW, dtype=added["item_id"].dtype)
    added["original_id"] = [f"new-{j}" for j in range(N_NEW)]
    items = pd.concat([dataset.items, added], ignore_index=True)
    grown = dataclasses.replace(
        dataset,
        items=items,
        item_features=np.vstack([dataset.item_features, dataset.item_features[best]]),
        item_latent=np.vstack([dataset.item_latent, dataset.item_latent[best]]),
        meta={**dataset.meta, "name": "grown"},
    )
    return save_dataset(grown, folder)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cold")
    original = save_dataset(generate(150, 40, seed=3), tmp_path / "data")
    grown = _grown(load_dataset(original), tmp_path / "grown")
    return tmp_path, original, grown


def test_items_added_after_training_are_scored_and_recommended(setup, capsys):
    from rlrec.engine.usecases.serving import load_for_serving, recommend

    tmp_path, original, grown = setup
    run_dir = _train(tmp_path, original, "embedding", "embedding")
    capsys.readouterr()
    served = load_for_serving(run_dir, grown)
    assert served.dataset.n_items == 40 + N_NEW and served.trained_items == 40
    users = served.dataset.users["original_id"].astype(str).to_numpy()
    from rlrec.engine.sim.session_start import SessionStart

    assert isinstance(served.start, SessionStart)
    obs = served.start.fresh_observation(np.arange(len(users)))
    scores = served.agent.scores(obs)
    assert scores.shape == (len(users), 40 + N_NEW)
    new = scores[:, 40:]
    assert np.isfinite(new).all()
    assert len(np.unique(new[0])) == N_NEW  # distinct items, distinct scores
    # New items are ranked among the old ones: somebody's top-10 holds one.
    top = np.argsort(-scores, axis=1)[:, :10]
    assert (top >= 40).any()
    # …and the recommendation path (the CLI's --dataset) returns them with their ids.
    picked = [
        item.item
        for user in users[:40]
        for item in recommend(served, str(user), 10).items
        if item.item_id >= 40
    ]
    assert picked and all(p.startswith("new-") for p in picked)
    assert main(["recommend", str(run_dir), "--user", str(users[0]), "-k", "46",
                 "--dataset", str(grown), "--json"]) == 0  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    new_items = [item for item in payload["items"] if item["item"].startswith("new-")]
    assert len(new_items) == N_NEW and all(item["true_preference"] is None for item in new_items)
    assert all(np.isfinite(item["score"]) for item in new_items)


def test_a_per_item_head_refuses_a_grown_catalogue_in_one_line(setup, capsys):
    from rlrec.engine.usecases.serving import load_for_serving

    tmp_path, original, grown = setup
    run_dir = _train(tmp_path, original, "per-item", "per_item")
    with pytest.raises(RlrecError, match="per-item Q head") as caught:
        load_for_serving(run_dir, grown)
    assert "\n" not in str(caught.value) and "agent.head: embedding" in str(caught.value)
    capsys.readouterr()
    assert main(["recommend", str(run_dir), "--user", "0", "--dataset", str(grown)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "per-item Q head" in err[0]

    # The catalogue it was trained on, given as --dataset, is simply served.
    assert (
        main(["recommend", str(run_dir), "--user", "0", "-k", "3", "--dataset", str(original)]) == 0
    )


def test_a_catalogue_whose_trained_items_changed_is_refused_naming_the_first(setup, capsys):
    from rlrec.engine.usecases.serving import load_for_serving

    tmp_path, original, grown = setup
    run_dir = _train(tmp_path, original, "changed", "embedding")
    changed = load_dataset(grown)
    features = changed.item_features.copy()
    features[3] += 1.0  # a trained item described anew: the agent never learned it so
    moved = save_dataset(
        dataclasses.replace(changed, item_features=features), tmp_path / "changed-data"
    )
    with pytest.raises(RlrecError, match="1 of the run's 40 items have other features") as caught:
        load_for_serving(run_dir, moved)
    item = changed.items["original_id"].astype(str).to_numpy()[3]
    assert f"first: item {item}" in str(caught.value) and "\n" not in str(caught.value)
