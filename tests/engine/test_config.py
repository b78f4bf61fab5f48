"""Presets, user YAML overrides, and bad configs on `rlrec baselines`: one line, exit 2."""

import dataclasses
import json

import pytest

from rlrec.cli.main import main
from rlrec.data.errors import RlrecError
from rlrec.engine.presets import PRESETS, load_preset
from rlrec.engine.sim import ClassicConfig, DefaultConfig, parse_env_config
from rlrec.engine.training.run_config import load_run_config


def test_presets_ship_and_parse():
    assert {"default", "seed-classic"} <= set(PRESETS)
    assert isinstance(parse_env_config(load_preset("seed-classic")["env"]), ClassicConfig)
    assert isinstance(parse_env_config(load_preset("default")["env"]), DefaultConfig)
    # The YAML and the dataclass defaults agree, so a missing key means the preset's value —
    # except a setting the preset turned on after runs were saved without it: its dataclass
    # default stays off, so an old run's config.yaml still describes the state it trained on.
    preset = parse_env_config(load_preset("default")["env"])
    assert preset.session_profile and not DefaultConfig().session_profile
    assert preset.profile_decay == 0.8 and DefaultConfig().profile_decay == 0
    off = dataclasses.replace(preset, session_profile=False, profile_decay=0.0)
    assert off == DefaultConfig()


def test_user_yaml_names_a_preset_and_overrides_fields(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("preset: default\nenv:\n  alpha: 0.8\n  max_length: 20\n")
    raw = load_preset(str(path))
    env = parse_env_config(raw["env"])
    assert (env.alpha, env.max_length, env.kind) == (0.8, 20, "default")
    assert env.ignore_cost == DefaultConfig().ignore_cost  # the rest comes from the preset


def test_unknown_preset_lists_the_presets():
    with pytest.raises(
        RlrecError, match="unknown preset 'fancy'.*default, large, logs, logs-large, seed-classic"
    ):
        load_preset("fancy")


def test_unknown_env_kind():
    with pytest.raises(RlrecError, match=r"env.kind = 'bandit' is not allowed"):
        parse_env_config({"kind": "bandit"})


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("env:\n  alpah: 0.5\n", "unknown key 'env.alpah'"),
        ("env:\n  max_length: fifty\n", "env.max_length: expected an integer, got 'fifty'"),
        ("env:\n  alpha: 1.5\n", "env.alpha = 1.5 is out of range (allowed: [0, 1])"),
        ("env:\n  alpha: -0.2\n", "env.alpha = -0.2 is out of range (allowed: [0, 1])"),
        ("eval:\n  episodes: -5\n", "eval.episodes = -5 is out of range"),
        ("eval:\n  episodes: 1.5\n", "eval.episodes: expected an integer, got 1.5"),
        ("envv:\n  alpha: 0.5\n", "unknown key 'envv'"),
        ("env: 3\n", "'env' must be a mapping"),
        ("preset: nope\n", "unknown preset 'nope'"),
        ("env:\n  alpha: [0.5\n", ":3: "),
    ],
)
def test_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    status, out, err = run_cli(capsys, "baselines", "--config", str(path), "--episodes", "4")
    assert status == 2 and out == ""
    assert err.startswith("rlrec: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("episodes", ["-3", "0", "many"])
def test_bad_episodes_flag_exits_2(capsys, episodes):
    with pytest.raises(SystemExit) as exit_info:
        main(["baselines", "--preset", "seed-classic", "--episodes", episodes])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--episodes" in err and err.count("\n") == 1


def test_missing_config_file(capsys, tmp_path):
    status, _, err = run_cli(capsys, "baselines", "--config", str(tmp_path / "none.yaml"))
    assert status == 2 and "no such file" in err


def test_baselines_json_has_every_field(capsys):
    status, out, _ = run_cli(
        capsys, "baselines", "--preset", "seed-classic", "--episodes", "50", "--seed", "1", "--json"
    )
    assert status == 0
    result = json.loads(out)
    assert set(result["policies"]) == {"random", "popular", "linucb", "oracle"}
    for report in result["policies"].values():
        for key in (
            "return_mean",
            "return_ci95",
            "ctr",
            "session_length",
            "coverage",
            "ild",
            "novelty",
            "normalised",
        ):
            assert isinstance(report[key], float), key
    assert result["policies"]["oracle"]["normalised"] == pytest.approx(1.0)


def test_baselines_table_and_flags_override_the_file(capsys, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: default\nenv:\n  max_length: 8\neval:\n  episodes: 7\n")
    status, out, _ = run_cli(
        capsys,
        "baselines",
        "--config",
        str(path),
        "--episodes",
        "30",
        "--policies",
        "random,farsighted",
    )
    assert status == 0
    assert "30 sessions" in out and "farsighted" in out and "linucb" not in out
    status, _, err = run_cli(
        capsys, "baselines", "--preset", "seed-classic", "--policies", "farsighted"
    )
    assert status == 2 and "farsighted" in err


def test_bench_env_prints_figures(capsys):
    status, out, _ = run_cli(
        capsys, "bench", "env", "--sizes", "1,8", "--seconds", "0.05", "--json"
    )
    assert status == 0
    figures = json.loads(out)["env_steps_per_second"]
    assert set(figures) == {"seed-classic", "default"}
    assert all(value > 0 for row in figures.values() for value in row.values())


def test_one_check_of_the_top_level_sections_names_the_culprit(tmp_path):
    from rlrec.engine.presets import check_sections

    check_sections({"preset": "default", "train": {"steps": 5}}, "run.yaml")
    with pytest.raises(RlrecError, match=r"run.yaml: unknown key 'trian'"):
        check_sections({"trian": {}}, "run.yaml")
    with pytest.raises(RlrecError, match=r"run.yaml: 'agent' must be a mapping"):
        check_sections({"agent": 3}, "run.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian:\n  steps: 5\n")
    with pytest.raises(RlrecError, match=r"bad.yaml: unknown key 'trian'"):
        load_run_config(config_file=bad)


def _config_classes():
    from rlrec.engine.agents.dqn import DQNConfig
    from rlrec.engine.training.run_config import TrainConfig
    from rlrec.engine.truth.fit import FitConfig

    return [DQNConfig, TrainConfig, ClassicConfig, DefaultConfig, FitConfig]


def _numeric_fields():
    import dataclasses
    import typing

    for cls in _config_classes():
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            hint = hints[spec.name]
            args = typing.get_args(hint) or (hint,)
            if any(a in (int, float) for a in args) and bool not in args:
                huge = [10**40] if typing.get_origin(hint) is list else 10**40
                yield pytest.param(cls, spec, huge, id=f"{cls.__name__}.{spec.name}")


@pytest.mark.parametrize(("cls", "spec", "huge"), _numeric_fields())
def test_every_numeric_key_has_both_bounds_and_refuses_1e40_by_name(cls, spec, huge):
    """A value no run could use (1e40 s, a period no run reaches) is refused naming the key
    and its range, never accepted as a run that never ends."""
    from rlrec.engine.config_base import describe_range, from_dict

    meta = spec.metadata
    assert meta["low"] is not None and meta["high"] is not None, spec.name
    assert "inf" not in describe_range(meta)
    with pytest.raises(RlrecError) as caught:
        from_dict(cls, {spec.name: huge}, prefix="section")
    message = str(caught.value)
    assert message.startswith(f"section.{spec.name} = ") and "out of range" in message
    assert f"(allowed: {describe_range(meta)})" in message
    assert caught.value.key == f"section.{spec.name}"


@pytest.mark.parametrize(
    ("kind", "amount"),
    [("seconds", 1e40), ("seconds", 30 * 86400 + 1), ("steps", 10**12 + 1), ("episodes", 10**13)],
)
def test_a_budget_beyond_the_longest_run_is_refused_with_its_range(kind, amount):
    from rlrec.engine.training.budget import Budget, BudgetKind

    with pytest.raises(RlrecError, match=r"is out of range \(allowed: .*in \(0, \d+\]\)"):
        Budget(BudgetKind(kind), amount)
    assert Budget(BudgetKind(kind), 10 if kind != "seconds" else 30 * 86400).amount


def test_large_whole_bounds_read_as_powers_of_ten():
    from rlrec.engine.config_base import describe_range

    assert describe_range({"low": 0, "high": 10**12}) == "[0, 1e12]"
    assert describe_range({"low": 1, "high": 4_000_000, "high_open": True}) == "[1, 4e6)"
    assert describe_range({"low": 0, "high": 123_456_789}) == "[0, 123456789]"
    assert describe_range({"low": 0, "high": 50_000}) == "[0, 50000]"
