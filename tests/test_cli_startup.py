"""The command line starts without pytest: only `ctrnet grade` and `ctrnet conformance` use it,
and they import it when they run (`ctrnet.cli_lazy`). Each check runs in a fresh interpreter
and reads its sys.modules; how long start-up takes is a benchmark
(benchmarks/cli_startup.py), not a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Runs ARGV (may be empty: only the import) with ctrnet's CLI in a fresh interpreter, then
#: prints the exit status and which pytest modules got loaded.
PROBE = """
import json, sys
from ctrnet.cli import main
code = main(sys.argv[1:]) if sys.argv[1:] else 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest"))
print(json.dumps({"code": code, "pytest": loaded}))
"""


def _run(*argv: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_")}
    env["LC_ALL"] = "C"
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_importing_the_command_line_loads_no_pytest() -> None:
    assert _run()["pytest"] == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["network", "--help"],
                                  ["grade", "--help"], ["backends"]],
                         ids=lambda argv: " ".join(argv))
def test_commands_that_neither_grade_nor_run_the_suite_load_no_pytest(argv: list[str]) -> None:
    result = _run(*argv)
    assert result["code"] == 0
    assert result["pytest"] == []


def test_network_ls_on_the_simulator_loads_no_pytest(tmp_path: Path) -> None:
    result = _run("network", "ls", "--backend", "sim", "--state-dir", str(tmp_path / "state"))
    assert result["code"] == 0
    assert result["pytest"] == []


def test_the_grade_command_still_finds_its_implementation_when_it_runs(
        tmp_path: Path) -> None:
    """`ctrnet grade report FILE` goes through the lazy point to the grader (which imports
    pytest) and answers as before: the file is missing, grading cannot run."""
    result = _run("grade", "report", str(tmp_path / "missing.json"))
    assert result["code"] == 2
    assert "pytest" in result["pytest"]
