"""Every kernel world of this process is removed, whatever way the process ends.

Worlds register here when they are made. Leaving a `with` block or an exception closes a
world; SIGTERM and SIGHUP, which would otherwise end Python without unwinding, are turned
into KeyboardInterrupt while worlds are open, so the same unwinding runs; atexit closes any
world still open as a last resort. Only a SIGKILL leaves namespaces behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Protocol

from . import nsfs

#: Prefix of every namespace a kernel world creates: ctrnet-<pid>-<world>-<name>.
NETNS_PREFIX = "ctrnet-"


class Closable(Protocol):
    def close(self) -> None: ...


_open: weakref.WeakSet[Closable] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if not _open:
        # No world to clean up: die of the signal as if we had never been here.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}: removing kernel worlds")


def close_all() -> None:
    """Close every world still open (atexit; also usable by a test session's teardown)."""
    with _lock:
        worlds = list(_open)
    for world in worlds:
        try:
            world.close()
        except Exception:  # noqa: BLE001 - keep closing the others
            pass


def register(world: Closable) -> None:
    global _installed
    with _lock:
        _open.add(world)
        if _installed:
            return
        _installed = True
    atexit.register(close_all)
    # Signal handlers can only be installed from the main thread; and we only take over
    # signals nobody else handles (a caller's own handler stays in charge).
    if threading.current_thread() is threading.main_thread():
        for signum in _TERMINATING:
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _interrupt)


def unregister(world: Closable) -> None:
    with _lock:
        _open.discard(world)


def sweep_stale() -> list[str]:
    """Remove the namespaces of kernel worlds whose process is gone (killed with SIGKILL,
    so that nothing of it could clean up); returns their names. Live processes' worlds,
    this one's included, are left alone."""
    swept = []
    for real in nsfs.listed():
        if not real.startswith(NETNS_PREFIX):
            continue
        pid_text = real[len(NETNS_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        nsfs.remove(real)
        swept.append(real)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
