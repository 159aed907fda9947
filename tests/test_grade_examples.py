"""The grader on complete plugins, run exactly as the examples' README shows: the learner-style
examples pass what they should (the shell one all but netlink, on both backends), each
deliberate mistake of the Python example fails exactly its item with a reason that names it,
the references (ctrnet's own CNI entry, CNI's `bridge` plugin on the kernel) get 6/6, and a
plugin that cannot run here (no pyroute2; netlink on the simulator) is "could not run", exit 2.
The shell example's mistakes are tests/test_grade_mutants.py's.

Every grade runs `ctrnet grade --format json` in its own process, all at once, on the
backend `--backend` names (the Python examples and CNI's plugin speak netlink: kernel only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CNI_BRIDGE = "/usr/lib/cni/bridge"
BOTH = ("sim", "kernel")
#: Grades at once: each is busy on a CPU most of the time.
PARALLEL = max(1, min(4, (os.cpu_count() or 2) // 2 + 1))


#: Whether the python3 of the Python example's #! line, found on the PATH a plugin gets, has
#: pyroute2 (ci/provision.sh installs Debian's python3-pyroute2); without it the example must
#: say so and the grade exit 2.
SYSTEM_PYROUTE2 = subprocess.run(["/usr/bin/env", "python3", "-c", "import pyroute2"],
                                 capture_output=True,
                                 env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}).returncode == 0
NO_PYROUTE2 = "its Python has no module 'pyroute2'"


@dataclass(frozen=True)
class Case:
    name: str
    #: "ctrnet", "cni:PATH" (the examples as shipped), or "bare:PATH" for the Python example
    #: run by a python3 without site-packages, as a machine without pyroute2 runs it
    impl: str
    fails: frozenset[str]
    #: (item, words one of its failing tests' messages must contain)
    reason: tuple[str, str] | None = None
    backends: tuple[str, ...] = BOTH
    #: Grading could not run (exit 2) and `error` says this.
    cannot_run: str | None = None

    @property
    def python(self) -> bool:
        return "cni-python" in self.impl and not self.impl.startswith("bare:")


def _shell(path: str) -> str:
    return f"cni:{EXAMPLES / 'cni-shell' / path}"


def _python(path: str) -> str:
    return f"cni:{EXAMPLES / 'cni-python' / path}"


CASES = [
    Case("ctrnet-cni", "ctrnet", frozenset()),
    Case("shell", _shell("bridge-sh"), frozenset({"netlink"}),
         ("netlink", "the plugin ran `ip link add")),
    Case("python", _python("bridge-py"), frozenset(), backends=("kernel",)),
    Case("python/no-masquerade", _python("mistakes/no-masquerade"), frozenset({"nat"}),
         ("nat", "no MASQUERADE"), backends=("kernel",)),
    Case("python/ip-for-routes", _python("mistakes/ip-for-routes"), frozenset({"netlink"}),
         ("netlink", "the plugin ran `ip -n"), backends=("kernel",)),
    Case("python/no-default-route", _python("mistakes/no-default-route"),
         frozenset({"netlink"}), ("netlink", "c1 has no default route"), backends=("kernel",)),
    Case("python/without-pyroute2", f"bare:{EXAMPLES / 'cni-python' / 'bridge-py'}",
         frozenset(), backends=("sim",), cannot_run=NO_PYROUTE2),
    Case("python/on-the-simulator", _python("bridge-py"), frozenset(), backends=("sim",),
         cannot_run="configures through netlink, which the simulator cannot run"),
    Case("cni-reference-bridge", f"cni:{CNI_BRIDGE}", frozenset(), backends=("kernel",)),
]


def _spec(case: Case, scratch: Path) -> str:
    if not case.impl.startswith("bare:"):
        return case.impl
    wrapper = scratch / "bridge-py-bare"
    wrapper.write_text(f"#!/bin/sh\nexec /usr/bin/python3 -S {case.impl.removeprefix('bare:')} "
                       '"$@"\n')
    wrapper.chmod(0o755)
    return f"cni:{wrapper}"


@pytest.fixture(scope="session")
def grades(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case that runs on this backend, graded in parallel processes."""
    scratch = tmp_path_factory.mktemp("grade-examples")
    pending: list[tuple[str, list[str]]] = []
    for case in CASES:
        if backend_name not in case.backends:
            continue
        if case.impl == f"cni:{CNI_BRIDGE}" and not os.path.exists(CNI_BRIDGE):
            continue
        pending.append((case.name, [
            sys.executable, "-m", "ctrnet.cli", "grade", "--impl", _spec(case, scratch),
            "--backend", backend_name, "--format", "json"]))
    results: dict[str, Any] = {}
    running: dict[str, subprocess.Popen[str]] = {}
    while pending or running:
        while pending and len(running) < PARALLEL:
            name, argv = pending.pop(0)
            running[name] = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
        name = next(iter(running))
        proc = running.pop(name)
        out, err = proc.communicate(timeout=900)
        results[name] = {"exit": proc.returncode, "report": json.loads(out) if out else None,
                         "stderr": err}
    return results


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_grader_fails_exactly_the_items_the_mistake_breaks(
        case: Case, backend_name: str, grades: dict[str, Any]) -> None:
    if backend_name not in case.backends:
        pytest.skip(f"{case.name} is graded on {', '.join(case.backends)} only")
    if case.name not in grades:
        pytest.skip(f"{CNI_BRIDGE} is not installed (Debian: containernetworking-plugins)")
    graded = grades[case.name]
    report = graded["report"]
    if case.python and not SYSTEM_PYROUTE2:  # as shipped, on a python3 without pyroute2
        case = Case(case.name, case.impl, frozenset(), cannot_run=NO_PYROUTE2)
    if case.cannot_run is not None:
        assert graded["exit"] == 2, graded["stderr"]
        assert report is not None and case.cannot_run in (report["error"] or ""), report
        return
    assert report is not None and report["error"] is None, graded["stderr"]
    failed = {item["id"] for item in report["items"] if item["status"] == "failed"}
    reasons = {item["id"]: [t["message"] for t in item["tests"]
                            if t["outcome"] in ("failed", "error")]
               for item in report["items"]}
    assert failed == set(case.fails), {k: reasons[k] for k in failed ^ set(case.fails)}
    assert all(item["passed"] for item in report["items"] if item["id"] not in case.fails), (
        "an item neither failed nor passed (blocked, or no evidence): "
        f"{[(i['id'], i['status']) for i in report['items']]}")
    assert graded["exit"] == (0 if not case.fails else 1)
    assert report["score"] == 6 - len(case.fails)
    if case.reason is not None:
        item, words = case.reason
        assert any(words in message for message in reasons[item]), reasons[item]
