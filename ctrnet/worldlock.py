"""Who holds a kept world, so that a command never waits on it for good.

A simulated world kept in a state directory is locked (flock on WORLD_DIR/lock) by whoever
has it open: a `ctrnet network …` command for a moment, or a `ctrnet sim shell --state DIR`
for as long as the shell lasts. A command that would wait behind the shell asks
`sim_run_holding` first, which reads the lock's holder from /proc/locks, and says so
instead of hanging.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

__all__ = ["sim_run_holding"]


def _holders(path: str) -> list[int]:
    """The pids /proc/locks names for the flock on `path` (its device and inode)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return []
    want = f":{st.st_ino}"
    pids = []
    for line in lines:
        words = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
        if "->" in words or len(words) < 6 or words[1] != "FLOCK":
            continue
        dev_inode = words[5]
        major, minor = os.major(st.st_dev), os.minor(st.st_dev)
        if dev_inode.endswith(want) and dev_inode.split(":")[:2] in (
                [f"{major:02x}", f"{minor:02x}"], [f"{major:x}", f"{minor:x}"]):
            with contextlib.suppress(ValueError):
                pids.append(int(words[4]))
    return pids


def _command(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [w.decode(errors="replace") for w in handle.read().split(b"\0") if w]
    except OSError:
        return []


def sim_run_holding(world_dir: str) -> tuple[int, str] | None:
    """(pid, "ctrnet sim shell"/"ctrnet sim exec") when a simulator run holds the world in
    `world_dir` right now; None when it is free or held by anything else (a short command,
    worth waiting for)."""
    path = os.path.join(world_dir, "lock")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pass
    else:
        return None  # free (closing the descriptor drops our shared lock)
    finally:
        os.close(fd)
    for pid in _holders(path):
        argv = _command(pid)
        for i in range(len(argv) - 1):
            if argv[i] == "sim" and argv[i + 1] in ("shell", "exec"):
                return pid, f"ctrnet sim {argv[i + 1]}"
    return None
