"""A search space: which run-config settings a study varies, and over what values.

A space is a YAML mapping `section.key: spec`, for example

    agent.lr: {float: [1.0e-4, 1.0e-3], log: true}
    agent.batch_size: {choice: [32, 64, 128]}
    agent.hidden: {choice: [[256, 256, 128], [512, 256, 128]]}
    agent.target_every: {int: [50, 200], step: 50}
    agent.target_update: hard          # a fixed value (also {value: hard})

(or nested: `agent: {lr: {...}}`). Keys are settings of the `agent`, `train` and `env`
sections; each spec is checked against the setting's own type and range (its `config_base`
metadata in `DQNConfig`, `TrainConfig` or the env kind's config), so a space that loads only
proposes values a run accepts. Settings that would change what a trial is measured on or
for how long (the budget, the seeds, the dataset, the preset) are not searchable.

Optuna stores a categorical value only as None, bool, int, float or str: a list-valued
choice (`agent.hidden`) lives in the study as its JSON text ("[256, 256, 128]") and `decode`
turns a stored trial's params back into config values.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from rlrec.data.errors import RlrecError
from rlrec.engine.config_base import _coerce, _number_from_text, check_value, load_yaml
from rlrec.engine.sim import ENV_KINDS
from rlrec.engine.training.run_config import TrainConfig, _dqn_config_class

SPACE_DIR = Path(__file__).resolve().parent / "spaces"
SPACES: tuple[str, ...] = tuple(sorted(p.stem for p in SPACE_DIR.glob("*.yaml")))
SECTIONS = ("agent", "train", "env")
KINDS = ("choice", "int", "float")
# An int range with at most this many points counts as discrete: grid search covers it.
GRID_POINTS_LIMIT = 50

# Settings a study fixes for every trial, with the reason shown when a space names one.
NOT_SEARCHABLE: dict[str, str] = {
    "train.seconds": "each trial's training budget is the study's, the same for every trial",
    "train.steps": "each trial's training budget is the study's, the same for every trial",
    "train.episodes": "each trial's training budget is the study's, the same for every trial",
    "train.seed": "use --seeds to average each trial over seeds",
    "train.eval_seed": "the objective's evaluation sessions are the same for every trial",
    "train.eval_episodes": "the objective's evaluation sessions are the same for every trial",
    "env.kind": "the simulator kind is the preset's (--preset)",
    "env.dataset": "the dataset is the study's (--dataset)",
    "dataset": "the dataset is the study's (--dataset)",
    "preset": "the preset is the study's (--preset)",
}


@dataclass(frozen=True)
class Param:
    """One searched setting. `kind` "choice": one of `choices` (config values; a single
    choice is a fixed value); "int" / "float": a range [low, high], sampled on a log scale
    when `log`, on a grid of `step` when given (int ranges default to step 1)."""

    key: str
    kind: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def grid_points(self) -> list[Any] | None:
        """Every value this param can take, encoded as Optuna stores them; None for a float
        range or an int range of more than `GRID_POINTS_LIMIT` points."""
        if self.kind == "choice":
            return [encode(value) for value in self.choices]
        if self.kind == "int":
            low, high, step = int(self.low or 0), int(self.high or 0), int(self.step or 1)
            if (high - low) // step + 1 <= GRID_POINTS_LIMIT:
                return list(range(low, high + 1, step))
        return None

    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.kind == "choice":
            return optuna.distributions.CategoricalDistribution(
                [encode(value) for value in self.choices]
            )
        if self.kind == "int":
            return optuna.distributions.IntDistribution(
                int(self.low or 0), int(self.high or 0), log=self.log, step=int(self.step or 1)
            )
        return optuna.distributions.FloatDistribution(
            float(self.low or 0), float(self.high or 0), log=self.log, step=self.step
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec in the YAML form a space file uses."""
        if self.kind == "choice":
            if len(self.choices) == 1:
                return {"value": self.choices[0]}
            return {"choice": list(self.choices)}
        spec: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


@dataclass(frozen=True)
class SearchSpace:
    """The params of a study, in the order the space file gives them; `source` names the
    file (or the shipped space) they came from."""

    params: tuple[Param, ...]
    source: str

    @property
    def is_discrete(self) -> bool:
        """Every param has a finite grid (choices, or an int range of at most
        `GRID_POINTS_LIMIT` points): grid search applies."""
        return all(p.grid_points is not None for p in self.params)

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """Optuna distributions keyed by dotted config key (what `suggest` samples from;
        Ray Tune's Optuna search takes them as its space)."""
        return {p.key: p.distribution() for p in self.params}

    @property
    def grid_size(self) -> int:
        """Points of the grid (see `grid`)."""
        return math.prod(len(values) for values in self.grid().values())

    def grid(self) -> dict[str, list[Any]]:
        """Every param's values, encoded as Optuna stores them, for `optuna.samplers.
        GridSampler` (points = the product of the lengths). RlrecError naming the first
        param without a finite grid when the space is not discrete."""
        grid = {}
        for p in self.params:
            points = p.grid_points
            if points is None:
                raise RlrecError(
                    f"{self.source}: {p.key} is a {p.kind} range without a grid of at most "
                    f"{GRID_POINTS_LIMIT} points: grid search needs choices (use the tpe or random sampler)",
                    key=p.key,
                )
            grid[p.key] = points
        return grid

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample every param in `trial`; dotted key -> config value (lists decoded)."""
        raw: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "choice":
                raw[p.key] = trial.suggest_categorical(p.key, [encode(v) for v in p.choices])
            elif p.kind == "int":
                step = int(p.step or 1)
                raw[p.key] = trial.suggest_int(
                    p.key, int(p.low or 0), int(p.high or 0), step=step, log=p.log
                )
            else:
                raw[p.key] = trial.suggest_float(
                    p.key, float(p.low or 0), float(p.high or 0), step=p.step, log=p.log
                )
        return decode(raw)

    def to_dict(self) -> dict[str, Any]:
        """Dotted key -> spec in the space file's form (for study.yaml and display)."""
        return {p.key: p.to_dict() for p in self.params}


def encode(value: Any) -> Any:
    """A config value as an Optuna categorical choice: a list becomes its JSON text."""
    return json.dumps(list(value)) if isinstance(value, list | tuple) else value


def decode(params: Mapping[str, Any]) -> dict[str, Any]:
    """The raw Optuna params of a trial (dotted key -> stored value) as config values: a
    list stored as JSON text ("[256, 256, 128]") becomes the list again; anything else is
    kept. No searchable text setting starts with "[", so the test is unambiguous."""
    out = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        out[key] = value
    return out


def overrides_for(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted params as a nested run-config override for `load_run_config(overrides=...)`:
    {"agent.lr": 1e-3, "agent.hidden": "[256, 128]"} -> {"agent": {"lr": 1e-3, "hidden":
    [256, 128]}}. Raw Optuna params are decoded first."""
    nested: dict[str, Any] = {}
    for key, value in decode(params).items():
        section, _, name = key.partition(".")
        if name:
            nested.setdefault(section, {})[name] = value
        else:
            nested[section] = value
    return nested


def load_space(name_or_path: str | Path, env_kind: str = "default") -> SearchSpace:
    """The space of a shipped name (`SPACES`, files in `engine/tune/spaces/`) or a YAML file,
    checked against the run config of a preset whose env kind is `env_kind` ("default" or
    "classic"). Raises RlrecError, one line naming the file and the dotted key, for an
    unknown key, a setting that is not searchable, a spec of unknown form, an empty choice,
    a value or range the setting refuses, low > high, a log range reaching <= 0, or a float
    range on an integer setting."""
    text = str(name_or_path)
    if text in SPACES:
        path = SPACE_DIR / f"{text}.yaml"
        return parse_space(load_yaml(path), f"space {text}", env_kind, file=str(path))
    if text.endswith((".yaml", ".yml")) or Path(text).exists():
        return parse_space(load_yaml(text, "space"), text, env_kind, file=text)
    raise RlrecError(
        f"unknown space '{text}' (spaces: {', '.join(SPACES)}; or a YAML file)", option="space"
    )


def parse_space(
    raw: Mapping[str, Any], source: str, env_kind: str = "default", file: str | None = None
) -> SearchSpace:
    """`load_space` for a mapping already read (`SearchSpace.to_dict()` reads back)."""
    sections = _section_classes(env_kind)
    params = []
    for key, spec in _flatten(raw, source, file):
        try:
            params.append(_param(key, spec, sections))
        except RlrecError as exc:
            raise RlrecError(
                f"{source}: {exc}",
                file=file,
                key=exc.key or key,
                value=exc.value,
                allowed=exc.allowed,
            ) from None
    if not params:
        raise RlrecError(f"{source}: no parameters to search", file=file)
    return SearchSpace(params=tuple(params), source=source)


def _section_classes(env_kind: str) -> dict[str, type]:
    if env_kind not in ENV_KINDS:
        raise RlrecError(
            f"env kind {env_kind!r} is not allowed (allowed: one of {', '.join(ENV_KINDS)})"
        )
    # DQNConfig lives beside torch code: loaded here, not when this module is imported.
    return {"agent": _dqn_config_class(), "train": TrainConfig, "env": ENV_KINDS[env_kind]}


def _flatten(raw: Mapping[str, Any], source: str, file: str | None) -> list[tuple[str, Any]]:
    """(dotted key, spec) pairs of the flat form and of the nested `section: {key: spec}`."""
    pairs: list[tuple[str, Any]] = []
    for key, spec in raw.items():
        key = str(key)
        if key in SECTIONS and isinstance(spec, Mapping):
            pairs.extend((f"{key}.{name}", inner) for name, inner in spec.items())
        else:
            pairs.append((key, spec))
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise RlrecError(f"{source}: {key} is given twice", file=file, key=key)
        seen.add(key)
    return pairs


def _param(key: str, spec: Any, sections: Mapping[str, type]) -> Param:
    if key in NOT_SEARCHABLE:
        raise RlrecError(f"{key} is not searchable: {NOT_SEARCHABLE[key]}", key=key)
    section, _, name = key.partition(".")
    if section not in sections or not name:
        meant = [
            f"{other}.{key}"
            for other, cls in sections.items()
            if key in {f.name for f in dataclasses.fields(cls)}
        ]
        hint = f"; did you mean {' or '.join(meant)}?" if meant else ""
        raise RlrecError(
            f"unknown key '{key}' (a key is section.setting, sections: {', '.join(SECTIONS)}{hint})",
            key=key,
            allowed=list(SECTIONS),
        )
    fields = {f.name: f for f in dataclasses.fields(typing.cast(Any, sections[section]))}
    if name not in fields:
        raise RlrecError(
            f"unknown key '{key}' (allowed in {section}: {', '.join(sorted(fields))})",
            key=key,
            allowed=sorted(fields),
        )
    meta = fields[name].metadata
    field_type = typing.get_type_hints(sections[section])[name]
    kind, body = _spec_form(key, spec)
    if kind == "choice":
        if not isinstance(body, list):
            raise RlrecError(f"{key}: choice needs a list of values, got {body!r}", key=key)
        if not body:
            raise RlrecError(f"{key}: empty choice (give at least one value)", key=key)
        values = [_config_value(key, value, field_type, meta) for value in body]
        for i, value in enumerate(values):
            if value in values[:i]:
                raise RlrecError(f"{key}: choice repeats {value!r}", key=key, value=value)
        return Param(key=key, kind="choice", choices=tuple(values))
    if kind == "value":
        return Param(key=key, kind="choice", choices=(_config_value(key, body, field_type, meta),))
    return _range_param(key, kind, spec, field_type, meta)


_FORM_KEYS = ("choice", "int", "float", "value")
_MODIFIERS = ("log", "step")


def _spec_form(key: str, spec: Any) -> tuple[str, Any]:
    """("choice" | "int" | "float" | "value", the body) of one spec."""
    if spec is None:
        raise RlrecError(f"{key}: no spec given (choice, int, float or a value)", key=key)
    if isinstance(spec, list):
        raise RlrecError(
            f"{key}: a bare list is ambiguous: write {{choice: [...]}}, {{int: [low, high]}}, "
            "{float: [low, high]} or {value: [...]}",
            key=key,
        )
    if not isinstance(spec, Mapping):
        return "value", spec
    unknown = [k for k in spec if k not in (*_FORM_KEYS, *_MODIFIERS)]
    if unknown:
        raise RlrecError(
            f"{key}: unknown spec key '{unknown[0]}' (allowed: {', '.join(_FORM_KEYS)}; "
            "log and step with int or float)",
            key=key,
            allowed=[*_FORM_KEYS, *_MODIFIERS],
        )
    forms = [k for k in _FORM_KEYS if k in spec]
    if len(forms) != 1:
        given = " and ".join(forms) if forms else "none"
        raise RlrecError(
            f"{key}: give exactly one of {', '.join(_FORM_KEYS)} (got {given})", key=key
        )
    kind = forms[0]
    modifiers = [k for k in _MODIFIERS if k in spec]
    if modifiers and kind not in ("int", "float"):
        raise RlrecError(f"{key}: {modifiers[0]} applies to int or float, not {kind}", key=key)
    return kind, spec[kind]


def _config_value(key: str, value: Any, field_type: Any, meta: Mapping[str, Any]) -> Any:
    """`value` as the setting takes it (the same coercion and range check as a config
    file's), or RlrecError naming the key."""
    coerced = _coerce(key, value, field_type)
    check_value(key, coerced, meta)
    return coerced


def _range_param(
    key: str, kind: str, spec: Mapping[str, Any], field_type: Any, meta: Mapping[str, Any]
) -> Param:
    base = _numeric_base(field_type)
    if base is None or meta.get("choices"):
        raise RlrecError(
            f"{key} is not a number ({_describe_type(field_type, meta)}): use {{choice: [...]}}",
            key=key,
        )
    if kind == "float" and base is int:
        raise RlrecError(
            f"{key} is an integer: use {{int: [low, high]}} or {{choice: [...]}}", key=key
        )
    bounds = spec[kind]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise RlrecError(f"{key}: {kind} needs [low, high], got {bounds!r}", key=key)
    low, high = (_number(key, kind, "low", b) for b in bounds)
    if low > high:
        raise RlrecError(f"{key}: low {low:g} > high {high:g}", key=key, value=[low, high])
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise RlrecError(f"{key}: log must be true or false, got {log!r}", key=key)
    if log and low <= 0:
        raise RlrecError(
            f"{key}: a log range must lie above 0, got [{low:g}, {high:g}]",
            key=key,
            value=[low, high],
        )
    step = None
    if "step" in spec:
        step = _number(key, kind, "step", spec["step"])
        if step <= 0:
            raise RlrecError(f"{key}: step must be above 0, got {step:g}", key=key, value=step)
        if log and (kind == "float" or step != 1):
            raise RlrecError(f"{key}: log and step cannot be combined", key=key)
    for bound in (low, high):
        check_value(key, bound, meta)
    return Param(key=key, kind=kind, low=low, high=high, log=log, step=step)


def _number(key: str, kind: str, what: str, value: Any) -> Any:
    value = _number_from_text(value)  # YAML 1.1 reads 1e-3 as text
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RlrecError(f"{key}: {what} must be a number, got {value!r}", key=key, value=value)
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise RlrecError(
                f"{key}: {what} must be an integer for an int range, got {value!r}",
                key=key,
                value=value,
            )
        return int(value)
    return float(value)


def _numeric_base(field_type: Any) -> type | None:
    """int or float for a numeric setting (None allowed beside it), else None."""
    if typing.get_origin(field_type) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(field_type) if a is not type(None)]
        field_type = args[0] if len(args) == 1 else None
    return field_type if field_type in (int, float) else None


def _describe_type(field_type: Any, meta: Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    if typing.get_origin(field_type) in (list, tuple):
        return "a list"
    return getattr(field_type, "__name__", str(field_type))
