"""Loading a run for serving while it trains (the Explore pane follows a run checkpoint by
checkpoint): a checkpoint written in the middle of a load neither fails the load nor leaves a
serving cache that claims the newer checkpoint with the older weights."""

from __future__ import annotations

import pytest
import torch

from rlrec.engine.serving import artifacts
from rlrec.engine.training import runs
from rlrec.engine.training.trainer import Trainer
from tests.engine.test_trainer import small_config

torch.set_num_threads(1)


def _served_weights(run: artifacts.ServingRun) -> dict[str, torch.Tensor]:
    return run.agent.served.state_dict()  # type: ignore[attr-defined]


@pytest.mark.parametrize("moment", ["reading the checkpoint", "writing the serving cache"])
def test_a_checkpoint_written_during_a_load_is_served_by_the_next_load(
    tmp_path, monkeypatch, moment
):
    run_dir = tmp_path / "run"
    Trainer(small_config(steps=1280), run_dir).run()
    artifacts._LOADED.clear()
    older = runs.load_checkpoint(run_dir)
    older.pop("version")
    newer = {**older, "agent": dict(older["agent"])}
    newer["agent"]["online"] = {k: v + 1.0 for k, v in older["agent"]["online"].items()}
    written: list[bool] = []

    def write_newer() -> None:
        if not written:  # what the training thread does at its next checkpoint
            written.append(True)
            runs.save_checkpoint(run_dir, newer)

    if moment == "reading the checkpoint":
        load_run = runs.load_run

        def racing_load(path):
            run = load_run(path)
            write_newer()
            return run

        monkeypatch.setattr(runs, "load_run", racing_load)
    else:
        save_npz = artifacts._save_npz

        def racing_save(path, arrays):
            write_newer()
            save_npz(path, arrays)

        monkeypatch.setattr(artifacts, "_save_npz", racing_save)

    first = artifacts.load_serving(run_dir)  # no error: it serves the checkpoint it read
    assert written
    for key, value in _served_weights(first).items():
        assert torch.equal(value, older["agent"]["online"][key])
    monkeypatch.undo()

    second = artifacts.load_serving(run_dir)
    for key, value in _served_weights(second).items():
        assert torch.equal(value, newer["agent"]["online"][key])
    artifacts._LOADED.clear()  # a fresh process reads the cache the second load left
    for key, value in _served_weights(artifacts.load_serving(run_dir)).items():
        assert torch.equal(value, newer["agent"]["online"][key])
