"""`ctrnet` typed inside `ctrnet sim shell` / `sim exec`: the world commands act on the run's
world.

The run's world is held by its server (and, with --state DIR, DIR's lock is held by the run):
a `ctrnet doctor` that opened the world itself would wait for that lock for as long as the
shell lasts. So `ctrnet` is one of the run's shims: the commands that act on a simulated
world (network, connect, disconnect, ps, gc, doctor, trace, capture, topology) without an
explicit `--state-dir` run here, in the server, on the run's world under its lock (through
`Server.in_world`, which the CLI that started the run hands in); their
records (networks, endpoints) are kept with the world (`records_dir`), or in the run's
private directory (gone with the world) when the run keeps no state. Every other command (grade,
conformance, sim, --help of the whole program, `--backend kernel`…) is handed back to the
shim, which execs the real ctrnet.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from ctrnet.backends.sim.cmdline.server import ExecRequested, Invocation, Server


class _Output(io.TextIOBase):
    """sys.stdout / sys.stderr of an in-server command: text goes into the invocation's stream
    (written to the shim's own stdout/stderr after the lock is released), bytes too."""

    def __init__(self, target: io.StringIO) -> None:
        super().__init__()
        self._target = target
        self.buffer = _Bytes(target)

    def write(self, text: str) -> int:
        self._target.write(text)
        return len(text)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class _Bytes(io.RawIOBase):
    def __init__(self, target: io.StringIO) -> None:
        super().__init__()
        self._target = target

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._target.write(raw.decode("utf-8", errors="surrogateescape"))
        return len(raw)

    def writable(self) -> bool:
        return True


def records_dir(server: Server) -> str:
    """Where the networks and endpoints of the run's world are recorded: beside it as
    `ctrnet network …` keeps them (records in DIR, the world in DIR/world) when the run's
    state is such a DIR/world — `ctrnet sim shell --state ~/.local/state/ctrnet-sim/world`
    shares the world and the records of the commands typed outside — else in DIR/ctrnet."""
    if server.state_dir:
        state = os.path.normpath(server.state_dir)
        if os.path.basename(state) == "world":
            return os.path.dirname(state)
        return os.path.join(state, "ctrnet")
    return os.path.join(os.path.dirname(server.socket_path), "ctrnet")


def run(server: Server, inv: Invocation) -> int:
    """Run a world command on the run's world, or have the shim exec the real ctrnet."""
    argv = list(inv.argv)
    if server.in_world is not None:
        with server.lock:
            server.locked_cwd(inv)
            try:
                status = server.in_world(argv, server.backend, records_dir(server), inv.env,
                                         _Output(inv.stdout), _Output(inv.stderr))
            finally:
                server.scheduler.changed()
        if status is not None:
            return status
    raise ExecRequested(inv.ns, [sys.executable, "-m", "ctrnet.cli", *argv])
