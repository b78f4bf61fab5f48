"""The core runs without the faces, checked on what really gets loaded (import-linter checks the
import statements; this checks sys.modules, so third-party chains count too):

- every module of `rlrec.data` loads without torch, gymnasium, a face's toolkit or the engine;
- every module of `rlrec.engine` loads without Textual, rich, plotext, FastAPI or a face;
- the CLI face (`rlrec.cli.main`) loads without Textual, the TUI, FastAPI or the API (`rlrec
  serve` loads the API only when it runs).

Each layer is imported whole in one fresh interpreter (if the union loads nothing forbidden, no
single module does); only when that fails is each module imported alone, to name the culprit.
The interpreter starts outside the repository so its folders cannot shadow the package.
"""

import json
import subprocess
import sys

import pytest

FACE_TOOLKITS = ("textual", "textual_plotext", "rich", "plotext", "fastapi", "uvicorn", "starlette")

LAYERS = {
    "rlrec.data": (
        "torch",
        "gymnasium",
        *FACE_TOOLKITS,
        "rlrec.engine",
        "rlrec.cli",
        "rlrec.tui",
        "rlrec.api",
    ),
    "rlrec.engine": (*FACE_TOOLKITS, "rlrec.cli", "rlrec.tui", "rlrec.api"),
    "rlrec.cli.main": (
        "textual",
        "textual_plotext",
        "rlrec.tui",
        "fastapi",
        "uvicorn",
        "rlrec.api",
    ),
}

# argv: "whole" or "alone", the module (with "whole", also every module below it), forbidden
# names. Prints the modules imported and the forbidden ones that got loaded.
PROBE = """
import importlib, json, pkgutil, sys
mode, root, forbidden = sys.argv[1], sys.argv[2], sys.argv[3:]
modules = [root]
package = importlib.import_module(root)
if mode == "whole":
    below = pkgutil.walk_packages(getattr(package, "__path__", []), root + ".")
    modules += [info.name for info in below]
for name in modules:
    importlib.import_module(name)
loaded = sorted({f for f in forbidden for m in sys.modules if m == f or m.startswith(f + ".")})
print(json.dumps({"modules": modules, "loaded": loaded}))
"""


def _probe(mode: str, module: str, forbidden: tuple[str, ...], cwd) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, module, *forbidden],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    assert out.returncode == 0, f"importing {module} failed:\n{out.stderr}"
    return json.loads(out.stdout)


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_does_not_load_what_is_above_it(layer, tmp_path):
    forbidden = LAYERS[layer]
    result = _probe("whole", layer, forbidden, tmp_path)
    if not result["loaded"]:
        return
    culprits = {}
    for module in result["modules"]:
        alone = _probe("alone", module, forbidden, tmp_path)["loaded"]
        if alone:
            culprits[module] = alone
    pytest.fail(f"importing {layer} loaded {result['loaded']}; by module: {culprits}")
