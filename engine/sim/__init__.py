"""User simulators. `make_simulator` builds one from an `env` config section.

Two kinds: `classic` (preset `seed-classic`, the seed's original 10-step simulator) and
`default` (long-horizon, built from a dataset, where long-term value differs from the myopic
choice). `parse_env_config` checks a raw mapping and returns the matching config dataclass.
With `env.candidates` > 0 the `default` simulator offers each session a candidate set per
step (`candidates.py`: popularity, collaborative neighbours, random) and, on large
catalogues, keeps each session's items as ids (`session_items.py`) instead of tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import from_dict
from rlrec.engine.sim.base import StepResult, VectorSimulator
from rlrec.engine.sim.classic import ClassicConfig, ClassicSimulator
from rlrec.engine.sim.default import DefaultConfig, DefaultSimulator

__all__ = [
    "ClassicConfig",
    "ClassicSimulator",
    "DefaultConfig",
    "DefaultSimulator",
    "EnvConfig",
    "StepResult",
    "VectorSimulator",
    "make_simulator",
    "parse_env_config",
]

EnvConfig = ClassicConfig | DefaultConfig
ENV_KINDS: dict[str, type] = {"classic": ClassicConfig, "default": DefaultConfig}


def parse_env_config(mapping: Mapping[str, Any] | None, prefix: str = "env") -> EnvConfig:
    """The config dataclass for `mapping["kind"]` (default `default`), fully checked."""
    if mapping is not None and not isinstance(mapping, Mapping):
        return from_dict(DefaultConfig, mapping, prefix=prefix)  # raises: not a mapping
    mapping = dict(mapping or {})
    kind = mapping.get("kind", "default")
    if kind not in ENV_KINDS:
        raise RlrecError(
            f"{prefix}.kind = {kind!r} is not allowed (allowed: one of {', '.join(ENV_KINDS)})"
        )
    return from_dict(ENV_KINDS[kind], mapping, prefix=prefix)


def make_simulator(
    env_config: EnvConfig | Mapping[str, Any] | None = None,
    n_envs: int = 1,
    seed: int | None = None,
    dataset: Any = None,
) -> VectorSimulator:
    """A simulator of `n_envs` parallel sessions for this env config.

    For `default`: `dataset` (a `data.Dataset`) if given, else the folder named by
    `env.dataset`, else the built-in synthetic default. Datasets without latent factors
    (imported logs) get a fitted truth from `engine.fit.fit_truth`.
    """
    if env_config is None or isinstance(env_config, Mapping):
        env_config = parse_env_config(env_config)
    if n_envs < 1:
        raise RlrecError(f"n_envs = {n_envs} is out of range (allowed: [1, inf))")
    if isinstance(env_config, ClassicConfig):
        return ClassicSimulator(env_config, n_envs=n_envs, seed=seed)
    from rlrec.engine.truth.sources import truth_for

    return DefaultSimulator(
        truth_for(env_config.dataset, dataset), env_config, n_envs=n_envs, seed=seed
    )
