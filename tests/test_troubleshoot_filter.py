"""The capture filter: pcap-filter(7)'s host/net/port/protocol primitives and their logic."""

from __future__ import annotations

import pytest

from ctrnet.cmdline import TOOLS
from ctrnet.cmdline.context import Context
from ctrnet.errors import InvalidConfig
from ctrnet.registry import open_backend
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

IGMP = decode(wire.ethernet(0x01005E000016, 1, wire.ETH_P_IP, wire.ipv4(
    A, 0xE0000016, wire.IPPROTO_IGMP, bytes([0x22, 0, 0, 0, 0, 0, 0, 0]))))


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
    ("igmp", IGMP, True),
    ("igmp", PING, False),
    ("icmp", IGMP, False),
])
def test_filter_keeps_what_tcpdump_would(expression: str | None, packet: Decoded,
                                         kept: bool) -> None:
    assert compile_filter(expression)(packet) is kept


@pytest.mark.parametrize("expression", ["host", "port http", "host 10.0.0", "(icmp", "icmp )",
                                        "frobnicate"])
def test_a_bad_filter_is_refused_with_its_text(expression: str) -> None:
    with pytest.raises(InvalidConfig, match="capture filter"):
        compile_filter(expression)


def test_a_filter_outside_the_subset_is_refused_by_the_simulated_tcpdump_not_answered() -> None:
    # `vlan` is valid pcap-filter: the simulated tcpdump must say it does not read it, in
    # the words that mark a refusal, never as if tcpdump itself had rejected it.
    backend = open_backend("sim")
    ctx = Context(backend=backend)
    status = TOOLS["tcpdump"](["-r", "/nonexistent", "vlan"], ctx)
    assert status == 2
    assert ctx.stderr.getvalue().startswith("ctrnet sim: tcpdump: capture filter 'vlan' ")
