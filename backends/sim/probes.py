"""TCP/UDP probes in the simulated world: connect and bulk transfer, as the kernel backend's
probes do them (TCP: handshake, send, shut down, read the answer to EOF; UDP: send, await the
echo), each waiting on the virtual clock until its socket has an answer or the deadline passes.

Layering: above the stack, part of the backend: it drives the sockets and the IPv4 path.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ctrnet.backends.sim.ipv4 import ip_local_out, route_output
from ctrnet.backends.sim.packet import IPPROTO_TCP, IPPROTO_UDP, IPv4, Udp, ip_str
from ctrnet.backends.sim.sockets import COUNT, UdpSock, _mss, sockets
from ctrnet.backends.sim.tcp import State, TcpConn
from ctrnet.errors import BackendError, from_errno
from ctrnet.types import ConnectOutcome, ConnectResult, Endpoint, Proto, TransferResult

if TYPE_CHECKING:
    from ctrnet.backends.sim.devices import Namespace
    from ctrnet.backends.sim.world import World

_UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH)


def _outcome(error: int | None) -> ConnectOutcome:
    if error == errno.ECONNREFUSED:
        return ConnectOutcome.REFUSED
    if error in _UNREACHABLE:
        return ConnectOutcome.UNREACHABLE
    if error is None:
        return ConnectOutcome.TIMEOUT
    raise from_errno(error, "connect")


def _source(ns: Namespace, dst: int) -> int | None:
    """The source connect(2) binds to: routing's choice; None without a route."""
    try:
        route = route_output(ns, dst)
    except BackendError:
        return None
    return route.src if route.src is not None else 0


def _handshake(world: World, ns: Namespace, dst: int, port: int,
               deadline: float) -> TcpConn | None:
    src = _source(ns, dst)
    if src is None:
        return None
    table = sockets(world, ns)
    conn = table.tcp_conn(src, table.ephemeral(IPPROTO_TCP), dst, port, _mss(ns, dst))
    conn.connect()
    world.run_until(lambda: conn.state is not State.SYN_SENT, deadline)
    return conn


def connect(world: World, ns: Namespace, proto: Proto, dst: int, port: int, *, timeout: float,
            payload: bytes) -> ConnectResult:
    deadline = world.clock.now() + timeout
    if proto is Proto.UDP:
        return _udp(world, ns, dst, port, deadline, payload)
    conn = _handshake(world, ns, dst, port, deadline)
    if conn is None:
        return ConnectResult(ConnectOutcome.UNREACHABLE)  # connect(2): ENETUNREACH
    local = Endpoint(ip_str(conn.laddr), conn.lport)
    if conn.state is State.SYN_SENT:
        conn.abort()
        return ConnectResult(ConnectOutcome.TIMEOUT, local)
    if conn.error is not None:
        return ConnectResult(_outcome(conn.error), local)
    conn.write(payload)
    conn.shutdown()
    world.run_until(lambda: conn.peer_fin or conn.state is State.CLOSED, deadline)
    if conn.state not in (State.TIME_WAIT, State.CLOSED):
        conn.abort()  # the far side did not hang up in time: connected all the same
    return ConnectResult(ConnectOutcome.CONNECTED, local, bytes(conn.rx_bytes))


def _udp(world: World, ns: Namespace, dst: int, port: int, deadline: float,
         payload: bytes) -> ConnectResult:
    src = _source(ns, dst)
    if src is None:
        return ConnectResult(ConnectOutcome.UNREACHABLE)
    table = sockets(world, ns)
    lport = table.ephemeral(IPPROTO_UDP)
    key = (IPPROTO_UDP, src, lport, dst, port)
    sock = table.conns[key] = UdpSock(key)
    try:
        ip_local_out(world, ns, IPv4(src, dst, IPPROTO_UDP, Udp(lport, port, payload),
                                     ident=world.next_ip_id()))
        world.run_until(lambda: bool(sock.replies) or sock.error is not None, deadline)
    finally:
        del table.conns[key]
    local = Endpoint(ip_str(src), lport)
    if sock.replies:
        return ConnectResult(ConnectOutcome.CONNECTED, local, sock.replies[0])
    return ConnectResult(_outcome(sock.error), local)


def transfer(world: World, ns: Namespace, dst: int, port: int, nbytes: int, *,
             timeout: float) -> TransferResult:
    what = f"transfer of {nbytes} bytes to {ip_str(dst)}:{port}"
    deadline = world.clock.now() + timeout
    conn = _handshake(world, ns, dst, port, deadline)
    if conn is None:
        raise from_errno(errno.ENETUNREACH, f"{what}: no route")
    if conn.state is State.SYN_SENT:
        conn.abort()
        raise from_errno(errno.ETIMEDOUT, f"{what}: timed out")
    if conn.error is not None:
        raise from_errno(conn.error, what)
    start = world.clock.now()
    conn.write(size=nbytes)
    conn.shutdown()
    world.run_until(lambda: conn.peer_fin or conn.state is State.CLOSED, deadline)
    seconds = world.clock.now() - start
    if len(conn.rx_bytes) < COUNT.size:
        if conn.state not in (State.TIME_WAIT, State.CLOSED):
            conn.abort()
            raise from_errno(errno.ETIMEDOUT, f"{what}: timed out")
        raise from_errno(conn.error or errno.ECONNRESET,
                         f"{what}: the listener hung up without a count")
    (count,) = COUNT.unpack(bytes(conn.rx_bytes[:COUNT.size]))
    return TransferResult(nbytes=int(count), seconds=seconds)
