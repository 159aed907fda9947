"""tcpdump's one-line format (`tcpdump -n`, no -v) for the packets ctrnet captures: ARP, ICMP
echo and errors, TCP (relative sequence numbers, as tcpdump shows them by default), UDP and
IGMP (a bridge or an address joining a group sends reports the kernel times itself);
and `summary`, a form without addresses that differ between backends (MACs, ports, ISNs),
for comparing one exchange captured on two backends.
"""

from __future__ import annotations

import time as _time
from dataclasses import replace

from ctrnet.troubleshoot.pcap import Record
from ctrnet.troubleshoot.wire import (
    IPPROTO_ICMP,
    IPPROTO_IGMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    TCP_URG,
    Decoded,
    decode,
)

#: tcp_flag_values of print-tcp.c, in the order tcpdump prints them.
_FLAGS = ((TCP_FIN, "F"), (TCP_SYN, "S"), (TCP_RST, "R"), (TCP_PSH, "P"), (TCP_ACK, "."),
          (TCP_URG, "U"), (0x40, "E"), (0x80, "W"))
_UNREACH = {0: "net", 1: "host", 2: "protocol", 3: "port", 9: "net", 10: "host",
            13: "host"}
_PROTO_NAMES = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_ICMP: "icmp"}


def flags_text(flags: int) -> str:
    return "".join(mark for bit, mark in _FLAGS if flags & bit) or "none"


def timestamp(seconds: float) -> str:
    """HH:MM:SS.micro in local time, as tcpdump prints by default."""
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1_000_000))
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    return _time.strftime("%H:%M:%S", _time.localtime(whole)) + f".{micros:06d}"


class Formatter:
    """Formats frames one after another; it remembers each TCP conversation's initial
    sequence numbers to print relative ones (print-tcp.c's tcp_seq_hash)."""

    def __init__(self, *, absolute_seq: bool = False) -> None:
        self.absolute_seq = absolute_seq
        self._isn: dict[tuple[tuple[str, int], tuple[str, int]], tuple[int, int]] = {}

    def line(self, record: Record, *, with_time: bool = True) -> str:
        text = self.describe(decode(record.data))
        return f"{timestamp(record.time)} {text}" if with_time else text

    def describe(self, d: Decoded) -> str:
        if d.is_arp:
            return _arp(d)
        if not d.is_ip:
            return f"ethertype Unknown (0x{d.ethertype:04x}), length {d.length}"
        if d.proto == IPPROTO_TCP and d.tcp_flags is not None:
            return f"IP {d.src}.{d.sport} > {d.dst}.{d.dport}: {self._tcp(d)}"
        if d.proto == IPPROTO_UDP and d.sport is not None:
            return f"IP {d.src}.{d.sport} > {d.dst}.{d.dport}: UDP, length {d.payload_length}"
        if d.proto == IPPROTO_ICMP and d.icmp_type is not None:
            return f"IP {d.src} > {d.dst}: {_icmp(d)}"
        if d.proto == IPPROTO_IGMP and d.igmp_type is not None:
            return f"IP {d.src} > {d.dst}: {_igmp(d)}"
        return f"IP {d.src} > {d.dst}: ip-proto-{d.proto} {(d.ip_length or 20) - 20}"

    def _tcp(self, d: Decoded) -> str:
        assert d.tcp_flags is not None and d.seq is not None and d.ack is not None
        assert d.src is not None and d.dst is not None
        assert d.sport is not None and d.dport is not None
        flags, seq, ack = d.tcp_flags, d.seq, d.ack
        if not self.absolute_seq and flags & TCP_ACK:
            # print-tcp.c: only segments with ACK take part; the first one seen of a
            # conversation (or any SYN) sets both directions' bases and prints absolute.
            here, there = (d.src, d.sport), (d.dst, d.dport)
            rev = _ip_key(d.src, d.sport) > _ip_key(d.dst, d.dport)
            key = (there, here) if rev else (here, there)
            bases = self._isn.get(key)
            if bases is None or flags & TCP_SYN:
                if rev:
                    self._isn[key] = ((ack - 1) % 2**32, seq)
                else:
                    self._isn[key] = (seq, (ack - 1) % 2**32)
            elif rev:
                seq, ack = (seq - bases[1]) % 2**32, (ack - bases[0]) % 2**32
            else:
                seq, ack = (seq - bases[0]) % 2**32, (ack - bases[1]) % 2**32
        parts = [f"Flags [{flags_text(flags)}]"]
        length = d.payload_length
        if length > 0 or flags & (TCP_SYN | TCP_FIN | TCP_RST):
            parts.append(f"seq {seq}" + (f":{(seq + length) % 2**32}" if length else ""))
        if flags & TCP_ACK:
            parts.append(f"ack {ack}")
        parts.append(f"win {d.window}")
        options = _tcp_options(d.tcp_options)
        if options:
            parts.append(f"options [{options}]")
        parts.append(f"length {length}")
        return ", ".join(parts)


def _ip_key(ip: str, port: int) -> tuple[bytes, int]:
    return bytes(int(part) for part in ip.split(".")), port


def _arp(d: Decoded) -> str:
    length = d.length - 14
    if d.arp_op == 1:
        return f"ARP, Request who-has {d.arp_tip} tell {d.arp_sip}, length {length}"
    if d.arp_op == 2:
        return f"ARP, Reply {d.arp_sip} is-at {d.arp_sha}, length {length}"
    return f"ARP, op {d.arp_op}, length {length}"


def _icmp(d: Decoded) -> str:
    length = (d.ip_length or 28) - 20
    if d.icmp_type in (0, 8):
        kind = "echo reply" if d.icmp_type == 0 else "echo request"
        return f"ICMP {kind}, id {d.icmp_id}, seq {d.icmp_seq}, length {length}"
    if d.icmp_type == 3:
        code = d.icmp_code or 0
        if code == 3 and d.quoted_proto in (IPPROTO_TCP, IPPROTO_UDP):
            name = _PROTO_NAMES[d.quoted_proto]
            return (f"ICMP {d.quoted_dst} {name} port {d.quoted_dport} unreachable, "
                    f"length {length}")
        if code == 2:
            return f"ICMP {d.quoted_dst} protocol {d.quoted_proto} unreachable, length {length}"
        what = _UNREACH.get(code, "host")
        suffix = {9: " - admin prohibited", 10: " - admin prohibited",
                  13: " - admin prohibited filter"}.get(code, "")
        return f"ICMP {what} {d.quoted_dst} unreachable{suffix}, length {length}"
    if d.icmp_type == 11:
        return f"ICMP time exceeded in-transit, length {length}"
    return f"ICMP type-#{d.icmp_type}, length {length}"


def _tcp_options(options: bytes) -> str:
    out: list[str] = []
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            out.append("eol")
            break
        if kind == 1:
            out.append("nop")
            i += 1
            continue
        size = options[i + 1] if i + 1 < len(options) else 2
        body = options[i + 2:i + size]
        if kind == 2 and size == 4:
            out.append(f"mss {int.from_bytes(body, 'big')}")
        elif kind == 3 and size == 3:
            out.append(f"wscale {body[0]}")
        elif kind == 4:
            out.append("sackOK")
        elif kind == 8 and size == 10:
            out.append(f"TS val {int.from_bytes(body[:4], 'big')} "
                       f"ecr {int.from_bytes(body[4:], 'big')}")
        else:
            out.append(f"unknown-{kind}")
        i += max(size, 2)
    return ",".join(out)


def lines(records: list[Record], *, with_time: bool = True) -> list[str]:
    formatter = Formatter()
    return [formatter.line(r, with_time=with_time) for r in records]


def summary(d: Decoded) -> str:
    """What happened, without what differs between backends or runs: MACs, ephemeral
    ports, sequence numbers, IP ids, ICMP ids, timing. ("ARP who-has 10.0.0.2 tell
    10.0.0.1", "TCP 10.0.0.1 > 10.0.0.2.8080 [S]", "ICMP echo request 10.0.0.1 > 10.0.0.2")"""
    if d.is_arp:
        if d.arp_op == 1:
            return f"ARP who-has {d.arp_tip} tell {d.arp_sip}"
        if d.arp_op == 2:
            return f"ARP reply {d.arp_sip} is-at (MAC) to {d.arp_tip}"
        return f"ARP op {d.arp_op}"
    if d.proto == IPPROTO_TCP and d.tcp_flags is not None:
        # Name the server port only: the client's is ephemeral.
        server = d.dport if (d.sport or 0) > (d.dport or 0) else d.sport
        return (f"TCP {d.src} > {d.dst} port {server} [{flags_text(d.tcp_flags)}]"
                f" length {d.payload_length}")
    if d.proto == IPPROTO_UDP:
        server = d.dport if (d.sport or 0) > (d.dport or 0) else d.sport
        return f"UDP {d.src} > {d.dst} port {server} length {d.payload_length}"
    if d.proto == IPPROTO_ICMP and d.icmp_type is not None:
        return f"IP {d.src} > {d.dst}: {_icmp(_without_ids(d))}"
    if d.proto == IPPROTO_IGMP and d.igmp_type is not None:
        return f"IP {d.src} > {d.dst}: {_igmp(d)}"
    if d.proto is not None:
        return f"IP {d.src} > {d.dst}: ip-proto-{d.proto}"
    return f"ethertype 0x{d.ethertype:04x}"


def _without_ids(d: Decoded) -> Decoded:
    return replace(d, icmp_id=0, quoted_dport=d.quoted_dport)


def _igmp(d: Decoded) -> str:
    """print-igmp.c without -v: the message kind, and the group where it names one."""
    kind, group = d.igmp_type, d.igmp_group
    if kind == 0x11:
        if d.payload_length >= 12:
            text = "igmp query v3"
        else:
            text = "igmp query" + (" v2" if d.igmp_code else " v1")
            if d.igmp_code and d.igmp_code != 100:
                text += f" [max resp time {d.igmp_code}]"
        return text + (f" [gaddr {group}]" if group != "0.0.0.0" else "")
    if kind == 0x12:
        return f"igmp v1 report {group}"
    if kind == 0x16:
        return f"igmp v2 report {group}"
    if kind == 0x17:
        return f"igmp leave {group}"
    if kind == 0x22:
        return f"igmp v3 report, {d.igmp_records} group record(s)"
    return f"igmp-{kind}"
