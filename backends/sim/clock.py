"""The simulator's virtual clock: time only moves when the world sleeps or a probe waits.

Everything time-dependent in the simulator (STP port states, FDB ageing, neighbour states)
is computed lazily from timestamps against this clock, so advancing it is O(1).

Layering: the bottom of the simulator, with the frames: it imports nothing of it.
"""

from __future__ import annotations


class Clock:
    """Monotonic virtual seconds, starting at 0."""

    __slots__ = ("_now",)

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds
