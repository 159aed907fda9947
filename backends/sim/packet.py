"""Frames on the simulated wire: Ethernet carrying ARP or IPv4 (ICMP, TCP, UDP), with real
header fields.

Addresses are ints internally (MAC 48 bit, IPv4 32 bit) for speed; `mac_str`/`ip_str` and the
parsers convert at the backend boundary. Fields are those a pcap writer needs later.

Layering: the bottom of the simulator, with the clock: it imports nothing of it.
"""

from __future__ import annotations

import ipaddress

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST_MAC = 0xFFFFFFFFFFFF

ARPOP_REQUEST = 1
ARPOP_REPLY = 2

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
#: ICMP_DEST_UNREACH codes (include/uapi/linux/icmp.h).
ICMP_NET_UNREACH = 0
ICMP_HOST_UNREACH = 1
ICMP_PROT_UNREACH = 2
ICMP_PORT_UNREACH = 3
ICMP_NET_ANO = 9
ICMP_HOST_ANO = 10
ICMP_PKT_FILTERED = 13

#: TCP header flags.
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

IP_HEADER = 20
ICMP_HEADER = 8
#: What an ICMP error may quote: 576 bytes less its own IP and ICMP headers.
ICMP_QUOTE_ROOM = 576 - 20 - 8
TCP_HEADER = 20
UDP_HEADER = 8

#: net.ipv4.ip_default_ttl
DEFAULT_TTL = 64


def mac_str(mac: int) -> str:
    raw = mac.to_bytes(6, "big")
    return ":".join(f"{b:02x}" for b in raw)


def parse_mac(text: str) -> int:
    parts = text.split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"bad MAC {text!r}")
    return int("".join(p.zfill(2) for p in parts), 16)


def is_multicast_mac(mac: int) -> bool:
    # I/G bit: least significant bit of the first octet (broadcast included).
    return bool((mac >> 40) & 1)


def ip_str(ip: int) -> str:
    return str(ipaddress.IPv4Address(ip))


def parse_ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def prefix_mask(plen: int) -> int:
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0


class Icmp:
    __slots__ = ("type", "code", "ident", "seq", "payload")

    def __init__(self, type: int, code: int, ident: int = 0, seq: int = 0,
                 payload: object = None) -> None:
        self.type = type
        self.code = code
        self.ident = ident
        self.seq = seq
        self.payload = payload  # echo data, or the offending IPv4 header for errors


class Tcp:
    """A TCP segment: ports, sequence and acknowledgement numbers, flags, and the length of
    its data (the bytes themselves only when a probe carries a payload)."""

    __slots__ = ("sport", "dport", "seq", "ack", "flags", "size", "data", "mss", "sack")

    def __init__(self, sport: int, dport: int, seq: int, ack: int, flags: int,
                 size: int = 0, data: bytes = b"", mss: int = 0,
                 sack: tuple[tuple[int, int], ...] = ()) -> None:
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.size = size  # bytes of data (`data` holds them only when they matter)
        self.data = data
        self.mss = mss  # the MSS option of a SYN
        self.sack = sack  # SACK blocks [start, end) of an ACK

    def with_ports(self, sport: int, dport: int) -> Tcp:
        return Tcp(sport, dport, self.seq, self.ack, self.flags, self.size, self.data,
                   self.mss, self.sack)

    def header(self) -> int:
        # Linux sends timestamps on every segment (12 option bytes); a SYN also carries
        # MSS, SACK-permitted and window scale (20 option bytes in all).
        return TCP_HEADER + (20 if self.flags & TCP_SYN else 12)


class Udp:
    __slots__ = ("sport", "dport", "data")

    def __init__(self, sport: int, dport: int, data: bytes) -> None:
        self.sport = sport
        self.dport = dport
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)

    def with_ports(self, sport: int, dport: int) -> Udp:
        return Udp(sport, dport, self.data)


class IPv4:
    """An IPv4 packet. `ct`/`ctdir` are the conntrack entry it belongs to and its direction
    (skb->_nfct), `brnf` the bridge ports br_netfilter saw it on (skb's nf_bridge info)."""

    __slots__ = ("src", "dst", "ttl", "proto", "ident", "payload", "ct", "ctdir", "ctinfo",
                 "brnf", "mark")

    def __init__(self, src: int, dst: int, proto: int, payload: Icmp | Tcp | Udp,
                 ttl: int = DEFAULT_TTL, ident: int = 0) -> None:
        self.src = src
        self.dst = dst
        self.ttl = ttl
        self.proto = proto
        self.ident = ident
        self.payload = payload
        self.ct: object = None
        self.ctdir = 0
        self.ctinfo = 0
        self.brnf: object = None
        self.mark = 0

    def copy(self) -> IPv4:
        dup = IPv4(self.src, self.dst, self.proto, self.payload, self.ttl, self.ident)
        dup.ct, dup.ctdir, dup.ctinfo = self.ct, self.ctdir, self.ctinfo
        dup.brnf, dup.mark = self.brnf, self.mark
        return dup

    def length(self) -> int:
        """Total length: what iptables byte counters and the qdiscs count."""
        payload = self.payload
        if isinstance(payload, Tcp):
            return IP_HEADER + payload.header() + payload.size
        if isinstance(payload, Udp):
            return IP_HEADER + UDP_HEADER + len(payload.data)
        inner = payload.payload
        if isinstance(inner, IPv4):
            # __icmp_send quotes as much of the offending packet as keeps the error within
            # 576 bytes (RFC 1812; the simulator's links all have MTUs of at least 576).
            return IP_HEADER + ICMP_HEADER + min(inner.length(), ICMP_QUOTE_ROOM)
        return IP_HEADER + ICMP_HEADER + (len(inner) if isinstance(inner, bytes) else 56)


class Arp:
    __slots__ = ("op", "sha", "sip", "tha", "tip")

    def __init__(self, op: int, sha: int, sip: int, tha: int, tip: int) -> None:
        self.op = op
        self.sha = sha
        self.sip = sip
        self.tha = tha
        self.tip = tip


class Frame:
    """An Ethernet II frame. Treat as immutable: forwarding copies instead of editing."""

    __slots__ = ("dst", "src", "ethertype", "payload")

    def __init__(self, dst: int, src: int, ethertype: int, payload: IPv4 | Arp) -> None:
        self.dst = dst
        self.src = src
        self.ethertype = ethertype
        self.payload = payload


ETH_HEADER = 14


def frame_length(frame: Frame) -> int:
    """Bytes on the wire without FCS: what a qdisc counts (skb->len with the MAC header)."""
    payload = frame.payload
    if isinstance(payload, IPv4):
        return ETH_HEADER + payload.length()
    return ETH_HEADER + 28  # ARP
