"""Search spaces of `rlrec tune`: a bad space is refused in one line naming the file and the
key; a good one only proposes values a run config accepts, through Optuna's samplers and back
from a stored trial."""

import math
import subprocess
import sys

import optuna
import pytest

from rlrec.data.errors import RlrecError
from rlrec.engine.presets import load_preset
from rlrec.engine.training.run_config import load_run_config
from rlrec.engine.tune.space import (
    GRID_POINTS_LIMIT,
    SPACES,
    decode,
    load_space,
    overrides_for,
    parse_space,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _refusal(tmp_path, text, env_kind="default"):
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RlrecError) as caught:
        load_space(str(path), env_kind)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return caught.value, message


# (space text, key the error names, words the message must say)
BAD_SPACES = [
    ("agent.lrr: {choice: [0.001]}", "agent.lrr", ["unknown key", "allowed in agent:", "lr,"]),
    ("model.lr: {choice: [0.001]}", "model.lr", ["unknown key", "agent, train, env"]),
    ("lr: {choice: [0.001]}", "lr", ["unknown key", "did you mean agent.lr?"]),
    ("env.n_users: {int: [10, 20]}", "env.n_users", ["unknown key", "allowed in env:"]),
    ("agent.lr: {float: [1.0e-4, 2]}", "agent.lr", ["out of range", "(0, 1]"]),
    ("agent.lr: {float: [0, 1.0e-3]}", "agent.lr", ["= 0 is out of range", "(0, 1]"]),
    ("agent.batch_size: {int: [32, 100000]}", "agent.batch_size", ["out of range", "65536"]),
    ("agent.batch_size: {choice: []}", "agent.batch_size", ["empty choice"]),
    ("agent.batch_size: {choice: [32, 64.5]}", "agent.batch_size", ["expected an integer"]),
    ("agent.gamma: {choice: [0.9, 1.5]}", "agent.gamma", ["1.5", "out of range", "[0, 1]"]),
    ("agent.target_update: {choice: [hard, often]}", "agent.target_update", ["often"]),
    ("agent.hidden: {choice: [[256, 0]]}", "agent.hidden", ["out of range", "[1, 8192]"]),
    ("agent.hidden: {choice: [256]}", "agent.hidden", ["expected a list"]),
    ("agent.batch_size: {choice: [32, 32]}", "agent.batch_size", ["repeats 32"]),
    ("env.reward_engaged: {float: [-1, 1], log: true}", "env.reward_engaged", ["log", "above 0"]),
    ("agent.gamma: {float: [0, 0.99], log: true}", "agent.gamma", ["log", "above 0"]),
    ("agent.lr: {float: [1.0e-3, 1.0e-4]}", "agent.lr", ["low 0.001 > high 0.0001"]),
    ("agent.batch_size: {float: [32, 128]}", "agent.batch_size", ["is an integer", "int:"]),
    ("agent.batch_size: {int: [32.5, 64]}", "agent.batch_size", ["must be an integer"]),
    ("agent.target_update: {int: [1, 2]}", "agent.target_update", ["not a number", "choice"]),
    ("agent.hidden: {int: [64, 512]}", "agent.hidden", ["not a number", "choice"]),
    ("agent.lr: {floot: [1.0e-4, 1.0e-3]}", "agent.lr", ["unknown spec key 'floot'", "float"]),
    ("agent.lr: {choice: [0.001], float: [0.001, 0.01]}", "agent.lr", ["exactly one of"]),
    ("agent.lr: {log: true}", "agent.lr", ["exactly one of"]),
    ("agent.lr: {choice: [0.001], log: true}", "agent.lr", ["log applies to int or float"]),
    ("agent.lr: {float: [1.0e-4, 1.0e-3], log: yes please}", "agent.lr", ["true or false"]),
    ("agent.lr: {float: [1.0e-4]}", "agent.lr", ["[low, high]"]),
    ("agent.lr: {float: [1.0e-4, 1.0e-3], log: true, step: 1.0e-4}", "agent.lr", ["log and step"]),
    ("agent.target_every: {int: [50, 200], step: 0}", "agent.target_every", ["step"]),
    ("agent.lr: [1.0e-4, 1.0e-3]", "agent.lr", ["ambiguous"]),
    ("agent.lr:", "agent.lr", ["no spec"]),
    ("train.seconds: {float: [10, 20]}", "train.seconds", ["not searchable", "budget"]),
    ("train.steps: {int: [1000, 2000]}", "train.steps", ["not searchable", "budget"]),
    ("train.episodes: {int: [10, 20]}", "train.episodes", ["not searchable", "budget"]),
    ("train.seed: {choice: [0, 1]}", "train.seed", ["not searchable", "--seeds"]),
    ("train.eval_seed: {choice: [0, 1]}", "train.eval_seed", ["not searchable"]),
    ("env.kind: {choice: [default]}", "env.kind", ["not searchable", "--preset"]),
    ("env.dataset: {choice: [a, b]}", "env.dataset", ["not searchable", "--dataset"]),
    ("dataset: {choice: [a, b]}", "dataset", ["not searchable", "--dataset"]),
    ("preset: {choice: [default, large]}", "preset", ["not searchable", "--preset"]),
    ("agent.lr: {choice: [0.001]}\nagent: {lr: {choice: [0.01]}}", "agent.lr", ["given twice"]),
]


@pytest.mark.parametrize(("text", "key", "words"), BAD_SPACES, ids=[b[0] for b in BAD_SPACES])
def test_a_bad_space_is_refused_in_one_line_naming_the_file_and_the_key(tmp_path, text, key, words):
    error, message = _refusal(tmp_path, text)
    assert key in message
    assert error.key == key
    assert error.file == tmp_path / "space.yaml"
    for word in words:
        assert word in message


def test_env_keys_are_checked_against_the_env_kind_given(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("env.n_users: {int: [100, 1000], step: 100}\n", encoding="utf-8")
    space = load_space(str(path), "classic")
    assert space.grid() == {"env.n_users": list(range(100, 1001, 100))}
    with pytest.raises(RlrecError, match="env kind 'atari'"):
        load_space(str(path), "atari")


def test_an_empty_space_and_an_unknown_name_are_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(RlrecError, match="no parameters to search"):
        load_space(str(path))
    with pytest.raises(RlrecError, match=r"unknown space 'sead' \(spaces: seed, seed-classic-4"):
        load_space("sead")
    with pytest.raises(RlrecError, match="no such file"):
        load_space(str(tmp_path / "missing.yaml"))


def test_the_nested_form_and_yaml_1_1_numbers_read_like_the_flat_form(tmp_path):
    flat = parse_space({"agent.lr": {"float": ["1e-4", "1e-3"], "log": True}}, "flat")
    nested = parse_space({"agent": {"lr": {"float": [1e-4, 1e-3], "log": True}}}, "nested")
    assert flat.params == nested.params
    assert flat.params[0].low == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("name", "preset"), [("seed", "default"), ("seed-classic-4", "seed-classic")]
)
def test_each_shipped_space_loads_against_its_preset_and_only_proposes_valid_configs(name, preset):
    assert name in SPACES
    env_kind = load_preset(preset)["env"]["kind"]
    space = load_space(name, env_kind)
    sampler = (
        optuna.samplers.GridSampler(space.grid(), seed=0)
        if space.is_discrete
        else optuna.samplers.TPESampler(seed=0, n_startup_trials=3)
    )
    study = optuna.create_study(sampler=sampler)
    proposed = []

    def objective(trial):
        params = space.suggest(trial)
        config = load_run_config(preset, overrides=overrides_for(params))
        for key, value in params.items():
            section, setting = key.split(".")
            assert getattr(getattr(config, section), setting) == value
        proposed.append(params)
        return config.agent.lr

    study.optimize(objective, n_trials=6)
    assert len(proposed) == 6
    for params in proposed:
        assert set(params) == set(space.to_dict())
        assert isinstance(params["agent.hidden"], list)


def test_every_kind_of_spec_reaches_the_run_config():
    space = parse_space(
        {
            "agent.double_dqn": {"choice": [True, False]},
            "agent.loss": {"value": "mse"},
            "agent.target_every": {"int": [10, 1000], "log": True},
            "agent.tau": {"float": [0.005, 0.05], "step": 0.005},
            "agent.gamma": {"int": [0, 1]},
            "env.alpha": {"float": [0.1, 0.3]},
            "train.n_envs": 256,
        },
        "mixed",
    )
    assert not space.is_discrete
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=2))

    def objective(trial):
        params = space.suggest(trial)
        config = load_run_config("default", overrides=overrides_for(params))
        assert config.agent.loss == "mse" and config.train.n_envs == 256
        assert 10 <= config.agent.target_every <= 1000
        steps = config.agent.tau / 0.005
        assert 1 <= round(steps) <= 10 and steps == pytest.approx(round(steps))
        assert config.agent.gamma in (0.0, 1.0)
        assert 0.1 <= config.env.alpha <= 0.3
        return config.env.alpha

    study.optimize(objective, n_trials=5)
    assert len(study.trials) == 5


def test_the_seed_space_is_the_seeds_grid():
    space = load_space("seed")
    assert space.is_discrete
    grid = space.grid()
    assert math.prod(len(values) for values in grid.values()) == 3 * 3 * 3 * 3 * 2 * 3 * 3
    config = {p.key: p for p in space.params}
    assert config["agent.lr"].choices == (1e-3, 5e-4, 1e-4)
    assert config["agent.batch_size"].choices == (32, 64, 128)
    assert config["agent.gamma"].choices == (0.9, 0.95, 0.99)
    assert config["agent.hidden"].choices == ([256, 256, 128], [512, 256, 128])
    assert config["agent.dropout"].choices == (0.1, 0.2, 0.3)
    assert config["agent.target_update"].choices == ("hard",)
    assert config["agent.target_every"].choices == (50, 100, 200)


def test_the_seed_space_decays_epsilon_over_the_seeds_episodes_of_a_full_session():
    # ε reaches eps_end after the seed's n = ceil(ln eps_end / ln d) episodes of one full
    # session each (the default preset's env.max_length env steps).
    space = {p.key: p for p in load_space("seed").params}
    eps_end = space["agent.eps_end"].choices[0]
    session = load_preset("default")["env"]["max_length"]
    expected = tuple(
        math.ceil(math.log(eps_end) / math.log(d)) * session for d in (0.995, 0.999, 0.9995)
    )
    assert space["agent.eps_decay_steps"].choices == expected


def test_a_stored_trials_list_params_decode_back_to_lists():
    space = load_space("seed-classic-4", "classic")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    suggested = []
    study.optimize(lambda trial: suggested.append(space.suggest(trial)) or 0.0, n_trials=4)
    for trial, params in zip(study.trials, suggested, strict=True):
        stored = trial.params["agent.hidden"]
        assert isinstance(stored, str)  # Optuna keeps only plain values
        assert decode(trial.params) == params
        assert overrides_for(trial.params)["agent"]["hidden"] == params["agent.hidden"]
    assert decode({"agent.hidden": "[128, 128]", "agent.lr": 0.01}) == {
        "agent.hidden": [128, 128],
        "agent.lr": 0.01,
    }


def test_grid_covers_choices_and_short_int_ranges_only():
    short = parse_space({"agent.target_every": {"int": [50, 200], "step": 50}}, "s")
    assert short.is_discrete and short.grid() == {"agent.target_every": [50, 100, 150, 200]}
    long = parse_space({"agent.target_every": {"int": [1, GRID_POINTS_LIMIT + 1]}}, "l")
    stepped_float = parse_space({"agent.gamma": {"float": [0.5, 0.9], "step": 0.1}}, "f")
    for space in (long, stepped_float):
        assert not space.is_discrete
        with pytest.raises(RlrecError, match="grid search needs choices"):
            space.grid()


def test_a_space_reads_back_from_its_own_dict():
    for name, kind in (("seed", "default"), ("seed-classic-4", "classic")):
        space = load_space(name, kind)
        again = parse_space(space.to_dict(), "again", kind)
        assert again.params == space.params
        assert again.distributions() == space.distributions()


def test_overrides_nest_dotted_keys_by_section():
    assert overrides_for({"agent.lr": 0.01, "env.alpha": 0.3, "agent.gamma": 0.5}) == {
        "agent": {"lr": 0.01, "gamma": 0.5},
        "env": {"alpha": 0.3},
    }


def test_loading_the_space_module_does_not_load_torch(tmp_path):
    probe = "import sys, rlrec.engine.tune.space; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "False"
