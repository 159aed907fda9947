"""Frames on the simulated wire: Ethernet carrying ARP or IPv4 (ICMP), with real header fields.

Addresses are ints internally (MAC 48 bit, IPv4 32 bit) for speed; `mac_str`/`ip_str` and the
parsers convert at the backend boundary. Fields are those a pcap writer needs later.
"""

from __future__ import annotations

import ipaddress

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST_MAC = 0xFFFFFFFFFFFF

ARPOP_REQUEST = 1
ARPOP_REPLY = 2

IPPROTO_ICMP = 1
ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11

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


class IPv4:
    __slots__ = ("src", "dst", "ttl", "proto", "ident", "payload")

    def __init__(self, src: int, dst: int, proto: int, payload: Icmp,
                 ttl: int = DEFAULT_TTL, ident: int = 0) -> None:
        self.src = src
        self.dst = dst
        self.ttl = ttl
        self.proto = proto
        self.ident = ident
        self.payload = payload

    def copy(self) -> IPv4:
        return IPv4(self.src, self.dst, self.proto, self.payload, self.ttl, self.ident)


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
