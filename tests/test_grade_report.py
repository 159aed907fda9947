"""The checklist and the report formats: every format says which items pass and why not."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from ctrnet.grade import checklist
from ctrnet.grade.model import Grade, Outcome, TestResult, build
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
    assert {"name": "test_addresses_are_distinct", "outcome": "failed", "message": REASON} in ipam[
        "tests"
    ]


def test_gradescope_results_give_one_point_per_item_with_reason_and_hint() -> None:
    data = json.loads(render(_grade(), Format.GRADESCOPE, lang="ja"))
    assert (data["score"], data["max_score"]) == (5, 6)
    scored = [t for t in data["tests"] if t["max_score"] == 1]
    assert len(scored) == 6
    ipam = scored[-1]
    assert (ipam["score"], ipam["status"]) == (0, "failed")
    assert REASON in ipam["output"] and "§4.2" in ipam["output"]
    assert all(t["status"] == "passed" and t["score"] == 1 for t in scored[:-1])


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
