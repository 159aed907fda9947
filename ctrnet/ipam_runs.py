"""The allocator's picture of which addresses of a range are taken, as sorted runs.

A run is a maximal block of consecutive taken indexes, kept as two sorted lists (starts,
ends). Its memory grows with the runs — at most the addresses in use, one run when they were
handed out in order — never with the size of the range: a /8 costs what a /24 costs until it
is used (a byte per address would be 16 MiB for a /8 before the first container). Finding
the next free index at or after a cursor is a bisection: the index itself if it lies in no
run, else the end of its run plus one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

__all__ = ["TakenRuns"]


class TakenRuns:
    """The taken indexes of 0..size-1 (not thread-safe: the Allocator holds its lock)."""

    __slots__ = ("size", "_starts", "_ends", "_count")

    def __init__(self, size: int, taken: Iterable[int] = ()) -> None:
        self.size = size
        self._starts: list[int] = []
        self._ends: list[int] = []  # inclusive
        self._count = 0
        for index in sorted(set(taken)):
            self.add(index)

    def __len__(self) -> int:
        """How many indexes are taken."""
        return self._count

    @property
    def runs(self) -> int:
        return len(self._starts)

    def _run_of(self, index: int) -> int:
        """The position of the run holding `index`, or -1."""
        k = bisect_right(self._starts, index) - 1
        return k if k >= 0 and self._ends[k] >= index else -1

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self._run_of(index) >= 0

    def add(self, index: int) -> bool:
        """Mark `index` taken; False when it was taken already."""
        starts, ends = self._starts, self._ends
        k = bisect_right(starts, index) - 1
        if k >= 0 and ends[k] >= index:
            return False
        joins_left = k >= 0 and ends[k] == index - 1
        joins_right = k + 1 < len(starts) and starts[k + 1] == index + 1
        if joins_left and joins_right:
            ends[k] = ends[k + 1]
            del starts[k + 1], ends[k + 1]
        elif joins_left:
            ends[k] = index
        elif joins_right:
            starts[k + 1] = index
        else:
            starts.insert(k + 1, index)
            ends.insert(k + 1, index)
        self._count += 1
        return True

    def discard(self, index: int) -> bool:
        """Mark `index` free; False when it was free already."""
        k = self._run_of(index)
        if k < 0:
            return False
        starts, ends = self._starts, self._ends
        first, last = starts[k], ends[k]
        if first == last:
            del starts[k], ends[k]
        elif index == first:
            starts[k] = index + 1
        elif index == last:
            ends[k] = index - 1
        else:
            ends[k] = index - 1
            starts.insert(k + 1, index + 1)
            ends.insert(k + 1, last)
        self._count -= 1
        return True

    def _free_from(self, index: int) -> int:
        k = self._run_of(index)
        # Runs are maximal: the index after a run's end is free (or past the range).
        return index if k < 0 else self._ends[k] + 1

    def next_free(self, start: int = 0) -> int | None:
        """The first free index at or after `start`, going round to 0; None when all are
        taken."""
        if self._count >= self.size:
            return None
        if 0 <= start < self.size:
            found = self._free_from(start)
            if found < self.size:
                return found
        found = self._free_from(0)
        return found if found < self.size else None
