"""The distribution ships every package of the tree: a package missing from pyproject's
explicit list would install a ctrnet whose CLI or conformance suite fails on import."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> tuple[set[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"]), config["package-dir"]


def test_every_package_directory_is_in_the_distribution() -> None:
    packages, package_dir = _declared()
    top_dirs = {"ctrnet": "ctrnet", **{v: k for k, v in package_dir.items()}}
    found = set()
    for top, dotted in top_dirs.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([dotted, *rel.parts]) if rel.parts else dotted)
    assert found - packages == set(), "add these to [tool.setuptools] packages"
    assert packages - found == set(), "these listed packages have no directory"
