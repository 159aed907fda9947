"""The run's virtual time: who is waiting for what, and when the clock may move.

`sleep N` does not advance the clock by itself: it registers a deadline and blocks. The
scheduler advances the virtual clock to the earliest deadline only once the run is quiet —
every other process of the run is blocked (in the server, or in the kernel on something
that is not a shim) — so a listener started with `nc -l … &` before `sleep 1` is listening
when the sleep returns, however slowly the machine started it. This is discrete-event
simulation with the run's processes as the events' sources.
"""

from __future__ import annotations

import heapq
import itertools
import select
import sys
import threading
import time
from collections.abc import Callable

from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline.procs import Proc, descendants
from ctrnet.errors import NotModelled

#: States of a process that cannot be about to talk to the simulator: sleeping in the kernel
#: (a shell in wait4, cat on a pipe), stopped, traced, dead.
_QUIET_STATES = frozenset("SITtZXx")
#: Real seconds a sleep waits for the run to become quiet before giving up and going on.
QUIET_TIMEOUT = 10.0
#: Real seconds between two looks at /proc while the run is not quiet.
_POLL = 0.001


class Cancelled(Exception):
    """The run is over: a blocked request gives up."""


class Interrupted(Exception):
    """The shim got a signal (SIGINT, SIGTERM, SIGHUP) while its request was blocked: the
    tool ends as the real one does on that signal (by default: killed by it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Scheduler:
    """Sleepers, blocked requests and the virtual clock of one run (all under `cond`)."""

    def __init__(self, backend: SimBackend, shim_dir: str, root_pid: int) -> None:
        self.backend = backend
        self.cond = threading.Condition()
        self._shim_dir = shim_dir.rstrip("/") + "/"
        self._root = root_pid
        self._busy: dict[int, int] = {}     # pid -> requests being served (not blocked)
        #: pid -> the probes of its requests blocked on time or an event
        self._blocked: dict[int, list[Callable[[], bool]]] = {}
        self._sleepers: list[tuple[float, int, threading.Event]] = []
        #: pid -> the signal its shim got; pid -> the event its sleep waits on
        self._interrupts: dict[int, int] = {}
        self._sleeping: dict[int, threading.Event] = {}
        #: Deadlines of waits with a timeout (nc -w, a connect's 127 s): a timer due at that
        #: very instant (a SYN retransmission) does not fire before the wait gives up.
        self._exclusive: set[threading.Event] = set()
        #: What the world met, while the clock moved here, that the simulator does not model
        #: (an ICMP redirect a timer's packet draws): the server fails the next command that
        #: ends with it (`take_refused`), rather than this thread dying of it.
        self._refused: NotModelled | None = None
        self._seq = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ctrnet-sim-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with self.cond:
            self._closed = True
            for _, _, event in self._sleepers:
                event.set()
            self.cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- request bookkeeping (the server calls these) --------------------------------------------
    def begin(self, pid: int) -> None:
        with self.cond:
            self._busy[pid] = self._busy.get(pid, 0) + 1

    def end(self, pid: int) -> None:
        with self.cond:
            _drop(self._busy, pid)
            if pid not in self._busy:
                self._interrupts.pop(pid, None)
            self.cond.notify_all()

    def interrupt(self, pid: int, signum: int) -> None:
        """The shim of `pid` got `signum`: its blocked request (if any) wakes up and raises
        Interrupted; one that is not blocked finishes as it would have."""
        with self.cond:
            if pid not in self._busy and pid not in self._blocked:
                return
            self._interrupts[pid] = signum
            event = self._sleeping.get(pid)
            if event is not None:
                event.set()
            self.cond.notify_all()

    def _check_interrupt(self, pid: int) -> None:
        signum = self._interrupts.get(pid)
        if signum is not None:
            raise Interrupted(signum)

    def changed(self) -> None:
        """The world changed: wake every blocked request to look again (lock held)."""
        self.cond.notify_all()

    # -- blocking --------------------------------------------------------------------------------
    # A blocked request carries a probe saying whether what it waits for has happened. Until
    # its thread has run again, a request whose probe is true is about to act: the run is
    # not quiet, and the clock must not move past it.
    def sleep(self, pid: int, seconds: float) -> None:
        """Block `pid` until the virtual clock has advanced by `seconds`."""
        event = threading.Event()
        with self.cond:
            self._check_interrupt(pid)
            deadline = self.backend.now() + seconds
            heapq.heappush(self._sleepers, (deadline, next(self._seq), event))
            self._sleeping[pid] = event
        try:
            self._blocked_while(pid, event.is_set, event.wait)
        finally:
            with self.cond:
                if self._sleeping.get(pid) is event:
                    del self._sleeping[pid]
        if self._closed:
            raise Cancelled
        with self.cond:
            self._check_interrupt(pid)

    def wait_until(self, pid: int, ready: Callable[[], bool], seconds: float | None) -> bool:
        """Block `pid` until `ready()` (lock held) or until the virtual clock has moved
        `seconds` on (None: no limit); True if `ready()` came true. The clock moves only
        when the whole run is quiet, so a `timeout` or a kill can come first."""
        if seconds is None:
            self.wait_for(pid, ready)
            return True
        event = threading.Event()
        with self.cond:
            self._check_interrupt(pid)
            deadline = self.backend.now() + seconds
            heapq.heappush(self._sleepers, (deadline, next(self._seq), event))
            self._sleeping[pid] = event
            self._exclusive.add(event)
        try:
            self.wait_for(pid, lambda: ready() or event.is_set())
        finally:
            with self.cond:
                if self._sleeping.get(pid) is event:
                    del self._sleeping[pid]
                self._exclusive.discard(event)
                event.set()  # a deadline nobody waits for any more: the clock skips it
        with self.cond:
            return ready()

    def wait_for(self, pid: int, ready: Callable[[], bool]) -> None:
        """Block `pid` until `ready()` (evaluated with the lock held) is true."""
        with self.cond:
            self._mark_blocked(pid, ready)
            try:
                while not ready():
                    if self._closed:
                        raise Cancelled
                    self._check_interrupt(pid)
                    self.cond.wait()
            finally:
                self._unmark_blocked(pid, ready)

    def blocked_reading(self, pid: int, fd: int | None, read: Callable[[], str]) -> str:
        """Run `read` (of `fd`, e.g. a shim's stdin fed by another process) with `pid` counted
        as blocked while nothing can be read, so the clock can move while it waits."""
        result: list[str] = []

        def readable() -> bool:
            return fd is None or bool(select.select([fd], [], [], 0)[0])

        self._blocked_while(pid, readable, lambda: result.append(read()))
        return result[0] if result else ""

    def _blocked_while(self, pid: int, ready: Callable[[], bool],
                       action: Callable[[], object]) -> None:
        with self.cond:
            self._mark_blocked(pid, ready)
        try:
            action()
        finally:
            with self.cond:
                self._unmark_blocked(pid, ready)

    def _mark_blocked(self, pid: int, ready: Callable[[], bool]) -> None:
        _drop(self._busy, pid)
        self._blocked.setdefault(pid, []).append(ready)
        self.cond.notify_all()

    def _unmark_blocked(self, pid: int, ready: Callable[[], bool]) -> None:
        probes = self._blocked.get(pid, [])
        if ready in probes:
            probes.remove(ready)
        if not probes:
            self._blocked.pop(pid, None)
        self._busy[pid] = self._busy.get(pid, 0) + 1

    # -- the clock ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.cond:
                while not self._closed and not self._sleepers:
                    self.cond.wait()
                if self._closed:
                    return
                self._wake_due()
                if not self._sleepers:
                    continue
            if not self._wait_quiet():
                continue
            with self.cond:
                if self._closed or not self._sleepers or self._busy:
                    continue
                deadline, _, first = self._sleepers[0]
                # Timers due on the way fire in order inside the world (neighbour probes,
                # FDB ageing, TCP retransmissions); the clock stops early where one of them
                # makes a blocked request ready (a connect answered after a retransmitted
                # SYN), else at the earliest sleeper, which wakes.
                world = self.backend.world
                try:
                    if not world.run_until(self._any_ready, deadline) \
                            and first not in self._exclusive:
                        world.advance(0.0)  # the timers due exactly when `sleep` ends fire first
                except NotModelled as err:
                    self._refused = self._refused or err
                self._wake_due()
                self.cond.notify_all()

    def take_refused(self) -> NotModelled | None:
        """The refusal met while the clock moved, if any (then forgotten)."""
        with self.cond:
            refused, self._refused = self._refused, None
        return refused

    def _wake_due(self) -> None:
        now = self.backend.now()
        sleepers = self._sleepers
        while sleepers and (sleepers[0][0] <= now + 1e-9 or sleepers[0][2].is_set()):
            heapq.heappop(sleepers)[2].set()

    def settle(self, limit: float = 2.0) -> None:
        """Wait (up to `limit` real seconds) until the run is quiet: at the end of a run, a
        background job that was still starting reaches the point where it blocks."""
        deadline = time.monotonic() + limit
        streak = 0
        while streak < 2 and time.monotonic() < deadline:
            streak = streak + 1 if self._quiet() else 0
            time.sleep(_POLL)

    def _wait_quiet(self) -> bool:
        """Wait until the run is quiet twice in a row; False if the world changed meanwhile
        (a sleeper came due without the clock moving). Gives up after QUIET_TIMEOUT."""
        started = time.monotonic()
        streak = 0
        while streak < 2:
            if self._closed:
                return False
            if self._quiet():
                streak += 1
            else:
                streak = 0
                if time.monotonic() - started > QUIET_TIMEOUT:
                    sys.stderr.write("ctrnet sim: sleep: the run has not become quiet after "
                                     f"{QUIET_TIMEOUT:.0f}s; advancing the clock anyway\n")
                    return True
            time.sleep(_POLL)
        return True

    def _any_ready(self) -> bool:
        return any(ready() for probes in self._blocked.values() for ready in probes)

    def _quiet(self) -> bool:
        with self.cond:
            if self._busy or any(ready() for probes in self._blocked.values()
                                 for ready in probes):
                return False
            blocked = set(self._blocked)
        return all(self._proc_quiet(p, blocked) for p in descendants(self._root))

    def _proc_quiet(self, proc: Proc, blocked: set[int]) -> bool:
        if proc.pid in blocked:
            return True
        if any(a.startswith(self._shim_dir) for a in proc.argv[1:3]):
            return False  # a shim starting up, or exiting after its answer
        return proc.state in _QUIET_STATES


def _drop(counts: dict[int, int], pid: int) -> None:
    left = counts.get(pid, 0) - 1
    if left > 0:
        counts[pid] = left
    else:
        counts.pop(pid, None)
