"""IGMP in tcpdump's one-line format: a bridge or an address joining a group sends reports at
times the kernel picks, so a capture may hold them; ctrnet must print them as tcpdump does."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ctrnet.troubleshoot import pcap, tcpdump_format, wire
from ctrnet.troubleshoot.pcap import Record


def _ip(text: str) -> int:
    return int.from_bytes(bytes(map(int, text.split("."))), "big")


def _igmp(kind: int, code: int, group: str, extra: bytes = b"") -> bytes:
    return struct.pack("!BBH4s", kind, code, 0, bytes(map(int, group.split(".")))) + extra


V3_REPORT = (_igmp(0x22, 0, "0.0.0.0")[:6] + struct.pack("!H", 1)
             + struct.pack("!BBH4s", 4, 0, 0, bytes([239, 1, 2, 3])))
CASES = [
    (V3_REPORT, "224.0.0.22", "igmp v3 report, 1 group record(s)"),
    (_igmp(0x16, 0, "239.1.2.3"), "239.1.2.3", "igmp v2 report 239.1.2.3"),
    (_igmp(0x17, 0, "239.1.2.3"), "224.0.0.2", "igmp leave 239.1.2.3"),
    (_igmp(0x11, 100, "0.0.0.0"), "224.0.0.1", "igmp query v2"),
    (_igmp(0x11, 50, "239.1.2.3"), "239.1.2.3",
     "igmp query v2 [max resp time 50] [gaddr 239.1.2.3]"),
    (_igmp(0x11, 100, "0.0.0.0", b"\0\0\0\0"), "224.0.0.1", "igmp query v3"),
    (_igmp(0x12, 0, "239.1.2.3"), "239.1.2.3", "igmp v1 report 239.1.2.3"),
]


def _records() -> list[Record]:
    return [Record(time=1.0, data=wire.ethernet(
        0x01005E000016, 0x020000000001, 0x0800,
        wire.ipv4(_ip("172.20.0.1"), _ip(dst), wire.IPPROTO_IGMP, payload)))
        for payload, dst, _ in CASES]


def test_igmp_messages_read_as_tcpdump_prints_them() -> None:
    formatter = tcpdump_format.Formatter()
    lines = [formatter.describe(wire.decode(r.data)) for r in _records()]
    assert lines == [f"IP 172.20.0.1 > {dst}: {text}" for _, dst, text in CASES]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_tcpdump_itself_agrees(tmp_path: Path) -> None:
    path = tmp_path / "igmp.pcap"
    path.write_bytes(pcap.write(_records()))
    theirs = subprocess.run(["tcpdump", "-n", "-t", "-r", str(path)], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    formatter = tcpdump_format.Formatter()
    assert theirs == [formatter.describe(wire.decode(r.data)) for r in _records()]


def test_the_backend_neutral_summary_names_igmp_too() -> None:
    """The summary the conformance suite compares must not fall back to a bare ethertype for
    the reports the kernel sends on its own: a capture test that sees one must say what."""
    summaries = [tcpdump_format.summary(wire.decode(r.data)) for r in _records()]
    assert summaries == [f"IP 172.20.0.1 > {dst}: {text}" for _, dst, text in CASES]
