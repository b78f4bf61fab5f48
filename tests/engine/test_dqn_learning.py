"""Learning tests that can fail: a short training on seed-classic must beat random play by a
clear margin (greedy evaluation on 1,000 fixed sessions) — with the float32 per-item head,
and with what the `default` preset ships (the embedding head, bfloat16 updates)."""

from __future__ import annotations

import pytest
import torch

from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.training.trainer import Trainer

torch.set_num_threads(1)


@pytest.mark.parametrize(
    "shipped",
    [{}, {"head": "embedding", "train_precision": "bfloat16"}],
    ids=["per-item-float32", "embedding-bfloat16"],
)
def test_short_training_on_seed_classic_clearly_beats_random(tmp_path, shipped):
    config = load_run_config(
        "seed-classic",
        overrides={
            "agent": {
                **shipped,
                "eps_decay_steps": 20_000,
                "replay_ratio": 1 / 64,
                "batch_size": 256,
                "lr": 0.001,
                "lr_decay_updates": 0,
            },
            "train": {
                "n_envs": 256,
                "steps": 60_000,
                "eval_every": 0,
                "checkpoint_every": 0,
                "seed": 3,
            },
        },
    )
    trainer = Trainer(config, tmp_path / "run")
    finished = trainer.run()
    assert finished.reason == "budget"
    report = trainer.evaluate()
    random_return, oracle_return = trainer.references()["random"], trainer.references()["oracle"]
    # Half-way from random (≈4.4) to the oracle (≈9.6) after under a thousand updates.
    assert report.normalised >= 0.5, (report.return_mean, random_return, oracle_return)
