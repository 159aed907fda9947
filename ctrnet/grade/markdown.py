"""Markdown for a CI step summary ($GITHUB_STEP_SUMMARY): what to fix first, a table of the
six items, then the root-cause failures and blocked checks of each item that did not pass
with the hint, then the extras.
"""

from __future__ import annotations

from ctrnet.grade.model import Grade, Status
from ctrnet.grade.wording import (
    count,
    extra_status,
    guidance,
    item_reasons,
    mark,
    topic_why,
    word,
)

_SIGN = {Status.PASSED: "✅", Status.FAILED: "❌", Status.BLOCKED: "⏸️", Status.NO_EVIDENCE: "➖"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(grade: Grade, lang: str) -> str:
    out = [
        f"## {word('heading', lang)} — {grade.score}/{grade.max_score}",
        "",
        f"{word('impl', lang)}: `{grade.implementation}` · {word('backend', lang)}: "
        f"`{grade.backend}`",
        "",
    ]
    out += [f"> {_cell(note)}" for note in grade.notes_in(lang)]
    if grade.notes:
        out.append("")
    if grade.error is not None:
        out.append(f"**{word('not_run', lang)}**: {_cell(grade.error_in(lang) or '')}")
        return "\n".join(out) + "\n"
    advice = guidance(grade, lang)
    if advice:
        out += [f"**{_cell(advice[0])}**", ""]
        out += [f"- {_cell(line.strip())}" for line in advice[1:]]
        out.append("")
    out += [f"| | {word('item', lang)} | {word('tests', lang)} |", "|---|---|---|"]
    for r in grade.items:
        title = _cell(r.item.title(lang))
        out.append(f"| {_SIGN[r.status]} {mark(r.status, lang)} | `{r.item.id}` {title} | "
                   f"{count(r.tests, lang)} |")
    for r in grade.items:
        reasons = item_reasons(r, lang)
        if not reasons:
            continue
        out += ["", f"### {_SIGN[r.status]} `{r.item.id}` {r.item.title(lang)}", ""]
        out += [f"- {_cell(reason)}" for reason in reasons]
        if r.status is Status.FAILED:
            out.append(f"- *{word('hint', lang)}*: {_cell(r.item.hint(lang))}")
    if grade.extras:
        out += ["", f"### {word('extras', lang)}", ""]
        for topic, tests in grade.extras.items():
            why = topic_why(topic, lang)
            out.append(f"- {_SIGN[extra_status(tests)]} {topic}: {count(tests, lang)}"
                       + (f" — {_cell(why)}" if why else ""))
            out += [f"  - {_cell(t.name)}: {_cell(t.said(lang))}" for t in tests if t.root]
    return "\n".join(out) + "\n"
