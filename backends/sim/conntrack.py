"""Connection tracking of one simulated namespace (net/netfilter/nf_conntrack_*.c).

A connection has an original and a reply tuple (proto, src, dst, sport, dport; ICMP echo uses
its id as sport); NAT changes the reply tuple. A packet is classified where the kernel does it
(PREROUTING, OUTPUT): NEW until a reply is seen, ESTABLISHED after, RELATED for an ICMP error
quoting a tracked flow, INVALID otherwise. Entries are inserted (confirmed) when the first packet
leaves POSTROUTING or INPUT, and expire lazily on the virtual clock with the kernel's timeouts.

Layering: data and its bookkeeping, low in the simulator (it imports only the frames): the
namespace's netfilter state (`nfstate.py`) holds the table, `netfilter.py` classifies packets
at the hooks, and the IPv4 path ties an ICMP error to its cause (`attach_related`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctrnet.backends.sim.packet import (
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    IPPROTO_ICMP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Icmp,
    IPv4,
    Tcp,
    Udp,
)
from ctrnet.netfilter.model import CtState

if TYPE_CHECKING:
    from ctrnet.backends.sim.clock import Clock

#: (proto, src, dst, sport, dport); ICMP echo: sport is the id, dport 0.
Tuple = tuple[int, int, int, int, int]
# Bound once: on Python 3.11 each `CtState.X` is a metaclass attribute lookup (~150 ns).
_NEW, _ESTABLISHED, _INVALID = CtState.NEW, CtState.ESTABLISHED, CtState.INVALID

ORIGINAL = 0
REPLY = 1

# Status bits (enum ip_conntrack_status), those the simulator keeps.
SEEN_REPLY = 1 << 1
ASSURED = 1 << 2
CONFIRMED = 1 << 3
SRC_NAT = 1 << 4
DST_NAT = 1 << 5
SRC_NAT_DONE = 1 << 7
DST_NAT_DONE = 1 << 8

# TCP conntrack states (enum tcp_conntrack), and the pseudo-states of the transition table.
NO, SS, SR, ES, FW, CW, LA, TW, CL, S2 = range(10)
IV, IG = 98, 99
TCP_STATE_NAMES = ("NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
                   "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2")
#: net.netfilter.nf_conntrack_tcp_timeout_* defaults, seconds, by state.
TCP_TIMEOUTS = (0.0, 120.0, 60.0, 432000.0, 120.0, 60.0, 30.0, 120.0, 10.0, 120.0)
UDP_TIMEOUT = 30.0  # nf_conntrack_udp_timeout
UDP_TIMEOUT_STREAM = 120.0  # nf_conntrack_udp_timeout_stream
UDP_STREAM_AFTER = 2.0  # a flow still active 2 s after it began is a stream (ASSURED)
ICMP_TIMEOUT = 30.0  # nf_conntrack_icmp_timeout

# tcp_conntracks[dir][event][old state], events syn, synack, fin, ack, rst
# (nf_conntrack_proto_tcp.c), columns sNO sSS sSR sES sFW sCW sLA sTW sCL sS2.
_SYN, _SYNACK, _FIN, _ACK, _RST = range(5)
_TCP_TABLE = (
    (
        (SS, SS, IG, IG, IG, IG, IG, SS, SS, S2),
        (IV, IV, SR, IV, IV, IV, IV, IV, IV, SR),
        (IV, IV, FW, FW, LA, LA, LA, TW, CL, IV),
        (ES, IV, ES, ES, CW, CW, TW, TW, CL, IV),
        (IV, CL, CL, CL, CL, CL, CL, CL, CL, CL),
    ),
    (
        (IV, S2, IV, IV, IV, IV, IV, SS, IV, S2),
        (IV, SR, IG, IG, IG, IG, IG, IG, IG, SR),
        (IV, IV, FW, FW, LA, LA, LA, TW, CL, IV),
        (IV, IG, SR, ES, CW, CW, TW, TW, CL, IG),
        (IV, CL, CL, CL, CL, CL, CL, CL, CL, CL),
    ),
)


def _tcp_event(flags: int) -> int:
    # get_conntrack_index: RST first, then SYN (SYN/ACK with ACK), FIN, ACK.
    if flags & TCP_RST:
        return _RST
    if flags & TCP_SYN:
        return _SYNACK if flags & TCP_ACK else _SYN
    if flags & TCP_FIN:
        return _FIN
    return _ACK


class Conn:
    """One tracked connection (struct nf_conn)."""

    __slots__ = ("orig", "reply", "status", "tcp_state", "expires", "created", "table")

    def __init__(self, orig: Tuple, table: Conntrack, now: float) -> None:
        self.orig = orig
        self.reply: Tuple = invert(orig)
        self.status = 0
        self.tcp_state = NO
        self.expires = now
        self.created = now
        self.table = table

    @property
    def proto(self) -> int:
        return self.orig[0]


def invert(t: Tuple) -> Tuple:
    if t[0] == IPPROTO_ICMP:
        return (IPPROTO_ICMP, t[2], t[1], t[3], 0)  # the echo id is in both directions
    return (t[0], t[2], t[1], t[4], t[3])


def packet_tuple(packet: IPv4) -> Tuple | None:
    """The tuple of a TCP/UDP packet or an ICMP echo/echo reply; None for anything else."""
    payload = packet.payload
    if isinstance(payload, (Tcp, Udp)):
        return (packet.proto, packet.src, packet.dst, payload.sport, payload.dport)
    if isinstance(payload, Icmp) and payload.type in (ICMP_ECHO, ICMP_ECHOREPLY):
        return (IPPROTO_ICMP, packet.src, packet.dst, payload.ident, 0)
    return None


def is_icmp_error(packet: IPv4) -> bool:
    payload = packet.payload
    return isinstance(payload, Icmp) and isinstance(payload.payload, IPv4)


class Conntrack:
    """The conntrack table of a namespace: every confirmed tuple, both directions."""

    __slots__ = ("clock", "by_tuple")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.by_tuple: dict[Tuple, tuple[Conn, int]] = {}

    def find(self, t: Tuple) -> tuple[Conn, int] | None:
        hit = self.by_tuple.get(t)
        if hit is None:
            return None
        conn = hit[0]
        if conn.expires <= self.clock.now():
            self.remove(conn)  # gc: an expired entry is as good as gone
            return None
        return hit

    def taken(self, reply: Tuple, mine: Conn) -> bool:
        """nf_nat_used_tuple: is `reply` already some other live connection's tuple?"""
        hit = self.find(reply)
        return hit is not None and hit[0] is not mine

    def confirm(self, conn: Conn) -> bool:
        """__nf_conntrack_confirm: insert both tuples; False on a clash (the packet drops)."""
        if conn.status & CONFIRMED:
            return True
        if self.find(conn.orig) is not None or self.find(conn.reply) is not None:
            return False
        conn.status |= CONFIRMED
        self.by_tuple[conn.orig] = (conn, ORIGINAL)
        self.by_tuple[conn.reply] = (conn, REPLY)
        return True

    def remove(self, conn: Conn) -> None:
        for t in (conn.orig, conn.reply):
            hit = self.by_tuple.get(t)
            if hit is not None and hit[0] is conn:
                del self.by_tuple[t]

    def flush(self) -> None:
        self.by_tuple.clear()

    def entries(self) -> list[Conn]:
        """Live confirmed connections, oldest first."""
        now = self.clock.now()
        out: list[Conn] = []
        for t, (conn, direction) in list(self.by_tuple.items()):
            if direction != ORIGINAL or t != conn.orig:
                continue
            if conn.expires <= now:
                self.remove(conn)
            else:
                out.append(conn)
        out.sort(key=lambda c: c.created)
        return out

    # -- classification (nf_conntrack_in) ---------------------------------------------------
    def track(self, packet: IPv4) -> None:
        """Attach the packet's connection, direction and state (packet.ct/ctdir/ctinfo)."""
        now = self.clock.now()
        packet.ct, packet.ctdir, packet.ctinfo = None, ORIGINAL, _INVALID
        payload = packet.payload
        if isinstance(payload, (Tcp, Udp)):  # the common case, without packet_tuple's call
            t: Tuple = (packet.proto, packet.src, packet.dst, payload.sport, payload.dport)
        elif is_icmp_error(packet):
            self._related(packet)
            return
        else:
            found = packet_tuple(packet)
            if found is None:
                return
            t = found
        hit = self.find(t)
        if hit is None:
            conn = self._new(packet, t, now)
            if conn is None:
                return
            direction = ORIGINAL
        else:
            conn, direction = hit
        if not self._update(conn, direction, packet, now):
            return  # invalid for the protocol: the packet goes on without a connection
        packet.ct, packet.ctdir = conn, direction
        if direction == REPLY:
            packet.ctinfo = _ESTABLISHED
        else:
            packet.ctinfo = _ESTABLISHED if conn.status & SEEN_REPLY else _NEW

    def _new(self, packet: IPv4, t: Tuple, now: float) -> Conn | None:
        payload = packet.payload
        if isinstance(payload, Icmp) and payload.type != ICMP_ECHO:
            return None  # icmp_new: an echo reply cannot start a connection
        conn = Conn(t, self, now)
        if isinstance(payload, Tcp):
            # tcp_new: a SYN starts one; a bare ACK is picked up mid-stream (tcp_loose 1);
            # anything else is INVALID.
            new_state = _TCP_TABLE[ORIGINAL][_tcp_event(payload.flags)][NO]
            if new_state in (IV, IG):
                return None
        return conn

    def _update(self, conn: Conn, direction: int, packet: IPv4, now: float) -> bool:
        valid = self._protocol(conn, direction, packet, now)
        if direction == REPLY:
            conn.status |= SEEN_REPLY  # nf_conntrack_in: after the protocol has looked
        return valid

    def _protocol(self, conn: Conn, direction: int, packet: IPv4, now: float) -> bool:
        payload = packet.payload
        if isinstance(payload, Tcp):
            if direction == REPLY and payload.flags & TCP_RST and not conn.status & SEEN_REPLY:
                # "If only reply is a RST, we can consider ourselves not to have an
                # established connection": nf_conntrack_tcp_packet kills it at once.
                self.remove(conn)
                conn.expires = now
                return True
            return self._tcp(conn, direction, payload, now)
        if isinstance(payload, Udp):
            # nf_conntrack_udp_packet: replied flows still active after 2 s are streams.
            if conn.status & SEEN_REPLY:
                timeout = UDP_TIMEOUT
                if now > conn.created + UDP_STREAM_AFTER:
                    timeout = UDP_TIMEOUT_STREAM
                    conn.status |= ASSURED
                conn.expires = now + timeout
            else:
                conn.expires = now + UDP_TIMEOUT
            return True
        conn.expires = now + ICMP_TIMEOUT
        return True

    def _tcp(self, conn: Conn, direction: int, seg: Tcp, now: float) -> bool:
        old = conn.tcp_state
        new = _TCP_TABLE[direction][_tcp_event(seg.flags)][old]
        if new == IV:
            return False
        if new == IG:
            return True  # ignored: no state change, no timeout refresh
        conn.tcp_state = new
        # nf_conntrack_tcp_packet: the handshake's last ACK makes the connection ASSURED.
        if (conn.status & SEEN_REPLY and new == ES and old in (SR, ES)
                and not conn.status & ASSURED):
            conn.status |= ASSURED
        conn.expires = now + TCP_TIMEOUTS[new]
        return True

    def _related(self, packet: IPv4) -> None:
        """icmp_error_message: an ICMP error about a tracked flow is RELATED to it, in the
        direction opposite to the packet it quotes."""
        icmp = packet.payload
        assert isinstance(icmp, Icmp) and isinstance(icmp.payload, IPv4)
        inner = packet_tuple(icmp.payload)
        if inner is None:
            return
        hit = self.find(invert(inner))
        if hit is None:
            return
        conn, direction = hit
        packet.ct, packet.ctdir, packet.ctinfo = conn, direction, CtState.RELATED


def attach_related(answer: IPv4, packet: IPv4) -> None:
    """nf_ct_attach: the answer the stack makes about `packet` (REJECT's ICMP error or RST)
    belongs to the packet's connection, RELATED, in the other direction."""
    conn = packet.ct
    if isinstance(conn, Conn):
        answer.ct, answer.ctdir, answer.ctinfo = conn, REPLY - packet.ctdir, CtState.RELATED
