"""Opening a simulated world, fresh or kept in a state directory between processes.

`open_world(state_dir=DIR)` waits for DIR's lock, loads the world saved there (or makes a
fresh one) and hands it out; closing it saves the world back and releases the lock, instead
of destroying it. This is how `ctrnet network create` in one process and `ctrnet connect` in
the next see one simulated world, as they would see one kernel.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO, Any

from ctrnet.backends.sim import persist
from ctrnet.backends.sim.backend import SimBackend


class _Keeper:
    """What a kept world must do on close: save itself into `state_dir`, then unlock."""

    __slots__ = ("state_dir", "lock")

    def __init__(self, state_dir: str, lock: IO[bytes]) -> None:
        self.state_dir = state_dir
        self.lock = lock

    def __call__(self, backend: SimBackend) -> None:
        try:
            persist.save(backend, self.state_dir)
        finally:
            self.lock.close()


def open_world(*, state_dir: str | None = None, **options: Any) -> SimBackend:
    """A SimBackend: fresh, or the one kept in `state_dir` (blocking until no other process
    holds it)."""
    if state_dir is None:
        return SimBackend(**options)
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    lock = open(directory / persist.LOCK_FILE, "wb")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        backend = persist.load(state_dir)
    except BaseException:
        lock.close()
        raise
    backend.keeper = _Keeper(state_dir, lock)
    return backend
