"""What a grading run found: per checklist item the checks that evidence it, how each ended,
and which failures are root causes and which are only consequences of one.

A plain value the runner fills and every report format reads. A check that could not be
judged because something more basic is broken says so ("blocked by veth: c1's host end is
down"); it is *blocked*, not failed: it does not fail its own item. An item passes when at
least one of its checks passed and no check of its own failed (blocked checks do not
count against it); an item whose checks were all skipped or blocked has no evidence and does
not pass. The score is the number of items passed, out of six: only root causes cost points.

What is said to people (a check's reason, the error, the notes) is kept in English and, where
the words are ctrnet's, in Japanese too (`message_ja`, `error_ja`, `notes_ja`; empty: the
English stands for it), so one grade is reported in either language (`said`, `error_in`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from ctrnet.grade.checklist import BY_ID, ITEMS, ORDER, Item


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the test could not be set up or torn down
    SKIPPED = "skipped"


class Status(StrEnum):
    """How an item (or an extra topic) fared, for people and machines alike."""

    PASSED = "passed"
    FAILED = "failed"  # a check of its own failed: a root cause lives here
    BLOCKED = "blocked"  # nothing of its own failed, but a prerequisite kept it from being judged
    NO_EVIDENCE = "no_evidence"  # no check ran to an outcome (none, or all skipped)


#: How a check says its failure is a consequence: "blocked by <item or topic>: <reason>".
_BLOCKED = re.compile(r"^blocked by ([A-Za-z][\w-]*): (.+)$", re.DOTALL)


@dataclass(frozen=True)
class TestResult:
    """One check's outcome; `message` is one line saying why, empty when it passed.
    `blocked_by` names the item (or extra topic) whose failure explains this one."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    outcome: Outcome
    message: str = ""
    duration: float = 0.0
    blocked_by: str | None = None
    #: `message` in Japanese ("": none, the English one stands for it).
    message_ja: str = ""

    def said(self, lang: str) -> str:
        """`message` in `lang` ("ja" or "en")."""
        return self.message_ja or self.message if lang == "ja" else self.message

    @property
    def bad(self) -> bool:
        """Failed or errored, whether as a root cause or blocked."""
        return self.outcome in (Outcome.FAILED, Outcome.ERROR)

    @property
    def root(self) -> bool:
        """A failure of its own: not explained by anything more basic."""
        return self.bad and self.blocked_by is None

    @property
    def blocked(self) -> bool:
        return self.bad and self.blocked_by is not None


def classify(result: TestResult) -> TestResult:
    """`result` with `blocked_by` set when its message says what blocked it."""
    if not result.bad or result.blocked_by is not None:
        return result
    match = _BLOCKED.match(result.message)
    if match is None:
        return result
    ja = _BLOCKED.match(result.message_ja)
    return replace(result, blocked_by=match.group(1), message=match.group(2).strip(),
                   message_ja=ja.group(2).strip() if ja is not None else result.message_ja)


def status_of(tests: tuple[TestResult, ...]) -> Status:
    if any(t.root for t in tests):
        return Status.FAILED
    if any(t.outcome is Outcome.PASSED for t in tests):
        return Status.PASSED
    if any(t.blocked for t in tests):
        return Status.BLOCKED
    return Status.NO_EVIDENCE


@dataclass(frozen=True)
class ItemResult:
    item: Item
    tests: tuple[TestResult, ...] = ()

    @property
    def status(self) -> Status:
        return status_of(self.tests)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def failures(self) -> tuple[TestResult, ...]:
        """The root-cause failures of this item (blocked checks are not among them)."""
        return tuple(t for t in self.tests if t.root)

    @property
    def blocked(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.blocked)

    @property
    def blockers(self) -> tuple[str, ...]:
        """What kept checks of this item from being judged, each named once, in order."""
        return tuple(dict.fromkeys(t.blocked_by for t in self.blocked if t.blocked_by))

    @property
    def no_evidence(self) -> bool:
        """True when no check of the item ran to an outcome (none, or all skipped)."""
        return not any(t.outcome is not Outcome.SKIPPED for t in self.tests)


@dataclass(frozen=True)
class RootCause:
    """One thing to fix: where it lives (an item id or an extra topic), the check that found
    it and why, and what it kept from being judged ("bridge" → 2 checks)."""

    where: str
    check: str
    reason: str
    blocked: dict[str, int] = field(default_factory=dict)
    #: `reason` in Japanese ("": the English one stands for it).
    reason_ja: str = ""

    def said(self, lang: str) -> str:
        """`reason` in `lang` ("ja" or "en")."""
        return self.reason_ja or self.reason if lang == "ja" else self.reason


@dataclass(frozen=True)
class Grade:
    """The result of grading one implementation on one backend."""

    implementation: str
    backend: str
    items: tuple[ItemResult, ...]
    #: Checks beyond the six, by topic (cni contract, conventions, isolation, …): reported,
    #: not scored, never failing an item.
    extras: dict[str, tuple[TestResult, ...]] = field(default_factory=dict)
    #: One-line remarks for the reader ("this plugin speaks netlink: use --backend kernel").
    notes: tuple[str, ...] = ()
    #: Set when grading could not run at all; the items are then meaningless.
    error: str | None = None
    duration: float = 0.0
    #: When the grade started, ISO 8601 UTC ("" when unknown).
    timestamp: str = ""
    #: `error` in Japanese ("": the English one stands for it).
    error_ja: str = ""
    #: `notes` in Japanese, in the same order (empty: the English ones stand for them).
    notes_ja: tuple[str, ...] = ()

    def error_in(self, lang: str) -> str | None:
        """`error` in `lang` ("ja" or "en"), None when grading ran."""
        if self.error is None:
            return None
        return self.error_ja or self.error if lang == "ja" else self.error

    def notes_in(self, lang: str) -> tuple[str, ...]:
        """`notes` in `lang` ("ja" or "en")."""
        if lang == "ja" and len(self.notes_ja) == len(self.notes):
            return self.notes_ja
        return self.notes

    @property
    def score(self) -> int:
        return 0 if self.error else sum(1 for r in self.items if r.passed)

    @property
    def max_score(self) -> int:
        return len(ITEMS)

    @property
    def exit_status(self) -> int:
        """0: all six items pass; 1: some item does not; 2: grading could not run."""
        if self.error is not None:
            return 2
        return 0 if self.score == self.max_score else 1

    def root_causes(self) -> list[RootCause]:
        """What to fix, the most basic first (the guide's prerequisite order: namespace →
        veth → bridge → IPAM → NAT, then netlink; then an extra topic that kept checks of
        an item from being judged, such as an ADD that fails), one per place, with the first
        failing check there and what it blocked. The first is the one thing to fix first.
        Extras that block nothing are not causes: they are reported under the extras."""
        by_where: dict[str, tuple[TestResult, ...]] = {r.item.id: r.tests for r in self.items}
        by_where.update(self.extras)
        blocked: dict[str, dict[str, int]] = {}
        for where, tests in by_where.items():
            for t in tests:
                if t.blocked and t.blocked_by is not None and t.blocked_by != where:
                    counts = blocked.setdefault(t.blocked_by, {})
                    counts[where] = counts.get(where, 0) + 1
        causes = []
        for where, tests in by_where.items():
            if where not in BY_ID and where not in blocked:
                continue
            first = next((t for t in tests if t.root), None)
            if first is None:
                first = next((t for ts in by_where.values() for t in ts
                              if t.blocked_by == where), None)
            if first is not None:
                causes.append(RootCause(where, first.name, first.message or first.outcome.value,
                                        blocked.get(where, {}), first.message_ja))
        for blocker in blocked:  # blocked by a topic none of whose checks ran
            if blocker not in by_where:
                first = next(t for ts in by_where.values() for t in ts if t.blocked_by == blocker)
                causes.append(RootCause(blocker, first.name, first.message, blocked[blocker],
                                        first.message_ja))
        rank = {name: n for n, name in enumerate(ORDER)}
        # A topic that blocks items comes before them all: nothing is judged until it works.
        causes.sort(key=lambda c: rank.get(c.where, -1))
        return causes


def _promote(by_where: dict[str, list[TestResult]]) -> None:
    """A check blocked by an item (or topic) none of whose own checks failed has found a
    failure that item's checks missed: it becomes that item's root failure, so that the
    mistake is reported where it belongs and never vanishes behind a "blocked"."""
    for where in list(by_where):
        for t in list(by_where[where]):
            if not t.blocked or t.blocked_by is None or t.blocked_by == where:
                continue
            target = t.blocked_by
            if target not in by_where and target not in BY_ID:
                continue  # a pseudo-prerequisite ("cni" when absent): reported as a cause
            if any(o.root for o in by_where.get(target, [])):
                continue
            by_where[where].remove(t)
            by_where.setdefault(target, []).append(replace(t, blocked_by=None))
    # Blocked by a more basic check of its own item, which passed after all: a root failure.
    for where, tests in by_where.items():
        for n, t in enumerate(tests):
            if t.blocked and t.blocked_by == where and not any(o.root for o in tests):
                tests[n] = replace(t, blocked_by=None)


_CANNOT_START = re.compile(r"\bcannot start: (.+)$")
_CANNOT_START_JA = re.compile(r"を起動できません: (.+)$")


def _cannot_start(by_where: dict[str, list[TestResult]]) -> tuple[str, str] | None:
    """The plugin could not start on this machine (see `cni.cannot_start`): grading could
    not run, whatever the checks say; (English, Japanese), or None when it started."""
    for tests in by_where.values():
        for t in tests:
            found = _CANNOT_START.search(t.message) if t.bad else None
            if found is not None:
                ja = _CANNOT_START_JA.search(t.message_ja)
                why = ja.group(1) if ja is not None else found.group(1)
                return (f"the plugin cannot start here: {found.group(1)}",
                        f"プラグインはここでは起動できません: {why}")
    return None


def build(
    implementation: str,
    backend: str,
    by_item: dict[str, list[TestResult]],
    *,
    extras: dict[str, list[TestResult]] | None = None,
    notes: tuple[str, ...] = (),
    error: str | None = None,
    duration: float = 0.0,
    timestamp: str = "",
    error_ja: str = "",
    notes_ja: tuple[str, ...] = (),
) -> Grade:
    """A Grade with every checklist item present, in the guide's order, each check's
    "blocked by" read from its message and resolved (see `_promote`)."""
    everything: dict[str, list[TestResult]] = {
        item.id: [classify(t) for t in by_item.get(item.id, ())] for item in ITEMS}
    topics = [topic for topic in (extras or {}) if topic not in BY_ID]
    for topic in topics:
        everything[topic] = [classify(t) for t in (extras or {})[topic]]
    _promote(everything)
    if error is None:
        error, error_ja = _cannot_start(everything) or (None, "")
    if not timestamp:  # when it started: now, less how long it took
        started = datetime.fromtimestamp(time.time() - duration, UTC)
        timestamp = started.isoformat(timespec="seconds").replace("+00:00", "Z")
    items = tuple(ItemResult(item, tuple(everything.pop(item.id, ()))) for item in ITEMS)
    return Grade(
        implementation=implementation,
        backend=backend,
        items=items,
        extras={k: tuple(v) for k, v in everything.items()},
        notes=notes,
        error=error,
        duration=duration,
        timestamp=timestamp,
        error_ja=error_ja,
        notes_ja=notes_ja,
    )
