"""The simulator's server: one SimBackend world for a whole run, behind a unix socket.

Every shim connects, hands over its stdin/stdout/stderr (SCM_RIGHTS) and its request; the
server runs the tool against the world under one lock (commands are serialized, as if the
kernel's rtnl lock were the only one), writes the tool's output to the shim's own stdout and
stderr after the lock is released, and replies with the exit status — or with a command to
exec in a namespace (`ip netns exec`, `nsenter`). Waiting (sleep, a listener) is done by the
`Scheduler` without holding the lock.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline import client
from ctrnet.backends.sim.cmdline.etcnetns import EtcNetns
from ctrnet.backends.sim.cmdline.scheduler import Interrupted, Scheduler
from ctrnet.errors import NotModelled

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def _peer_pid(conn: socket.socket) -> int:
    """The shim's pid as this process sees it (SO_PEERCRED): a shim in a pid namespace of its
    own (the grader's sandbox) reports another number, which the scheduler's look at /proc
    would not find. 0 when the kernel does not say."""
    try:
        pid, _, _ = _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  _UCRED.size))
    except OSError:
        return 0
    return int(pid)

#: Bytes of request a shim may send (argv of a huge `ip -batch` goes through a file instead).
MAX_REQUEST = 4 << 20


class ExecRequested(Exception):
    """A tool asks the shim to exec `argv` with the shims acting in namespace `ns`."""

    def __init__(self, ns: str, argv: list[str], style: str = "ip") -> None:
        super().__init__(ns, argv)
        self.ns = ns
        self.argv = argv
        self.style = style


class _Stream(io.StringIO):
    """A tool's stdout or stderr: text goes into the shared, ordered list of chunks, so the
    interleaving of the two streams is kept when they are written out."""

    def __init__(self, fd: int, chunks: list[tuple[int, str]]) -> None:
        super().__init__()
        self._fd = fd
        self._chunks = chunks

    def write(self, text: str) -> int:
        if text:
            self._chunks.append((self._fd, text))
        return super().write(text)


@dataclass
class Invocation:
    """One shim command: what it asked for, and where its output goes."""

    tool: str
    argv: list[str]
    ns: str
    cwd: str
    pid: int
    env: dict[str, str]
    fds: dict[int, int]  # the shim's fd number -> our duplicate of it
    chunks: list[tuple[int, str]] = field(default_factory=list)
    stdout: _Stream = field(init=False)
    stderr: _Stream = field(init=False)

    def __post_init__(self) -> None:
        self.stdout = _Stream(1, self.chunks)
        self.stderr = _Stream(2, self.chunks)

    def read_stdin(self) -> str:
        """All of the shim's stdin (empty when it has none). Call it outside the lock."""
        fd = self.fds.get(0)
        if fd is None:
            return ""
        data = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data.append(chunk)
        return b"".join(data).decode(errors="replace")


#: `ctrnet` typed in the run, on the run's world: (argv, world, records directory, locale
#: variables, stdout, stderr) -> exit status, or None when it is not a command on the world.
InWorld = Callable[[list[str], SimBackend, str, dict[str, str], Any, Any], "int | None"]

#: A server-side tool: runs one invocation (taking the lock itself when it needs the world)
#: and returns its exit status, or raises ExecRequested.
Tool = Callable[["Server", Invocation], int]


class Server:
    """Holds the world and answers the shims of one run."""

    def __init__(self, backend: SimBackend, socket_path: str, shim_dir: str,
                 tools: dict[str, Tool]) -> None:
        self.backend = backend
        self.socket_path = socket_path
        self.tools = tools
        #: The run's --state DIR (None: a fresh world, discarded at the end).
        self.state_dir: str | None = None
        #: How `ctrnet` typed in the run acts on this world (given by the CLI that started
        #: the run; None: `ctrnet` runs as itself).
        self.in_world: InWorld | None = None
        self.scheduler = Scheduler(backend, shim_dir, os.getpid())
        self.lock = self.scheduler.cond
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(socket_path)
        self._listener.listen(128)
        self._threads: list[threading.Thread] = []
        self._closing = False
        #: The run's /etc/netns, kept the same as the world's files around every request.
        self.etc: EtcNetns | None = None
        #: Whether the command sees `etc` as /etc/netns (a root run's private /etc): if not,
        #: `ip netns exec` cannot put a namespace's files over /etc, and says so.
        self.etc_bound = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()
        accept = threading.Thread(target=self._accept_loop, name="ctrnet-sim-accept",
                                  daemon=True)
        accept.start()

    def close(self) -> None:
        """Stop answering; blocked requests are released with status 143 (terminated)."""
        self._closing = True
        self.scheduler.close()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    # -- one connection ------------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        fds: list[int] = []
        try:
            with conn:
                inv, fds = self._receive(conn)
                conn.sendall(client.encode(self._answer(inv)))
        except (OSError, ValueError, IndexError, KeyError):
            # The shim went away (killed at the end of the run, Ctrl-C) or is not one of ours
            # (a malformed request): there is nobody to answer.
            pass
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _receive(self, conn: socket.socket) -> tuple[Invocation, list[int]]:
        first, fds, _, _ = socket.recv_fds(conn, 65536, 3)
        data = [first]
        size = len(first)
        while size < MAX_REQUEST:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data.append(chunk)
            size += len(chunk)
        fields = client.decode(b"".join(data))
        if fields[0] != client.MAGIC:
            raise ValueError("not a ctrnet sim shim")
        tool, ns, cwd, pid, their_fds, count = fields[1:7]
        nenv = int(count)
        env = dict(item.split("=", 1) for item in fields[7:7 + nenv])
        their = [int(fd) for fd in their_fds.split(",") if fd]
        inv = Invocation(tool=tool, argv=fields[7 + nenv:], ns=ns, cwd=cwd,
                         pid=_peer_pid(conn) or int(pid),
                         env=env, fds=dict(zip(their, fds, strict=False)))
        return inv, fds

    def _answer(self, inv: Invocation) -> list[str]:
        if inv.tool == client.INTERRUPT:
            # A shim got a signal while waiting for its answer: its blocked request ends.
            self.scheduler.interrupt(inv.pid, int(inv.argv[0]))
            return ["status", "0"]
        tool = self.tools.get(inv.tool)
        self._sync_etc(pull=True)
        self.scheduler.begin(inv.pid)
        try:
            if tool is None:
                inv.stderr.write(f"ctrnet sim: {inv.tool}: command not found\n")
                status = 127
            else:
                status = tool(self, inv)
        except ExecRequested as request:
            self._warn_unbound_etc(inv, request)
            self.flush(inv)
            return ["exec", request.ns, request.style, *request.argv]
        except Interrupted as stop:
            # The tool's default reaction to the signal: it dies of it, after what it wrote.
            self.flush(inv)
            return ["signal", str(stop.signum)]
        except NotModelled as err:
            # The world met what the simulator does not model (e.g. an ICMP redirect): the
            # command that made it run fails loudly, never with a silent different answer.
            inv.stderr.write(f"ctrnet sim: {inv.tool}: not modelled: {err.message}\n")
            status = 2
        except Exception as err:  # noqa: BLE001 - a simulator bug must not hang the shim
            inv.stderr.write(f"ctrnet sim: {inv.tool}: internal error: "
                             f"{type(err).__name__}: {err}\n")
            status = 70  # EX_SOFTWARE
        else:
            refused = self.scheduler.take_refused()  # met while the clock moved meanwhile
            if refused is not None:
                inv.stderr.write(f"ctrnet sim: {inv.tool}: not modelled: {refused.message}\n")
                status = 2
        finally:
            self.scheduler.end(inv.pid)
            self._sync_etc(pull=False)
        if self._closing:
            return ["signal", "15"]
        if not self.flush(inv):
            return ["signal", "13"]  # SIGPIPE, as the real tool gets writing to a closed pipe
        return ["status", str(status)]

    def _sync_etc(self, *, pull: bool) -> None:
        if self.etc is None:
            return
        with self.lock:
            if pull:
                self.etc.pull(self.backend)
            else:
                self.etc.push(self.backend)

    def _warn_unbound_etc(self, inv: Invocation, request: ExecRequested) -> None:
        """Loud, not silent: iproute2 would bind the namespace's /etc/netns files over /etc
        for the command; without root the run cannot, so the command sees the machine's."""
        space = self.backend.world.namespaces.get(request.ns)
        if self.etc_bound or request.style != "ip" or space is None:
            return
        files = sorted(space.etc or {})
        if files:
            inv.stderr.write(f"ctrnet sim: /etc/netns/{request.ns}/ ({', '.join(files)}) is not "
                             "put over /etc for this command: that needs a run as root\n")

    def flush(self, inv: Invocation) -> bool:
        """Write the tool's output to the shim's stdout/stderr; False on a broken pipe."""
        for fd_number, text in inv.chunks:
            fd = inv.fds.get(fd_number)
            if fd is None:
                continue
            data = text.encode()
            try:
                while data:
                    data = data[os.write(fd, data):]
            except BrokenPipeError:
                return False
            except OSError as err:
                if err.errno == errno.EPIPE:
                    return False
                # EBADF and the like: the shim's stream is gone, the output is lost as it
                # would be for the real tool.
        inv.chunks.clear()
        return True

    def locked_cwd(self, inv: Invocation) -> None:
        """Enter the shim's working directory, for tools that open files by relative name.
        Call it with the lock held: the working directory is the whole process's."""
        try:
            os.chdir(inv.cwd)
        except OSError:
            pass
