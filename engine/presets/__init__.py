"""Presets shipped with rlrec: YAML files beside this module, each with sections `env`,
`agent` and `train`. A user YAML may name one with `preset: NAME` and override any field;
the result is deep-merged. `load_preset` returns the raw mapping; each section is checked
by its own config dataclass (`rlrec.engine.sim.parse_env_config` for `env`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import deep_merge, load_yaml

PRESET_DIR = Path(__file__).resolve().parent
PRESETS: tuple[str, ...] = tuple(sorted(p.stem for p in PRESET_DIR.glob("*.yaml")))
# Top-level keys a preset or user config may have; anything else is a typo worth reporting.
SECTIONS: tuple[str, ...] = ("preset", "env", "agent", "train", "eval", "dataset")
# Top-level keys whose value is one plain value, not a mapping of settings.
PLAIN_KEYS: tuple[str, ...] = ("preset", "dataset", "dataset_fingerprint")


def check_sections(
    raw: Mapping[str, Any], origin: str, allowed: tuple[str, ...] = SECTIONS
) -> None:
    """The one check of a config's top level (preset, user YAML, a run's config.yaml): every
    key is a known section and every section but the plain ones is a mapping. The settings
    inside a section are checked by its dataclass (`config_base.from_dict`).
    Raises RlrecError naming `origin`, the key and what is allowed."""
    for key, value in raw.items():
        if key not in allowed:
            raise RlrecError(f"{origin}: unknown key '{key}' (allowed: {', '.join(allowed)})")
        if key not in PLAIN_KEYS and not isinstance(value, Mapping):
            raise RlrecError(f"{origin}: '{key}' must be a mapping of settings, got {value!r}")


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise RlrecError(f"unknown preset '{name}' (presets: {', '.join(PRESETS)})")
    return PRESET_DIR / f"{name}.yaml"


def load_preset(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The raw mapping of a preset name or a YAML file (which may say `preset: NAME`)."""
    text = str(name_or_path)
    if text in PRESETS:
        raw = load_yaml(preset_path(text))
        origin = f"preset {text}"
    elif text.endswith((".yaml", ".yml")) or Path(text).is_file():
        raw = load_yaml(text)
        origin = text
    else:
        raise RlrecError(f"unknown preset '{text}' (presets: {', '.join(PRESETS)}; or a YAML file)")
    check_sections(raw, origin)
    base_name = raw.pop("preset", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str) or base_name not in PRESETS:
        raise RlrecError(
            f"{origin}: preset = {base_name!r} is unknown (presets: {', '.join(PRESETS)})"
        )
    if base_name in _seen:
        raise RlrecError(f"{origin}: preset '{base_name}' includes itself")
    return deep_merge(load_preset(base_name, (*_seen, base_name)), raw)
