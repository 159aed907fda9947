"""Turning a guard's verdict into the check's own: inside a check of item X, a prerequisite
of X itself that does not hold is X's failure (a plain assertion), not "blocked by X"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .network import Blocked, Finding


@contextmanager
def own(item: str) -> Iterator[None]:
    """Within the block, `Blocked(item, …)` is this check's failure: an AssertionError (a
    Finding, keeping the Japanese reason, when the guard gave one)."""
    try:
        yield
    except Blocked as exc:
        if exc.where != item:
            raise
        if exc.reason_ja is not None:
            raise Finding(exc.reason, ja=exc.reason_ja) from None
        raise AssertionError(exc.reason) from None
