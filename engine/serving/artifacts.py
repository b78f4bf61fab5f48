"""What a run folder keeps for serving, so a recommendation reads and never fits.

`prepare_serving(run_dir)` builds it once — the agent's served network, the session-start
model (the hidden truth as arrays, for the agent's state and the "true preference" column)
and every reference scorer of the policy registry, fitted on the run's dataset and stored
split — and writes it to `<run>/serving/` as `.npz` (loaded with `allow_pickle=False`) plus
`meta.json`. The train use case calls it after training; `load_serving` builds it lazily
when it is missing or older than the checkpoint, and keeps one loaded run per process so
asking user after user costs only the scoring.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.registry import (
    USER_SCORERS,
    ScorerInputs,
    fit_scorer,
    scorer_from_arrays,
)
from rlrec.engine.policies.user_scorers import UserScorer
from rlrec.engine.sim.session_start import SessionStart, TabulatedStart
from rlrec.engine.training.runs import CHECKPOINT_FILE, require_run

SERVING_DIR = "serving"
META_FILE = "meta.json"
AGENT_FILE = "agent.npz"
START_FILE = "session_start.npz"
FORMAT = 1
# How long LinUCB learns online before it is cached (as `recommend` always did).
LINUCB_WARM_UP_STEPS = 200


@dataclass
class ServingRun:
    """A run ready to serve: its config and dataset, the agent, how a session starts for a
    user, and the registry's reference scorers — all read from the run folder."""

    path: Path
    config: Any  # RunConfig
    dataset: Dataset | None  # None for seed-classic (users are bare indices)
    agent: Policy
    start: SessionStart | TabulatedStart
    scorers: dict[str, UserScorer]
    history_window: int


def _stamp(run_dir: Path) -> list[int]:
    """The checkpoint's (mtime_ns, size): serving arrays are stale when it changed."""
    stat = (run_dir / CHECKPOINT_FILE).stat()
    return [int(stat.st_mtime_ns), int(stat.st_size)]


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    tmp.replace(path)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {k: stored[k] for k in stored.files}


def _truth_arrays(truth: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, plain = {}, {}
    for field in dataclasses.fields(truth):
        value = getattr(truth, field.name)
        if isinstance(value, np.ndarray):
            arrays[field.name] = value
        elif value is not None:
            plain[field.name] = value
    return arrays, plain


def serving_run_from(
    path: Path, config: Any, dataset: Dataset | None, sim: Any, agent: Policy, split: Any = None
) -> ServingRun:
    """A `ServingRun` built in memory from a run's simulator (fits every reference scorer on
    `dataset` and `split`, warms LinUCB up in a sibling of `sim`): what `prepare_serving`
    saves, and what tests serve from."""
    from rlrec.data.split import split_for

    if dataset is None:
        users = np.arange(sim.n_users)
        start: SessionStart | TabulatedStart = TabulatedStart(
            sim.fresh_observation(users), sim.true_preference(users)
        )
        return ServingRun(path, config, None, agent, start, {}, 0)
    inputs = ScorerInputs(
        log=dataset,  # serving knows everything logged, not only the train part
        dataset=dataset,
        split=split if split is not None else split_for(dataset, None),
        sim=sim,
        seed=0,
        linucb_steps=LINUCB_WARM_UP_STEPS,
        random_per_user=True,
    )
    scorers = {name: fit_scorer(name, inputs) for name in USER_SCORERS}
    start = SessionStart(sim.truth, sim.config)
    return ServingRun(path, config, dataset, agent, start, scorers, int(sim.config.history_window))


def prepare_serving(run_dir: str | Path) -> Path:
    """Build and cache `<run_dir>/serving/` (see module doc); returns that folder.

    This is the one place serving fits anything (the reference scorers, LinUCB's warm-up)
    and builds the run's simulator. RlrecError: not a run, or no checkpoint yet."""
    from rlrec.data.split import split_for
    from rlrec.engine.training.runs import load_run

    path = require_run(run_dir)
    stamp = _stamp(path)
    run = load_run(path)
    split = None
    if run.dataset is not None:
        config_folder = run.config.dataset or getattr(run.config.env, "dataset", "") or None
        split = split_for(run.dataset, config_folder)
    served_run = serving_run_from(path, run.config, run.dataset, run.sim, run.policy, split)
    folder = path / SERVING_DIR
    folder.mkdir(exist_ok=True)
    served = run.policy.served.state_dict()
    _save_npz(folder / AGENT_FILE, {k: v.detach().cpu().numpy() for k, v in served.items()})
    meta: dict[str, Any] = {
        "format": FORMAT,
        "checkpoint": stamp,
        "obs_dim": int(run.sim.obs_dim),
        "n_items": int(run.sim.n_items),
        "scorers": list(served_run.scorers),
    }
    start = served_run.start
    if isinstance(start, TabulatedStart):
        arrays = {"observations": start.observations, "preferences": start.preferences}
        meta["start"] = "table"
    else:
        arrays, meta["truth"] = _truth_arrays(run.sim.truth)
        meta["start"] = "truth"
    _save_npz(folder / START_FILE, arrays)
    for name, scorer in served_run.scorers.items():
        _save_npz(folder / f"scorer-{name}.npz", scorer.arrays())
    tmp = folder / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta))
    tmp.replace(folder / META_FILE)  # written last: its presence means the folder is whole
    return folder


def _read_meta(run_dir: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((run_dir / SERVING_DIR / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("checkpoint") != _stamp(run_dir):
        return None
    return meta


def _load_agent(run_dir: Path, config: Any, obs_dim: int, n_items: int) -> Policy:
    import torch

    from rlrec.engine.agents.dqn import DQNAgent

    agent = DQNAgent(obs_dim, n_items, config.agent, seed=config.train.seed, with_replay=False)
    arrays = _load_npz(run_dir / SERVING_DIR / AGENT_FILE)
    agent.served.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    agent.served.eval()
    return agent


def _read_serving(run_dir: Path, meta: dict[str, Any]) -> ServingRun:
    from rlrec.engine.sim import DefaultConfig
    from rlrec.engine.training.run_config import RunConfig
    from rlrec.engine.training.runs import CONFIG_FILE, load_run_dataset, read_config
    from rlrec.engine.truth.model import HiddenTruth

    config = RunConfig.from_dict(read_config(run_dir), origin=str(run_dir / CONFIG_FILE))
    folder = run_dir / SERVING_DIR
    start_arrays = _load_npz(folder / START_FILE)
    start: SessionStart | TabulatedStart
    if meta["start"] == "table":
        start = TabulatedStart(start_arrays["observations"], start_arrays["preferences"])
        dataset, window = None, 0
    else:
        truth = HiddenTruth(**start_arrays, **meta["truth"])
        env = config.env
        assert isinstance(env, DefaultConfig)
        start = SessionStart(truth, env)
        dataset, window = load_run_dataset(config), int(env.history_window)
    scorers = {
        name: scorer_from_arrays(name, _load_npz(folder / f"scorer-{name}.npz"))
        for name in meta["scorers"]
    }
    agent = _load_agent(run_dir, config, int(meta["obs_dim"]), int(meta["n_items"]))
    return ServingRun(run_dir, config, dataset, agent, start, scorers, window)


_LOADED: dict[Path, tuple[list[int], ServingRun]] = {}
_LOCK = threading.Lock()


def load_serving(run_dir: str | Path) -> ServingRun:
    """The run at `run_dir` ready to serve, read from its `serving/` folder (built first if
    missing or older than the checkpoint); one per run and checkpoint per process.
    RlrecError: not a run, no checkpoint, or a dataset that changed since training."""
    path = require_run(run_dir).resolve()
    if not (path / CHECKPOINT_FILE).is_file():
        raise RlrecError(
            f"{run_dir}: no {CHECKPOINT_FILE} yet (the run has not saved a checkpoint)"
        )
    with _LOCK:
        stamp = _stamp(path)
        cached = _LOADED.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        meta = _read_meta(path)
        if meta is None:
            prepare_serving(path)
            meta = _read_meta(path)
            assert meta is not None
        loaded = _read_serving(path, meta)
        _LOADED[path] = (stamp, loaded)
        return loaded
