"""Markdown for a CI step summary ($GITHUB_STEP_SUMMARY): a table of the six items, then the
failing checks of each failed item with the hint, then the extras.
"""

from __future__ import annotations

from ctrnet.grade.model import Grade, Outcome
from ctrnet.grade.report import count, item_reasons, passed_count, word


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
    out += [f"> {_cell(note)}" for note in grade.notes]
    if grade.notes:
        out.append("")
    if grade.error is not None:
        out.append(f"**{word('not_run', lang)}**: {_cell(grade.error)}")
        return "\n".join(out) + "\n"
    out += [f"| | {word('item', lang)} | {word('tests', lang)} |", "|---|---|---|"]
    for r in grade.items:
        mark = "✅" if r.passed else "❌"
        title = _cell(r.item.title(lang))
        out.append(f"| {mark} | `{r.item.id}` {title} | {passed_count(r, lang)} |")
    for r in grade.items:
        if r.passed:
            continue
        out += ["", f"### ❌ `{r.item.id}` {r.item.title(lang)}", ""]
        out += [f"- {_cell(reason)}" for reason in item_reasons(r, lang)]
        out.append(f"- *{word('hint', lang)}*: {_cell(r.item.hint(lang))}")
    if grade.extras:
        out += ["", f"### {word('extras', lang)}", ""]
        for topic, tests in grade.extras.items():
            bad = [t for t in tests if t.bad]
            ran = any(t.outcome is not Outcome.SKIPPED for t in tests)
            mark = "❌" if bad else "✅" if ran else "➖"
            out.append(f"- {mark} {topic}: {count(tests, lang)}")
            out += [f"  - {_cell(t.name)}: {_cell(t.message)}" for t in bad]
    return "\n".join(out) + "\n"
