"""`nc` (OpenBSD netcat as Debian ships it) on the simulated world.

`nc -l [-p] PORT` listens in the shim's namespace and blocks — without the world lock — until
a client has connected and hung up, then prints what it received (TCP), or prints datagrams
as they come (UDP, until the run ends it). `nc HOST PORT` connects, sends its stdin and
hangs up; `-z` only connects, `-w` bounds the wait on the virtual clock, `-v` says how it went.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from functools import partial

from ctrnet.backends.sim.cmdline.scheduler import Cancelled
from ctrnet.backends.sim.cmdline.server import Invocation, Server
from ctrnet.backends.sim.cmdline.tools import namespace_exists_in
from ctrnet.backends.sim.sockets import SimListener
from ctrnet.backends.sim.tcp import TcpConn

from ctrnet.cmdline.context import CommandFailed, Unsupported
from ctrnet.errors import CtrnetError
from ctrnet.types import ConnectOutcome, Endpoint, Proto

#: How long an unanswered TCP connect lasts without -w: SYN and 6 retransmissions
#: (tcp_syn_retries = 6), 1+2+4+…+64 seconds.
SYN_TIMEOUT = 127.0
_USAGE = "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n"
_FAILURES = {
    ConnectOutcome.REFUSED: "Connection refused",
    ConnectOutcome.UNREACHABLE: "Network is unreachable",
    ConnectOutcome.TIMEOUT: "Connection timed out",
}


class NcListener(SimListener):
    """A listener that keeps what it receives and, unlike the probes' listener, does not
    answer a byte count: the far end sees what a real `nc -l` sends (nothing)."""

    conns: list[TcpConn]
    datagrams: list[bytes]
    done: bool

    def accepted(self, conn: TcpConn) -> None:
        super().accepted(conn)
        self.conns.append(conn)

    def eof(self, conn: TcpConn) -> None:
        # OpenBSD nc: the peer's FIN ends the session (stdin is at EOF in a script).
        conn.shutdown()
        self.done = True

    def datagram(self, world: object, packet: object, udp: object) -> None:
        from ctrnet.backends.sim.packet import IPv4, Udp, ip_str

        assert isinstance(packet, IPv4) and isinstance(udp, Udp)
        # Recorded, not echoed: a real `nc -u -l` prints datagrams and answers nothing.
        self._peers.append(Endpoint(ip_str(packet.src), udp.sport))
        self._received += len(udp.data)
        self.datagrams.append(bytes(udp.data))


@dataclass
class NcArgs:
    listen: bool = False
    udp: bool = False
    zero_io: bool = False
    verbose: bool = False
    wait: float | None = None
    close_on_eof: bool = False
    port: int | None = None
    host: str | None = None


def parse(argv: list[str]) -> NcArgs:
    args = NcArgs()
    positional: list[str] = []
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word.startswith("-") and len(word) > 1:
            letters = word[1:]
            while letters:
                flag, letters = letters[0], letters[1:]
                if flag in "pwq":
                    value = letters or (rest.pop(0) if rest else "")
                    letters = ""
                    if not value:
                        raise CommandFailed(f"nc: option requires an argument -- '{flag}'\n"
                                            + _USAGE, 1)
                    if flag == "p":
                        args.port = _port(value)
                    elif flag == "q":
                        args.close_on_eof = True  # the quit delay itself is not modelled
                    else:
                        args.wait = float(value)
                elif flag == "l":
                    args.listen = True
                elif flag == "u":
                    args.udp = True
                elif flag == "z":
                    args.zero_io = True
                elif flag == "v":
                    args.verbose = True
                elif flag == "N":
                    args.close_on_eof = True
                elif flag in "n4":
                    pass  # numeric only / IPv4: what the simulator does anyway
                else:
                    raise Unsupported("nc", f"option -{flag}")
        else:
            positional.append(word)
    if args.listen:
        if len(positional) == 2:
            args.host, args.port = positional[0], _port(positional[1])
        elif len(positional) == 1 and args.port is None:
            args.port = _port(positional[0])
        elif positional or args.port is None:
            raise CommandFailed(_USAGE, 1)
    else:
        if len(positional) != 2:
            raise CommandFailed(_USAGE, 1)
        if "-" in positional[1]:
            raise Unsupported("nc", "port ranges")
        args.host, args.port = positional[0], _port(positional[1])
    return args


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise CommandFailed(f"nc: port number invalid: {text}\n", 1)
    return int(text)


def _service(port: int, proto: str) -> str:
    try:
        return socket.getservbyport(port, proto)
    except OSError:
        return "*"


def run(server: Server, inv: Invocation) -> int:
    """The `nc` tool of the server's table."""
    try:
        args = parse(inv.argv)
        return listen(server, inv, args) if args.listen else connect(server, inv, args)
    except CommandFailed as failure:
        inv.stderr.write(failure.message)
        return failure.status
    except Cancelled:
        return 143


def listen(server: Server, inv: Invocation, args: NcArgs) -> int:
    proto = Proto.UDP if args.udp else Proto.TCP
    assert args.port is not None
    with server.lock:
        ns = inv.ns or server.backend.host_ns
        try:
            listener = server.backend.listen(ns, proto, args.port, args.host or "0.0.0.0")
        except CtrnetError as err:
            raise CommandFailed(f"nc: {os.strerror(err.errno or errno.EINVAL)}\n", 1) from err
        assert isinstance(listener, SimListener)
        listener.__class__ = NcListener
        assert isinstance(listener, NcListener)
        listener.conns, listener.datagrams, listener.done = [], [], False
        if args.verbose:
            inv.stderr.write(f"Listening on {args.host or '0.0.0.0'} {args.port}\n")
    try:
        if args.udp:
            return _serve_udp(server, inv, listener)
        server.scheduler.wait_for(inv.pid, lambda: listener.done or not namespace_exists_in(
            server, listener.ns))
        with server.lock:
            for conn in listener.conns:
                inv.stdout.write(bytes(conn.rx_bytes).decode(errors="replace"))
        return 0
    finally:
        with server.lock:
            listener.close()


def _serve_udp(server: Server, inv: Invocation, listener: NcListener) -> int:
    shown = 0
    while True:
        server.scheduler.wait_for(inv.pid, partial(_more_than, listener.datagrams, shown))
        with server.lock:
            fresh = listener.datagrams[shown:]
            shown = len(listener.datagrams)
        for data in fresh:
            inv.stdout.write(data.decode(errors="replace"))
        server.flush(inv)


def _more_than(items: list[bytes], count: int) -> bool:
    return len(items) > count


def connect(server: Server, inv: Invocation, args: NcArgs) -> int:
    if not (args.udp or args.zero_io or args.close_on_eof or args.wait is not None):
        # Debian's nc keeps the connection open after stdin's EOF until the peer closes
        # (-q -1): against `nc -l`, which waits for the same, both hang for ever.
        raise Unsupported("nc", "a TCP connection left open after stdin EOF (Debian nc "
                          "waits for the peer to close: add -N, -q SECS or -w SECS)")
    payload = b""
    if not args.zero_io:
        payload = server.scheduler.blocked_reading(inv.pid, inv.fds.get(0), inv.read_stdin).encode()
    proto = Proto.UDP if args.udp else Proto.TCP
    assert args.host is not None and args.port is not None
    timeout = args.wait if args.wait is not None else (SYN_TIMEOUT if not args.udp else 0.0)
    with server.lock:
        try:
            result = server.backend.connect(inv.ns or server.backend.host_ns, proto, args.host,
                                            args.port, timeout=timeout, payload=payload)
        except CtrnetError as err:
            raise CommandFailed(f"nc: getaddrinfo for host \"{args.host}\" port {args.port}: "
                                "Name or service not known\n", 1) from err
        finally:
            server.scheduler.changed()
    where = f"{args.host} port {args.port} ({proto})"
    if result.outcome is ConnectOutcome.CONNECTED or (
            args.udp and result.outcome is ConnectOutcome.TIMEOUT):
        if args.verbose:
            inv.stderr.write(f"Connection to {args.host} {args.port} port "
                             f"[{proto}/{_service(args.port, str(proto))}] succeeded!\n")
        if result.reply and not args.zero_io:
            inv.stdout.write(result.reply.decode(errors="replace"))
        return 0
    # OpenBSD nc names a failed connect only with -v (it tries the next address otherwise).
    if not args.verbose:
        return 1
    if result.outcome is ConnectOutcome.TIMEOUT and args.wait is not None:
        inv.stderr.write(f"nc: connect to {where} timed out: Operation now in progress\n")
        return 1
    inv.stderr.write(f"nc: connect to {where} failed: {_FAILURES[result.outcome]}\n")
    return 1
