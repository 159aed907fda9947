"""The terminal table: one line per checklist item, the failing tests under it with their
reason and the hint, the score last. ANSI colour only when asked (the CLI asks on a TTY).
"""

from __future__ import annotations

import unicodedata

from ctrnet.grade.model import Grade, Outcome
from ctrnet.grade.report import count, item_reasons, passed_count, word

_GREEN, _RED, _YELLOW, _DIM, _BOLD, _RESET = (
    "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m", "\033[0m",
)


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
    lines += [paint(_YELLOW, f"! {note}") for note in grade.notes]
    if grade.error is not None:
        lines.append(paint(_RED, f"{word('not_run', lang)}: {grade.error}"))
        return "\n".join(lines) + "\n"
    title_cols = max(_width(r.item.title(lang)) for r in grade.items)
    lines.append("")
    for result in grade.items:
        mark = paint(_GREEN, word("pass", lang)) if result.passed else paint(
            _RED, word("fail", lang))
        mark_pad = " " * max(0, 6 - _width(word("pass" if result.passed else "fail", lang)))
        lines.append(
            f"  {mark}{mark_pad} {result.item.id:8} {_pad(result.item.title(lang), title_cols)}"
            f"  {passed_count(result, lang)}"
        )
        if not result.passed:
            for reason in item_reasons(result, lang):
                lines.append(f"           - {reason}")
            lines.append(paint(_DIM, f"           {word('hint', lang)}: {result.item.hint(lang)}"))
    if grade.extras:
        lines += ["", f"  {word('extras', lang)}:"]
    for topic, tests in grade.extras.items():
        bad = [t for t in tests if t.bad]
        ran = any(t.outcome is not Outcome.SKIPPED for t in tests)
        mark = paint(_RED, "✗") if bad else paint(_GREEN, "✓") if ran else "·"
        lines.append(f"    {mark} {topic:12} {count(tests, lang)}")
        lines += [f"           - {t.name}: {t.message}" for t in bad]
    lines.append("")
    score = f"{word('score', lang)}: {grade.score}/{grade.max_score}"
    lines.append(paint(_BOLD + (_GREEN if grade.exit_status == 0 else _RED), score))
    return "\n".join(lines) + "\n"
