"""A small subset of pcap-filter(7) for captures made without BPF (the simulator, the shim):
`[src|dst] host ADDR`, `[src|dst] net CIDR`, `[tcp|udp] [src|dst] port N`, `tcp`, `udp`,
`icmp`, `igmp`, `arp`, `ip`, joined with `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. Like BPF,
`host` matches an ARP packet's sender or target address too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from ctrnet.errors import InvalidConfig
from ctrnet.troubleshoot.wire import IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_TCP, IPPROTO_UDP, Decoded

Predicate = Callable[[Decoded], bool]
_TOKEN = re.compile(r"\(|\)|&&|\|\||!|[^\s()!]+")
_PROTOS = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP, "icmp": IPPROTO_ICMP, "igmp": IPPROTO_IGMP}
#: What this subset reads, for the line that refuses anything else.
SUBSET = "[src|dst] host|net, [tcp|udp] [src|dst] port, tcp, udp, icmp, igmp, arp, ip, and/or/not"


def compile_filter(expression: str | None) -> Predicate:
    """A predicate over decoded frames; None or "" keeps everything."""
    if expression is None or not expression.strip():
        return lambda _: True
    parser = _Parser(_TOKEN.findall(expression), expression)
    predicate = parser.expr()
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()!r}", f"予期しない {parser.peek()!r}")
    return predicate


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.text = text

    def error(self, why: str, why_ja: str) -> InvalidConfig:
        return InvalidConfig(f"capture filter {self.text!r}: {why}",
                             ja=f"キャプチャのフィルタ {self.text!r}: {why_ja}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("ends too soon", "途中で終わっています")
        self.pos += 1
        return token

    def expr(self) -> Predicate:
        left = self.term()
        while self.peek() in ("or", "||"):
            self.take()
            right = self.term()
            left = _either(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() in ("and", "&&"):
            self.take()
            right = self.factor()
            left = _both(left, right)
        return left

    def factor(self) -> Predicate:
        token = self.peek()
        if token in ("not", "!"):
            self.take()
            inner = self.factor()
            return lambda d: not inner(d)
        if token == "(":
            self.take()
            inner = self.expr()
            if self.take() != ")":
                raise self.error("missing ')'", "')' がありません")
            return inner
        return self.primitive()

    def primitive(self) -> Predicate:
        token = self.take()
        proto: int | None = None
        if token in _PROTOS:
            proto = _PROTOS[token]
            if token in ("icmp", "igmp") or self.peek() not in ("port", "src", "dst"):
                return lambda d: d.proto == proto
            token = self.take()
        if token == "arp":
            return lambda d: d.is_arp
        if token == "ip":
            return lambda d: d.is_ip
        direction = "any"
        if token in ("src", "dst"):
            direction, token = token, self.take()
        if token == "host":
            return _host(direction, self._address(self.take()))
        if token == "net":
            return _net(direction, self._network(self.take()))
        if token == "port":
            return _port(direction, self._port(self.take()), proto)
        raise self.error(f"unknown primitive {token!r}", f"未知のプリミティブ {token!r}")

    def _address(self, text: str) -> str:
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise self.error(f"{text!r} is not an IPv4 address",
                             f"{text!r} は IPv4 アドレスではありません") from None

    def _network(self, text: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            raise self.error(f"{text!r} is not an IPv4 network",
                             f"{text!r} は IPv4 ネットワークではありません") from None

    def _port(self, text: str) -> int:
        if not text.isdigit() or not 0 <= int(text) <= 65535:
            raise self.error(f"{text!r} is not a port number",
                             f"{text!r} はポート番号ではありません")
        return int(text)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda d: left(d) and right(d)


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda d: left(d) or right(d)


def _ends(d: Decoded) -> tuple[str | None, str | None]:
    if d.is_arp:
        return d.arp_sip, d.arp_tip
    return d.src, d.dst


def _host(direction: str, address: str) -> Predicate:
    def match(d: Decoded) -> bool:
        src, dst = _ends(d)
        return ((direction != "dst" and src == address)
                or (direction != "src" and dst == address))
    return match


def _net(direction: str, network: ipaddress.IPv4Network) -> Predicate:
    def inside(ip: str | None) -> bool:
        return ip is not None and ipaddress.IPv4Address(ip) in network

    def match(d: Decoded) -> bool:
        src, dst = _ends(d)
        return (direction != "dst" and inside(src)) or (direction != "src" and inside(dst))
    return match


def _port(direction: str, port: int, proto: int | None) -> Predicate:
    def match(d: Decoded) -> bool:
        if d.sport is None or (proto is not None and d.proto != proto):
            return False
        return ((direction != "dst" and d.sport == port)
                or (direction != "src" and d.dport == port))
    return match
