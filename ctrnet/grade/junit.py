"""JUnit XML for CI test viewers: one <testsuite> per checklist item (and per extra topic),
one <testcase> per test, a <failure message="..."> with the reason and the hint. An item
no test could evidence gets one failing testcase saying so, so it never shows as green.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ctrnet.grade.model import Grade, Outcome, TestResult
from ctrnet.grade.report import word


def _suite(root: ET.Element, name: str, tests: tuple[TestResult, ...], hint: str) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name)
    counts = {o: 0 for o in Outcome}
    for t in tests:
        counts[t.outcome] += 1
        case = ET.SubElement(suite, "testcase", classname=name, name=t.name,
                             time=f"{t.duration:.3f}")
        if t.outcome is Outcome.FAILED:
            ET.SubElement(case, "failure", message=t.message).text = hint
        elif t.outcome is Outcome.ERROR:
            ET.SubElement(case, "error", message=t.message).text = hint
        elif t.outcome is Outcome.SKIPPED:
            ET.SubElement(case, "skipped", message=t.message)
    suite.set("tests", str(len(tests)))
    suite.set("failures", str(counts[Outcome.FAILED]))
    suite.set("errors", str(counts[Outcome.ERROR]))
    suite.set("skipped", str(counts[Outcome.SKIPPED]))
    return suite


def render(grade: Grade, lang: str) -> str:
    root = ET.Element("testsuites", name=f"ctrnet grade {grade.implementation} ({grade.backend})")
    if grade.error is not None:
        suite = ET.SubElement(root, "testsuite", name="ctrnet grade", tests="1", failures="0",
                              errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="ctrnet grade", name="grading")
        ET.SubElement(case, "error", message=f"{word('not_run', lang)}: {grade.error}")
    for result in grade.items:
        tests = result.tests
        if result.no_evidence:
            tests = (*tests, TestResult("evidence", Outcome.FAILED, word("no_evidence", lang)))
        name = f"{result.item.id}: {result.item.title(lang)}"
        _suite(root, name, tests, f"{word('hint', lang)}: {result.item.hint(lang)}")
    for topic, extra in grade.extras.items():
        _suite(root, f"{word('extras', lang)}: {topic}", extra, "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
