"""NAT on a Docker-like host (see topology.nat_topology): MASQUERADE for container egress,
DNAT publishing a container port on the host's wan address, hairpin NAT back into the bridge,
and the conntrack entries NAT leaves. Only a flow's first packet traverses the nat table;
conntrack rewrites the rest. Pinned on Linux 6.18 (br_netfilter built in, so bridged IPv4
frames pass the host's iptables too).
"""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.types import ConnectOutcome, Proto

from .topology import (
    GATEWAY,
    HOST_WAN_IP,
    SUBNET,
    UPLINK,
    WAN_IP,
    NatTopology,
    nat_topology,
    rule_packets,
)

pytestmark = pytest.mark.requires("iptables", "ping")

#: A probe expected to get no answer waits this long.
SILENCE = 0.5
WAN_PORT = 9000
PUBLISHED = 8080
CONTAINER_PORT = 80

MASQUERADE = f"-A POSTROUTING -s {SUBNET} -o {UPLINK} -j MASQUERADE"
PUBLISH = (f"-d {HOST_WAN_IP}/32 -p tcp -m tcp --dport {PUBLISHED} -j DNAT "
           f"--to-destination 172.20.0.2:{CONTAINER_PORT}")
#: Docker's hairpin NAT: the published port is reachable from the host itself (OUTPUT) and
#: from the containers, which then see the gateway as the source and answer through it.
HAIRPIN_RULES = (f"-A PREROUTING {PUBLISH}", f"-A OUTPUT {PUBLISH}",
                 f"-A POSTROUTING -s {SUBNET} -d {SUBNET} -j MASQUERADE")


def _nat(*rules: str) -> str:
    return "*nat\n" + "".join(f"{rule}\n" for rule in rules) + "COMMIT\n"


@pytest.fixture
def topo(backend: Backend) -> NatTopology:
    return nat_topology(backend)


# -- MASQUERADE --------------------------------------------------------------------------------
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP])
def test_masquerade_rewrites_source_to_uplink_address(
    backend: Backend, topo: NatTopology, proto: Proto
) -> None:
    backend.iptables_restore(topo.host, _nat(MASQUERADE))
    with backend.listen(topo.wan, proto, WAN_PORT) as listener:
        result = backend.connect(topo.c1.ns, proto, WAN_IP, WAN_PORT)
        assert result.outcome is ConnectOutcome.CONNECTED
        [peer] = listener.peers()
    assert peer.ip == HOST_WAN_IP
    assert result.local is not None and result.local.ip == topo.c1.ip


def test_without_masquerade_the_wan_cannot_answer(backend: Backend, topo: NatTopology) -> None:
    with backend.listen(topo.wan, Proto.UDP, WAN_PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.UDP, WAN_IP, WAN_PORT, timeout=SILENCE)
        # The datagram arrives with the container's private source, which the wan has no
        # route back to: its echo never leaves.
        assert [peer.ip for peer in listener.peers()] == [topo.c1.ip]
    assert result.outcome is ConnectOutcome.TIMEOUT
    with backend.listen(topo.wan, Proto.TCP, WAN_PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, WAN_IP, WAN_PORT, timeout=SILENCE)
        assert listener.peers() == []  # the SYN-ACK is never routed: no connection
    assert result.outcome is ConnectOutcome.TIMEOUT


def test_masquerade_needs_forwarding_on_the_host(backend: Backend, topo: NatTopology) -> None:
    backend.sysctl_set(topo.host, "net.ipv4.ip_forward", "0")
    backend.iptables_restore(topo.host, _nat(MASQUERADE))
    with backend.listen(topo.wan, Proto.TCP, WAN_PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, WAN_IP, WAN_PORT, timeout=SILENCE)
        assert listener.peers() == []
    # A host that does not forward drops the SYN without an ICMP error (ip_error() stays
    # silent while forwarding is off): the container only times out.
    assert result.outcome is ConnectOutcome.TIMEOUT
    assert backend.ping(topo.c1.ns, WAN_IP, timeout=SILENCE).received == 0
    assert rule_packets(backend, topo.host, "nat", MASQUERADE) == 0


def test_only_the_first_packet_of_a_flow_traverses_the_nat_table(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _nat(MASQUERADE))
    # Three echo requests of one ping share its ICMP id: one conntrack flow.
    assert backend.ping(topo.c1.ns, WAN_IP, count=3, interval=0.05).received == 3
    assert rule_packets(backend, topo.host, "nat", MASQUERADE) == 1
    with backend.listen(topo.wan, Proto.TCP, WAN_PORT):
        assert backend.connect(topo.c1.ns, Proto.TCP, WAN_IP, WAN_PORT).ok
    # The TCP flow (handshake, data, FIN, the listener's answer) adds its SYN only.
    assert rule_packets(backend, topo.host, "nat", MASQUERADE) == 2


# -- DNAT: publishing a container port ------------------------------------------------------
def test_dnat_publishes_a_container_port_on_the_wan_address(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _nat(f"-A PREROUTING {PUBLISH}"))
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT) as listener:
        result = backend.connect(topo.wan, Proto.TCP, HOST_WAN_IP, PUBLISHED)
        assert result.outcome is ConnectOutcome.CONNECTED
        # No SNAT on the way in: the container sees the wan client's own address and port.
        assert listener.peers() == [result.local]
    assert result.local is not None and result.local.ip == WAN_IP


def test_a_port_that_is_not_published_is_refused_by_the_host(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _nat(f"-A PREROUTING {PUBLISH}"))
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT) as listener:
        result = backend.connect(topo.wan, Proto.TCP, HOST_WAN_IP, PUBLISHED + 1, timeout=SILENCE)
        assert listener.peers() == []
    assert result.outcome is ConnectOutcome.REFUSED  # the host's own RST: nothing listens


def test_conntrack_shows_the_dnat_translation(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, _nat(f"-A PREROUTING {PUBLISH}"))
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT):
        result = backend.connect(topo.wan, Proto.TCP, HOST_WAN_IP, PUBLISHED)
    assert result.local is not None
    [entry] = [e for e in backend.conntrack_list(topo.host) if e.proto == "tcp"]
    assert (entry.orig_src, entry.orig_sport) == (WAN_IP, result.local.port)
    assert (entry.orig_dst, entry.orig_dport) == (HOST_WAN_IP, PUBLISHED)
    # The reply is expected from the real server, addressed to the untranslated client.
    assert (entry.reply_src, entry.reply_sport) == (topo.c1.ip, CONTAINER_PORT)
    assert (entry.reply_dst, entry.reply_dport) == (WAN_IP, result.local.port)
    assert entry.assured


def test_conntrack_flush_empties_the_table(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, _nat(MASQUERADE))
    backend.ping(topo.c1.ns, WAN_IP)
    assert any(e.proto == "icmp" for e in backend.conntrack_list(topo.host))
    backend.conntrack_flush(topo.host)
    assert [e for e in backend.conntrack_list(topo.host) if e.proto == "icmp"] == []


# -- hairpin -----------------------------------------------------------------------------------
def test_container_reaches_a_neighbour_through_its_published_port(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _nat(*HAIRPIN_RULES))
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT) as listener:
        result = backend.connect(topo.c2.ns, Proto.TCP, HOST_WAN_IP, PUBLISHED)
        assert result.outcome is ConnectOutcome.CONNECTED
        # MASQUERADE within the subnet: c1 answers the gateway, which un-NATs for c2.
        assert [peer.ip for peer in listener.peers()] == [GATEWAY]


def test_host_reaches_the_published_port_through_output_dnat(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _nat(*HAIRPIN_RULES))
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT) as listener:
        result = backend.connect(topo.host, Proto.TCP, HOST_WAN_IP, PUBLISHED)
        assert result.outcome is ConnectOutcome.CONNECTED
        # Locally generated, it leaves through br0 with the source the host picked for the
        # wan address before the OUTPUT DNAT, not masqueraded (its source is not in the subnet).
        assert listener.peers() == [result.local]
    assert result.local is not None and result.local.ip == HOST_WAN_IP


@pytest.mark.parametrize(("hairpin", "outcome"), [
    # br_netfilter turns the DNAT of a frame whose new route leads back out br0 into bridging
    # (br_nf_pre_routing_finish: "bridged dnat"), and a bridge sends a frame back out the
    # port it came in on only in hairpin mode: otherwise it is dropped, the SYN is lost.
    (False, ConnectOutcome.TIMEOUT),
    (True, ConnectOutcome.CONNECTED),
])
def test_container_reaches_itself_through_its_published_port_only_with_hairpin(
    backend: Backend, topo: NatTopology, hairpin: bool, outcome: ConnectOutcome
) -> None:
    backend.iptables_restore(topo.host, _nat(*HAIRPIN_RULES))
    backend.bridge_port_set(topo.host, topo.c1.port, hairpin=hairpin)
    with backend.listen(topo.c1.ns, Proto.TCP, CONTAINER_PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, HOST_WAN_IP, PUBLISHED, timeout=SILENCE)
        seen = [peer.ip for peer in listener.peers()]
    assert result.outcome is outcome
    # When it works, c1 sees the gateway: its own address as a source would be a martian.
    assert seen == ([GATEWAY] if hairpin else [])

