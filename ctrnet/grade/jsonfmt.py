"""The JSON report: the Grade as data for scripts (`implementation`, `backend`, `items[]`
with their status and checks, `score`, `max_score`), plus what to fix first (`root_causes`),
extras, notes, the error if any, and when and how long. `load` reads it back into a Grade,
so that a saved result can be rendered again in any format without grading again. The text
fields are English whatever --lang says; where ctrnet's words have a Japanese wording it is
there too, under the same name ending in `_ja` (`message_ja`, `reason_ja`, `error_ja`,
`notes_ja`; absent when there is none), so a saved result renders in either language.
"""

from __future__ import annotations

import json
from typing import Any

from ctrnet.grade import checklist
from ctrnet.grade.model import Grade, Outcome, TestResult, build

#: Bumped when a field changes meaning; `load` refuses a version it does not know.
VERSION = 1


def _test(t: TestResult) -> dict[str, Any]:
    out = {"name": t.name, "outcome": t.outcome.value, "message": t.message,
           "blocked_by": t.blocked_by, "duration": round(t.duration, 3)}
    if t.message_ja:
        out["message_ja"] = t.message_ja
    return out


def _japanese(grade: Grade) -> dict[str, Any]:
    """The Japanese wordings of the grade's error and notes (none: no key)."""
    out: dict[str, Any] = {}
    if grade.error is not None and grade.error_ja:
        out["error_ja"] = grade.error_ja
    if grade.notes_ja and len(grade.notes_ja) == len(grade.notes):
        out["notes_ja"] = list(grade.notes_ja)
    return out


def as_dict(grade: Grade, lang: str = "en") -> dict[str, Any]:
    return {
        "format_version": VERSION,
        "implementation": grade.implementation,
        "backend": grade.backend,
        "timestamp": grade.timestamp,
        "items": [
            {
                "id": r.item.id,
                "title_ja": r.item.title_ja,
                "title_en": r.item.title_en,
                "passed": r.passed,
                "status": r.status.value,
                "blocked_by": list(r.blockers),
                "hint": None if r.passed else r.item.hint(lang),
                "tests": [_test(t) for t in r.tests],
            }
            for r in grade.items
        ],
        "root_causes": [
            {"where": c.where, "check": c.check, "reason": c.reason, "blocked": c.blocked,
             **({"reason_ja": c.reason_ja} if c.reason_ja else {})}
            for c in ([] if grade.error else grade.root_causes())
        ],
        "extras": {topic: [_test(t) for t in tests] for topic, tests in grade.extras.items()},
        "notes": list(grade.notes),
        "error": grade.error,
        **_japanese(grade),
        "score": grade.score,
        "max_score": grade.max_score,
        "duration": round(grade.duration, 3),
    }


def render(grade: Grade, lang: str) -> str:
    return json.dumps(as_dict(grade, lang), ensure_ascii=False, indent=2) + "\n"


class BadReport(ValueError):
    """The text is not a JSON report of `ctrnet grade`."""


def _tests(raw: Any, where: str) -> list[TestResult]:
    if not isinstance(raw, list):
        raise BadReport(f"{where}: tests is not a list")
    tests = []
    for n, t in enumerate(raw):
        try:
            tests.append(TestResult(str(t["name"]), Outcome(t["outcome"]),
                                    str(t.get("message") or ""), float(t.get("duration") or 0),
                                    t.get("blocked_by") or None,
                                    message_ja=str(t.get("message_ja") or "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadReport(f"{where}: test {n} is not a test result ({exc})") from None
    return tests


def load(text: str) -> Grade:
    """The Grade a JSON report describes; BadReport says what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadReport(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or "items" not in data or "implementation" not in data:
        raise BadReport("not a ctrnet grade JSON report (no implementation and items)")
    version = data.get("format_version", VERSION)
    if version != VERSION:
        raise BadReport(f"report format version {version}; this ctrnet reads {VERSION}")
    by_item: dict[str, list[TestResult]] = {}
    for entry in data["items"]:
        if not isinstance(entry, dict) or entry.get("id") not in checklist.BY_ID:
            raise BadReport(f"unknown checklist item {entry!r:.60}")
        by_item[entry["id"]] = _tests(entry.get("tests", []), f"item {entry['id']}")
    extras_raw = data.get("extras") or {}
    if not isinstance(extras_raw, dict):
        raise BadReport("extras is not an object")
    extras = {str(topic): _tests(tests, f"extra {topic}") for topic, tests in extras_raw.items()}
    return build(str(data["implementation"]), str(data.get("backend", "")), by_item,
                 extras=extras, notes=tuple(str(n) for n in data.get("notes") or ()),
                 error=data.get("error"), duration=float(data.get("duration") or 0),
                 timestamp=str(data.get("timestamp") or ""),
                 error_ja=str(data.get("error_ja") or ""),
                 notes_ja=tuple(str(n) for n in data.get("notes_ja") or ()))
