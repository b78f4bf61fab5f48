"""What a run folder keeps for serving, so a recommendation reads and never fits.

`prepare_serving(run_dir)` builds it once — the agent's served network, the session-start
model (the hidden truth as arrays, for the agent's state and the "true preference" column)
and every reference scorer of the policy registry, fitted on the run's dataset and stored
split — and writes it to `<run>/serving/` as `.npz` (loaded with `allow_pickle=False`) plus
`meta.json`. The train use case calls it after training. For a run prepared before (or by
an older rlrec), `load_serving` builds what is missing on first use: the agent part when it
is missing or older than the checkpoint, each scorer the first time it is asked for (LinUCB's
warm-up takes seconds, so it is not paid for a user who never asks). One loaded run is kept
per process, so asking user after user costs only the scoring.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rlrec.data.dataset import Dataset
from rlrec.data.errors import RlrecError
from rlrec.data.files import atomic_write_bytes, atomic_write_text
from rlrec.engine.policies.base import Policy
from rlrec.engine.policies.registry import (
    USER_SCORERS,
    ScorerInputs,
    fit_scorer,
    policy_spec,
    scorer_from_arrays,
)
from rlrec.engine.policies.user_scorers import UserScorer
from rlrec.engine.sim.session_start import SessionStart, TabulatedStart
from rlrec.engine.training.runs import CHECKPOINT_FILE, require_run

SERVING_DIR = "serving"
META_FILE = "meta.json"
AGENT_FILE = "agent.npz"
START_FILE = "session_start.npz"
# The observable features of the trained catalogue, for an agent whose head scores from
# them (`agent.head: embedding`); absent for the per-item head.
ITEM_FEATURES_FILE = "item_features.npz"
FORMAT = 1
# How long LinUCB learns online before it is cached (as `recommend` always did).
LINUCB_WARM_UP_STEPS = 200


class ServingRun:
    """A run ready to serve: its config and dataset, the agent, how a session starts for a
    user, and the registry's reference scorers — all read from the run folder (scorers on
    first use, see `scorer`)."""

    def __init__(
        self,
        path: Path,
        config: Any,
        dataset: Dataset | None,
        agent: Policy,
        start: SessionStart | TabulatedStart,
        scorers: dict[str, UserScorer],
        history_window: int,
    ) -> None:
        self.path = path
        self.config = config  # RunConfig
        self.dataset = dataset  # None for seed-classic (users are bare indices)
        self.agent = agent
        self.start = start
        self.history_window = history_window
        # Items the run was trained on; a catalogue grown since (`engine.serving.catalogue`)
        # has more, which only an embedding-head agent can score.
        self.trained_items = int(getattr(agent, "n_trained_items", agent.n_items))
        self._scorers = dict(scorers)
        # One lock per scorer: fitting one (LinUCB's warm-up takes tens of seconds) must not
        # hold up a request for another that is cheap or already cached.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def scorer_ready(self, name: str) -> bool:
        """True if scorer `name` is fitted (in memory or in the run folder), so asking for it
        only reads."""
        return name in self._scorers or (self.path / SERVING_DIR / f"scorer-{name}.npz").is_file()

    def scorer(self, name: str) -> UserScorer:
        """The registry scorer `name`: cached in memory, else read from the run folder, else
        fitted once and saved there. RlrecError: not a user scorer of the registry."""
        policy_spec(name, USER_SCORERS)
        with self._locks_guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._scorers:
                file = self.path / SERVING_DIR / f"scorer-{name}.npz"
                if not file.is_file():
                    _prepare_scorers(self.path, [name])
                try:
                    scorer = scorer_from_arrays(name, _load_npz(file))
                except _UNREADABLE:  # a damaged or foreign cache file: fit it again
                    _prepare_scorers(self.path, [name])
                    scorer = _or_one_line(file, lambda: scorer_from_arrays(name, _load_npz(file)))
                self._scorers[name] = scorer
            return self._scorers[name]


def _stamp(run_dir: Path) -> list[int]:
    """The checkpoint's (mtime_ns, size): serving arrays are stale when it changed."""
    stat = (run_dir / CHECKPOINT_FILE).stat()
    return [int(stat.st_mtime_ns), int(stat.st_size)]


def _stamp_before_reading(run_dir: Path) -> list[int]:
    """`_stamp`, taken before the checkpoint is read: what is built from the read carries this
    stamp, so a checkpoint written meanwhile (the run is still training) marks it stale and
    the next load rebuilds it. RlrecError when the run has no checkpoint."""
    try:
        return _stamp(run_dir)
    except FileNotFoundError:
        from rlrec.engine.training.runs import load_checkpoint

        load_checkpoint(run_dir)  # raises the one line: none yet, or an older rlrec's
        return _stamp(run_dir)  # the first checkpoint landed just now


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    plain = {k: np.asarray(v) for k, v in arrays.items()}
    atomic_write_bytes(path, lambda handle: np.savez(handle, **plain))  # type: ignore[arg-type]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {k: stored[k] for k in stored.files}


# What reading a damaged, truncated or foreign cache file raises (allow_pickle=False refuses
# object arrays with ValueError; a bad zip is BadZipFile, an OSError or ValueError subclass
# depending on the damage; wrong keys or shapes are KeyError, TypeError or RuntimeError).
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, zipfile.BadZipFile)


def _or_one_line(file: Path, read: Any) -> Any:
    """`read()`, or RlrecError naming `file` if it still cannot be read."""
    try:
        return read()
    except _UNREADABLE as exc:
        raise RlrecError(
            f"{file}: cannot read this serving file ({exc.__class__.__name__}); delete the "
            "run's serving folder to rebuild it",
            file=file,
        ) from None


def _truth_arrays(truth: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, plain = {}, {}
    for field in dataclasses.fields(truth):
        value = getattr(truth, field.name)
        if isinstance(value, np.ndarray):
            arrays[field.name] = value
        elif value is not None:
            plain[field.name] = value
    return arrays, plain


def _scorer_inputs(dataset: Dataset, split: Any, sim: Any) -> ScorerInputs:
    return ScorerInputs(
        log=dataset,  # serving knows everything logged, not only the train part
        dataset=dataset,
        split=split,
        sim=sim,
        seed=0,
        linucb_steps=LINUCB_WARM_UP_STEPS,
        random_per_user=True,
    )


def serving_run_from(
    path: Path, config: Any, dataset: Dataset | None, sim: Any, agent: Policy, split: Any = None
) -> ServingRun:
    """A `ServingRun` built in memory from a run's simulator (fits every reference scorer on
    `dataset` and `split`, warms LinUCB up in a sibling of `sim`): what tests serve from."""
    from rlrec.data.split import split_for

    if dataset is None:
        users = np.arange(sim.n_users)
        start: SessionStart | TabulatedStart = TabulatedStart(
            sim.fresh_observation(users), sim.true_preference(users)
        )
        return ServingRun(path, config, None, agent, start, {}, 0)
    inputs = _scorer_inputs(dataset, split if split is not None else split_for(dataset, None), sim)
    scorers = {name: fit_scorer(name, inputs) for name in USER_SCORERS}
    start = SessionStart(sim.truth, sim.config)
    return ServingRun(path, config, dataset, agent, start, scorers, int(sim.config.history_window))


def _split_or_none(run: Any) -> Any:
    return None if run.dataset is None else _run_split(run)


def _run_split(run: Any) -> Any:
    from rlrec.data.split import split_for

    folder = run.config.dataset or getattr(run.config.env, "dataset", "") or None
    return split_for(run.dataset, folder)


def _prepare_agent(path: Path, run: Any, stamp: list[int]) -> dict[str, Any]:
    """The agent's served network and the session-start model, then `meta.json` (last: its
    presence means they are whole); `stamp` is the checkpoint's before `run` was read.
    Returns the meta written."""
    folder = path / SERVING_DIR
    folder.mkdir(exist_ok=True)
    served = run.policy.served.state_dict()
    _save_npz(folder / AGENT_FILE, {k: v.detach().cpu().numpy() for k, v in served.items()})
    if run.policy.item_features is not None:
        _save_npz(folder / ITEM_FEATURES_FILE, {"features": run.policy.item_features.numpy()})
    meta: dict[str, Any] = {
        "format": FORMAT,
        "checkpoint": stamp,
        "obs_dim": int(run.sim.obs_dim),
        "n_items": int(run.sim.n_items),
    }
    sim = run.sim
    if run.dataset is None:
        users = np.arange(sim.n_users)
        arrays = {
            "observations": sim.fresh_observation(users),
            "preferences": sim.true_preference(users),
        }
        meta["start"] = "table"
    else:
        arrays, meta["truth"] = _truth_arrays(sim.truth)
        meta["start"] = "truth"
    _save_npz(folder / START_FILE, arrays)
    atomic_write_text(folder / META_FILE, json.dumps(meta))
    return meta


def _prepare_scorers(path: Path, names: list[str], run: Any = None) -> None:
    """Fit the registry scorers `names` on the run's dataset and stored split, and save them."""
    from rlrec.engine.training.runs import load_run

    run = run if run is not None else load_run(path)
    if run.dataset is None:
        raise RlrecError(f"{path}: a seed-classic run has no logged data to fit {names[0]!r} on")
    inputs = _scorer_inputs(run.dataset, _run_split(run), run.sim)
    folder = path / SERVING_DIR
    folder.mkdir(exist_ok=True)
    for name in names:
        _save_npz(folder / f"scorer-{name}.npz", fit_scorer(name, inputs).arrays())


def prepare_serving(run_dir: str | Path) -> Path:
    """Build and cache everything `<run_dir>/serving/` holds (see module doc); returns that
    folder. With `load_serving`'s lazy builds, the one place serving fits anything (the
    reference scorers, LinUCB's warm-up) or builds the run's simulator.
    RlrecError: not a run, no checkpoint yet, a dataset that changed since training."""
    from rlrec.engine.training.runs import load_run

    path = require_run(run_dir)
    stamp = _stamp_before_reading(path)
    run = load_run(path)
    _prepare_agent(path, run, stamp)
    if run.dataset is not None:
        _prepare_scorers(path, list(USER_SCORERS), run)
    return path / SERVING_DIR


def _read_meta(run_dir: Path, stamp: list[int]) -> dict[str, Any] | None:
    """The cache's meta if it was built from the checkpoint stamped `stamp`, else None."""
    try:
        meta = json.loads((run_dir / SERVING_DIR / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if meta.get("format") != FORMAT or meta.get("checkpoint") != stamp:
        return None
    return meta


def _load_agent(run_dir: Path, config: Any, obs_dim: int, n_items: int) -> Policy:
    import torch

    from rlrec.engine.agents.dqn import DQNAgent, with_resolved_head

    features = None
    if with_resolved_head(config.agent, n_items).head == "embedding":
        features = _load_npz(run_dir / SERVING_DIR / ITEM_FEATURES_FILE)["features"]
    agent = DQNAgent(
        obs_dim,
        n_items,
        config.agent,
        seed=config.train.seed,
        with_replay=False,
        item_features=features,
    )
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
    start_arrays = _load_npz(run_dir / SERVING_DIR / START_FILE)
    start: SessionStart | TabulatedStart
    if meta["start"] == "table":
        start = TabulatedStart(start_arrays["observations"], start_arrays["preferences"])
        dataset, window = None, 0
    else:
        fields: dict[str, Any] = {**start_arrays, **meta["truth"]}
        truth = HiddenTruth(**fields)
        env = config.env
        if not isinstance(env, DefaultConfig):
            raise ValueError("a hidden-truth start for a run without one")
        start = SessionStart(truth, env)
        dataset, window = load_run_dataset(config), int(env.history_window)
    agent = _load_agent(run_dir, config, int(meta["obs_dim"]), int(meta["n_items"]))
    return ServingRun(run_dir, config, dataset, agent, start, {}, window)


_LOADED: dict[Path, tuple[list[int], ServingRun]] = {}
_LOCK = threading.Lock()


def load_serving(run_dir: str | Path) -> ServingRun:
    """The run at `run_dir` ready to serve, read from its `serving/` folder (the agent part
    built first if missing or older than the checkpoint); one per run and checkpoint per
    process. RlrecError: not a run, no checkpoint, a dataset that changed since training."""
    path = require_run(run_dir).resolve()
    with _LOCK:
        stamp = _stamp_before_reading(path)
        cached = _LOADED.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        from rlrec.engine.training.runs import load_run

        meta = _read_meta(path, stamp)
        loaded = None
        if meta is not None:
            try:
                loaded = _read_serving(path, meta)
            except _UNREADABLE:  # a damaged or foreign cache: rebuild it from the checkpoint
                loaded = None
        if loaded is None:
            run = load_run(path)
            try:
                meta = _prepare_agent(path, run, stamp)
            except OSError:
                # A read-only, shared or archived run folder: serve from memory (built now,
                # kept for this process) rather than refuse to serve at all.
                loaded = serving_run_from(
                    path, run.config, run.dataset, run.sim, run.policy, _split_or_none(run)
                )
            else:
                built = meta  # what was just written, even if a newer checkpoint landed since
                loaded = _or_one_line(path / SERVING_DIR, lambda: _read_serving(path, built))
        _LOADED[path] = (stamp, loaded)
        return loaded
