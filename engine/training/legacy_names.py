"""Reading checkpoints written before the package move (commit 6320784).

Those checkpoints pickle the simulator under the old top-level module names (`engine.sim.default`,
`engine.sim.truth`, `data.dataset` …). `LegacyUnpickler` maps each old module path to where
the same class lives now, so an old run folder resumes, evaluates and recommends as before.
The table is the move's rename list; a module not in it kept its path under `rlrec.`.
"""

from __future__ import annotations

import pickle
from typing import Any

# Old module → new module, for every module that moved or was renamed (not just prefixed).
MOVED_MODULES = {
    "engine.ab": "rlrec.engine.evaluation.ab",
    "engine.metrics": "rlrec.engine.evaluation.metrics",
    "engine.offline": "rlrec.engine.evaluation.offline",
    "engine.evaluate": "rlrec.engine.evaluation.online",
    "engine.policy": "rlrec.engine.policies.base",
    "engine.baselines": "rlrec.engine.policies.baselines",
    "engine.coldstart": "rlrec.engine.serving.coldstart",
    "engine.explain": "rlrec.engine.serving.explain",
    "engine.recommend": "rlrec.engine.serving.recommend",
    "engine.gym_api": "rlrec.engine.sim.gym_api",
    "engine.events": "rlrec.engine.training.events",
    "engine.run_config": "rlrec.engine.training.run_config",
    "engine.runs": "rlrec.engine.training.runs",
    "engine.trainer": "rlrec.engine.training.trainer",
    "engine.calibration": "rlrec.engine.truth.calibration",
    "engine.cf_features": "rlrec.engine.truth.cf_features",
    "engine.fit": "rlrec.engine.truth.fit",
    "engine.sim.truth": "rlrec.engine.truth.model",
    "engine.sim.sources": "rlrec.engine.truth.sources",
}
# Top-level packages of the old layout; everything under them now lives under `rlrec.`.
OLD_TOP_LEVEL = ("data", "engine", "tui")


def current_module(old: str) -> str:
    """Where the module `old` (as named in an old pickle) lives now; unchanged if not ours."""
    if old in MOVED_MODULES:
        return MOVED_MODULES[old]
    if old.startswith("engine.cli."):
        return "rlrec.cli." + old.removeprefix("engine.cli.")
    if old.split(".", 1)[0] in OLD_TOP_LEVEL:
        return "rlrec." + old
    return old


class LegacyUnpickler(pickle.Unpickler):
    """An Unpickler that finds classes pickled under the pre-move module names."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(current_module(module), name)


class LegacyPickleModule:
    """What `torch.load(..., pickle_module=...)` needs: `Unpickler` and `load`."""

    Unpickler = LegacyUnpickler

    @staticmethod
    def load(file: Any, **kwargs: Any) -> Any:
        return LegacyUnpickler(file, **kwargs).load()
