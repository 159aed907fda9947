"""The terminal table: first what to fix (the most basic root cause, and what it blocked),
then one line per checklist item with its root-cause failures and the checks a prerequisite
blocked under it, the hint for each failed item, the extras, and the score last. ANSI colour
only when asked (the CLI asks on a TTY).
"""

from __future__ import annotations

import unicodedata

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

_GREEN, _RED, _YELLOW, _DIM, _BOLD, _RESET = (
    "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m", "\033[0m",
)
_COLOURS = {Status.PASSED: _GREEN, Status.FAILED: _RED, Status.BLOCKED: _YELLOW,
            Status.NO_EVIDENCE: _YELLOW}


def _width(text: str) -> int:
    """Columns a string takes on a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


def render(grade: Grade, lang: str, *, color: bool = False) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [
        paint(_BOLD, word("heading", lang)),
        f"{word('impl', lang)}: {grade.implementation}   {word('backend', lang)}: {grade.backend}",
    ]
    lines += [paint(_YELLOW, f"! {note}") for note in grade.notes_in(lang)]
    if grade.error is not None:
        lines.append(paint(_RED, f"{word('not_run', lang)}: {grade.error_in(lang)}"))
        return "\n".join(lines) + "\n"
    advice = guidance(grade, lang)
    if advice:
        lines.append("")
        lines += [paint(_BOLD, line) if n == 0 else line for n, line in enumerate(advice)]
    title_cols = max(_width(r.item.title(lang)) for r in grade.items)
    mark_cols = max(_width(mark(s, lang)) for s in Status)
    lines.append("")
    for result in grade.items:
        status = result.status
        label = mark(status, lang)
        lines.append(
            f"  {paint(_COLOURS[status], label)}{' ' * (mark_cols - _width(label))} "
            f"{result.item.id:8} {_pad(result.item.title(lang), title_cols)}"
            f"  {count(result.tests, lang)}"
        )
        for reason in item_reasons(result, lang):
            lines.append(f"           - {reason}")
        if status is Status.FAILED:
            lines.append(paint(_DIM, f"           {word('hint', lang)}: {result.item.hint(lang)}"))
    if grade.extras:
        lines += ["", f"  {word('extras', lang)}:"]
    for topic, tests in grade.extras.items():
        status = extra_status(tests)
        sign = {Status.PASSED: paint(_GREEN, "✓"), Status.FAILED: paint(_RED, "✗"),
                Status.BLOCKED: paint(_YELLOW, "…"), Status.NO_EVIDENCE: "·"}[status]
        why = topic_why(topic, lang)
        lines.append(f"    {sign} {topic:12} {count(tests, lang)}"
                     + (paint(_DIM, f"  — {why}") if why else ""))
        lines += [f"           - {t.name}: {t.said(lang)}" for t in tests if t.root]
    lines.append("")
    score = f"{word('score', lang)}: {grade.score}/{grade.max_score}"
    lines.append(paint(_BOLD + (_GREEN if grade.exit_status == 0 else _RED), score))
    return "\n".join(lines) + "\n"
