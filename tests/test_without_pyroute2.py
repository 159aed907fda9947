"""pyroute2 is the `kernel` extra (`pip install 'ctrnet[kernel]'`): without it the simulator,
the suite on the simulator and grading on the simulator work, and asking for the kernel
backend gets one line that says what to install. Every process here (and every process it
starts: shims, plugins, the grader's pytest) runs with pyroute2 made unimportable by a
`sitecustomize` on PYTHONPATH, whether or not it is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HINT = "pip install 'ctrnet[kernel]'"
#: Runs at every interpreter start-up: `import pyroute2` (and any pyroute2.*) then fails with
#: ModuleNotFoundError, and importlib.util.find_spec("pyroute2") answers None, as when the
#: package is not installed.
BLOCKER = 'import sys\nsys.modules["pyroute2"] = None\n'


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("no-pyroute2")
    (site / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "LC_ALL": "C.UTF-8"}  # messages in English


def _run(env: dict[str, str], *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_blocker_really_hides_pyroute2(env: dict[str, str]) -> None:
    done = _run(env, "-c", "import pyroute2.netlink")
    assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr


def test_the_simulated_command_line_runs(env: dict[str, str]) -> None:
    done = _run(env, "-m", "ctrnet.cli", "sim", "exec", "--", "ip", "-br", "link", "show")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "lo"


def test_the_suite_runs_on_the_simulator(env: dict[str, str]) -> None:
    done = _run(env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
                "ctrnet.conformance.backend.test_links", "ctrnet.conformance.backend.test_nat",
                "--backend", "sim", timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_grading_runs_on_the_simulator(env: dict[str, str], tmp_path: Path) -> None:
    """ctrnet's own model, graded as a CNI plugin (`ctrnet-cni` in a subprocess)."""
    done = _run(env, "-m", "ctrnet.cli", "grade", "--backend", "sim", "--format", "json",
                "--quiet", "--output", str(tmp_path / "grade.json"), timeout=600)
    assert "pyroute2" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr  # 1: an item failed
    report = json.loads((tmp_path / "grade.json").read_text())
    assert [item["id"] for item in report["items"]] == [
        "veth", "bridge", "nat", "netlink", "netns", "ipam"]


def test_the_kernel_backend_says_which_extra_to_install(env: dict[str, str]) -> None:
    done = _run(env, "-c", "from ctrnet.registry import open_backend; open_backend('kernel')")
    assert done.returncode == 1
    assert f"MissingDependency: the kernel backend needs pyroute2, which is not installed: " \
           f"{HINT}" in done.stderr


def test_the_cli_lists_the_kernel_backend_as_unavailable_with_the_hint(
        env: dict[str, str]) -> None:
    done = _run(env, "-m", "ctrnet.cli", "backends")
    assert done.returncode == 0, done.stderr
    [kernel] = [line for line in done.stdout.splitlines() if line.startswith("kernel")]
    assert kernel.split(None, 1)[1] == (
        f"unavailable: the kernel backend needs pyroute2, which is not installed: {HINT}")
    assert any(line.startswith("sim ") for line in done.stdout.splitlines())


def test_a_kernel_command_fails_with_one_line_and_no_traceback(
        env: dict[str, str], tmp_path: Path) -> None:
    done = _run(env, "-m", "ctrnet.cli", "network", "ls", "--backend", "kernel",
                "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ctrnet: the kernel backend needs pyroute2, which is not installed: {HINT}"]
