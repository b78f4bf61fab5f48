"""Small datasets for tests and benches, built without the generator or real files.

- `tiny_dataset`: an in-memory `Dataset` with latent structure (event log or ratings).
- `write_ml100k_like`: a synthetic-but-realistic MovieLens-100K-format folder (`u.data`,
  `u.item`, `u.user`, tab/pipe separated, latin-1) so the importer and everything after it
  can be exercised offline. Users' tastes depend on their demographics and a latent factor;
  which movies they rate depends on popularity and taste; the rating on taste plus noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rlrec.data.dataset import SCHEMA_VERSION, Dataset

ML_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
ML_OCCUPATIONS = ("student", "engineer", "educator", "writer", "programmer", "retired", "other")


def _taste_model(n_users: int, n_items: int, n_genres: int, dim: int, rng: np.random.Generator):
    """Demographics → genre taste; latent factors on top; items get genres and factors."""
    age = rng.integers(15, 70, size=n_users)
    female = rng.random(n_users) < 0.3
    demo_to_genre = rng.normal(0, 1.0, size=(3, n_genres))
    demo = np.c_[(age - 40) / 15.0, female.astype(float), np.ones(n_users)]
    genre_taste = demo @ demo_to_genre + rng.normal(0, 0.5, size=(n_users, n_genres))
    item_genres = rng.random((n_items, n_genres)) < 1.8 / n_genres
    item_genres[np.arange(n_items), rng.integers(0, n_genres, n_items)] = True
    user_factors = rng.normal(0, 0.8, size=(n_users, dim))
    item_factors = rng.normal(0, 0.8, size=(n_items, dim))
    affinity = genre_taste @ item_genres.T / item_genres.sum(
        1
    ) + user_factors @ item_factors.T / np.sqrt(dim)
    popularity = rng.normal(0, 1.0, size=n_items)
    return age, female, item_genres, affinity, popularity


def _draw_log(
    affinity: np.ndarray, popularity: np.ndarray, n_ratings: int, rng: np.random.Generator
):
    """Which (user, item) pairs are logged: each user's count is heavy-tailed, items are
    drawn without replacement by popularity + taste (Gumbel top-k)."""
    n_users, n_items = affinity.shape
    activity = rng.lognormal(0, 0.8, size=n_users)
    per_user = np.maximum(5, np.round(activity / activity.sum() * n_ratings)).astype(int)
    per_user = np.minimum(per_user, n_items // 2)
    logits = 1.2 * popularity[None, :] + 1.0 * affinity
    keys = logits + rng.gumbel(size=logits.shape)
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(n_items)[None, :] < per_user[:, None]
    users = np.repeat(np.arange(n_users), per_user)
    items = ranked[take]
    return users, items


def tiny_dataset(
    n_users: int = 60,
    n_items: int = 80,
    n_interactions: int = 2000,
    seed: int = 0,
    ratings: bool = False,
) -> Dataset:
    """An in-memory dataset with latent structure: an event log (view/click/purchase) or,
    with `ratings=True`, explicit 1–5 ratings."""
    rng = np.random.default_rng(seed)
    n_cat = 5
    age, female, item_genres, affinity, popularity = _taste_model(n_users, n_items, n_cat, 4, rng)
    users, items = _draw_log(affinity, popularity, n_interactions, rng)
    start = rng.integers(1_600_000_000, 1_620_000_000, size=n_users)
    timestamps = start[users] + rng.integers(0, 30_000_000, size=len(users))
    score = affinity[users, items] + rng.normal(0, 0.5, size=len(users))
    if ratings:
        rating = np.clip(np.round(3.3 + 1.0 * score), 1, 5).astype(np.float32)
        event = np.full(len(users), "rating", dtype=object)
    else:
        rating = np.full(len(users), np.nan, dtype=np.float32)
        clicked = score > 0.3
        bought = clicked & (score > 1.3)
        event = np.where(bought, "purchase", np.where(clicked, "click", "view")).astype(object)
    interactions = pd.DataFrame(
        {
            "user_id": users.astype(np.int32),
            "item_id": items.astype(np.int32),
            "event": event,
            "rating": rating,
            "timestamp": timestamps.astype(np.int64),
            "session_id": users.astype(np.int64),
        }
    )
    categories = np.array([f"cat{c}" for c in range(n_cat)])
    users_df = pd.DataFrame(
        {
            "user_id": np.arange(n_users, dtype=np.int32),
            "original_id": [f"u{u}" for u in range(n_users)],
            "age": age,
            "gender": np.where(female, "F", "M"),
        }
    )
    items_df = pd.DataFrame(
        {
            "item_id": np.arange(n_items, dtype=np.int32),
            "original_id": [f"i{i}" for i in range(n_items)],
            "category": categories[item_genres.argmax(1)],
            "title": [f"Item {i}" for i in range(n_items)],
            "price": np.round(rng.lognormal(3, 0.5, n_items), 2),
            "quality": rng.integers(1, 6, n_items),
        }
    )
    user_features = np.c_[(age - 40) / 15.0, female.astype(float)].astype(np.float32)
    item_features = item_genres.astype(np.float32)
    meta = {
        "name": f"tiny-{seed}",
        "source": "synthetic-test",
        "seed": seed,
        "n_users": n_users,
        "n_items": n_items,
        "n_interactions": len(interactions),
        "user_feature_names": ["age", "female"],
        "item_feature_names": [f"genre_{c}" for c in range(n_cat)],
        "schema_version": SCHEMA_VERSION,
    }
    return Dataset(users_df, items_df, interactions, user_features, item_features, meta)


def write_ml100k_like(
    folder: str | Path,
    n_users: int = 300,
    n_items: int = 400,
    n_ratings: int = 20_000,
    seed: int = 0,
) -> Path:
    """Write `u.data`, `u.item`, `u.user` in MovieLens-100K's exact formats into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_genres = len(ML_GENRES)
    age, female, item_genres, affinity, popularity = _taste_model(
        n_users, n_items, n_genres, 8, rng
    )
    item_genres[:, 0] = False  # "unknown" is almost never set in ML-100K
    users, items = _draw_log(affinity, popularity, n_ratings, rng)
    noise = rng.normal(0, 0.6, size=len(users))
    rating = np.clip(np.round(3.5 + 0.9 * affinity[users, items] + noise), 1, 5).astype(int)
    # ML-100K spans Sep 1997 – Apr 1998; each user is active over a few weeks of it.
    first = rng.integers(874_724_710, 893_286_638, size=n_users)
    timestamps = first[users] + rng.integers(0, 3_000_000, size=len(users))
    log = np.c_[users + 1, items + 1, rating, timestamps]
    log = log[rng.permutation(len(log))]
    (folder / "u.data").write_text(
        "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in log), encoding="latin-1"
    )
    lines = []
    for i in range(n_items):
        flags = "|".join(str(int(f)) for f in item_genres[i])
        year = 1930 + int(rng.integers(0, 68))
        title = f"Movie {i + 1} ({year})"
        lines.append(f"{i + 1}|{title}|01-Jan-{year}||http://example.invalid/{i + 1}|{flags}\n")
    (folder / "u.item").write_text("".join(lines), encoding="latin-1")
    occupations = np.array(ML_OCCUPATIONS)[rng.integers(0, len(ML_OCCUPATIONS), n_users)]
    zips = rng.integers(10000, 99999, n_users)
    (folder / "u.user").write_text(
        "".join(
            f"{u + 1}|{age[u]}|{'F' if female[u] else 'M'}|{occupations[u]}|{zips[u]}\n"
            for u in range(n_users)
        ),
        encoding="latin-1",
    )
    return folder


def save_tiny_dataset(folder: str | Path, **kwargs) -> Path:
    """`tiny_dataset(**kwargs)` written as a dataset folder (no latent factors: imported-like)."""
    from rlrec.data.store import save_dataset

    return Path(save_dataset(tiny_dataset(**kwargs), folder))


def train_tiny_run(dataset_dir: str | Path, run_dir: str | Path, steps: int = 3200, seed: int = 0):
    """A short DQN run on the `default` simulator fitted to `dataset_dir` (small net)."""
    import torch

    from rlrec.engine.training.run_config import load_run_config
    from rlrec.engine.training.trainer import Trainer

    torch.set_num_threads(1)
    config = load_run_config(
        "default",
        overrides={
            "dataset": str(dataset_dir),
            "agent": {
                "hidden": [32, 32],
                "learning_starts": 256,
                "replay_ratio": 1 / 16,
                "batch_size": 32,
                "replay_size": 5000,
            },
            "train": {
                "n_envs": 64,
                "steps": steps,
                "seed": seed,
                "log_every": 640,
                "eval_every": 0,
                "eval_episodes": 50,
                "checkpoint_every": 0,
                "torch_threads": 1,
            },
        },
    )
    Trainer(config, Path(run_dir)).run()
    return Path(run_dir)


def saved_dataset(tmp_path_factory, name: str, **generate_kwargs) -> Path:
    """A generated dataset (`data.generator.generate(**generate_kwargs)`) saved in a fresh
    temporary folder `…/name`; for module-scoped fixtures of tests that open a dataset folder."""
    from rlrec.data.generator import generate
    from rlrec.data.store import save_dataset

    folder = tmp_path_factory.mktemp("ds") / name
    save_dataset(generate(**generate_kwargs), folder)
    return folder
