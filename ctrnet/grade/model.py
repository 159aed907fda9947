"""What a grading run found: per checklist item the tests that evidence it and how each ended.

A plain value the runner fills and every report format reads. An item passes when at least
one of its tests passed and none failed; an item whose tests were all skipped has no
evidence and does not pass. The score is the number of items passed, out of six.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ctrnet.grade.checklist import ITEMS, Item


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the test could not be set up or torn down
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestResult:
    """One test's outcome; `message` is one line saying why, empty when it passed."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    outcome: Outcome
    message: str = ""
    duration: float = 0.0

    @property
    def bad(self) -> bool:
        return self.outcome in (Outcome.FAILED, Outcome.ERROR)


@dataclass(frozen=True)
class ItemResult:
    item: Item
    tests: tuple[TestResult, ...] = ()

    @property
    def passed(self) -> bool:
        return any(t.outcome is Outcome.PASSED for t in self.tests) and not any(
            t.bad for t in self.tests
        )

    @property
    def failures(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.bad)

    @property
    def no_evidence(self) -> bool:
        """True when no test of the item ran to an outcome (none, or all skipped)."""
        return not any(t.outcome is not Outcome.SKIPPED for t in self.tests)


@dataclass(frozen=True)
class Grade:
    """The result of grading one implementation on one backend."""

    implementation: str
    backend: str
    items: tuple[ItemResult, ...]
    #: Tests beyond the six, by topic (modes, isolation, …): reported, not scored.
    extras: dict[str, tuple[TestResult, ...]] = field(default_factory=dict)
    #: One-line remarks for the reader ("this plugin speaks netlink: use --backend kernel").
    notes: tuple[str, ...] = ()
    #: Set when grading could not run at all; the items are then meaningless.
    error: str | None = None
    duration: float = 0.0

    @property
    def score(self) -> int:
        return 0 if self.error else sum(1 for r in self.items if r.passed)

    @property
    def max_score(self) -> int:
        return len(ITEMS)

    @property
    def exit_status(self) -> int:
        """0: all six items pass; 1: some item fails; 2: grading could not run."""
        if self.error is not None:
            return 2
        return 0 if self.score == self.max_score else 1


def build(
    implementation: str,
    backend: str,
    by_item: dict[str, list[TestResult]],
    *,
    extras: dict[str, list[TestResult]] | None = None,
    notes: tuple[str, ...] = (),
    error: str | None = None,
    duration: float = 0.0,
) -> Grade:
    """A Grade with every checklist item present, in the guide's order."""
    items = tuple(ItemResult(item, tuple(by_item.get(item.id, ()))) for item in ITEMS)
    return Grade(
        implementation=implementation,
        backend=backend,
        items=items,
        extras={k: tuple(v) for k, v in (extras or {}).items()},
        notes=notes,
        error=error,
        duration=duration,
    )
