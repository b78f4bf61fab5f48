"""YAML 1.1 reads `1e-3` and `1e300` (no dot) as text; a config key that wants a number takes
them as the numbers the user meant, then checks the range as for any number."""

from __future__ import annotations

import pytest
import yaml

from rlrec.data.errors import RlrecError
from rlrec.engine.training.run_config import load_run_config


def _config(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert isinstance(yaml.safe_load(text), dict)
    return load_run_config(None, path, {})


def test_exponent_without_dot_is_a_number(tmp_path):
    assert isinstance(yaml.safe_load("lr: 1e-3")["lr"], str)  # why the coercion exists
    config = _config(tmp_path, "agent:\n  lr: 1e-3\ntrain:\n  steps: 2e3\n")
    assert config.agent.lr == pytest.approx(0.001)
    assert config.train.steps == 2000 and isinstance(config.train.steps, int)


def test_exponent_out_of_range_gets_the_range_error(tmp_path):
    with pytest.raises(RlrecError) as info:
        _config(tmp_path, "train:\n  seconds: 1e300\n")
    assert info.value.key == "train.seconds"
    assert "out of range (allowed:" in str(info.value)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "ten", "0x10"])
def test_text_that_is_no_finite_number_is_still_refused(tmp_path, text):
    with pytest.raises(RlrecError) as info:
        _config(tmp_path, f"agent:\n  lr: '{text}'\n")
    assert info.value.key == "agent.lr"
    assert "expected a number" in str(info.value)
