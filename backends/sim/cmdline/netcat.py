"""`nc` (OpenBSD netcat as Debian ships it) on the simulated world.

`nc -l [-p] PORT` listens in the shim's namespace and blocks — without the world lock — until
a client has connected and hung up. Like the real one it accepts one connection (then stops
listening), sends it what its own stdin holds (read to EOF first, a terminal counts as empty),
prints what it received (TCP), and hangs up when the client does; with -N it also hangs up
its own side after sending. UDP: prints datagrams as they come (until the run ends it).
`nc HOST PORT` connects (from -p PORT if given), sends its stdin and hangs up; `-z` only
connects, `-w` bounds the wait on the virtual clock, `-v` says how it went — on the listener,
"Listening on"/"Bound on" and "Connection received on" with -n, or, without -n, the failed
reverse lookup a namespace without a name server gets.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from functools import partial

from ctrnet.backends.sim.cmdline.scheduler import Cancelled, Interrupted
from ctrnet.backends.sim.cmdline.server import Invocation, Server
from ctrnet.backends.sim.cmdline.tools import namespace_exists_in
from ctrnet.backends.sim.packet import IPPROTO_TCP, IPPROTO_UDP, ip_str
from ctrnet.backends.sim.sockets import SimListener, sockets
from ctrnet.backends.sim.tcp import TcpConn
from ctrnet.cmdline.context import CommandFailed, Unsupported
from ctrnet.errors import CtrnetError, NotModelled
from ctrnet.types import ConnectOutcome, ConnectResult, Endpoint, Proto

#: How long an unanswered TCP connect lasts without -w: SYN and 6 retransmissions
#: (tcp_syn_retries = 6), 1+2+4+…+64 seconds.
SYN_TIMEOUT = 127.0
_USAGE = "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n"
_FAILURES = {
    ConnectOutcome.REFUSED: "Connection refused",
    ConnectOutcome.UNREACHABLE: "Network is unreachable",
    ConnectOutcome.TIMEOUT: "Connection timed out",
}


#: What getnameinfo(3) says in a namespace that reaches no name server: `nc -v` without -n
#: prints it instead of each address it would name.
_NO_NAMES = "nc: getnameinfo: Temporary failure in name resolution\n"


class NcListener(SimListener):
    """A listener that keeps what it receives and, unlike the probes' listener, does not
    answer a byte count: the far end gets what the real `nc -l` sends, its stdin."""

    conns: list[TcpConn]
    datagrams: list[bytes]
    done: bool
    #: The listener's stdin, once read to EOF (None while it is still being read).
    payload: bytes | None
    close_after_send: bool

    def accepted(self, conn: TcpConn) -> None:
        super().accepted(conn)
        self.conns.append(conn)
        if len(self.conns) == 1:
            # OpenBSD nc without -k closes its listening socket once it has a connection:
            # a second client is refused.
            self.table.unlisten(self)
        if self.payload is not None:
            self.send(conn)

    def send(self, conn: TcpConn) -> None:
        assert self.payload is not None
        if self.payload:
            conn.write(self.payload)
        if self.close_after_send:
            conn.shutdown()

    def eof(self, conn: TcpConn) -> None:
        # OpenBSD nc: the peer's FIN ends the session; it closes its side and exits.
        if not self.close_after_send:
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
    numeric: bool = False
    source_port: int | None = None


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
                        args.source_port = _port(value)
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
                elif flag == "n":
                    args.numeric = True
                elif flag == "4":
                    pass  # IPv4: what the simulator does anyway
                else:
                    raise Unsupported("nc", f"option -{flag}")
        else:
            positional.append(word)
    if args.listen:
        # -l -p PORT (the traditional form) or -l [HOST] PORT.
        args.port, args.source_port = args.source_port, None
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
        listener.payload, listener.close_after_send = None, args.close_on_eof
        if args.verbose:
            verb = "Bound" if args.udp else "Listening"
            inv.stderr.write(_named(args, f"{verb} on {args.host or '0.0.0.0'} {args.port}\n"))
    server.flush(inv)
    try:
        if args.udp:
            return _serve_udp(server, inv, listener, args)
        payload = _read_stdin(server, inv)
        with server.lock:
            listener.payload = payload
            for conn in listener.conns:
                listener.send(conn)
            server.backend.world.run()
            server.scheduler.changed()
        # Done when the client hangs up (with -N our FIN may have gone first: then the
        # connection is past the state in which the listener hears of the peer's).
        server.scheduler.wait_for(inv.pid, lambda: listener.done or any(
            conn.peer_fin for conn in listener.conns) or not namespace_exists_in(
            server, listener.ns))
        with server.lock:
            for conn in listener.conns[:1]:
                if args.verbose:
                    inv.stderr.write(_named(args, f"Connection received on "
                                                  f"{ip_str(conn.raddr)} {conn.rport}\n"))
                inv.stdout.write(bytes(conn.rx_bytes).decode(errors="replace"))
        return 0
    finally:
        with server.lock:
            listener.close()


def _named(args: NcArgs, line: str) -> str:
    """A -v line that names an address: as is with -n, else the failed reverse lookup."""
    return line if args.numeric else _NO_NAMES


def _read_stdin(server: Server, inv: Invocation) -> bytes:
    """The invocation's stdin to EOF; a terminal counts as empty (nobody types into a
    listener started in the background, and the simulator cannot relay keystrokes)."""
    fd = inv.fds.get(0)
    if fd is None or os.isatty(fd):
        return b""
    return server.scheduler.blocked_reading(inv.pid, fd, inv.read_stdin).encode()


def _serve_udp(server: Server, inv: Invocation, listener: NcListener, args: NcArgs) -> int:
    shown = 0
    while True:
        server.scheduler.wait_for(inv.pid, partial(_more_than, listener.datagrams, shown))
        with server.lock:
            fresh = listener.datagrams[shown:]
            if shown == 0 and args.verbose:
                peer = listener.peers()[0]
                inv.stderr.write(_named(args, f"Connection received on {peer.ip} "
                                              f"{peer.port}\n"))
            shown = len(listener.datagrams)
        for data in fresh:
            inv.stdout.write(data.decode(errors="replace"))
        server.flush(inv)


def _more_than(items: list[bytes], count: int) -> bool:
    return len(items) > count


def _tcp_start(server: Server, ns: str, host: str, port: int) -> TcpConn | None:
    """connect(2) begins (lock held): the SYN goes out; None without a route (ENETUNREACH)."""
    from ctrnet.backends.sim.ipv4 import route_output
    from ctrnet.backends.sim.packet import parse_ip
    from ctrnet.backends.sim.sockets import _mss
    from ctrnet.errors import BackendError

    world = server.backend.world
    space = world.ns(ns)
    dst = parse_ip(host)
    try:
        route = route_output(space, dst)
    except BackendError:
        return None
    table = sockets(world, space)
    conn = table.tcp_conn(route.src or 0, table.ephemeral(IPPROTO_TCP), dst, port,
                          _mss(space, dst))
    conn.connect()
    world.run()
    return conn


def _tcp_finish(server: Server, inv: Invocation, conn: TcpConn | None, timeout: float,
                payload: bytes) -> ConnectResult:
    """The rest of the exchange, waiting on the virtual clock without the world lock — so a
    `timeout` or a kill can end it, as it ends the real nc blocked in connect(2) or read(2):
    the handshake, then the payload and our FIN, then the peer's FIN; `timeout` virtual
    seconds in all (nc -w, else the SYN retransmissions' 127 s)."""
    from ctrnet.backends.sim.probes import _outcome
    from ctrnet.backends.sim.tcp import State

    if conn is None:
        return ConnectResult(ConnectOutcome.UNREACHABLE)
    scheduler, world = server.scheduler, server.backend.world
    local = Endpoint(ip_str(conn.laddr), conn.lport)
    with server.lock:
        deadline = world.clock.now() + timeout
    try:
        scheduler.wait_until(inv.pid, lambda: conn.state is not State.SYN_SENT, timeout)
        with server.lock:
            if conn.state is State.SYN_SENT:
                conn.abort()
                return ConnectResult(ConnectOutcome.TIMEOUT, local)
            if conn.error is not None:
                return ConnectResult(_outcome(conn.error), local)
            conn.write(payload)
            conn.shutdown()
            world.run()
            scheduler.changed()
            left = max(0.0, deadline - world.clock.now())
        scheduler.wait_until(
            inv.pid, lambda: conn.peer_fin or conn.state is State.CLOSED, left)
    except (Interrupted, Cancelled):
        with server.lock:  # the process dies: its socket closes
            if conn.state is State.SYN_SENT:
                conn.abort()
            elif not conn.fin_queued:
                conn.shutdown()
            world.run()
            scheduler.changed()
        raise
    with server.lock:
        if conn.state not in (State.TIME_WAIT, State.CLOSED):
            conn.abort()  # the far side did not hang up in time: connected all the same
        return ConnectResult(ConnectOutcome.CONNECTED, local, bytes(conn.rx_bytes))


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
        ns = inv.ns or server.backend.host_ns
        table = sockets(server.backend.world, server.backend.world.ns(ns))
        following = table.next_port
        if args.source_port is not None:
            # bind(2) to -p PORT before connecting: the port the next ephemeral pick returns.
            number = IPPROTO_UDP if args.udp else IPPROTO_TCP
            if args.source_port in {key[2] for key in table.conns if key[0] == number}:
                raise CommandFailed("nc: Address already in use\n", 1)
            table.next_port = args.source_port
        try:
            if args.udp:
                result = server.backend.connect(ns, proto, args.host, args.port,
                                                timeout=timeout, payload=payload)
            else:
                started = _tcp_start(server, ns, args.host, args.port)
        except NotModelled:
            raise  # the simulator met what it does not model: the server refuses loudly
        except CtrnetError as err:
            raise CommandFailed(f"nc: getaddrinfo for host \"{args.host}\" port {args.port}: "
                                "Name or service not known\n", 1) from err
        finally:
            if args.source_port is not None:
                table.next_port = following
            server.scheduler.changed()
    if not args.udp:
        result = _tcp_finish(server, inv, started, timeout, payload)
    where = f"{args.host} port {args.port} ({proto})"
    if result.outcome is ConnectOutcome.CONNECTED or (
            args.udp and result.outcome is ConnectOutcome.TIMEOUT):
        if args.verbose:
            inv.stderr.write(f"Connection to {args.host} {args.port} port "
                             f"[{proto}/{_service(args.port, str(proto))}] succeeded!\n")
        if result.reply and not args.zero_io:
            inv.stdout.write(result.reply.decode(errors="replace"))
        return 0
    if args.udp and result.outcome is ConnectOutcome.REFUSED:
        # UDP has no connection to refuse: the port unreachable only fails the probe that
        # -v and -z make (udptest()), silently; plain data was sent all the same.
        return 1 if args.verbose or args.zero_io else 0
    # OpenBSD nc names a failed connect only with -v (it tries the next address otherwise).
    if not args.verbose:
        return 1
    if result.outcome is ConnectOutcome.TIMEOUT and args.wait is not None:
        inv.stderr.write(f"nc: connect to {where} timed out: Operation now in progress\n")
        return 1
    inv.stderr.write(f"nc: connect to {where} failed: {_FAILURES[result.outcome]}\n")
    return 1
