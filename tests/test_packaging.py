"""The wheel cannot forget a sub-package: pyproject's explicit `packages` list is exactly the
folders that hold an `__init__.py`, under the folder -> namespace mapping of `package-dir`.
(.ci/check_wheel builds and installs the real wheel; this is the fast check.)"""

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_table() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def _packages_on_disk(package_dir: dict[str, str]) -> set[str]:
    found = set()
    for package, folder in package_dir.items():
        # No symlink following: src/rlrec links to the folders that are mapped on their own.
        for current, dirs, files in os.walk(ROOT / folder):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            if "__init__.py" in files:
                relative = Path(current).relative_to(ROOT / folder).parts
                found.add(".".join((package, *relative)))
    return found


def test_every_mapped_folder_exists():
    package_dir = _setuptools_table()["package-dir"]
    missing = [f"{p} -> {d}" for p, d in package_dir.items() if not (ROOT / d).is_dir()]
    assert not missing, f"package-dir points at missing folders: {missing}"


def test_packages_list_matches_the_folders_with_init():
    table = _setuptools_table()
    listed = set(table["packages"])
    on_disk = _packages_on_disk(table["package-dir"])
    assert not on_disk - listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert not listed - on_disk, f"listed but no __init__.py: {sorted(listed - on_disk)}"
