"""The JSON report: the Grade as data for scripts (`implementation`, `backend`, `items[]`
with their tests, `score`, `max_score`), plus extras, notes and the error if any.
"""

from __future__ import annotations

import json
from typing import Any

from ctrnet.grade.model import Grade, TestResult


def _test(t: TestResult) -> dict[str, Any]:
    return {"name": t.name, "outcome": t.outcome.value, "message": t.message}


def as_dict(grade: Grade, lang: str = "en") -> dict[str, Any]:
    return {
        "implementation": grade.implementation,
        "backend": grade.backend,
        "items": [
            {
                "id": r.item.id,
                "title_ja": r.item.title_ja,
                "title_en": r.item.title_en,
                "passed": r.passed,
                "hint": None if r.passed else r.item.hint(lang),
                "tests": [_test(t) for t in r.tests],
            }
            for r in grade.items
        ],
        "extras": {topic: [_test(t) for t in tests] for topic, tests in grade.extras.items()},
        "notes": list(grade.notes),
        "error": grade.error,
        "score": grade.score,
        "max_score": grade.max_score,
        "duration": round(grade.duration, 3),
    }


def render(grade: Grade, lang: str) -> str:
    return json.dumps(as_dict(grade, lang), ensure_ascii=False, indent=2) + "\n"
