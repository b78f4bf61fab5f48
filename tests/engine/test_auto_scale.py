"""`env.candidates` and `agent.head` on auto: a catalogue up to 2,000 items is offered whole
to a per-item head; a larger one gets 200 retrieved candidates a step and the
item-embedding head, with nothing set by the user. (The `default` preset names the
embedding head itself: it learns faster there.)"""

from __future__ import annotations

import pytest

from rlrec.data.generator import generate
from rlrec.data.store import save_dataset
from rlrec.engine.agents.dqn import DQNConfig, with_resolved_head
from rlrec.engine.sim import base as sim_base
from rlrec.engine.training.budget import Budget
from rlrec.engine.training.trainer import Trainer
from rlrec.engine.usecases.training import candidates_offered, resolve_run_config


def test_the_rule_draws_its_line_at_the_whole_catalogue_limit():
    limit = sim_base.WHOLE_CATALOGUE_ITEMS
    assert sim_base.offered_candidates(-1, limit) == 0
    assert sim_base.offered_candidates(-1, limit + 1) == sim_base.AUTO_CANDIDATES
    assert sim_base.offered_candidates(0, 10 * limit) == 0  # asked for: the whole catalogue
    assert sim_base.offered_candidates(50, 100) == 50
    assert with_resolved_head(DQNConfig(), limit).head == "per_item"
    assert with_resolved_head(DQNConfig(), limit + 1).head == "embedding"
    assert with_resolved_head(DQNConfig(head="per_item"), 10 * limit).head == "per_item"


def _trainer(
    tmp_path, n_items: int, preset: str | None = "default", agent: dict | None = None, **env
) -> Trainer:
    folder = save_dataset(generate(300, n_items, seed=1), tmp_path / f"d{n_items}")
    config = resolve_run_config(
        preset,
        overrides={"env": env, "agent": agent or {}, "train": {"n_envs": 16, "eval_episodes": 16}},
        dataset=folder,
        budget=Budget("steps", 64),
    )
    return Trainer(config, tmp_path / f"run{n_items}")


@pytest.mark.parametrize(
    ("n_items", "head", "candidates"),
    [(500, "per_item", 0), (2_500, "embedding", sim_base.AUTO_CANDIDATES)],
)
def test_a_run_left_on_auto_ranks_what_its_catalogue_size_calls_for(
    tmp_path, n_items, head, candidates
):
    trainer = _trainer(tmp_path, n_items, agent={"head": "auto"})
    assert trainer.config.env.candidates == -1 and trainer.config.agent.head == "auto"
    assert trainer.agent.config.head == head
    assert candidates_offered(trainer) == candidates
    trainer.run()
    assert trainer.env_steps >= 64


@pytest.mark.parametrize(("n_items", "preset"), [(2_000, "default"), (2_001, "large")])
def test_a_dataset_past_the_limit_trains_with_the_large_preset_unless_one_is_named(
    tmp_path, n_items, preset
):
    trainer = _trainer(tmp_path, n_items, preset=None)
    assert trainer.config.preset == preset
    if preset == "large":  # its settings, as the preset file gives them
        assert trainer.config.agent.replay_ratio == 1 / 256
        assert candidates_offered(trainer) == 200 and trainer.agent.config.head == "embedding"
    assert _trainer(tmp_path / "named", n_items, preset="default").config.preset == "default"


def test_settings_given_win_over_auto(tmp_path):
    trainer = _trainer(tmp_path, 2_500, candidates=0)
    assert candidates_offered(trainer) == 0
    assert trainer.agent.config.head == "embedding"  # the head follows the catalogue size


@pytest.mark.parametrize(
    ("n_items", "preset", "epochs"), [(2_000, "default", 0), (2_001, "logs-large", 8)]
)
def test_a_large_logged_dataset_trains_with_logs_large_unless_one_is_named(
    tmp_path, n_items, preset, epochs
):
    from tests.fixtures import save_tiny_dataset

    folder = save_tiny_dataset(tmp_path / "log", n_items=n_items, n_users=40)
    config = resolve_run_config(dataset=folder, budget=Budget("steps", 64))
    assert config.preset == preset
    assert config.agent.warm_start_epochs == epochs  # past 2,000 items it learns from the log
    assert resolve_run_config("large", dataset=folder).agent.warm_start_epochs == 0
