"""Gradescope's autograder `results.json`: one test per checklist item worth one point,
its output the failing checks and the hint; the overall score; extras as unscored tests.
See https://gradescope-autograders.readthedocs.io/en/latest/specs/ (the "tests" array).
"""

from __future__ import annotations

import json
from typing import Any

from ctrnet.grade.model import Grade
from ctrnet.grade.report import item_reasons, word


def as_dict(grade: Grade, lang: str) -> dict[str, Any]:
    header = f"ctrnet grade: {grade.implementation} on {grade.backend}"
    if grade.error is not None:
        return {
            "score": 0,
            "output": f"{header}\n{word('not_run', lang)}: {grade.error}",
            "tests": [],
        }
    tests: list[dict[str, Any]] = []
    for result in grade.items:
        output = "\n".join(item_reasons(result, lang))
        if not result.passed:
            output += f"\n{word('hint', lang)}: {result.item.hint(lang)}"
        tests.append({
            "name": f"{result.item.id}: {result.item.title(lang)}",
            "score": 1 if result.passed else 0,
            "max_score": 1,
            "status": "passed" if result.passed else "failed",
            "output": output,
            "visibility": "visible",
        })
    for topic, extra in grade.extras.items():
        bad = [t for t in extra if t.bad]
        tests.append({
            "name": f"{word('extras', lang)}: {topic}",
            "score": 0,
            "max_score": 0,
            "status": "failed" if bad else "passed",
            "output": "\n".join(f"{t.name}: {t.message}" for t in bad),
            "visibility": "visible",
        })
    return {
        "score": grade.score,
        "max_score": grade.max_score,
        "output": "\n".join([header, *grade.notes]),
        "tests": tests,
    }


def render(grade: Grade, lang: str) -> str:
    return json.dumps(as_dict(grade, lang), ensure_ascii=False, indent=2) + "\n"
