"""A simulated world kept on disk between runs: `--state DIR` of `ctrnet sim exec|shell`.

The SimBackend is pickled into DIR/world.pickle, written to a temporary file and renamed
into place, so a crash never leaves half a world. The world's pending timers are closures
(a neighbour's retransmit, say), which plain pickle refuses: `_WorldPickler` stores such a
function as its code (marshal), its module and its closure cells. The files are therefore
tied to the Python version that wrote them, which the header checks. DIR/lock keeps two runs
from using one state at the same time; different directories are independent.
"""

from __future__ import annotations

import fcntl
import importlib
import io
import marshal
import os
import pickle
import sys
import tempfile
import types
from pathlib import Path
from typing import IO, Any

from ctrnet.backends.sim.backend import SimBackend

from ctrnet.errors import InvalidConfig

WORLD_FILE = "world.pickle"
LOCK_FILE = "lock"
#: Written first in the file: a world pickled by another Python (code objects) or format
#: cannot be read back.
_FORMAT = f"ctrnet-sim-world 1 {sys.implementation.cache_tag}"


def _function(code: bytes, module: str, name: str, ncells: int,
              defaults: tuple[Any, ...] | None) -> types.FunctionType:
    """A function rebuilt from its marshalled code, with empty cells filled in later."""
    cells = tuple(types.CellType() for _ in range(ncells))
    func = types.FunctionType(marshal.loads(code), vars(importlib.import_module(module)),
                              name, defaults, cells or None)
    return func


def _fill_cells(func: types.FunctionType, values: tuple[Any, ...]) -> None:
    # The cells are filled after the function is memoised, so a closure referring back to
    # the world that holds it (the usual case) unpickles without infinite recursion.
    for cell, value in zip(func.__closure__ or (), values, strict=True):
        cell.cell_contents = value


class _WorldPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, types.FunctionType) or _importable(obj):
            return NotImplemented
        cells = tuple(c.cell_contents for c in obj.__closure__ or ())
        args = (marshal.dumps(obj.__code__), obj.__module__, obj.__name__, len(cells),
                obj.__defaults__)
        return _function, args, cells, None, None, _fill_cells


def _importable(func: types.FunctionType) -> bool:
    module = sys.modules.get(func.__module__)
    target: Any = module
    for part in func.__qualname__.split("."):
        target = getattr(target, part, None)
    return target is func


def dumps(backend: SimBackend) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_FORMAT.encode() + b"\n")
    _WorldPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(backend)
    return buffer.getvalue()


def loads(data: bytes, origin: str = "the state") -> SimBackend:
    header, _, body = data.partition(b"\n")
    if header.decode(errors="replace") != _FORMAT:
        raise InvalidConfig(f"{origin} was written by another ctrnet or Python "
                            f"({header.decode(errors='replace')!r}, expected {_FORMAT!r})")
    try:
        backend = pickle.loads(body)
    except Exception as err:  # noqa: BLE001 - any unreadable state is one clear message
        raise InvalidConfig(f"{origin} cannot be read back ({type(err).__name__}: {err}); "
                            "remove it to start from a fresh world") from err
    if not isinstance(backend, SimBackend):
        raise InvalidConfig(f"{origin} does not hold a simulated world")
    return backend


def save(backend: SimBackend, state_dir: str) -> None:
    """Write the world into `state_dir` atomically (temporary file, fsync, rename)."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    data = dumps(backend)
    fd, tmp = tempfile.mkstemp(prefix=".world-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / WORLD_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(state_dir: str) -> SimBackend:
    """The world saved in `state_dir`, or a fresh one when there is none yet."""
    path = Path(state_dir) / WORLD_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return SimBackend()
    return loads(data, str(path))


def lock_state(state_dir: str) -> IO[bytes]:
    """Take DIR/lock for the run (closing the returned file releases it). A second run on
    the same state fails at once rather than have two worlds diverge."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "wb")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InvalidConfig(f"state directory {state_dir} is in use by another "
                            "`ctrnet sim` run") from None
    return handle
