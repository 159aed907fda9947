"""The simulated command line's `tcpdump`: reading and filtering pcap files in tcpdump's
format, writing them, and its refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.cmdline import Context, dispatch
from ctrnet.troubleshoot import pcap, wire

A, B = 0xAC140002, 0xAC140003


def sh(backend: Backend, argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdout=out, stderr=err, env={"PWD": str(cwd)})
    return dispatch("tcpdump", argv, ctx), out.getvalue(), err.getvalue()


@pytest.fixture
def capture_file(tmp_path: Path) -> Path:
    frames = [
        wire.ethernet(0xFFFFFFFFFFFF, 2, wire.ETH_P_ARP, wire.arp(1, 2, A, 0, B)),
        wire.ethernet(4, 2, wire.ETH_P_IP, wire.ipv4(A, B, wire.IPPROTO_ICMP,
                                                     wire.icmp(8, 0, (1 << 16) | 1, bytes(56)))),
        wire.ethernet(2, 4, wire.ETH_P_IP, wire.ipv4(B, A, wire.IPPROTO_ICMP,
                                                     wire.icmp(0, 0, (1 << 16) | 1, bytes(56)))),
    ]
    path = tmp_path / "ping.pcap"
    path.write_bytes(pcap.write([pcap.Record(3600 + i, f) for i, f in enumerate(frames)]))
    return path


def test_read_prints_tcpdump_lines_and_the_file_header_on_stderr(
        backend: Backend, capture_file: Path) -> None:
    status, out, err = sh(backend, ["-n", "-t", "-r", "ping.pcap"], capture_file.parent)
    assert status == 0
    assert out.splitlines() == [
        "ARP, Request who-has 172.20.0.3 tell 172.20.0.2, length 28",
        "IP 172.20.0.2 > 172.20.0.3: ICMP echo request, id 1, seq 1, length 64",
        "IP 172.20.0.3 > 172.20.0.2: ICMP echo reply, id 1, seq 1, length 64",
    ]
    assert err.startswith("reading from file ping.pcap, link-type EN10MB (Ethernet)")


def test_filter_and_count_apply_to_a_file(backend: Backend, capture_file: Path) -> None:
    status, out, _ = sh(backend, ["-nr", str(capture_file), "-c", "1", "icmp"],
                        capture_file.parent)
    assert status == 0 and len(out.splitlines()) == 1 and "echo request" in out


def test_write_keeps_the_filtered_packets(backend: Backend, capture_file: Path) -> None:
    status, _, _ = sh(backend, ["-r", "ping.pcap", "-w", "arp.pcap", "arp"],
                      capture_file.parent)
    assert status == 0
    assert len(pcap.read((capture_file.parent / "arp.pcap").read_bytes())) == 1


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["-i", "eth0"], 2, "a live capture without -c"),
    (["-r", "missing.pcap"], 1, "tcpdump: missing.pcap: No such file or directory"),
    # Real tcpdump reads service names: outside the subset, refused as the simulator's.
    (["-r", "ping.pcap", "port", "http"], 2, "ctrnet sim: tcpdump: capture filter 'port http'"),
    (["-v", "-r", "ping.pcap"], 2, "option -v is not supported"),
])
def test_refusals(backend: Backend, capture_file: Path, argv: list[str], status: int,
                  message: str) -> None:
    code, _, err = sh(backend, argv, capture_file.parent)
    assert code == status and message in err
