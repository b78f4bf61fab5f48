"""The core runs without the face: `data` and `engine` never pull in Textual (or tui), and
`data` never pulls in torch or engine. Each import runs in a fresh interpreter."""

import subprocess
import sys

import pytest

CASES = [
    ("data", ("torch", "textual", "engine", "tui")),
    ("rlrec.data.dataset", ("torch", "textual", "engine", "tui")),
    ("rlrec.data.generator", ("torch", "textual", "engine", "tui")),
    ("rlrec.data.store", ("torch", "textual", "engine", "tui")),
    ("rlrec.data.importers", ("torch", "textual", "engine", "tui")),
    ("rlrec.data.eda", ("torch", "textual", "engine", "tui")),
    ("engine", ("textual", "tui", "torch")),
    ("rlrec.cli.main", ("textual", "tui")),
    ("rlrec.engine.sim", ("textual", "tui")),
    ("rlrec.engine.training.trainer", ("textual", "tui")),
    ("rlrec.engine.agents", ("textual", "tui")),
]


@pytest.mark.parametrize(("module", "forbidden"), CASES, ids=[c[0] for c in CASES])
def test_module_does_not_load_upper_layers(module, forbidden):
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"bad = [m for m in {forbidden!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing {module} loaded {out.stdout.strip()}"
