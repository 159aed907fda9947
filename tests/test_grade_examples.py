"""The grader on complete plugins: the learner-style examples pass what they should, each
deliberate mistake fails exactly the items it breaks with a reason that names it, and the
references (ctrnet's own CNI entry, CNI's `bridge` plugin on the kernel) get 6/6.

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


@dataclass(frozen=True)
class Case:
    name: str
    impl: str  # "ctrnet", "cni:PATH", or "py:MISTAKE" for the Python example ("" = correct)
    fails: frozenset[str]
    #: (item, words one of its failing tests' messages must contain)
    reason: tuple[str, str] | None = None
    backends: tuple[str, ...] = BOTH


def _shell(path: str) -> str:
    return f"cni:{EXAMPLES / 'cni-shell' / path}"


CASES = [
    Case("ctrnet-cni", "ctrnet", frozenset()),
    Case("shell", _shell("bridge-sh"), frozenset({"netlink"}),
         ("netlink", "the plugin ran `ip link add")),
    Case("shell/broadcast-handed-out", _shell("mistakes/broadcast-handed-out"),
         frozenset({"netlink", "ipam"}),
         ("ipam", "container c6 got 172.20.9.7, the broadcast address")),
    Case("shell/no-masquerade", _shell("mistakes/no-masquerade"),
         frozenset({"netlink", "nat"}), ("nat", "no MASQUERADE")),
    Case("shell/no-release", _shell("mistakes/no-release"),
         frozenset({"netlink", "ipam"}), ("ipam", "after DEL of c3, ADD fails")),
    Case("shell/veth-left-behind", _shell("mistakes/veth-left-behind"),
         frozenset({"netlink", "veth", "bridge", "ipam"}),
         ("veth", "eth0 is still in the container after DEL")),
    Case("shell/del-not-idempotent", _shell("mistakes/del-not-idempotent"),
         frozenset({"netlink", "veth", "netns", "ipam"}),
         ("veth", "DEL for c1 exited 1 without a CNI error result")),
    Case("python", "py:", frozenset(), backends=("kernel",)),
    Case("python/no-masquerade", "py:no-masquerade", frozenset({"nat"}),
         ("nat", "no MASQUERADE"), backends=("kernel",)),
    Case("python/ip-for-routes", "py:ip-for-routes", frozenset({"netlink"}),
         ("netlink", "the plugin ran `ip -n"), backends=("kernel",)),
    Case("python/no-default-route", "py:no-default-route",
         frozenset({"nat", "netlink", "netns"}), ("netlink", "c1 has no default route"),
         backends=("kernel",)),
    Case("cni-reference-bridge", f"cni:{CNI_BRIDGE}", frozenset(), backends=("kernel",)),
]


def _spec(case: Case, scratch: Path) -> str:
    if not case.impl.startswith("py:"):
        return case.impl
    # The Python example needs pyroute2: run it with this interpreter, which has it.
    mistake = case.impl.removeprefix("py:")
    wrapper = scratch / f"bridge-py-{mistake or 'correct'}"
    wrapper.write_text(f"#!/bin/sh\nMISTAKE={mistake} exec {sys.executable} "
                       f"{EXAMPLES / 'cni-python' / 'bridge-py'} \"$@\"\n")
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
        pytest.skip(f"{case.name} speaks netlink: graded on the kernel only")
    if case.name not in grades:
        pytest.skip(f"{CNI_BRIDGE} is not installed (Debian: containernetworking-plugins)")
    graded = grades[case.name]
    report = graded["report"]
    assert report is not None and report["error"] is None, graded["stderr"]
    failed = {item["id"] for item in report["items"] if not item["passed"]}
    reasons = {item["id"]: [t["message"] for t in item["tests"]
                            if t["outcome"] in ("failed", "error")]
               for item in report["items"]}
    assert failed == set(case.fails), {k: reasons[k] for k in failed ^ set(case.fails)}
    assert graded["exit"] == (0 if not case.fails else 1)
    assert report["score"] == 6 - len(case.fails)
    if case.reason is not None:
        item, words = case.reason
        assert any(words in message for message in reasons[item]), reasons[item]
