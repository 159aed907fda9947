"""Sockets of a simulated namespace: TCP/UDP listeners, connections, ephemeral ports, and the
demultiplexing of received segments and datagrams (tcp_v4_rcv / udp_rcv) and of ICMP errors
about them (tcp_v4_err / udp_err).

The probes (`connect`, `transfer`) drive the world until their socket has an answer or their
deadline passes on the virtual clock. A closed TCP port answers RST, a closed UDP port ICMP
port unreachable, as the kernel does.

Layering: the top of the packet path, above IPv4 and TCP. TCP and UDP register their receive
and ICMP error functions with the IPv4 path (`ipv4.inet_add_protocol`, the kernel's
inet_protos); a namespace holds its table opaque (`Namespace.sockets`), read through
`sockets()` here. Only the backend's operations and probes are above it.
"""

from __future__ import annotations

import errno
import struct

from ctrnet.backend import Listener
from ctrnet.backends.sim.devices import Device, Namespace
from ctrnet.backends.sim.ipv4 import icmp_error, inet_add_protocol, ip_local_out, route_output
from ctrnet.backends.sim.packet import (
    ICMP_DEST_UNREACH,
    ICMP_PORT_UNREACH,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    Icmp,
    IPv4,
    Tcp,
    Udp,
    ip_str,
)
from ctrnet.backends.sim.tcp import TcpConn
from ctrnet.backends.sim.world import World
from ctrnet.errors import BackendError, from_errno
from ctrnet.types import Endpoint, Proto

#: net.ipv4.ip_local_port_range default.
EPHEMERAL_LOW, EPHEMERAL_HIGH = 32768, 60999
#: What a TCP listener answers at EOF: the bytes it received, 8 bytes big-endian.
COUNT = struct.Struct("!Q")
#: icmp_err_convert: (errno, fatal) by destination-unreachable code; a UDP socket only
#: reports fatal ones (without IP_RECVERR), a TCP socket in SYN_SENT any of them.
ICMP_ERRORS = {
    0: (errno.ENETUNREACH, False), 1: (errno.EHOSTUNREACH, False),
    2: (errno.ENOPROTOOPT, True), 3: (errno.ECONNREFUSED, True),
    4: (errno.EMSGSIZE, False), 5: (errno.EOPNOTSUPP, False),
    6: (errno.ENETUNREACH, True), 7: (errno.EHOSTDOWN, True), 8: (errno.ENONET, True),
    9: (errno.ENETUNREACH, True), 10: (errno.EHOSTUNREACH, True),
    11: (errno.ENETUNREACH, False), 12: (errno.EHOSTUNREACH, False),
    13: (errno.EHOSTUNREACH, True), 14: (errno.EHOSTUNREACH, False),
    15: (errno.EHOSTUNREACH, True),
}

#: (proto, local address, local port, remote address, remote port)
ConnKey = tuple[int, int, int, int, int]


class UdpSock:
    """A connected UDP client socket: what came back, or the error that did."""

    __slots__ = ("key", "replies", "error")

    def __init__(self, key: ConnKey) -> None:
        self.key = key
        self.replies: list[bytes] = []
        self.error: int | None = None


class SimListener(Listener):
    """A listener in the simulated world (see `Backend.listen`)."""

    def __init__(self, table: Sockets, proto: Proto, address: str, port: int) -> None:
        self.table = table
        self.ns = table.ns.name
        self.proto = proto
        self.address = address
        self.port = port
        self.ip = 0 if address == "0.0.0.0" else int.from_bytes(bytes(
            int(part) for part in address.split(".")), "big")
        self._peers: list[Endpoint] = []
        self._received = 0
        self.closed = False

    def peers(self) -> list[Endpoint]:
        return list(self._peers)

    def received(self) -> int:
        return self._received

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.table.unlisten(self)

    # -- what the serving side does ---------------------------------------------------------
    def accepted(self, conn: TcpConn) -> None:
        self._peers.append(Endpoint(ip_str(conn.raddr), conn.rport))

    def got(self, size: int) -> None:
        self._received += size

    def eof(self, conn: TcpConn) -> None:
        # The kernel backend's listener: at EOF, answer the byte count and hang up.
        conn.write(COUNT.pack(conn.rx_count))
        conn.shutdown()

    def datagram(self, world: World, packet: IPv4, udp: Udp) -> None:
        self._peers.append(Endpoint(ip_str(packet.src), udp.sport))
        self._received += len(udp.data)
        src = self.ip or packet.dst
        echo = IPv4(src, packet.src, IPPROTO_UDP, Udp(self.port, udp.sport, udp.data),
                    ident=world.next_ip_id())
        ip_local_out(world, self.table.ns, echo)


class Sockets:
    """The socket tables of one namespace."""

    def __init__(self, world: World, ns: Namespace) -> None:
        self.world = world
        self.ns = ns
        self.listeners: dict[tuple[int, int], list[SimListener]] = {}
        self.conns: dict[ConnKey, TcpConn | UdpSock] = {}
        self.next_port = EPHEMERAL_LOW + world.rng.randrange(EPHEMERAL_HIGH - EPHEMERAL_LOW)
        self.next_iss = world.rng.getrandbits(31)
        self.woken = 0

    def wake(self) -> None:
        """Something a waiting probe may care about happened."""
        self.woken += 1

    # -- binding ----------------------------------------------------------------------------
    def listen(self, proto: Proto, address: str, port: int) -> SimListener:
        number = IPPROTO_TCP if proto is Proto.TCP else IPPROTO_UDP
        if address != "0.0.0.0":
            ip = int.from_bytes(bytes(int(p) for p in address.split(".")), "big")
            if not self.ns.fib.is_local(ip):
                raise from_errno(errno.EADDRNOTAVAIL, f"{address} is not an address of "
                                                      f"namespace {self.ns.name}")
        if port == 0:
            port = self.ephemeral(number)
        for other in self.listeners.get((number, port), []):
            if "0.0.0.0" in (other.address, address) or other.address == address:
                raise from_errno(errno.EADDRINUSE, f"{proto} port {port} in use in namespace "
                                                   f"{self.ns.name}")
        listener = SimListener(self, Proto(proto), address, port)
        self.listeners.setdefault((number, port), []).append(listener)
        return listener

    def unlisten(self, listener: SimListener) -> None:
        number = IPPROTO_TCP if listener.proto is Proto.TCP else IPPROTO_UDP
        found = self.listeners.get((number, listener.port), [])
        if listener in found:
            found.remove(listener)

    def ephemeral(self, proto: int) -> int:
        used = {key[2] for key in self.conns if key[0] == proto}
        used |= {port for (number, port) in self.listeners if number == proto}
        size = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
        for _ in range(size):
            port = self.next_port
            self.next_port = EPHEMERAL_LOW + (port - EPHEMERAL_LOW + 1) % size
            if port not in used:
                return port
        raise from_errno(errno.EADDRNOTAVAIL, "no ephemeral port left")

    def listener_for(self, proto: int, ip: int, port: int) -> SimListener | None:
        for listener in self.listeners.get((proto, port), []):
            if listener.ip in (0, ip):
                return listener
        return None

    def tcp_conn(self, laddr: int, lport: int, raddr: int, rport: int, mss: int) -> TcpConn:
        iss = self.next_iss
        self.next_iss = (iss + 64000) & 0x7FFFFFFF
        conn = TcpConn(self.world, self.ns, self, laddr, lport, raddr, rport, mss, iss)
        self.conns[(IPPROTO_TCP, laddr, lport, raddr, rport)] = conn
        return conn

    def forget(self, conn: TcpConn) -> None:
        key = (IPPROTO_TCP, conn.laddr, conn.lport, conn.raddr, conn.rport)
        if self.conns.get(key) is conn:
            del self.conns[key]


def sockets(world: World, ns: Namespace) -> Sockets:
    """The socket table of `ns`, made on first use."""
    table = ns.sockets
    if table is None:
        table = ns.sockets = Sockets(world, ns)
    assert isinstance(table, Sockets)
    return table


# -- receive ------------------------------------------------------------------------------------
def transport_rcv(world: World, ns: Namespace, packet: IPv4, dev: Device) -> None:
    """A TCP segment or UDP datagram delivered to this namespace (tcp_v4_rcv, udp_rcv)."""
    table = ns.sockets
    if not isinstance(table, Sockets):
        table = None
    payload = packet.payload
    key = (packet.proto, packet.dst, 0, packet.src, 0)
    if isinstance(payload, Tcp):
        key = (IPPROTO_TCP, packet.dst, payload.dport, packet.src, payload.sport)
        conn = table.conns.get(key) if table is not None else None
        if isinstance(conn, TcpConn):
            conn.receive(payload)
            return
        listener = table.listener_for(IPPROTO_TCP, packet.dst, payload.dport) \
            if table is not None else None
        if listener is not None and payload.flags & TCP_SYN and not payload.flags & TCP_ACK:
            assert table is not None
            child = table.tcp_conn(packet.dst, payload.dport, packet.src, payload.sport,
                                   _mss(ns, packet.src))
            child.accept_syn(payload, listener)
            return
        if payload.flags & TCP_RST:
            return
        # tcp_v4_send_reset: nobody listens.
        if payload.flags & TCP_ACK:
            reset = Tcp(payload.dport, payload.sport, payload.ack, 0, TCP_RST)
        else:
            length = payload.size + (1 if payload.flags & TCP_SYN else 0)
            reset = Tcp(payload.dport, payload.sport, 0, payload.seq + length, TCP_RST | TCP_ACK)
        ip_local_out(world, ns, IPv4(packet.dst, packet.src, IPPROTO_TCP, reset,
                                     ident=world.next_ip_id()))
        return
    assert isinstance(payload, Udp)
    key = (IPPROTO_UDP, packet.dst, payload.dport, packet.src, payload.sport)
    sock = table.conns.get(key) if table is not None else None
    if isinstance(sock, UdpSock):
        sock.replies.append(payload.data)
        assert table is not None
        table.wake()
        return
    listener = table.listener_for(IPPROTO_UDP, packet.dst, payload.dport) \
        if table is not None else None
    if listener is not None:
        listener.datagram(world, packet, payload)
        return
    icmp_error(world, ns, packet, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, indev=dev)


def transport_err(world: World, ns: Namespace, packet: IPv4) -> None:
    """An ICMP error quoting one of our segments or datagrams (tcp_v4_err, udp_err)."""
    icmp = packet.payload
    table = ns.sockets
    if not isinstance(table, Sockets) or not isinstance(icmp, Icmp) \
            or icmp.type != ICMP_DEST_UNREACH:
        return
    inner = icmp.payload
    if not isinstance(inner, IPv4) or not isinstance(inner.payload, (Tcp, Udp)):
        return
    key = (inner.proto, inner.src, inner.payload.sport, inner.dst, inner.payload.dport)
    sock = table.conns.get(key)
    errno_value, fatal = ICMP_ERRORS.get(icmp.code, (errno.EHOSTUNREACH, False))
    if isinstance(sock, TcpConn):
        sock.icmp_error(errno_value)
    elif isinstance(sock, UdpSock) and fatal:
        sock.error = errno_value
        table.wake()


def _mss(ns: Namespace, peer: int) -> int:
    try:
        mtu = route_output(ns, peer).dev.mtu
    except BackendError:
        mtu = 1500
    return mtu - 40 - 12  # IPv4 + TCP headers, and the timestamp option every segment has


inet_add_protocol(IPPROTO_TCP, transport_rcv, transport_err)
inet_add_protocol(IPPROTO_UDP, transport_rcv, transport_err)
