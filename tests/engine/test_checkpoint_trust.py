"""A run folder holds data, never code: planted pickles, damaged and foreign checkpoints each
give one line through `resume`, `eval`, `recommend` and the TUI's run loader, and create
nothing. Also: crash-safe writes, leftovers cleaned, older formats refused."""

from __future__ import annotations

import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rlrec.data.errors import RlrecError
from rlrec.engine.training import checkpoint, runs
from rlrec.engine.training.trainer import Trainer
from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN
from tests.test_cli_train import rlrec

SMALL = {"agent": SMALL_AGENT, "train": {**SMALL_TRAIN, "eval_every": 0, "checkpoint_every": 3200}}


class Plant:
    """Unpickling this creates `path`: what a hostile checkpoint would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump({"preset": "seed-classic", **SMALL}))
    out = rlrec("train", "--config", config, "--steps", 3200, "--out", root, "--name", "r")
    assert out.returncode == 0, out.stderr
    return root / "r"


def _copy(trained: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "serving", ignore_errors=True)
    return run


def _manifest(run: Path) -> dict:
    return json.loads((run / checkpoint.MANIFEST_FILE).read_text())


def _rewrite(run: Path, part: str, data: bytes) -> None:
    """Replace the checkpoint's `part` file ("tensors" / "arrays") by `data`, keeping the
    manifest consistent (so only the content is hostile)."""
    manifest = _manifest(run)
    name = manifest[part]
    (run / name).write_bytes(data)
    manifest["sizes"][name] = len(data)
    (run / checkpoint.MANIFEST_FILE).write_text(json.dumps(manifest))


def _pickled_npz(marker: Path) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{"sim/_users": np.array([Plant(marker)], dtype=object)})
    return buffer.getvalue()


def _pickled_torch(marker: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save({"agent/online": Plant(marker)}, buffer)
    return buffer.getvalue()


def _plant(run: Path, where: str, marker: Path) -> None:
    if where == "legacy checkpoint.pt":
        for path in run.glob("checkpoint*"):
            path.unlink()
        (run / checkpoint.LEGACY_FILE).write_bytes(_pickled_torch(marker))
    elif where == "manifest":
        (run / checkpoint.MANIFEST_FILE).write_bytes(pickle.dumps(Plant(marker)))
    elif where == "tensors":
        _rewrite(run, "tensors", _pickled_torch(marker))
    elif where == "arrays":
        _rewrite(run, "arrays", _pickled_npz(marker))
    else:
        raise AssertionError(where)


def test_the_planted_pickles_are_live(tmp_path):
    """The plants do create the file when unpickled the old way: the tests below mean it."""
    marker = tmp_path / "created"
    torch.load(io.BytesIO(_pickled_torch(marker)), weights_only=False)
    assert marker.exists()
    marker.unlink()
    np.load(io.BytesIO(_pickled_npz(marker)), allow_pickle=True)["sim/_users"]
    assert marker.exists()


def _one_line(outcome) -> str:
    assert outcome.returncode == 2, (outcome.stdout, outcome.stderr)
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlrec: error:"), outcome.stderr
    assert "Traceback" not in outcome.stderr
    return lines[0]


WHERE = ["legacy checkpoint.pt", "manifest", "tensors", "arrays"]


@pytest.mark.parametrize("where", WHERE)
def test_a_planted_checkpoint_runs_no_code_anywhere(trained, tmp_path, where):
    from rlrec.tui.panes.explore_data import load_run as tui_load_run

    run = _copy(trained, tmp_path)
    marker = tmp_path / "created"
    _plant(run, where, marker)
    for args in (
        ("resume", run, "--steps", 640),
        ("eval", run, "--episodes", 10),
        ("recommend", run, "--user", 3, "-k", 5),
        ("recommend", run, "--user", 3, "-k", 5, "--json"),
    ):
        line = _one_line(rlrec(*args))
        assert str(run) in line, line
        if where == "legacy checkpoint.pt":
            assert "older rlrec (checkpoint version 1)" in line and "0.1.0" in line
    with pytest.raises(RlrecError) as caught:
        tui_load_run(run)
    assert "\n" not in str(caught.value)
    with pytest.raises(RlrecError):
        Trainer.from_run(run)
    assert not marker.exists()


@pytest.mark.parametrize("file", ["agent.npz", "session_start.npz", "meta.json"])
def test_a_planted_serving_cache_runs_no_code(trained, tmp_path, file):
    """The serving cache is rebuilt from the (good) checkpoint when a file of it is hostile."""
    from rlrec.tui.panes.explore_data import load_run as tui_load_run

    run = _copy(trained, tmp_path)
    assert rlrec("recommend", run, "--user", 3, "-k", 5).returncode == 0  # builds the cache
    assert (run / "serving" / file).is_file()
    marker = tmp_path / "created"
    data = _pickled_npz(marker) if file.endswith(".npz") else pickle.dumps(Plant(marker))
    (run / "serving" / file).write_bytes(data)
    out = rlrec("recommend", run, "--user", 3, "-k", 5, "--json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["items"]) == 5
    (run / "serving" / file).write_bytes(data)
    assert tui_load_run(run) is not None
    assert not marker.exists()


def _edit_state(run: Path, edit) -> None:
    manifest = _manifest(run)
    edit(manifest)
    (run / checkpoint.MANIFEST_FILE).write_text(json.dumps(manifest))


def _foreign_tensors(run: Path) -> None:
    name = _manifest(run)["tensors"]
    tensors = torch.load(run / name, weights_only=True)
    tensors["agent/online"] = {k: torch.zeros(3, 3) for k in tensors["agent/online"]}
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    _rewrite(run, "tensors", buffer.getvalue())


def _foreign_arrays(run: Path) -> None:
    name = _manifest(run)["arrays"]
    with np.load(run / name) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays["sim/_users"] = np.zeros(7, dtype=np.int64)  # another run's number of sessions
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    _rewrite(run, "arrays", buffer.getvalue())


DAMAGE = {
    "truncated manifest": lambda run: (run / checkpoint.MANIFEST_FILE).write_text('{"vers'),
    "manifest not an object": lambda run: (run / checkpoint.MANIFEST_FILE).write_text("[1]"),
    "older version": lambda run: _edit_state(run, lambda m: m.update(version=1)),
    "newer version": lambda run: _edit_state(run, lambda m: m.update(version=99)),
    "missing counters": lambda run: _edit_state(run, lambda m: m["state"].pop("counters")),
    "counters of the wrong type": lambda run: _edit_state(
        run, lambda m: m["state"].update(counters="many")
    ),
    "missing data file": lambda run: (run / _manifest(run)["arrays"]).unlink(),
    "data file not named by us": lambda run: _edit_state(
        run, lambda m: m.update(tensors="../../etc/passwd")
    ),
    "truncated tensors": lambda run: (run / _manifest(run)["tensors"]).write_bytes(b"PK\x03"),
    "another run's network shapes": _foreign_tensors,
    "another run's session shapes": _foreign_arrays,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_or_foreign_checkpoint_is_one_line(trained, tmp_path, damage):
    run = _copy(trained, tmp_path)
    DAMAGE[damage](run)
    resume = _one_line(rlrec("resume", run, "--steps", 640))
    assert str(run) in resume
    if damage == "older version":
        assert "older rlrec (checkpoint version 1)" in resume
    if damage == "newer version":
        assert "newer rlrec" in resume
    if "shapes" in damage or damage.startswith("missing counters"):
        assert "does not fit" in resume
    if "session" not in damage and "counters" not in damage:  # what eval / recommend read
        _one_line(rlrec("eval", run, "--episodes", 10))
        _one_line(rlrec("recommend", run, "--user", 3, "-k", 5))


def test_the_checkpoint_files_hold_only_data(trained):
    manifest = _manifest(trained)
    assert manifest["version"] == checkpoint.CHECKPOINT_VERSION
    torch.load(trained / manifest["tensors"], weights_only=True)
    with np.load(trained / manifest["arrays"], allow_pickle=False) as stored:
        assert "sim/_users" in stored.files and "agent/replay/obs" in stored.files
    # The numpy RNG states are plain integers in the JSON.
    assert isinstance(manifest["state"]["sim"]["rng"]["state"]["state"], int)
    assert not (trained / checkpoint.LEGACY_FILE).exists()


def test_a_crash_before_the_manifest_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save_checkpoint(tmp_path, {"marker": "good", "w": torch.ones(2)})
    good = sorted(p.name for p in tmp_path.iterdir())

    def crash(path, text):
        raise OSError("killed")

    monkeypatch.setattr(checkpoint, "atomic_write_text", crash)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(tmp_path, {"marker": "new", "w": torch.zeros(2)})
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(tmp_path)["marker"] == "good"
    # Leftovers of the killed write (its data files, temp files) go at the next write.
    from tests.data.test_errors_files_json import dead_pid

    (tmp_path / f".checkpoint.pt.tmp-{dead_pid()}").write_bytes(b"x" * 100)
    (tmp_path / ".checkpoint-abc.npz.x1y2.tmp").write_bytes(b"x")
    assert len(list(tmp_path.iterdir())) == len(good) + 4
    checkpoint.save_checkpoint(tmp_path, {"marker": "newer", "w": torch.zeros(2)})
    assert len(list(tmp_path.iterdir())) == 3
    assert checkpoint.load_checkpoint(tmp_path)["marker"] == "newer"


def test_a_default_preset_run_resumes_exactly_from_its_rebuilt_simulator(tmp_path):
    from rlrec.engine.training.events import Checkpointed, Evaluation, Progress
    from rlrec.engine.training.run_config import load_run_config

    def config():
        train = {**SMALL_TRAIN, "n_envs": 32, "steps": 3840, "eval_every": 1280}
        train.update(checkpoint_every=1280, log_every=640, eval_episodes=20)
        return load_run_config("default", overrides={"agent": SMALL_AGENT, "train": train})

    Trainer(config(), tmp_path / "straight").run()
    partial = Trainer(config(), tmp_path / "resumed")
    partial.subscribe(
        lambda e: partial.stop(evaluate=False) if isinstance(e, Checkpointed) else None
    )
    partial.run()
    Trainer.from_run(tmp_path / "resumed").run()

    def learning(run):
        return [
            (
                type(e).__name__,
                e.env_steps,
                getattr(e, "loss", None),
                getattr(e, "return_mean", None),
            )
            for e in runs.read_events(run)
            if isinstance(e, (Progress, Evaluation))
        ]

    assert learning(tmp_path / "straight") == learning(tmp_path / "resumed")
