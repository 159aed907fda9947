"""The simulator's frames as the bytes a kernel would put on the wire, for pcap files.

Header fields the simulator does not model get the values Linux uses: DF on TCP and on
ping's echo requests, the TCP options Linux sends (MSS, SACK-permitted, timestamps from the
virtual clock in ms, window scale 7), iputils ping's 56-byte payload, zero-filled data for
segments whose bytes the simulator does not keep.

Layering: above the frames only; capture and trace use it.
"""

from __future__ import annotations

from ctrnet.backends.sim.packet import (
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    TCP_SYN,
    Arp,
    Frame,
    Icmp,
    IPv4,
    Tcp,
    Udp,
)
from ctrnet.troubleshoot import wire

#: iputils ping's default payload: a struct timeval, then bytes 0x10, 0x11, … (56 in all).
PING_DATA = bytes(16) + bytes(range(0x10, 0x10 + 40))


def frame_bytes(frame: Frame, now: float) -> bytes:
    payload = frame.payload
    if isinstance(payload, Arp):
        body = wire.arp(payload.op, payload.sha, payload.sip, payload.tha, payload.tip)
    else:
        body = ipv4_bytes(payload, now)
    return wire.ethernet(frame.dst, frame.src, frame.ethertype, body)


def ipv4_bytes(packet: IPv4, now: float) -> bytes:
    payload = packet.payload
    dont_fragment = isinstance(payload, Tcp)
    if isinstance(payload, Tcp):
        stamp = int(now * 1000)
        options = wire.linux_tcp_options(bool(payload.flags & TCP_SYN), stamp,
                                         stamp if payload.flags & 0x10 else 0,
                                         payload.mss or 1460)
        data = payload.data if payload.data else bytes(payload.size)
        window = 64240 if payload.flags & TCP_SYN else 502
        body = wire.tcp(packet.src, packet.dst, payload.sport, payload.dport, payload.seq,
                        payload.ack, payload.flags, data, options=options, window=window)
    elif isinstance(payload, Udp):
        body = wire.udp(packet.src, packet.dst, payload.sport, payload.dport, payload.data)
    else:
        body = _icmp_bytes(payload, now)
        dont_fragment = payload.type == ICMP_ECHO
    return wire.ipv4(packet.src, packet.dst, packet.proto, body, ttl=packet.ttl,
                     ident=packet.ident, dont_fragment=dont_fragment)


def _icmp_bytes(message: Icmp, now: float) -> bytes:
    inner = message.payload
    if message.type in (ICMP_ECHO, ICMP_ECHOREPLY):
        data = inner if isinstance(inner, bytes) else PING_DATA
        return wire.icmp(message.type, message.code, (message.ident << 16) | message.seq, data)
    # icmp_send quotes as much of the offending packet as fits in 576 bytes (RFC 1812).
    quoted = ipv4_bytes(inner, now)[:548] if isinstance(inner, IPv4) else b""
    return wire.icmp(message.type, message.code, 0, quoted)
