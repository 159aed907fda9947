"""The wording the grader's formats for people (table, Markdown, Gradescope's text) share, in
Japanese and English, so that every format says the same thing the same way — including the
teaching assistant's summary (`guidance`): the one thing to fix first, then what it blocked.
"""

from __future__ import annotations

from ctrnet.grade.model import Grade, ItemResult, Outcome, RootCause, Status, TestResult, status_of

LANGS = ("ja", "en")

_WORDS: dict[str, dict[str, str]] = {
    "heading": {"ja": "ctrnet grade: チェックリスト", "en": "ctrnet grade: checklist"},
    "pass": {"ja": "合格", "en": "PASS"},
    "fail": {"ja": "不合格", "en": "FAIL"},
    "blocked": {"ja": "保留", "en": "BLOCKED"},
    "none": {"ja": "未判定", "en": "NONE"},
    "item": {"ja": "項目", "en": "item"},
    "tests": {"ja": "テスト", "en": "tests"},
    "score": {"ja": "得点", "en": "score"},
    "hint": {"ja": "ヒント", "en": "hint"},
    "extras": {"ja": "追加の観点（採点対象外）", "en": "extras (not scored)"},
    "no_evidence": {
        "ja": "この項目を確かめるテストが実行されなかった",
        "en": "no test of this item could run",
    },
    "blocked_by": {"ja": "{where} が原因で判定できない", "en": "blocked by {where}"},
    "fix_first": {"ja": "まず直すこと", "en": "Fix this first"},
    "then": {"ja": "その次", "en": "then"},
    "it_blocked": {"ja": "これが原因で判定できなかった確認", "en": "it kept these checks from "
                   "being judged"},
    "checks": {"ja": "件", "en": "checks"},
    "not_run": {"ja": "採点を実行できなかった", "en": "grading could not run"},
    "skipped": {"ja": "スキップ", "en": "skipped"},
    "impl": {"ja": "実装", "en": "implementation"},
    "backend": {"ja": "バックエンド", "en": "backend"},
}


#: Why an extra topic is not scored, for the topics the grader's own checks add.
_TOPIC_WHY: dict[str, dict[str, str]] = {
    "cni": {"ja": "CNI の取り決め（ガイドは CNI を教えていない）",
            "en": "CNI's own contract (the guide does not teach CNI)"},
    "rollback": {"ja": "§8.1 の後始末（チェックリストの項目にない）",
                 "en": "§8.1's rollback (no checklist item covers it)"},
    "conventions": {"ja": "実際のランタイムの慣習（MTU、ループバック up など。ガイドにない）",
                    "en": "what real runtimes do that the guide does not teach (MTU, the "
                          "loopback up, …)"},
}


def topic_why(topic: str, lang: str) -> str:
    """Why `topic` is an extra, or "" for the implementation suite's own topics."""
    why = _TOPIC_WHY.get(topic)
    return why["ja" if lang == "ja" else "en"] if why else ""


def word(key: str, lang: str) -> str:
    return _WORDS[key]["ja" if lang == "ja" else "en"]


def blocked_line(where: str, tests: tuple[TestResult, ...], lang: str) -> str:
    """One line for the checks `where` blocked: "blocked by veth (c1: …): test_a, test_b"."""
    mine = [t for t in tests if t.blocked_by == where]
    reason = mine[0].said(lang) if mine else ""
    names = ", ".join(t.name for t in mine)
    return f"{word('blocked_by', lang).format(where=where)} ({reason}): {names}"


def item_reasons(result: ItemResult, lang: str) -> list[str]:
    """One line per root-cause failure ("test_x: why"), one per prerequisite that blocked
    checks of the item, or the no-evidence line."""
    lines = [f"{t.name}: {t.said(lang) or t.outcome.value}" for t in result.failures]
    lines += [blocked_line(where, result.tests, lang) for where in result.blockers]
    if not lines and not result.passed:
        lines.append(word("no_evidence", lang))
    return lines


def mark(status: Status, lang: str) -> str:
    return word({Status.PASSED: "pass", Status.FAILED: "fail", Status.BLOCKED: "blocked",
                 Status.NO_EVIDENCE: "none"}[status], lang)


def _blocked_summary(cause: RootCause, lang: str) -> str:
    parts = [f"{where} ({n})" for where, n in cause.blocked.items()]
    return f"{word('it_blocked', lang)}: {', '.join(parts)}"


def guidance(grade: Grade, lang: str) -> list[str]:
    """What a teaching assistant says first: the one thing to fix (the most basic root
    cause), what it kept from being judged, then the other root causes in order."""
    causes = grade.root_causes()
    if grade.error is not None or not causes:
        return []
    first, rest = causes[0], causes[1:]
    lines = [f"{word('fix_first', lang)} — {first.where}: {first.said(lang)} ({first.check})"]
    if first.blocked:
        lines.append(f"  {_blocked_summary(first, lang)}")
    for cause in rest:
        lines.append(f"{word('then', lang)} — {cause.where}: {cause.said(lang)} "
                     f"({cause.check})")
        if cause.blocked:
            lines.append(f"  {_blocked_summary(cause, lang)}")
    return lines


def extra_status(tests: tuple[TestResult, ...]) -> Status:
    return status_of(tests)


def count(tests: tuple[TestResult, ...], lang: str = "en") -> str:
    """"passed/judged", and how many were blocked or skipped if any ("3/4, 1 skipped")."""
    ran = [t for t in tests if t.outcome is not Outcome.SKIPPED and not t.blocked]
    ok = [t for t in ran if t.outcome is Outcome.PASSED]
    text = f"{len(ok)}/{len(ran)}"
    blocked = sum(1 for t in tests if t.blocked)
    if blocked:
        text += f", {blocked} {word('blocked', lang).lower()}"
    skipped = sum(1 for t in tests if t.outcome is Outcome.SKIPPED)
    if skipped:
        text += f", {skipped} {word('skipped', lang)}"
    return text


def passed_count(result: ItemResult, lang: str = "en") -> str:
    return count(result.tests, lang)
