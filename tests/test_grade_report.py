"""The checklist and the report formats: every format says which items pass and why not."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ctrnet.grade import checklist, jsonfmt
from ctrnet.grade.model import Grade, Outcome, Status, TestResult, build
from ctrnet.grade.report import Format, render

GUIDE_WORDING = [
    "vethペアの動作原理を説明できる",
    "Linux Bridgeの役割を理解している",
    "iptablesでNAT設定ができる",
    "netlinkを使用したネットワーク設定が実装できる",
    "ネットワーク名前空間の操作ができる",
    "IPアドレス管理の実装方法を理解している",
]
REASON = "container c2 got 172.20.0.2, already held by c1"


def _grade(*, failing: str | None = "ipam", error: str | None = None) -> Grade:
    by_item = {
        item.id: [TestResult(f"test_{item.id}_works", Outcome.PASSED)] for item in checklist.ITEMS
    }
    if failing:
        by_item[failing].append(TestResult("test_addresses_are_distinct", Outcome.FAILED, REASON))
    extras = {"isolation": [TestResult("test_icc_off", Outcome.FAILED, "c1 reached c2")]}
    return build("cni:./my-plugin", "sim", by_item, extras=extras, notes=("a note",), error=error)


def test_checklist_has_the_guides_six_items_in_its_order_and_wording() -> None:
    assert [i.title_ja for i in checklist.ITEMS] == GUIDE_WORDING
    assert [i.id for i in checklist.ITEMS] == ["veth", "bridge", "nat", "netlink", "netns", "ipam"]


def test_every_hint_names_a_section_of_the_guide() -> None:
    for item in checklist.ITEMS:
        number = item.section.split()[0]
        assert number.startswith("§")
        assert number in item.hint_ja and number in item.hint_en


def test_item_with_a_failing_test_fails_and_score_counts_the_others() -> None:
    grade = _grade()
    assert [r.item.id for r in grade.items if not r.passed] == ["ipam"]
    assert (grade.score, grade.max_score, grade.exit_status) == (5, 6, 1)


def test_item_whose_tests_were_all_skipped_does_not_pass() -> None:
    grade = build("ctrnet", "sim", {"veth": [TestResult("t", Outcome.SKIPPED, "no ebtables")]})
    assert not grade.items[0].passed and grade.items[0].no_evidence


def test_all_six_passing_exits_zero_and_an_error_exits_two() -> None:
    assert _grade(failing=None).exit_status == 0
    broken = _grade(failing=None, error="plugin not found: ./my-plugin")
    assert (broken.exit_status, broken.score) == (2, 0)


def test_json_report_carries_items_tests_and_score() -> None:
    data = json.loads(render(_grade(), Format.JSON))
    assert data["implementation"] == "cni:./my-plugin" and data["backend"] == "sim"
    assert (data["score"], data["max_score"]) == (5, 6)
    ipam = data["items"][-1]
    assert ipam["id"] == "ipam" and ipam["passed"] is False
    assert ipam["title_ja"] == GUIDE_WORDING[-1] and ipam["title_en"]
    assert {"name": "test_addresses_are_distinct", "outcome": "failed", "message": REASON,
            "blocked_by": None, "duration": 0.0} in ipam["tests"]
    assert ipam["status"] == "failed" and data["root_causes"][0]["where"] == "ipam"


def test_gradescope_results_give_one_point_per_item_with_reason_and_hint() -> None:
    data = json.loads(render(_grade(), Format.GRADESCOPE, lang="ja"))
    assert data["score"] == 5
    scored = [t for t in data["tests"] if t["max_score"] == 1]
    assert len(scored) == 6
    ipam = scored[-1]
    assert (ipam["score"], ipam["status"]) == (0, "failed")
    assert REASON in ipam["output"] and "§4.2" in ipam["output"]
    assert all(t["status"] == "passed" and t["score"] == 1 for t in scored[:-1])


#: The keys Gradescope documents for results.json ("Output format" of its autograder specs).
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}


@pytest.mark.parametrize("error", [None, "plugin not found"])
def test_gradescope_uses_only_documented_keys_and_no_top_level_max_score(
        error: str | None) -> None:
    data = json.loads(render(_grade(error=error), Format.GRADESCOPE))
    assert set(data) <= GRADESCOPE_TOP and "max_score" not in data
    assert isinstance(data["score"], int) and isinstance(data["execution_time"], int)
    for test in data["tests"]:
        assert set(test) <= GRADESCOPE_TEST
        assert test["status"] in ("passed", "failed")  # never left for Gradescope to derive


def test_gradescope_does_not_show_an_all_skipped_extra_as_passed() -> None:
    grade = build("cni:./p", "sim", {}, extras={
        "bandwidth": [TestResult("test_rate", Outcome.SKIPPED, "no tc")],
        "cni": [TestResult("test_check", Outcome.PASSED)]})
    data = json.loads(render(grade, Format.GRADESCOPE))
    names = [t["name"] for t in data["tests"]]
    assert not any("bandwidth" in n for n in names)
    assert any("cni" in n for n in names)
    assert "bandwidth" in data["output"]


def test_junit_has_one_suite_per_item_and_failures_with_their_message() -> None:
    root = ET.fromstring(render(_grade(), Format.JUNIT))
    suites = root.findall("testsuite")
    assert [s.get("name", "").split(":")[0] for s in suites][:6] == [
        i.id for i in checklist.ITEMS
    ]
    ipam = suites[5]
    assert ipam.get("failures") == "1"
    failure = ipam.find("testcase/failure")
    assert failure is not None and failure.get("message") == REASON


def test_junit_shows_an_item_without_evidence_as_a_failure() -> None:
    root = ET.fromstring(render(build("ctrnet", "sim", {}), Format.JUNIT))
    assert all(s.get("failures") == "1" for s in root.findall("testsuite"))


def test_markdown_summary_lists_failed_items_with_reason_and_hint() -> None:
    text = render(_grade(), Format.MARKDOWN, lang="en")
    assert "5/6" in text.splitlines()[0]
    assert f"- test_addresses_are_distinct: {REASON}" in text
    assert "§4.2" in text and "isolation" in text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_table_shows_each_item_once_and_the_failure_reason(lang: str) -> None:
    text = render(_grade(), Format.TABLE, lang=lang)
    for item in checklist.ITEMS:
        assert item.title(lang) in text
    assert REASON in text and "5/6" in text
    assert "\033[" not in text


def test_table_colours_only_when_asked() -> None:
    assert "\033[31m" in render(_grade(), Format.TABLE, color=True)


def test_reports_of_a_grade_that_could_not_run_say_why() -> None:
    grade = _grade(error="plugin not found: ./my-plugin")
    for fmt in Format:
        assert "plugin not found" in render(grade, fmt), fmt
    assert re.search(r'"score": 0', render(grade, Format.GRADESCOPE))


# -- verdicts: root causes and blocked checks ---------------------------------------------

BLOCKED_GRADE = {
    "netns": [TestResult("test_inside", Outcome.PASSED)],
    "veth": [TestResult("test_up", Outcome.FAILED, "c1: host end vethX is down")],
    "bridge": [TestResult("test_port", Outcome.PASSED),
               TestResult("test_gateway_ping", Outcome.FAILED,
                          "blocked by veth: c1: host end vethX is down")],
    "nat": [TestResult("test_forward", Outcome.PASSED),
            TestResult("test_wan", Outcome.FAILED, "blocked by veth: c1: host end vethX is down")],
    "netlink": [TestResult("test_route", Outcome.PASSED)],
    "ipam": [TestResult("test_distinct", Outcome.PASSED)],
}


def test_a_check_blocked_by_a_failing_prerequisite_does_not_fail_its_own_item() -> None:
    grade = build("cni:./p", "sim", BLOCKED_GRADE)
    items = {r.item.id: r for r in grade.items}
    assert items["veth"].status is Status.FAILED
    assert items["bridge"].status is Status.PASSED and items["nat"].status is Status.PASSED
    assert [t.blocked_by for t in items["bridge"].tests] == [None, "veth"]
    assert items["bridge"].tests[1].message == "c1: host end vethX is down"
    assert (grade.score, grade.exit_status) == (5, 1)


def test_the_most_basic_root_cause_comes_first_with_what_it_blocked() -> None:
    by_item = {**BLOCKED_GRADE, "nat": [TestResult("test_masq", Outcome.FAILED, "no MASQUERADE")]}
    causes = build("cni:./p", "sim", by_item).root_causes()
    assert [(c.where, c.reason) for c in causes] == [
        ("veth", "c1: host end vethX is down"), ("nat", "no MASQUERADE")]
    assert causes[0].blocked == {"bridge": 1}


def test_a_block_whose_item_shows_no_failure_becomes_that_items_failure() -> None:
    by_item = {**BLOCKED_GRADE, "veth": [TestResult("test_up", Outcome.PASSED)]}
    grade = build("cni:./p", "sim", by_item)
    items = {r.item.id: r for r in grade.items}
    assert items["veth"].status is Status.FAILED  # the mistake lands where it belongs
    assert items["bridge"].passed and items["nat"].passed
    assert "c1: host end vethX is down" in [t.message for t in items["veth"].failures]


def test_an_item_all_of_whose_checks_were_blocked_has_no_point_and_no_failure() -> None:
    blocked = [TestResult("t", Outcome.FAILED, "blocked by cni: ADD for c1 exited 1")]
    grade = build("cni:./p", "sim", {item.id: list(blocked) for item in checklist.ITEMS},
                  extras={"cni": [TestResult("test_add", Outcome.FAILED, "ADD for c1 exited 1")]})
    assert {r.status for r in grade.items} == {Status.BLOCKED}
    assert (grade.score, grade.exit_status) == (0, 1)
    assert grade.root_causes()[0].where == "cni"


def test_a_plugin_that_cannot_start_here_means_grading_could_not_run() -> None:
    reason = ("ADD for c1 cannot start: its Python has no module 'pyroute2' (install it for "
              "the interpreter of the plugin's #! line: python3 -m pip install pyroute2)")
    grade = build("cni:./p", "kernel", {}, extras={
        "cni": [TestResult("test_add", Outcome.FAILED, reason)]})
    assert grade.exit_status == 2 and grade.error is not None and "pyroute2" in grade.error


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_table_leads_with_what_to_fix_first_and_shows_what_it_blocked(lang: str) -> None:
    text = render(build("cni:./p", "sim", BLOCKED_GRADE), Format.TABLE, lang=lang)
    first = next(line for line in text.splitlines()[2:] if line.strip())
    assert "veth" in first and "c1: host end vethX is down" in first
    assert "bridge (1), nat (1)" in text
    assert "test_wan" in text


def test_json_report_round_trips_and_renders_again_in_every_format() -> None:
    grade = build("cni:./p", "sim", BLOCKED_GRADE, extras={
        "cni": [TestResult("test_check", Outcome.PASSED, duration=0.25)]}, notes=("a note",),
        duration=12.5)
    text = render(grade, Format.JSON)
    again = jsonfmt.load(text)
    assert render(again, Format.JSON) == text
    for fmt in Format:
        assert render(again, fmt) == render(grade, fmt)


def test_loading_something_that_is_not_a_report_says_what_is_wrong() -> None:
    for text, words in (("{", "not JSON"), ("[]", "not a ctrnet grade"),
                        ('{"implementation": "x", "items": [{"id": "nope"}]}', "unknown")):
        with pytest.raises(jsonfmt.BadReport, match=words):
            jsonfmt.load(text)


# -- JUnit read by a real consumer ----------------------------------------------------------

def test_junit_is_read_by_junitparser_with_time_timestamp_and_blocked_as_skipped(
        tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    path = tmp_path / "junit.xml"
    path.write_text(render(build("cni:./p", "sim", BLOCKED_GRADE, duration=3.0), Format.JUNIT))
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {suite.name.split(":")[0]: suite for suite in xml}
    assert set(suites) >= {i.id for i in checklist.ITEMS}
    for suite in suites.values():
        assert suite.timestamp and suite.time is not None
    counts = (suites["veth"].failures, suites["bridge"].failures, suites["bridge"].skipped)
    assert counts == (1, 0, 1)
    [case] = [c for c in suites["bridge"] if c.name == "test_gateway_ping"]
    assert isinstance(case.result[0], junitparser.Skipped)
    assert "blocked by veth" in case.result[0].message


# -- the command line: several formats at once, re-rendering, progress ----------------------

def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctrnet.cli", "grade", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_one_saved_result_renders_again_in_several_formats_without_grading(
        tmp_path: Path) -> None:
    saved = tmp_path / "grade.json"
    saved.write_text(render(_grade(), Format.JSON))
    out = _cli("report", str(saved), "--format", "table,junit,gradescope,markdown",
               "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # the saved grade's own exit status
    assert REASON in out.stdout  # the table, on the terminal too
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "report.txt", "junit.xml", "results.json", "report.md"}
    assert json.loads((tmp_path / "out" / "results.json").read_text())["score"] == 5


def test_command_line_refuses_bad_format_requests_in_one_line(tmp_path: Path) -> None:
    for argv in (["--format", "table,yaml"], ["--format", "table,json"],
                 ["report", str(tmp_path / "missing.json")]):
        out = _cli(*argv, cwd=tmp_path)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr


def test_progress_goes_to_stderr_and_leaves_stdout_alone(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "test_three.py"
    suite.write_text("def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n")
    code = pytest.main([str(suite), "-q", "-p", "no:cacheprovider", "-p",
                        "ctrnet.grade.progress", "--rootdir", str(tmp_path)])
    assert code == 0
    err = capfd.readouterr().err
    assert "ctrnet grade: 3/3 checks done" in err
