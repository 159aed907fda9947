"""Opening a simulated world, fresh or kept in a state directory between processes.

`open_world(state_dir=DIR)` waits for DIR's lock, loads the world saved there (or makes a
fresh one) and hands it out; `checkpoint()` saves it (the network manager calls it before an
operation's journal entry goes, so the world and the records move together); closing it
saves the world back and releases the lock, instead of destroying it. This is how
`ctrnet network create` in one process and `ctrnet connect` in the next see one simulated
world, as they would see one kernel.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from ctrnet.backends.sim import persist
from ctrnet.backends.sim.backend import SimBackend


class _Keeper:
    """What a kept world must do: save itself into `state_dir`; on close, then unlock."""

    __slots__ = ("state_dir", "lock_fd", "records")

    def __init__(self, state_dir: str, lock_fd: int, records: dict[str, str] | None) -> None:
        self.state_dir = state_dir
        self.lock_fd = lock_fd
        #: The network manager's records as of the last save (None: it never saved any).
        self.records = records

    def save(self, backend: SimBackend, records: dict[str, str] | None = None) -> None:
        if records is not None:
            self.records = dict(records)
        persist.save(backend, self.state_dir, records=self.records)

    def __call__(self, backend: SimBackend) -> None:
        try:
            self.save(backend)
        finally:
            os.close(self.lock_fd)


def open_world(*, state_dir: str | None = None, **options: Any) -> SimBackend:
    """A SimBackend: fresh, or the one kept in `state_dir` (blocking until no other process
    holds it)."""
    if state_dir is None:
        return SimBackend(**options)
    lock_fd = persist.open_lock(state_dir)  # no symlink followed, nothing truncated
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        backend, records = persist.load_with_records(state_dir)
    except BaseException:
        os.close(lock_fd)
        raise
    backend.keeper = _Keeper(state_dir, lock_fd, records)
    return backend
