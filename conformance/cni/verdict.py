"""Turning a guard's verdict into the check's own: inside a check of item X, a prerequisite
of X itself that does not hold is X's failure (a plain assertion), not "blocked by X"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .network import Blocked


@contextmanager
def own(item: str) -> Iterator[None]:
    """Within the block, `Blocked(item, …)` is this check's failure: an AssertionError."""
    try:
        yield
    except Blocked as exc:
        if exc.where != item:
            raise
        raise AssertionError(exc.reason) from None
