"""Verdicts on exactly the item a mistake breaks: every mutant of the correct shell example
(tests/data/mutants/mutants.json, one deliberate mistake each) is graded on the simulator,
and what fails beyond what the correct plugin already fails (it runs `ip`, so `netlink`) is
root-cause failures of the mutant's own item — or, for a CNI-only mistake, of the `cni`
extra topic with no item failing at all. Everything else it breaks is reported as blocked.

Grades run the grader's checks only (`ctrnet.conformance.cni`: the items are judged there;
the implementation suite adds extras, not verdicts), in parallel subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "cni-shell" / "bridge-sh"
MUTANTS = json.loads((ROOT / "tests" / "data" / "mutants" / "mutants.json").read_text())["mutants"]
ITEMS = ("veth", "bridge", "nat", "netlink", "netns", "ipam")
PARALLEL = max(1, min(4, (os.cpu_count() or 2)))
_DRIVER = ("import sys; from ctrnet.grade.runner import Request, grade; "
           "from ctrnet.grade import jsonfmt; "
           "g = grade(Request(impl=sys.argv[1], backend=sys.argv[2], timeout=30.0, "
           "suites=('ctrnet.conformance.cni',))); sys.stdout.write(jsonfmt.render(g, 'en'))")


def mutate(source: str, edits: list[list[str]]) -> str:
    """`source` with each (old, new) replaced; old must occur exactly once."""
    for old, new in edits:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in bridge-sh"
        source = source.replace(old, new)
    return source


def root_failures(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(item or topic, check) of every root-cause failure in a JSON report."""
    found = set()
    for item in report["items"]:
        found |= {(item["id"], t["name"]) for t in item["tests"]
                  if t["outcome"] in ("failed", "error") and not t["blocked_by"]}
    for topic, tests in report["extras"].items():
        found |= {(topic, t["name"]) for t in tests
                  if t["outcome"] in ("failed", "error") and not t["blocked_by"]}
    return found


def grade_all(plugins: dict[str, Path], backend: str) -> dict[str, dict[str, Any]]:
    pending = list(plugins.items())
    running: dict[str, subprocess.Popen[str]] = {}
    reports: dict[str, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < PARALLEL:
            name, path = pending.pop(0)
            running[name] = subprocess.Popen(
                [sys.executable, "-c", _DRIVER, f"cni:{path}", backend],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        name = next(iter(running))
        out, err = running.pop(name).communicate(timeout=900)
        assert out, f"grading {name} printed nothing: {err[-2000:]}"
        reports[name] = json.loads(out)
    return reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    scratch = tmp_path_factory.mktemp("mutants")
    source = CORRECT.read_text()
    plugins = {"correct": CORRECT}
    for mutant in MUTANTS:
        path = scratch / mutant["name"]
        path.write_text(mutate(source, mutant["edits"]))
        path.chmod(0o755)
        plugins[mutant["name"]] = path
    return grade_all(plugins, "sim")


def test_the_correct_shell_plugin_fails_only_netlink_because_it_runs_ip(
        reports: dict[str, dict[str, Any]]) -> None:
    report = reports["correct"]
    assert report["error"] is None
    assert {where for where, _check in root_failures(report)} == {"netlink"}
    assert [t["name"] for i in report["items"] if i["id"] == "netlink" for t in i["tests"]
            if t["outcome"] == "failed"] == [
        "test_links_addresses_and_routes_are_set_without_the_ip_tools"]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m["name"] for m in MUTANTS])
def test_mistake_is_reported_on_exactly_its_item(
        mutant: dict[str, Any], reports: dict[str, dict[str, Any]]) -> None:
    report = reports[mutant["name"]]
    assert report["error"] is None, report["error"]
    new = root_failures(report) - root_failures(reports["correct"])
    assert new, f"{mutant['name']} ({mutant['mistake']}): no new failure at all"
    wrong = {(where, check) for where, check in new if where != mutant["where"]}
    assert not wrong, f"{mutant['name']}: also reported on {sorted(wrong)}"
    failed_items = {i["id"] for i in report["items"] if i["status"] == "failed"}
    expected = {"netlink"} | ({mutant["where"]} if mutant["where"] in ITEMS else set())
    assert failed_items == expected
    assert report["root_causes"][0]["where"] in (mutant["where"], "netlink")
