"""Packet capture (`Backend.capture_start`): what tcpdump on an interface sees, as pcap bytes
that tcpdump itself reads. The same exchange gives the same packets on both backends apart
from MACs, ports, sequence numbers and timing, which `tcpdump_format.summary` leaves out.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import NotFound
from ctrnet.troubleshoot import pcap, tcpdump_format
from ctrnet.troubleshoot.wire import decode
from ctrnet.types import Proto

from .topology import GATEWAY, NatTopology, nat_topology

pytestmark = pytest.mark.requires("capture", "ping")


def summaries(data: bytes) -> list[str]:
    return [tcpdump_format.summary(decode(r.data)) for r in pcap.read(data)]


@pytest.fixture
def topo(backend: Backend) -> NatTopology:
    return nat_topology(backend)


def test_first_ping_shows_arp_resolution_then_echo_request_and_reply(
        backend: Backend, topo: NatTopology) -> None:
    c1, c2 = topo.c1, topo.c2
    # The filter keeps out what the kernel sends on its own at any moment (IGMP reports
    # for the groups an interface joins when it comes up): not part of this exchange.
    with backend.capture_start(c1.ns, "eth0", filter="arp or icmp") as capture:
        assert backend.ping(c1.ns, c2.ip).ok
    assert summaries(capture.stop()) == [
        f"ARP who-has {c2.ip} tell {c1.ip}",
        f"ARP reply {c2.ip} is-at (MAC) to {c1.ip}",
        f"IP {c1.ip} > {c2.ip}: ICMP echo request, id 0, seq 1, length 64",
        f"IP {c2.ip} > {c1.ip}: ICMP echo reply, id 0, seq 1, length 64",
    ]


@pytest.mark.requires("iptables")
def test_tcp_connect_shows_the_three_way_handshake(backend: Backend, topo: NatTopology) -> None:
    c1, c2 = topo.c1, topo.c2
    assert backend.ping(c1.ns, c2.ip).ok  # neighbours resolved: only TCP below
    with backend.listen(c2.ns, Proto.TCP, 8080):
        with backend.capture_start(c2.ns, "eth0", filter="tcp port 8080") as capture:
            assert backend.connect(c1.ns, Proto.TCP, c2.ip, 8080).ok
    assert summaries(capture.stop())[:3] == [
        f"TCP {c1.ip} > {c2.ip} port 8080 [S] length 0",
        f"TCP {c2.ip} > {c1.ip} port 8080 [S.] length 0",
        f"TCP {c1.ip} > {c2.ip} port 8080 [.] length 0",
    ]


def test_filter_keeps_only_the_packets_it_names(backend: Backend, topo: NatTopology) -> None:
    c1, c2 = topo.c1, topo.c2
    with backend.capture_start(c1.ns, "eth0", filter="icmp and host " + c2.ip) as capture:
        assert backend.ping(c1.ns, c2.ip, count=2, interval=0.05).ok
    kinds = summaries(capture.stop())
    assert kinds == [f"IP {c1.ip} > {c2.ip}: ICMP echo request, id 0, seq 1, length 64",
                     f"IP {c2.ip} > {c1.ip}: ICMP echo reply, id 0, seq 1, length 64",
                     f"IP {c1.ip} > {c2.ip}: ICMP echo request, id 0, seq 2, length 64",
                     f"IP {c2.ip} > {c1.ip}: ICMP echo reply, id 0, seq 2, length 64"]


def test_bridge_device_sees_what_is_sent_to_and_from_its_own_address(
        backend: Backend, topo: NatTopology) -> None:
    c1 = topo.c1
    with backend.capture_start(topo.host, "br0", filter="icmp") as capture:
        assert backend.ping(c1.ns, GATEWAY).ok
    assert summaries(capture.stop()) == [
        f"IP {c1.ip} > {GATEWAY}: ICMP echo request, id 0, seq 1, length 64",
        f"IP {GATEWAY} > {c1.ip}: ICMP echo reply, id 0, seq 1, length 64",
    ]


def test_bridge_device_does_not_see_frames_bridged_between_two_ports(
        backend: Backend, topo: NatTopology) -> None:
    with backend.capture_start(topo.host, "br0", filter="icmp") as capture:
        assert backend.ping(topo.c1.ns, topo.c2.ip).ok
    assert summaries(capture.stop()) == []


def _setgroups_denied() -> bool:
    """In a user namespace mapped without newgidmap, setgroups(2) is denied: tcpdump, run as
    that namespace's root, cannot drop to its own user and exits (install uidmap)."""
    try:
        return Path("/proc/self/setgroups").read_text().strip() == "deny"
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.skipif(_setgroups_denied(), reason="tcpdump cannot drop privileges in this user "
                    "namespace (setgroups denied; rootless without newuidmap: install uidmap)")
def test_tcpdump_reads_the_capture_and_prints_the_same_lines(
        backend: Backend, topo: NatTopology, tmp_path: Path) -> None:
    c1, c2 = topo.c1, topo.c2
    with backend.listen(c2.ns, Proto.TCP, 7000):
        with backend.capture_start(c1.ns, "eth0") as capture:
            assert backend.ping(c1.ns, c2.ip).ok
            assert backend.connect(c1.ns, Proto.TCP, c2.ip, 7000).ok
    path = tmp_path / "c1.pcap"
    path.write_bytes(capture.stop())
    done = subprocess.run(["tcpdump", "-n", "-t", "-r", str(path)], capture_output=True,
                          text=True, check=True)
    ours = tcpdump_format.lines(pcap.read(path.read_bytes()), with_time=False)
    # tcpdump appends what it decodes of a payload ("HTTP" for some ports): compare up to it.
    theirs = [line.split(": HTTP")[0] for line in done.stdout.splitlines()]
    assert theirs == ours
    assert len(ours) >= 4


def test_loopback_shows_each_packet_once(backend: Backend, topo: NatTopology) -> None:
    with backend.capture_start(topo.c1.ns, "lo") as capture:
        assert backend.ping(topo.c1.ns, "127.0.0.1").ok
    assert summaries(capture.stop()) == [
        "IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id 0, seq 1, length 64",
        "IP 127.0.0.1 > 127.0.0.1: ICMP echo reply, id 0, seq 1, length 64",
    ]


def test_capture_on_a_missing_device_is_enodev(backend: Backend, topo: NatTopology) -> None:
    with pytest.raises(NotFound) as caught:
        backend.capture_start(topo.c1.ns, "nosuch0")
    assert caught.value.errno_name == "ENODEV"
