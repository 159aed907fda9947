"""What `pip install .` puts on a machine: the wheel built from this tree ships every module
and package (found, through the ctrnet/backends and ctrnet/conformance symlinks, not listed by
hand) and the suite's data files; pyroute2 is the `kernel` extra only; and a subprocess run
from the project root imports the same ctrnet as the process that started it, so nothing
needs to run from another directory to dodge the source tree.
"""

from __future__ import annotations

import email.parser
import filecmp
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What a wheel is built from (the rest of the tree is not shipped).
SOURCES = ("pyproject.toml", "README.md", "ctrnet", "backends", "conformance")


def _tree_files(top: Path) -> set[str]:
    """Every file a wheel must carry: the .py files under ctrnet/, symlinks followed, as
    paths inside the wheel."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel = Path(dirpath).relative_to(top.parent)
        found.update(str(rel / name) for name in filenames if name.endswith(".py"))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the sources (the build writes build/ and *.egg-info,
    which must not land in the working tree)."""
    work = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, work / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(work)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("ctrnet-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_ships_every_module_of_the_tree_backends_and_conformance_included(
        wheel: zipfile.ZipFile) -> None:
    shipped = {name for name in wheel.namelist() if name.endswith(".py")}
    expected = _tree_files(ROOT / "ctrnet")
    assert {"ctrnet/backends/sim/backend.py", "ctrnet/conformance/plugin.py"} <= expected
    assert sorted(expected - shipped) == [], "modules missing from the wheel"
    assert sorted(shipped - expected) == [], "the wheel ships modules the tree does not have"


def test_the_wheel_ships_the_suites_data_files(wheel: zipfile.ZipFile) -> None:
    data = ROOT / "conformance" / "cmdline" / "data"
    expected = {f"ctrnet/conformance/cmdline/data/{p.name}" for p in data.iterdir()
                if p.suffix in (".sh", ".out")}
    assert expected, "the differential scripts moved: update this test and package-data"
    assert sorted(expected - set(wheel.namelist())) == []


def test_pyroute2_is_required_by_the_kernel_extra_only(wheel: zipfile.ZipFile) -> None:
    [metadata] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    message = email.parser.Parser().parsestr(wheel.read(metadata).decode())
    requires = message.get_all("Requires-Dist") or []
    pyroute2 = [r for r in requires if r.startswith("pyroute2")]
    assert pyroute2 and all('extra == "kernel"' in r for r in pyroute2), requires
    assert "kernel" in (message.get_all("Provides-Extra") or [])


@pytest.mark.parametrize("module", ["ctrnet.cli", "ctrnet.backends.sim.cmdline.client",
                                    "ctrnet.conformance.plugin", "ctrnet.grade.cni_plugin"])
def test_a_subprocess_started_in_the_project_root_imports_the_same_module(
        module: str) -> None:
    """Tests start `python -m ctrnet...` subprocesses with the project root as working
    directory (tox too): there the source tree comes first on sys.path. It must be the same
    code as this process imports, whether that is the tree itself (editable install) or an
    installed wheel (tox)."""
    here = importlib.import_module(module).__file__
    assert here is not None
    done = subprocess.run(
        [sys.executable, "-c", f"import {module} as m; print(m.__file__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    there = done.stdout.strip()
    assert os.path.realpath(there) == os.path.realpath(here) or filecmp.cmp(
        there, here, shallow=False), f"{there} differs from {here}"
