"""Everything a training run is made of, in one typed object: `RunConfig`.

A run config is a preset (`engine/presets/NAME.yaml`), optionally a user YAML on top of it
(which may itself say `preset: NAME`), then explicit overrides (CLI flags, TUI form fields),
deep-merged in that order and checked section by section: `env` by the simulator's config,
`agent` by `DQNConfig`, `train` by `TrainConfig`. It is saved as the run's `config.yaml` and
read back by `rlrec resume`, `rlrec eval` and the TUI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlrec.data.errors import Option, RlrecError
from rlrec.engine.config_base import (
    MAX_RUN_SECONDS,
    MAX_RUN_STEPS,
    MAX_SEED,
    deep_merge,
    from_dict,
    load_yaml,
    param,
    to_dict,
)
from rlrec.engine.presets import SECTIONS, check_sections, load_preset
from rlrec.engine.sim import ENV_KINDS, EnvConfig, parse_env_config
from rlrec.engine.sim.base import WHOLE_CATALOGUE_ITEMS

DEFAULT_PRESET = "default"
LARGE_PRESET = "large"  # what a dataset past WHOLE_CATALOGUE_ITEMS items gets by default
# What a logged dataset (no generator factors: its simulator is fitted to the log) past
# WHOLE_CATALOGUE_ITEMS items gets by default: `large`, learning from the log too (measured
# to rank held-out items better at the same simulated return; up to 2,000 items the same
# options, preset `logs`, cost return and gained nothing by 5 minutes — see the presets).
LOGS_LARGE_PRESET = "logs-large"


@dataclass
class TrainConfig:
    n_envs: int = param(1024, low=1, high=65536, help="sessions stepped together")
    seconds: float | None = param(
        None,
        low=0,
        high=MAX_RUN_SECONDS,
        low_open=True,
        help="budget: wall-clock training time (at most 30 days)",
        unit="s",
    )
    steps: int | None = param(
        None,
        low=1,
        high=MAX_RUN_STEPS,
        help="budget: env steps (one recommendation each)",
        unit="env steps",
    )
    episodes: int | None = param(
        None, low=1, high=MAX_RUN_STEPS, help="budget: finished sessions", unit="episodes"
    )
    seed: int = param(0, low=0, high=MAX_SEED, help="seed of weights, exploration, sessions")
    eval_every: int = param(
        200_000,
        low=0,
        high=MAX_RUN_STEPS,
        help="greedy evaluation period (0 = only at the end)",
        unit="env steps",
    )
    eval_episodes: int = param(1000, low=1, high=100_000, unit="episodes")
    eval_seed: int = param(12345, low=0, high=MAX_SEED, help="fixed seed of evaluation sessions")
    checkpoint_every: int = param(
        1_000_000,
        low=0,
        high=MAX_RUN_STEPS,
        help="checkpoint period (0 = only at the end)",
        unit="env steps",
    )
    checkpoint_replay: bool = param(
        True, help="store the replay buffer so a resume continues exactly"
    )
    log_every: int = param(
        20_480, low=1, high=MAX_RUN_STEPS, help="Progress event period", unit="env steps"
    )
    torch_threads: int = param(1, low=1, high=256, help="torch intra-op threads")

    def validate(self) -> None:
        given = [
            name for name in ("seconds", "steps", "episodes") if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise RlrecError(
                f"train: give one budget, not {' and '.join(given)} (seconds, steps or episodes)",
                key=f"train.{given[-1]}",
                allowed=["train.seconds", "train.steps", "train.episodes"],
            )

    @property
    def budget(self) -> dict[str, float]:
        """{"seconds": s} | {"steps": n} | {"episodes": n}; 60 s when none is set."""
        for name in ("steps", "episodes", "seconds"):
            value = getattr(self, name)
            if value is not None:
                return {name: value}
        return {"seconds": 60.0}


def _dqn_config_class():
    # engine.agents.dqn imports torch; keep it out of `import engine.run_config`.
    from rlrec.engine.agents.dqn import DQNConfig

    return DQNConfig


@dataclass
class RunConfig:
    preset: str
    env: EnvConfig
    agent: Any  # DQNConfig (imported lazily: it lives beside torch code)
    train: TrainConfig
    dataset: str | None = None  # dataset folder; None = the preset's built-in data
    dataset_fingerprint: str | None = None  # of the dataset the run was trained on
    eval: dict[str, Any] = field(default_factory=dict)  # the preset's `eval` section, as is

    @property
    def takes_dataset(self) -> bool:
        """Whether its simulator is fitted to a dataset (kind `default`); the `classic` one
        has its own data and refuses one."""
        return isinstance(self.env, ENV_KINDS["default"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "dataset": self.dataset,
            "dataset_fingerprint": self.dataset_fingerprint,
            "env": to_dict(self.env),
            "agent": to_dict(self.agent),
            "train": to_dict(self.train),
            "eval": dict(self.eval),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], origin: str = "config") -> RunConfig:
        check_sections(raw, origin, (*SECTIONS, "dataset_fingerprint"))
        dataset = raw.get("dataset") or None
        env_raw = dict(raw.get("env") or {})
        if dataset is not None:
            if env_raw.get("kind", "default") != "default":
                raise RlrecError(
                    [
                        Option("dataset", str(dataset)),
                        f": the {env_raw.get('kind')!r} simulator has its own data; "
                        "use a preset whose env kind is 'default'",
                    ],
                    option="dataset",
                )
            # Absolute, so the run still finds its data when used from another folder.
            dataset = str(Path(dataset).expanduser().resolve())
            env_raw["dataset"] = dataset
        env = parse_env_config(env_raw)
        agent = from_dict(_dqn_config_class(), raw.get("agent"), prefix="agent")
        return cls(
            preset=str(raw.get("preset") or DEFAULT_PRESET),
            env=env,
            agent=agent_reading_history(env, agent),
            train=from_dict(TrainConfig, raw.get("train"), prefix="train"),
            dataset=None if dataset is None else str(dataset),
            dataset_fingerprint=raw.get("dataset_fingerprint"),
            eval=dict(raw.get("eval") or {}),
        )


def agent_reading_history(env: Any, agent: Any) -> Any:
    """`agent` (a DQNConfig) checked against what `env` observes, with its sequence encoder's
    `sequence_length` filled in from `env.history_window` when 0. RlrecError, naming both
    keys, for a float16 replay of observations holding item ids (float16 is exact only up
    to 2,048), an encoder without the ids in the observation, or a length that differs from
    the window."""
    ids = bool(getattr(env, "history_ids", False))
    if ids and agent.replay_dtype == "float16":
        raise RlrecError(
            "agent.replay_dtype: float16 cannot store the item ids env.history_ids: true puts "
            "in the observation (exact only up to 2,048); use agent.replay_dtype: float32",
            key="agent.replay_dtype",
            value="float16",
            allowed=["float32"],
        )
    if agent.sequence_encoder == "none":
        return agent
    if not ids:
        raise RlrecError(
            f"agent.sequence_encoder: {agent.sequence_encoder} reads the history item ids, "
            "which the observation holds only with env.history_ids: true (kind default)",
            key="agent.sequence_encoder",
            value=agent.sequence_encoder,
            allowed=["none"],
        )
    window = int(env.history_window)
    if agent.sequence_length == 0:
        return dataclasses.replace(agent, sequence_length=window)
    if agent.sequence_length != window:
        raise RlrecError(
            f"agent.sequence_length = {agent.sequence_length} must equal env.history_window "
            f"= {window}, the ids the observation holds (or 0 for the same)",
            key="agent.sequence_length",
            value=agent.sequence_length,
            allowed=[0, window],
        )
    return agent


def load_run_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunConfig:
    """Preset ← user YAML ← overrides, checked. A YAML naming its own `preset:` uses it
    unless `preset` is given explicitly; with neither, `default_preset_for` the dataset
    (overrides' or the YAML's `dataset`)."""
    file_raw: dict[str, Any] = {}
    if config_file is not None:
        file_raw = load_yaml(config_file, "config")
    dataset = (overrides or {}).get("dataset") or file_raw.get("dataset")
    base = preset or file_raw.pop("preset", None) or default_preset_for(dataset)
    file_raw.pop("preset", None)
    raw = load_preset(base)
    if file_raw:
        check_sections(file_raw, str(config_file))
        raw = deep_merge(raw, file_raw)
    if overrides:
        raw = deep_merge(raw, overrides)
    raw["preset"] = base
    return RunConfig.from_dict(raw, origin=str(config_file or f"preset {base}"))


def default_preset_for(dataset_dir: Any) -> str:
    """The preset a run on `dataset_dir` gets when none is named: `large` for a catalogue
    past `sim.base.WHOLE_CATALOGUE_ITEMS` items (its meta.yaml's `n_items`) — `logs-large`,
    which also learns from the log itself, when the dataset is a log (imported: no generator
    factors, `user_latent.npy`, so the simulator is fitted to it) — else `default`.
    An unreadable folder gets `default`: loading the dataset then says what is wrong."""
    if not dataset_dir or not isinstance(dataset_dir, str | Path):
        return DEFAULT_PRESET
    try:
        meta = load_yaml(Path(dataset_dir) / "meta.yaml")
        n_items = int(meta.get("n_items", 0))
    except (RlrecError, OSError, AttributeError, TypeError, ValueError):
        return DEFAULT_PRESET
    if n_items <= WHOLE_CATALOGUE_ITEMS:
        return DEFAULT_PRESET
    from rlrec.data.store import LATENT_FILES  # pandas and pyarrow: only when asked

    logged = not (Path(dataset_dir) / LATENT_FILES[0]).is_file()
    return LOGS_LARGE_PRESET if logged else LARGE_PRESET


def dataset_fingerprint(dataset_dir: str | Path | None) -> str | None:
    """A short hash of a dataset folder's meta.yaml (name, source, seed, counts, schema), so
    a run can refuse to be evaluated or resumed on a different dataset."""
    if dataset_dir is None:
        return None
    meta_path = Path(dataset_dir) / "meta.yaml"
    if not meta_path.is_file():
        raise RlrecError(f"{dataset_dir}: not a dataset folder (no meta.yaml)")
    meta = load_yaml(meta_path)
    keys = ("name", "source", "seed", "n_users", "n_items", "n_interactions", "schema_version")
    identity = {k: meta.get(k) for k in keys}
    # The stored split decides what the fitted simulator and the offline evaluation see: a
    # run trained under one split must not be evaluated under another (added by issue 6).
    split_meta = Path(dataset_dir) / "split.yaml"
    if split_meta.is_file():
        identity["split"] = hashlib.sha256(split_meta.read_bytes()).hexdigest()[:16]
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
