"""The run's processes, seen through /proc: who descends from the simulator, which of them
are shims, which are still running, and ending the ones left over when the run is over.

The simulator's process is made a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a
background job whose shell has exited is reparented to it and stays visible here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of the run reparent to this process instead of init (Linux >= 3.4)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # without it, a daemonised grandchild escapes the end-of-run cleanup


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(self.argv)


def _stat(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: the state follows the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[1]), fields[0].decode()


def _argv(pid: int) -> tuple[str, ...]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return ()
    return tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)


def descendants(root: int) -> list[Proc]:
    """Every live process below `root` (not `root` itself), found by scanning /proc."""
    parent: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parent[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in parent.items():
        children.setdefault(ppid, []).append(pid)
    found: list[Proc] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        ppid, state = parent[pid]
        found.append(Proc(pid, ppid, state, _argv(pid)))
        todo.extend(children.get(pid, []))
    return sorted(found, key=lambda p: p.pid)


def reap_orphans(root: int) -> None:
    """Collect the zombies reparented to us (our direct children in state Z)."""
    for proc in descendants(root):
        if proc.ppid == root and proc.state == "Z":
            try:
                os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def end_processes(procs: list[Proc], grace: float = 0.5) -> None:
    """SIGTERM each process, then SIGKILL what is still there after `grace` seconds."""
    for proc in procs:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [p for p in alive if _alive(p.pid)]
    for proc in alive:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    if stat is None or stat[1] == "Z":
        if stat is not None:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        return False
    return True
