"""Failure messages of the implementation suite: what the grader shows a learner.

Every assertion fails with one line saying what was seen and what was expected. `refused`
expects an operation to fail (pytest.raises with the reason instead of "DID NOT RAISE"),
`world_diff` names what a snapshot comparison found changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["refused", "world_diff"]

#: How many changed items of one kind a message quotes.
_QUOTED = 3


@contextmanager
def refused(reason: str, match: str | None = None) -> Iterator[None]:
    """The block must raise (any Exception, whose text matches `match` if given); otherwise
    the test fails with `reason`."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - any refusal counts, whatever its type
        if match is not None and not re.search(match, str(err)):
            pytest.fail(f"{reason}: it failed, but with {type(err).__name__}: "
                        f"{_one_line(str(err))!r} (expected {match!r})")
        return
    pytest.fail(reason)


def world_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What changed between two `observe.snapshot`s, on one line ("" when nothing did)."""
    parts: list[str] = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, str) and isinstance(new, str):  # a listing: compare its lines
            old, new = old.splitlines(), new.splitlines()
        if isinstance(old, list | type(None)) and isinstance(new, list | type(None)):
            gained = [item for item in new or [] if item not in (old or [])]
            lost = [item for item in old or [] if item not in (new or [])]
            words = []
            if gained:
                words.append(f"gained {_quote(gained)}")
            if lost:
                words.append(f"lost {_quote(lost)}")
            parts.append(f"{key} {' and '.join(words) or 'reordered'}")
        else:
            parts.append(f"{key} was {_short(old)}, is {_short(new)}")
    return "; ".join(parts)


def _quote(items: list[Any]) -> str:
    shown = ", ".join(_short(item) for item in items[:_QUOTED])
    more = f" (+{len(items) - _QUOTED} more)" if len(items) > _QUOTED else ""
    return f"[{shown}]{more}"


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
        return str(value[0])  # a state file: its name says enough
    text = _one_line(repr(value))
    return text if len(text) <= 100 else text[:97] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())
