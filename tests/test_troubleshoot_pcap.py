"""pcap files, packet bytes and tcpdump's line format: what ctrnet writes, tcpdump reads and
prints the way ctrnet does (checked against the real tcpdump when it is installed)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ctrnet.errors import InvalidConfig
from ctrnet.troubleshoot import pcap, tcpdump_format, wire
from ctrnet.troubleshoot.wire import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, decode

A, B, R = 0xAC140002, 0xAC140003, 0xAC140001
MAC_A, MAC_B = 0x02AABBCCDD01, 0x02AABBCCDD02


def ip_frame(src: int, dst: int, proto: int, body: bytes, **kw: object) -> bytes:
    return wire.ethernet(MAC_B, MAC_A, wire.ETH_P_IP, wire.ipv4(src, dst, proto, body, **kw))


def tcp(src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int,
        data: bytes = b"") -> bytes:
    options = wire.linux_tcp_options(bool(flags & TCP_SYN), 100, 50)
    return ip_frame(src, dst, wire.IPPROTO_TCP,
                    wire.tcp(src, dst, sport, dport, seq, ack, flags, data, options=options),
                    dont_fragment=True)


def exchange() -> list[bytes]:
    """ARP, ping, a TCP connection with data, UDP and the usual ICMP errors."""
    echo = wire.icmp(8, 0, (7 << 16) | 1, bytes(56))
    syn = tcp(A, B, 40000, 7777, 1000, 0, TCP_SYN)
    quoted = wire.ipv4(A, B, wire.IPPROTO_UDP, wire.udp(A, B, 5000, 53, b"q"))
    return [
        wire.ethernet(0xFFFFFFFFFFFF, MAC_A, wire.ETH_P_ARP, wire.arp(1, MAC_A, A, 0, B)),
        wire.ethernet(MAC_A, MAC_B, wire.ETH_P_ARP, wire.arp(2, MAC_B, B, MAC_A, A)),
        ip_frame(A, B, wire.IPPROTO_ICMP, echo, dont_fragment=True, ident=5),
        ip_frame(B, A, wire.IPPROTO_ICMP, wire.icmp(0, 0, (7 << 16) | 1, bytes(56))),
        syn,
        tcp(B, A, 7777, 40000, 5000, 1001, TCP_SYN | TCP_ACK),
        tcp(A, B, 40000, 7777, 1001, 5001, TCP_ACK),
        tcp(A, B, 40000, 7777, 1001, 5001, TCP_PSH | TCP_ACK, b"hello"),
        tcp(B, A, 7777, 40000, 5001, 1006, TCP_FIN | TCP_ACK),
        tcp(A, B, 40000, 7777, 1006, 5002, TCP_RST | TCP_ACK),
        ip_frame(A, B, wire.IPPROTO_UDP, wire.udp(A, B, 5000, 6000, b"ctrnet")),
        ip_frame(B, A, wire.IPPROTO_ICMP, wire.icmp(3, 3, 0, quoted)),
        ip_frame(R, A, wire.IPPROTO_ICMP, wire.icmp(3, 1, 0, syn[14:42])),
        ip_frame(R, A, wire.IPPROTO_ICMP, wire.icmp(3, 0, 0, syn[14:42])),
        ip_frame(B, A, wire.IPPROTO_ICMP, wire.icmp(3, 13, 0, syn[14:42])),
        ip_frame(R, A, wire.IPPROTO_ICMP, wire.icmp(11, 0, 0, syn[14:42])),
    ]


def test_records_survive_a_round_trip_through_a_file() -> None:
    records = [pcap.Record(1.5 + i, frame) for i, frame in enumerate(exchange())]
    back = pcap.read(pcap.write(records))
    assert [r.data for r in back] == [r.data for r in records]
    assert back[0].time == pytest.approx(1.5)


def test_big_endian_and_nanosecond_files_are_read() -> None:
    head = struct.pack(">IHHiIII", pcap.MAGIC_NSEC, 2, 4, 0, 0, 65535, 1)
    body = struct.pack(">IIII", 3, 500_000_000, 4, 4) + b"abcd"
    (record,) = pcap.read(head + body)
    assert record.time == pytest.approx(3.5) and record.data == b"abcd"


def test_something_else_is_refused() -> None:
    with pytest.raises(InvalidConfig):
        pcap.read(b"\x0a\x0d\x0d\x0a" + bytes(40))  # pcapng


def test_ip_and_transport_checksums_verify() -> None:
    frame = tcp(A, B, 40000, 7777, 1, 2, TCP_PSH | TCP_ACK, b"odd")
    header, segment = frame[14:34], frame[34:]
    assert wire.checksum(header) == 0
    pseudo = struct.pack("!IIBBH", A, B, 0, wire.IPPROTO_TCP, len(segment))
    assert wire.checksum(pseudo + segment) == 0


def test_decode_reads_back_what_was_built() -> None:
    found = decode(tcp(A, B, 40000, 7777, 1000, 0, TCP_SYN))
    assert (found.src, found.dst, found.sport, found.dport) == ("172.20.0.2", "172.20.0.3",
                                                                40000, 7777)
    assert found.tcp_flags == TCP_SYN and wire.tcp_timestamps(found.tcp_options) == (100, 50)
    arp = decode(exchange()[0])
    assert (arp.arp_op, arp.arp_sip, arp.arp_tip) == (1, "172.20.0.2", "172.20.0.3")


def test_lines_use_relative_sequence_numbers_after_the_handshake() -> None:
    lines = tcpdump_format.lines([pcap.Record(0, f) for f in exchange()], with_time=False)
    assert lines[4].startswith("IP 172.20.0.2.40000 > 172.20.0.3.7777: Flags [S], seq 1000, ")
    assert "Flags [.], ack 1, win 64240" in lines[6]
    assert "Flags [P.], seq 1:6, ack 1," in lines[7]
    assert lines[2] == "IP 172.20.0.2 > 172.20.0.3: ICMP echo request, id 7, seq 1, length 64"


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_tcpdump_prints_every_line_as_we_do(tmp_path: Path) -> None:
    records = [pcap.Record(10 + i / 10, f) for i, f in enumerate(exchange())]
    path = tmp_path / "exchange.pcap"
    path.write_bytes(pcap.write(records))
    done = subprocess.run(["tcpdump", "-n", "-t", "-r", str(path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.splitlines() == tcpdump_format.lines(records, with_time=False)
