"""JUnit XML for CI test viewers: one <testsuite> per checklist item (and per extra topic),
one <testcase> per check, a <failure message="..."> with the reason and the hint for a
root-cause failure; a check a prerequisite blocked is <skipped> with "blocked by ITEM: why"
(it was not judged, and it is not this item's fault). An item no check could evidence gets
one failing testcase saying so, so it never shows as green. Suites carry `time` and
`timestamp` (ISO 8601, as the Ant/Jenkins schema has it) and `hostname`.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from ctrnet.grade.model import Grade, Outcome, Status, TestResult
from ctrnet.grade.wording import word


def _suite(root: ET.Element, name: str, tests: tuple[TestResult, ...], hint: str,
           timestamp: str, lang: str) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name)
    failures = errors = skipped = 0
    for t in tests:
        case = ET.SubElement(suite, "testcase", classname=name, name=t.name,
                             time=f"{t.duration:.3f}")
        if t.blocked:
            skipped += 1
            why = word("blocked_by", lang).format(where=t.blocked_by)
            ET.SubElement(case, "skipped", message=f"{why}: {t.message}")
        elif t.outcome is Outcome.FAILED:
            failures += 1
            ET.SubElement(case, "failure", message=t.message, type="failure").text = hint
        elif t.outcome is Outcome.ERROR:
            errors += 1
            ET.SubElement(case, "error", message=t.message, type="error").text = hint
        elif t.outcome is Outcome.SKIPPED:
            skipped += 1
            ET.SubElement(case, "skipped", message=t.message)
    suite.set("tests", str(len(tests)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", f"{sum(t.duration for t in tests):.3f}")
    if timestamp:
        suite.set("timestamp", timestamp)
    suite.set("hostname", socket.gethostname() or "localhost")
    return suite


def _timestamp(grade: Grade) -> str:
    """The schema's xs:dateTime without a zone suffix ("2026-12-06T09:00:00")."""
    return grade.timestamp.removesuffix("Z").split("+")[0].split(".")[0]


def render(grade: Grade, lang: str) -> str:
    root = ET.Element("testsuites", name=f"ctrnet grade {grade.implementation} ({grade.backend})",
                      time=f"{grade.duration:.3f}")
    stamp = _timestamp(grade)
    if grade.error is not None:
        suite = ET.SubElement(root, "testsuite", name="ctrnet grade", tests="1", failures="0",
                              errors="1", skipped="0", time=f"{grade.duration:.3f}",
                              hostname=socket.gethostname() or "localhost")
        if stamp:
            suite.set("timestamp", stamp)
        case = ET.SubElement(suite, "testcase", classname="ctrnet grade", name="grading",
                             time=f"{grade.duration:.3f}")
        ET.SubElement(case, "error", message=f"{word('not_run', lang)}: {grade.error}",
                      type="error")
    for result in grade.items:
        tests = result.tests
        if result.status is Status.NO_EVIDENCE:
            tests = (*tests, TestResult("evidence", Outcome.FAILED, word("no_evidence", lang)))
        elif result.status is Status.BLOCKED:
            why = "; ".join(f"{word('blocked_by', lang).format(where=w)}" for w in result.blockers)
            tests = (*tests, TestResult("evidence", Outcome.FAILED,
                                        f"{word('no_evidence', lang)} ({why})"))
        name = f"{result.item.id}: {result.item.title(lang)}"
        _suite(root, name, tests, f"{word('hint', lang)}: {result.item.hint(lang)}", stamp, lang)
    for topic, extra in grade.extras.items():
        _suite(root, f"{word('extras', lang)}: {topic}", extra, "", stamp, lang)
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(suite.get(key, "0")) for suite in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
