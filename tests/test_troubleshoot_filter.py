"""The capture filter: pcap-filter(7)'s host/net/port/protocol primitives and their logic."""

from __future__ import annotations

import pytest

from ctrnet.errors import InvalidConfig
from ctrnet.troubleshoot import wire
from ctrnet.troubleshoot.pcapfilter import compile_filter
from ctrnet.troubleshoot.wire import Decoded, decode

A, B = 0x0A000001, 0x0A000002


def udp(sport: int, dport: int) -> Decoded:
    body = wire.ipv4(A, B, wire.IPPROTO_UDP, wire.udp(A, B, sport, dport, b"x"))
    return decode(wire.ethernet(2, 1, wire.ETH_P_IP, body))


ARP = decode(wire.ethernet(0xFFFFFFFFFFFF, 1, wire.ETH_P_ARP, wire.arp(1, 1, A, 0, B)))
PING = decode(wire.ethernet(2, 1, wire.ETH_P_IP, wire.ipv4(
    A, B, wire.IPPROTO_ICMP, wire.icmp(8, 0, 1, b""))))


@pytest.mark.parametrize(("expression", "packet", "kept"), [
    (None, ARP, True),
    ("icmp", PING, True),
    ("icmp", ARP, False),
    ("arp", ARP, True),
    ("host 10.0.0.2", ARP, True),  # like BPF, host matches ARP's addresses
    ("src host 10.0.0.2", PING, False),
    ("dst host 10.0.0.2", PING, True),
    ("net 10.0.0.0/30", PING, True),
    ("port 53", udp(40000, 53), True),
    ("tcp port 53", udp(40000, 53), False),
    ("udp and dst port 53", udp(40000, 53), True),
    ("src port 53", udp(40000, 53), False),
    ("not arp", PING, True),
    ("! icmp && host 10.0.0.1", ARP, True),
    ("(icmp or arp) and not host 10.0.0.9", PING, True),
    ("icmp || udp port 53", udp(53, 40000), True),
])
def test_filter_keeps_what_tcpdump_would(expression: str | None, packet: Decoded,
                                         kept: bool) -> None:
    assert compile_filter(expression)(packet) is kept


@pytest.mark.parametrize("expression", ["host", "port http", "host 10.0.0", "(icmp", "icmp )",
                                        "frobnicate"])
def test_a_bad_filter_is_refused_with_its_text(expression: str) -> None:
    with pytest.raises(InvalidConfig, match="capture filter"):
        compile_filter(expression)
