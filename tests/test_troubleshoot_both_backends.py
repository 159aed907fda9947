"""The same exchange on the simulator and on the kernel, side by side: the packets a capture
sees and the chains a trace reports must be the same (the kernel is the oracle). Needs root
(the kernel backend); skipped otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ctrnet.backend import Backend
from ctrnet.conformance.backend.topology import (
    HOST_WAN_IP,
    SUBNET,
    UPLINK,
    WAN_IP,
    NatTopology,
    nat_topology,
)
from ctrnet.registry import REGISTRY, open_backend
from ctrnet.troubleshoot import pcap, tcpdump_format
from ctrnet.troubleshoot.trace import ChainVerdict
from ctrnet.troubleshoot.wire import decode
from ctrnet.types import Proto

_KERNEL_UNAVAILABLE = REGISTRY["kernel"].unavailable()
pytestmark = pytest.mark.skipif(_KERNEL_UNAVAILABLE is not None,
                                reason=str(_KERNEL_UNAVAILABLE))


@pytest.fixture
def worlds() -> Iterator[list[tuple[Backend, NatTopology]]]:
    opened: list[tuple[Backend, NatTopology]] = []
    try:
        for name in ("sim", "kernel"):
            backend = open_backend(name)
            opened.append((backend, nat_topology(backend)))
            for capability in ("capture", "trace", "iptables"):
                if backend.missing(capability):
                    pytest.skip(str(backend.missing(capability)))
        yield opened
    finally:
        for backend, _ in opened:
            backend.close()


def exchange(backend: Backend, topo: NatTopology) -> list[str]:
    """ARP, a ping and a TCP connection from c1 to c2, seen on c1's eth0."""
    with backend.listen(topo.c2.ns, Proto.TCP, 7000):
        # Not the bridge's own IGMP reports, sent at times the kernel picks (the sickbay's
        # bridge-igmp-snoopers-reports): the exchange is what both must show alike.
        with backend.capture_start(topo.c1.ns, "eth0", filter="arp or icmp or tcp") as capture:
            assert backend.ping(topo.c1.ns, topo.c2.ip).ok
            assert backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, 7000).ok
    found = [tcpdump_format.summary(decode(r.data)) for r in pcap.read(capture.stop())]
    # The teardown's segments are ordered by scheduling on the kernel: the handshake and
    # what comes before it are the exchange both must show alike.
    return found[:7]


def test_the_same_exchange_captures_the_same_packets(
        worlds: list[tuple[Backend, NatTopology]]) -> None:
    (sim, sim_topo), (kernel, kernel_topo) = worlds
    seen = exchange(sim, sim_topo)
    assert seen == exchange(kernel, kernel_topo)
    assert seen[0].startswith("ARP who-has") and "[S.]" in seen[5]


Setup = Callable[[Backend, NatTopology], None]


def _masquerade(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, f"*nat\n-A POSTROUTING -s {SUBNET} -o {UPLINK} "
                             "-j MASQUERADE\nCOMMIT\n")
    backend.iptables_restore(topo.host, f"*filter\n:FORWARD DROP [0:0]\n-A FORWARD -i {UPLINK} "
                             "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
                             f"-A FORWARD -o {UPLINK} -j ACCEPT\nCOMMIT\n")


def _reject(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.wan, "*filter\n-A INPUT -p tcp --dport 9000 -j REJECT "
                             "--reject-with tcp-reset\nCOMMIT\n")


def _publish(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, f"*nat\n-A PREROUTING -d {HOST_WAN_IP}/32 -p tcp "
                             f"--dport 8080 -j DNAT --to-destination {topo.c1.ip}:80\nCOMMIT\n")


CASES: dict[str, tuple[Setup, str, str, str, int | None]] = {
    "masquerade and a stateful forward": (_masquerade, "c1", WAN_IP, "icmp", None),
    "reject with a reset": (_reject, "c1", WAN_IP, "tcp", 9000),
    "published port": (_publish, "wan", HOST_WAN_IP, "tcp", 8080),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_packet_goes_through_the_same_chains(
        worlds: list[tuple[Backend, NatTopology]], case: str) -> None:
    setup, src, dst, proto, port = CASES[case]
    decided: list[list[ChainVerdict]] = []
    outcomes: list[str] = []
    for backend, topo in worlds:
        setup(backend, topo)
        listener = backend.listen(topo.c1.ns, Proto.TCP, 80) if port == 8080 else None
        trace = backend.trace(src, dst, proto=proto, port=port, timeout=0.5)
        if listener is not None:
            listener.close()
        decided.append(trace.decisive())
        outcomes.append(trace.outcome)
    assert decided[0] == decided[1]
    assert outcomes[0] == outcomes[1]
    assert decided[0], "every case has a chain that decides"
