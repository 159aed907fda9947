"""Gradescope's autograder `results.json`: one test per checklist item worth one point, its
output the root-cause failures, the checks a prerequisite blocked and the hint; the overall
score, what to fix first as the submission's output; extras as unscored tests.

Only the keys Gradescope documents (https://gradescope-autograders.readthedocs.io/en/latest/
specs/, "Output format"): top level `score`, `execution_time`, `output`, `tests`; per test
`name`, `score`, `max_score`, `status`, `output`, `visibility`. The top level has no
`max_score` (Gradescope takes the total from the assignment). `status` is always given: left
out, Gradescope derives it from score >= max_score, which would show a 0/0 extra as passed.
An extra topic none of whose checks ran (all skipped) is not a test at all: it is listed in
the output as not run, never shown as passed.
"""

from __future__ import annotations

import json
from typing import Any

from ctrnet.grade.model import Grade, Status
from ctrnet.grade.wording import count, extra_status, guidance, item_reasons, word


def as_dict(grade: Grade, lang: str) -> dict[str, Any]:
    header = f"ctrnet grade: {grade.implementation} on {grade.backend}"
    execution_time = max(0, round(grade.duration))
    if grade.error is not None:
        return {
            "score": 0,
            "execution_time": execution_time,
            "output": f"{header}\n{word('not_run', lang)}: {grade.error_in(lang)}",
            "tests": [],
        }
    tests: list[dict[str, Any]] = []
    for result in grade.items:
        output = "\n".join(item_reasons(result, lang))
        if result.status is Status.FAILED:
            output += f"\n{word('hint', lang)}: {result.item.hint(lang)}"
        tests.append({
            "name": f"{result.item.id}: {result.item.title(lang)}",
            "score": 1 if result.passed else 0,
            "max_score": 1,
            "status": "passed" if result.passed else "failed",
            "output": output.strip(),
            "visibility": "visible",
        })
    not_run = []
    for topic, extra in grade.extras.items():
        status = extra_status(extra)
        if status is Status.NO_EVIDENCE:
            not_run.append(topic)
            continue
        lines = [f"{t.name}: {t.said(lang)}" for t in extra if t.root]
        lines += [f"{t.name}: {word('blocked_by', lang).format(where=t.blocked_by)} "
                  f"({t.said(lang)})" for t in extra if t.blocked]
        tests.append({
            "name": f"{word('extras', lang)}: {topic} ({count(extra, lang)})",
            "score": 0,
            "max_score": 0,
            "status": "passed" if status is Status.PASSED else "failed",
            "output": "\n".join(lines),
            "visibility": "visible",
        })
    summary = [header, *grade.notes_in(lang), *guidance(grade, lang)]
    if not_run:
        summary.append(f"{word('extras', lang)}, {word('skipped', lang)}: {', '.join(not_run)}")
    return {
        "score": grade.score,
        "execution_time": execution_time,
        "output": "\n".join(summary),
        "tests": tests,
    }


def render(grade: Grade, lang: str) -> str:
    return json.dumps(as_dict(grade, lang), ensure_ascii=False, indent=2) + "\n"
