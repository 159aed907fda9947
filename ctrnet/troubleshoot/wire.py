"""Packets as bytes: Ethernet II carrying ARP or IPv4 (ICMP, TCP, UDP), built with correct
checksums and decoded back into a `Decoded` summary that captures, filters and the tcpdump
formatter share. Only the fields a learner reads are decoded; anything else stays raw.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
IPPROTO_ICMP = 1
IPPROTO_IGMP = 2
IPPROTO_TCP = 6
IPPROTO_UDP = 17

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_bytes(mac: int) -> bytes:
    return mac.to_bytes(6, "big")


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def ip_text(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


# -- building ----------------------------------------------------------------------------
def ethernet(dst: int, src: int, ethertype: int, payload: bytes) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


def arp(op: int, sha: int, sip: int, tha: int, tip: int) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, op, mac_bytes(sha),
                       sip.to_bytes(4, "big"), mac_bytes(tha), tip.to_bytes(4, "big"))


def ipv4(src: int, dst: int, proto: int, payload: bytes, *, ttl: int = 64, ident: int = 0,
         dont_fragment: bool = False, tos: int = 0) -> bytes:
    flags = 0x4000 if dont_fragment else 0
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident & 0xFFFF, flags,
                         ttl, proto, 0, src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def icmp(type_: int, code: int, rest: int, data: bytes) -> bytes:
    """An ICMP message; `rest` is the 32-bit rest of header (id << 16 | seq for echo)."""
    body = struct.pack("!BBHI", type_, code, 0, rest & 0xFFFFFFFF) + data
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def _pseudo(src: int, dst: int, proto: int, length: int) -> bytes:
    return src.to_bytes(4, "big") + dst.to_bytes(4, "big") + struct.pack("!BBH", 0, proto, length)


def tcp(src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int,
        data: bytes, *, options: bytes = b"", window: int = 64240) -> bytes:
    if len(options) % 4:
        options += b"\1" * (4 - len(options) % 4)
    offset = (20 + len(options)) // 4
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          offset << 4, flags, window, 0, 0) + options + data
    total = checksum(_pseudo(src, dst, IPPROTO_TCP, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", total) + segment[18:]


def udp(src: int, dst: int, sport: int, dport: int, data: bytes) -> bytes:
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    total = checksum(_pseudo(src, dst, IPPROTO_UDP, len(datagram)) + datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", total) + datagram[8:]


def linux_tcp_options(syn: bool, tsval: int, tsecr: int, mss: int = 1460) -> bytes:
    """The options Linux puts on a segment: a SYN carries MSS, SACK-permitted, timestamps and
    window scale (tcp_options_write order); every other segment NOP, NOP, timestamps."""
    stamps = struct.pack("!BBII", 8, 10, tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)
    if syn:
        return struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + stamps + b"\x01\x03\x03\x07"
    return b"\x01\x01" + stamps


# -- decoding ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoded:
    """What one Ethernet frame says, as far as ctrnet reads it."""

    src_mac: str
    dst_mac: str
    ethertype: int
    length: int  # the whole frame
    # ARP
    arp_op: int | None = None
    arp_sha: str | None = None
    arp_sip: str | None = None
    arp_tip: str | None = None
    # IPv4
    src: str | None = None
    dst: str | None = None
    proto: int | None = None
    ttl: int | None = None
    ip_id: int | None = None
    ip_length: int | None = None
    # TCP / UDP
    sport: int | None = None
    dport: int | None = None
    tcp_flags: int | None = None
    seq: int | None = None
    ack: int | None = None
    window: int | None = None
    tcp_options: bytes = b""
    payload_length: int = 0
    # ICMP
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_id: int | None = None
    icmp_seq: int | None = None
    #: For ICMP errors: the quoted packet's protocol, destination and destination port.
    quoted_proto: int | None = None
    quoted_dst: str | None = None
    quoted_dport: int | None = None
    # IGMP (RFC 2236, RFC 3376): the message, its group, max response code, v3 record count
    igmp_type: int | None = None
    igmp_code: int | None = None
    igmp_group: str | None = None
    igmp_records: int | None = None

    @property
    def is_arp(self) -> bool:
        return self.arp_op is not None

    @property
    def is_ip(self) -> bool:
        return self.src is not None


def decode(frame: bytes) -> Decoded:
    """Decode an Ethernet frame; what cannot be decoded leaves its fields None."""
    if len(frame) < 14:
        return Decoded("", "", 0, len(frame))
    dst_mac, src_mac = mac_text(frame[0:6]), mac_text(frame[6:12])
    (ethertype,) = struct.unpack("!H", frame[12:14])
    base: dict[str, Any] = {"src_mac": src_mac, "dst_mac": dst_mac, "ethertype": ethertype,
            "length": len(frame)}
    body = frame[14:]
    if ethertype == ETH_P_ARP and len(body) >= 28:
        op = struct.unpack("!H", body[6:8])[0]
        return Decoded(**base, arp_op=op, arp_sha=mac_text(body[8:14]),
                       arp_sip=ip_text(body[14:18]), arp_tip=ip_text(body[24:28]))
    if ethertype != ETH_P_IP or len(body) < 20:
        return Decoded(**base)
    return Decoded(**base, **_ip_fields(body))


def _ip_fields(body: bytes) -> dict[str, Any]:
    ihl = (body[0] & 0x0F) * 4
    total, ident = struct.unpack("!HH", body[2:6])
    fields: dict[str, Any] = {
        "src": ip_text(body[12:16]), "dst": ip_text(body[16:20]), "proto": body[9],
        "ttl": body[8], "ip_id": ident, "ip_length": total,
    }
    rest = body[ihl:total] if total >= ihl else body[ihl:]
    proto = body[9]
    if proto == IPPROTO_TCP and len(rest) >= 20:
        sport, dport, seq, ack, off, flags, window = struct.unpack("!HHIIBBH", rest[:16])
        hlen = (off >> 4) * 4
        fields.update(sport=sport, dport=dport, seq=seq, ack=ack, tcp_flags=flags,
                      window=window, tcp_options=bytes(rest[20:hlen]),
                      payload_length=max(len(rest) - hlen, 0))
    elif proto == IPPROTO_UDP and len(rest) >= 8:
        sport, dport, length = struct.unpack("!HHH", rest[:6])
        fields.update(sport=sport, dport=dport, payload_length=max(length - 8, 0))
    elif proto == IPPROTO_IGMP and len(rest) >= 8:
        fields.update(igmp_type=rest[0], igmp_code=rest[1], igmp_group=ip_text(rest[4:8]),
                      payload_length=len(rest))
        if rest[0] == 0x22:  # v3 report: reserved(2), number of group records(2)
            fields.update(igmp_records=struct.unpack("!H", rest[6:8])[0])
    elif proto == IPPROTO_ICMP and len(rest) >= 8:
        type_, code, _, ident_, seq_ = struct.unpack("!BBHHH", rest[:8])
        fields.update(icmp_type=type_, icmp_code=code, payload_length=len(rest) - 8)
        if type_ in (0, 8):
            fields.update(icmp_id=ident_, icmp_seq=seq_)
        elif len(rest) >= 28:
            quoted = rest[8:]
            qihl = (quoted[0] & 0x0F) * 4
            fields.update(quoted_proto=quoted[9], quoted_dst=ip_text(quoted[16:20]))
            if quoted[9] in (IPPROTO_TCP, IPPROTO_UDP) and len(quoted) >= qihl + 4:
                fields.update(quoted_dport=struct.unpack("!H", quoted[qihl + 2:qihl + 4])[0])
    return fields


def tcp_timestamps(options: bytes) -> tuple[int, int] | None:
    """TSval and TSecr of a TCP option block, if it has the timestamp option."""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(options):
            break
        size = options[i + 1]
        if kind == 8 and size == 10:
            val, ecr = struct.unpack("!II", options[i + 2:i + 10])
            return val, ecr
        i += max(size, 2)
    return None
