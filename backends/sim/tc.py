"""Traffic control of the simulated devices: the token-bucket filter (sch_tbf) as a root qdisc.

A tbf lets a frame leave when the bucket (`burst` bytes, filled at `rate`) holds its length;
frames wait in FIFO order, and one that would make the queue exceed `limit` bytes (what tc
derives from latency: rate * latency + burst) is dropped. Departures are timers on the virtual
clock, so a shaped transfer takes the time the rate implies. Without a tbf, the simulated links
have no bandwidth limit: a frame arrives the moment it is sent (virtual time does not move).

Layering: just above the data: a device holds its root qdisc as a `devices.RootQdisc` (what the
world's transmit and TCP's backpressure ask of it), and `Tbf` is the one kind; the functions
here are tc's control of it, called by the backend.
"""

from __future__ import annotations

import errno
from collections import deque

from ctrnet.backends.sim.devices import Device
from ctrnet.errors import from_errno
from ctrnet.types import Qdisc, QdiscStats

#: TCA_TBF_PARMS carries the rate as u32 bytes/s (tc switches to TCA_TBF_RATE64 beyond).
MAX_RATE_BPS = 0xFFFFFFFF * 8
#: psched ticks per microsecond on Linux (/proc/net/psched: 1000 ns per us, 64 ticks per us
#: through tc's TIME_UNITS_PER_SEC); tc stores burst as a transmit time in these ticks.
TICKS_PER_USEC = 15.625


class Tbf:
    """The token bucket of one device's egress."""

    __slots__ = ("rate", "burst", "limit", "tokens", "at", "queue", "backlog", "sent_bytes",
                 "sent_packets", "drops", "delayed")

    def __init__(self, rate_bps: int, burst: int, latency: float, now: float) -> None:
        self.rate = rate_bps / 8  # bytes per second
        self.burst = burst
        self.limit = self.rate * latency + burst
        self.tokens = float(burst)
        self.at = now  # when `tokens` was computed
        self.queue: deque[tuple[float, int]] = deque()  # (departure, length) of waiting frames
        self.backlog = 0
        # `tc -s`: frames and bytes let through, frames dropped, frames that had to wait.
        self.sent_bytes = 0
        self.sent_packets = 0
        self.drops = 0
        self.delayed = 0

    def room_at(self, now: float, length: int) -> float:
        """When the queue can take `length` more bytes: `now`, or the departure that frees
        enough (what TCP small queues and qdisc backpressure make a local sender wait for)."""
        queue = self.queue
        while queue and queue[0][0] <= now:
            self.backlog -= queue.popleft()[1]
        backlog = self.backlog
        if backlog + length <= self.limit:
            return now
        for at, size in queue:
            backlog -= size
            if backlog + length <= self.limit:
                return at
        return now

    def departure(self, now: float, length: int) -> float | None:
        """When a frame of `length` bytes offered now leaves; None if it is dropped."""
        queue = self.queue
        while queue and queue[0][0] <= now:
            self.backlog -= queue.popleft()[1]
        if length > self.burst or self.backlog + length > self.limit:
            self.drops += 1
            return None  # tbf_enqueue: bigger than the bucket, or the queue is full
        start = max(now, self.at)
        tokens = min(float(self.burst), self.tokens + (start - self.at) * self.rate)
        if tokens < length:
            start += (length - tokens) / self.rate
            tokens = float(length)
        self.tokens = tokens - length
        self.at = start
        self.sent_bytes += length
        self.sent_packets += 1
        if start > now:
            self.delayed += 1
            queue.append((start, length))
            self.backlog += length
        return start


def tbf_set(dev: Device, rate_bps: int, burst: int, latency: float, now: float) -> None:
    if not 0 < rate_bps <= MAX_RATE_BPS or burst <= 0 or latency < 0:
        raise from_errno(errno.EINVAL, f"tbf on {dev.name}: rate {rate_bps} bit/s, burst "
                                       f"{burst} B, latency {latency} s out of range")
    old = dev.qdisc
    dev.qdisc = new = Tbf(rate_bps, burst, latency, now)
    if isinstance(old, Tbf):
        # tbf_change (replace/change of a tbf) keeps the qdisc and its statistics.
        new.sent_bytes, new.sent_packets = old.sent_bytes, old.sent_packets
        new.drops, new.delayed = old.drops, old.delayed


def qdisc_delete(dev: Device) -> None:
    if dev.qdisc is None:
        # tc_get_qdisc: the default root qdisc has handle 0 and cannot be deleted.
        raise from_errno(errno.ENOENT, f"{dev.name} has only its default qdisc")
    dev.qdisc = None


def qdisc_get(dev: Device) -> Qdisc:
    q = dev.qdisc
    ns = dev.ns.name
    if q is None:
        # veth, bridge and loopback are IFF_NO_QUEUE devices: their default root qdisc is
        # noqueue once up; a device that is down holds the built-in noop qdisc. noqueue
        # keeps no statistics: they read as zeros.
        return Qdisc(ns=ns, dev=dev.name, kind="noqueue" if dev.up else "noop",
                     stats=QdiscStats(0, 0, 0, 0))
    assert isinstance(q, Tbf), "tbf is the one qdisc the simulator makes"
    # What tc reads back: rate in bytes/s; burst as a transmit time in whole ticks; latency
    # from the byte limit (q_tbf.c tbf_print_opt).
    rate = int(q.rate)
    buffer_us = int(1_000_000 * q.burst / rate * TICKS_PER_USEC) / TICKS_PER_USEC
    burst = round(rate * buffer_us / 1_000_000)
    latency_us = 1_000_000 * int(q.limit) / rate - buffer_us
    # Statistics only while no frame has waited or been dropped: how often the kernel's tbf
    # then counts an overlimit depends on its watchdog timer and on the sender's backpressure,
    # which the simulator does not reproduce (None: `tc -s` refuses rather than guess).
    stats = QdiscStats(q.sent_bytes, q.sent_packets, 0, 0) \
        if not (q.drops or q.delayed) else None
    return Qdisc(ns=ns, dev=dev.name, kind="tbf", rate_bps=rate * 8, burst=burst,
                 latency=round(latency_us) / 1_000_000, stats=stats)
