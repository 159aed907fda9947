"""NAT bindings and packet rewriting on top of conntrack (net/netfilter/nf_nat_core.c).

A binding is made once per connection and manipulation type (source or destination), on its
first packet: it rewrites the connection's reply tuple, keeping it unique in the namespace by
moving the source port (nf_nat_get_unique_tuple). Every later packet of the connection, either
direction, is then rewritten from the tuples (nf_nat_packet); ICMP errors RELATED to it get
their quoted header translated too (nf_nat_icmp_reply_translation).

Layering: netfilter's data, low in the simulator (it imports only conntrack and the
frames); `netfilter.py` binds and rewrites through it at the hooks.
"""

from __future__ import annotations

from ctrnet.backends.sim.conntrack import (
    DST_NAT,
    DST_NAT_DONE,
    ORIGINAL,
    REPLY,
    SRC_NAT,
    SRC_NAT_DONE,
    Conn,
    Tuple,
    invert,
    is_icmp_error,
)
from ctrnet.backends.sim.packet import IPPROTO_ICMP, Icmp, IPv4, Tcp, Udp

SRC = 0  # POSTROUTING, INPUT
DST = 1  # PREROUTING, OUTPUT


def initialized(conn: Conn, mtype: int) -> bool:
    return bool(conn.status & (SRC_NAT_DONE if mtype == SRC else DST_NAT_DONE))


def bind(conn: Conn, mtype: int, ip: int | None, port_min: int | None,
         port_max: int | None) -> bool:
    """nf_nat_setup_info: map the source (SRC) or destination (DST) to `ip` (None: keep) and a
    port of [port_min, port_max] (None: keep, unless the tuple is taken). False if no unique
    tuple is left (the packet is dropped)."""
    # The tuple as the packet looks after the manipulations already bound (a DNAT in
    # PREROUTING comes before the SNAT of POSTROUTING).
    orig = invert(conn.reply)
    proto, ports = orig[0], orig[0] != IPPROTO_ICMP
    if mtype == SRC:
        new_ip = orig[1] if ip is None else ip
        first = orig[3]
    else:
        new_ip = orig[2] if ip is None else ip
        first = orig[4]
    if port_min is not None and proto != IPPROTO_ICMP:
        low, high = port_min, port_max if port_max is not None else port_min
        specified = True
    elif first < 512:
        low, high, specified = 1, 511, False
    elif first < 1024:
        low, high, specified = 600, 1023, False
    else:
        low, high, specified = 1024, 65535, False
    table = conn.table

    def candidate(port: int) -> Tuple:
        if mtype == SRC:
            t = (proto, new_ip, orig[2], port, orig[4] if ports else 0)
        else:
            t = (proto, orig[1], new_ip, orig[3], port)
        return invert(t)

    reply = candidate(first)
    if (specified and not low <= first <= high) or table.taken(reply, conn):
        if mtype == DST and not specified:
            pass  # a destination keeps its port: only SRC manipulations move ports
        else:
            size = high - low + 1
            offset = (first - low + 1) % size if low <= first <= high else 0
            for step in range(size):
                reply = candidate(low + (offset + step) % size)
                if not table.taken(reply, conn):
                    break
            else:
                return False
    if reply != conn.reply:
        conn.status |= SRC_NAT if mtype == SRC else DST_NAT
    conn.reply = reply
    conn.status |= SRC_NAT_DONE if mtype == SRC else DST_NAT_DONE
    return True


def _status_bit(direction: int, mtype: int) -> int:
    bit = SRC_NAT if mtype == SRC else DST_NAT
    if direction == REPLY:
        bit = DST_NAT if bit == SRC_NAT else SRC_NAT
    return bit


def manip(packet: IPv4, mtype: int) -> IPv4:
    """nf_nat_packet: the packet as the connection's NAT makes it look at a hook of type
    `mtype`; the same object when nothing changes."""
    conn = packet.ct
    if not isinstance(conn, Conn):
        return packet
    direction = packet.ctdir
    if not conn.status & _status_bit(direction, mtype):
        return packet
    other = conn.reply if direction == ORIGINAL else conn.orig
    target = invert(other)
    if is_icmp_error(packet):
        return _icmp_error(packet, mtype, other, target)
    return _rewrite(packet, mtype, target)


def _rewrite(packet: IPv4, mtype: int, target: Tuple, ports: bool = True) -> IPv4:
    out = packet.copy()
    payload = packet.payload
    if mtype == SRC:
        out.src = target[1]
        if ports and isinstance(payload, (Tcp, Udp)):
            out.payload = payload.with_ports(target[3], payload.dport)
    else:
        out.dst = target[2]
        if ports and isinstance(payload, (Tcp, Udp)):
            out.payload = payload.with_ports(payload.sport, target[4])
    if ports and isinstance(payload, Icmp) and packet.proto == IPPROTO_ICMP \
            and payload.ident != target[3]:
        out.payload = Icmp(payload.type, payload.code, target[3], payload.seq, payload.payload)
    return out


def _icmp_error(packet: IPv4, mtype: int, other: Tuple, target: Tuple) -> IPv4:
    icmp = packet.payload
    assert isinstance(icmp, Icmp) and isinstance(icmp.payload, IPv4)
    # The quoted packet travelled the other way: it gets the opposite manipulation, to the
    # other direction's tuple, so the receiver recognises what it sent.
    inner = _rewrite(icmp.payload, DST if mtype == SRC else SRC, other)
    out = _rewrite(packet, mtype, target, ports=False)
    out.payload = Icmp(icmp.type, icmp.code, icmp.ident, icmp.seq, inner)
    return out
