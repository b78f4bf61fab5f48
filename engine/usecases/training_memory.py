"""What a training run will take in memory, estimated from its config and its dataset's size
before anything is built: a run that cannot fit is one line naming what drives the size
(the dataset, the replay buffer, the network, the sessions), not a traceback at 37 GiB or the
kernel's OOM kill mid-checkpoint.

The estimate is the peak of two phases: fitting a simulator to an imported log (O(log
rows + users + items), see `engine.truth.fit.fit_memory_bytes`), then training — the training simulator and the evaluation simulator
kept, a third built for the reference returns, the agent, its replay buffer and the sessions'
per-item state. The sizes come from `meta.yaml`; nothing is loaded.

Measured with bench/memory_estimates.py (growth of resident memory over a process that has
loaded torch and rlrec, training 2,048 steps with one evaluation): generated 10k × 2k grew by
594 MiB, 20k × 4k by 1,861 MiB; fitted to imported MovieLens-layout logs, 3.3k × 2.5k (0.5M
ratings) by 573 MiB and 13.3k × 10k (2M ratings) by 5,365 MiB; the estimates with these
constants are 721, 2,209, 548 and 5,913 MiB. With `/usr/bin/time -v rlrec train` (maximum
RSS less that of a 200 × 100 run): 10k × 8k grew by 2.28 GB, 40k × 8k by 7.14 GB
(estimates 2.92 and 8.27 GB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option
from rlrec.data.memory import check_bytes_fit, gib

# Whatever the sizes: torch's allocator and thread pools, the modules a run loads, the
# labelled pairs of a fit (bench: 0-150 MB beyond the parts below on small runs).
TRAINING_FIXED_BYTES = 128 * 2**20
# The loaded dataset's frames per interaction (ids, event text, rating, times, session).
DATASET_BYTES_PER_INTERACTION = 100
# A fitted truth adds this many CF embedding dimensions to what the agent observes of users
# and of items (`FitConfig.observable_dims`); synthetic truths add 3 item signals.
FITTED_OBSERVABLE_DIMS = 16
SIMULATOR_ITEM_SIGNALS = 3


@dataclass(frozen=True)
class TrainingMemory:
    """The estimated peak of a run, in bytes, by part, and what drives the largest part."""

    parts: dict[str, int]  # "simulators", "fit", "sessions", "agent", "replay buffer", ...
    peak: int  # fixed + max(dataset + fit, everything but the fit)
    subject: list[str | Option]  # names the setting or dataset that drives the size
    key: str
    value: Any

    def breakdown(self) -> str:
        """The parts, largest first: "simulators 9.1 GiB, agent 0.2 GiB, …"."""
        ordered = sorted(self.parts.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {gib(size)}" for name, size in ordered if size > 0)


def _dataset_sizes(config: Any) -> tuple[str | None, int, int, int, int, bool, int]:
    """(folder or None, users, items, interactions, obs_dim, fitted, item_dim) of the
    default env (item_dim: the observable features of an item)."""
    from rlrec.data import DEFAULT_N_ITEMS, DEFAULT_N_USERS
    from rlrec.engine.config_base import load_yaml
    from rlrec.engine.sim.session_start import CONTEXT_DIM

    folder = config.dataset or getattr(config.env, "dataset", "") or None
    if folder is None:  # the built-in synthetic dataset: a few features per user and item
        item_dim = 16 + SIMULATOR_ITEM_SIGNALS
        obs_dim = 8 + 2 * item_dim + CONTEXT_DIM
        return None, DEFAULT_N_USERS, DEFAULT_N_ITEMS, 0, obs_dim, False, item_dim
    meta_file = Path(folder) / "meta.yaml"
    # Not a dataset folder: nothing to estimate; loading it says what is wrong.
    meta = load_yaml(meta_file) if meta_file.is_file() else {}
    fitted = not (Path(folder) / "user_latent.npy").is_file()
    extra = FITTED_OBSERVABLE_DIMS if fitted else 0
    user_dim = len(meta.get("user_feature_names") or []) + extra
    item_dim = len(meta.get("item_feature_names") or []) + SIMULATOR_ITEM_SIGNALS + extra
    return (
        str(folder),
        int(meta.get("n_users") or 0),
        int(meta.get("n_items") or 0),
        int(meta.get("n_interactions") or 0),
        user_dim + 2 * item_dim + CONTEXT_DIM,
        fitted,
        item_dim,
    )


def training_memory(
    config: Any, *, replay: bool = True, eval_episodes: int | None = None
) -> TrainingMemory:
    """The estimated peak memory of training `config` (a `RunConfig`), from its settings and
    its dataset's `meta.yaml` (sizes 0 when there is none; RlrecError if it is unreadable).
    `replay=False` leaves the replay buffer out and `eval_episodes` replaces the config's:
    the same simulators and agent evaluating a trained run (`rlrec eval`)."""
    from rlrec.engine.agents.dqn import acting_bytes_per_session, dqn_memory_bytes
    from rlrec.engine.agents.replay import ReplayBuffer
    from rlrec.engine.evaluation.online import MAX_PARALLEL_SESSIONS
    from rlrec.engine.sim import classic, default
    from rlrec.engine.sim.base import offered_candidates
    from rlrec.engine.sim.candidates import check_candidate_settings
    from rlrec.engine.truth.fit import fit_memory_bytes

    train, agent = config.train, config.agent
    eval_envs = min(eval_episodes or train.eval_episodes, MAX_PARALLEL_SESSIONS)
    fit = dataset_bytes = 0
    size_value: Any
    if isinstance(config.env, classic.ClassicConfig):
        env = config.env
        users, items, obs_dim = env.n_users, env.n_items, 2 * env.latent_dim + 2
        item_dim = env.latent_dim
        kept, building = classic.classic_simulator_bytes(users, items, 0)
        size_subject: list[str | Option] = [
            Option("env.n_users", f"{users:,}"), " × ", Option("env.n_items", f"{items:,}")
        ]  # fmt: skip
        size_key, size_value = "env.n_users", users
        session_bytes = classic.KEPT_BYTES_PER_SESSION_ITEM
        sim_sessions = 0
    else:
        folder, users, items, interactions, obs_dim, fitted, item_dim = _dataset_sizes(config)
        env_d = config.env
        if env_d.history_ids:  # the history slots' item ids end the observation
            obs_dim += env_d.history_window
        if env_d.session_profile:  # the session's summed item features
            obs_dim += item_dim
        if env_d.profile_decay > 0:  # and their fading profile
            obs_dim += item_dim
        # A setting the simulator would refuse is said as such, not as a memory estimate
        # (0 items: no readable meta.yaml, loading the dataset says what is wrong).
        if items:
            check_candidate_settings(
                offered_candidates(env_d.candidates, items),
                env_d.candidate_popular,
                env_d.candidate_neighbours,
                items,
            )
        kept, building = default.default_simulator_bytes(
            users, items, 0, env_d.candidates, env_d.max_length
        )
        dataset_bytes = DATASET_BYTES_PER_INTERACTION * interactions
        fit = fit_memory_bytes(users, items, interactions) if fitted else 0
        where = f"dataset {folder}" if folder else "the built-in dataset"
        size_subject = [f"{where} ({users:,} users × {items:,} items)"]
        size_key, size_value = "dataset", folder
        session_bytes = 0  # counted by the simulator below: it may keep ids, not tables
        sim_sessions = default.default_session_bytes(
            items, train.n_envs, env_d.candidates, env_d.max_length
        ) + 2 * default.default_session_bytes(items, eval_envs, env_d.candidates, env_d.max_length)
    capacity = agent.replay_size if replay else 0
    # Candidates a step (0 = the whole catalogue): what the agent scores and the replay keeps.
    candidates = min(offered_candidates(getattr(config.env, "candidates", 0), items), items)
    acting = acting_bytes_per_session(items, agent, candidates, item_dim)
    parts = {
        "dataset": dataset_bytes,
        "fit": fit,
        "simulators": 2 * kept + building,  # training + evaluation kept, references built
        "sessions": sim_sessions
        + (session_bytes * items + acting) * (train.n_envs + 2 * eval_envs),
        "agent": dqn_memory_bytes(obs_dim, items, agent, candidates, item_dim),
        "replay buffer": capacity
        * ReplayBuffer.bytes_per_transition(obs_dim, items, candidates, agent.replay_dtype),
    }
    rest = sum(v for k, v in parts.items() if k != "fit")
    peak = TRAINING_FIXED_BYTES + max(dataset_bytes + fit, rest)
    drivers: dict[str, tuple[list[str | Option], str, Any]] = {
        "sessions": ([Option("train.n_envs", f"{train.n_envs:,}")], "train.n_envs", train.n_envs),
        "agent": ([Option("agent.hidden", str(agent.hidden))], "agent.hidden", agent.hidden),
        "replay buffer": (
            [Option("agent.replay_size", f"{capacity:,}")],
            "agent.replay_size",
            capacity,
        ),
    }
    largest = max(parts, key=lambda name: parts[name])
    subject, key, value = drivers.get(largest, (size_subject, size_key, size_value))
    return TrainingMemory(parts, peak, subject, key, value)


def check_training_fits(config: Any, *, evaluating: int | None = None) -> None:
    """RlrecError naming what drives the size, the estimate (by part) and the memory
    available, when training `config` would not fit (see `training_memory`) — or, with
    `evaluating` episodes, evaluating its trained run (no replay buffer)."""
    if evaluating is None:
        estimate, purpose = training_memory(config), "to train"
    else:
        estimate = training_memory(config, replay=False, eval_episodes=evaluating)
        purpose = "to evaluate"
    check_bytes_fit(
        estimate.peak,
        estimate.subject,
        f"{purpose} ({estimate.breakdown()})",
        key=estimate.key,
        value=estimate.value,
        option=estimate.key if estimate.key == "dataset" else None,
    )


def check_fit_fits(folder: str | Path) -> None:
    """RlrecError naming the dataset in `folder`, its sizes, the estimate and the memory
    available, when fitting a simulator to it (`engine.truth.fit`, labelled pairs and
    per-row Gram matrices) would not fit; a folder without meta.yaml is left to the loader to refuse."""
    from rlrec.engine.config_base import load_yaml
    from rlrec.engine.truth.fit import fit_memory_bytes

    meta_file = Path(folder) / "meta.yaml"
    if not meta_file.is_file():
        return
    meta = load_yaml(meta_file)
    users, items = int(meta.get("n_users") or 0), int(meta.get("n_items") or 0)
    interactions = int(meta.get("n_interactions") or 0)
    check_bytes_fit(
        fit_memory_bytes(users, items, interactions) + DATASET_BYTES_PER_INTERACTION * interactions,
        [f"dataset {folder} ({users:,} users × {items:,} items)"],
        "to fit a simulator to it",
        file=folder,
        key="dataset",
        value=str(folder),
    )
