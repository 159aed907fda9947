"""Rendering a Grade: one entry point, `render`, dispatching to one module per format.

The wording shared by the formats for people (table, Markdown) lives here, in Japanese and
English, so that every format says the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ctrnet.grade.model import Grade, ItemResult, Outcome, TestResult

LANGS = ("ja", "en")

_WORDS: dict[str, dict[str, str]] = {
    "heading": {"ja": "ctrnet grade: チェックリスト", "en": "ctrnet grade: checklist"},
    "pass": {"ja": "合格", "en": "PASS"},
    "fail": {"ja": "不合格", "en": "FAIL"},
    "item": {"ja": "項目", "en": "item"},
    "tests": {"ja": "テスト", "en": "tests"},
    "score": {"ja": "得点", "en": "score"},
    "hint": {"ja": "ヒント", "en": "hint"},
    "extras": {"ja": "追加の観点（採点対象外）", "en": "extras (not scored)"},
    "no_evidence": {
        "ja": "この項目を確かめるテストが実行されなかった",
        "en": "no test of this item could run",
    },
    "not_run": {"ja": "採点を実行できなかった", "en": "grading could not run"},
    "skipped": {"ja": "スキップ", "en": "skipped"},
    "impl": {"ja": "実装", "en": "implementation"},
    "backend": {"ja": "バックエンド", "en": "backend"},
}


def word(key: str, lang: str) -> str:
    return _WORDS[key]["ja" if lang == "ja" else "en"]


def item_reasons(result: ItemResult, lang: str) -> list[str]:
    """One line per failing test ("test_x: why"), or the no-evidence line."""
    if result.failures:
        return [f"{t.name}: {t.message or t.outcome.value}" for t in result.failures]
    if not result.passed:
        return [word("no_evidence", lang)]
    return []


def count(tests: tuple[TestResult, ...], lang: str = "en") -> str:
    """"passed/ran", and how many were skipped if any ("3/4, 2 skipped")."""
    ran = [t for t in tests if t.outcome is not Outcome.SKIPPED]
    ok = [t for t in ran if t.outcome is Outcome.PASSED]
    text = f"{len(ok)}/{len(ran)}"
    skipped = len(tests) - len(ran)
    if skipped:
        text += f", {skipped} {word('skipped', lang)}"
    return text


def passed_count(result: ItemResult, lang: str = "en") -> str:
    return count(result.tests, lang)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    GRADESCOPE = "gradescope"
    JUNIT = "junit"
    MARKDOWN = "markdown"


def render(grade: Grade, fmt: Format | str, *, lang: str = "en", color: bool = False) -> str:
    """`grade` as text in format `fmt` (`color` only matters for the table)."""
    from ctrnet.grade import gradescope, jsonfmt, junit, markdown, table

    renderers: dict[Format, Callable[[Grade, str], str]] = {
        Format.JSON: jsonfmt.render,
        Format.GRADESCOPE: gradescope.render,
        Format.JUNIT: junit.render,
        Format.MARKDOWN: markdown.render,
    }
    fmt = Format(fmt)
    if fmt is Format.TABLE:
        return table.render(grade, lang, color=color)
    return renderers[fmt](grade, lang)
