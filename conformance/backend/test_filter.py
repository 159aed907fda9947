"""Filtering on a Docker-like host (see topology.nat_topology): br_netfilter hands bridged
container<->container IPv4 to the host's iptables FORWARD chain while
net.bridge.bridge-nf-call-iptables is 1, conntrack state lets replies back, REJECT answers at
once where DROP leaves the client waiting, and ebtables filters bridged frames by MAC.
Pinned on Linux 6.18 (br_netfilter built in, bridge-nf-call-iptables 1 in a new namespace).
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import BackendError
from ctrnet.types import ConnectOutcome, Proto

from .topology import GATEWAY, WAN_IP, NatTopology, nat_topology, rule_packets

pytestmark = pytest.mark.requires("iptables", "ping")

#: A probe expected to get no answer waits this long.
SILENCE = 0.5
PORT = 7000
CALL_IPTABLES = "net.bridge.bridge-nf-call-iptables"
#: The reply rule of every stateful firewall.
REPLIES = "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"


def _filter(*lines: str) -> str:
    return "*filter\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"


@pytest.fixture
def topo(backend: Backend) -> NatTopology:
    return nat_topology(backend)


# -- br_netfilter ------------------------------------------------------------------------------
def test_bridged_containers_reach_each_other_without_rules(
    backend: Backend, topo: NatTopology
) -> None:
    assert backend.sysctl_get(topo.host, CALL_IPTABLES) == "1"
    assert backend.ping(topo.c1.ns, topo.c2.ip).received == 1


def test_forward_drop_policy_cuts_bridged_traffic_while_bridge_nf_calls_iptables(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _filter(":FORWARD DROP [0:0]"))
    # c1 and c2 share br0's layer 2: nothing is routed, yet the bridged echo request went
    # through the host's FORWARD chain and its policy dropped it.
    assert backend.ping(topo.c1.ns, topo.c2.ip, timeout=SILENCE).received == 0
    with backend.listen(topo.c2.ns, Proto.TCP, PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, PORT, timeout=SILENCE)
        assert listener.peers() == []
    assert result.outcome is ConnectOutcome.TIMEOUT


def test_forward_drop_policy_spares_bridged_traffic_when_bridge_nf_call_iptables_is_off(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _filter(":FORWARD DROP [0:0]"))
    backend.sysctl_set(topo.host, CALL_IPTABLES, "0")
    assert backend.ping(topo.c1.ns, topo.c2.ip).received == 1
    with backend.listen(topo.c2.ns, Proto.TCP, PORT):
        assert backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, PORT).ok
    # Routed traffic still meets the policy: the sysctl only concerns bridged frames.
    assert backend.ping(topo.c1.ns, WAN_IP, timeout=SILENCE).received == 0


def test_physdev_match_sees_the_bridge_ports_of_bridged_traffic(
    backend: Backend, topo: NatTopology
) -> None:
    rule = (f"-A FORWARD -i br0 -o br0 -p icmp -m physdev --physdev-in {topo.c1.port} "
            f"--physdev-out {topo.c2.port} -m icmp --icmp-type 8 -j DROP")
    backend.iptables_restore(topo.host, _filter(rule))
    assert backend.ping(topo.c1.ns, topo.c2.ip, timeout=SILENCE).received == 0
    assert rule_packets(backend, topo.host, "filter", rule) == 1
    # The other way round the request crosses the ports the other way: it passes, and so
    # does c1's echo reply (not an echo request).
    assert backend.ping(topo.c2.ns, topo.c1.ip).received == 1
    assert rule_packets(backend, topo.host, "filter", rule) == 1


# -- conntrack state ---------------------------------------------------------------------------
def test_established_rule_lets_replies_back_through_a_one_way_accept(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _filter(
        ":FORWARD DROP [0:0]", REPLIES, f"-A FORWARD -s {topo.c1.ip} -d {topo.c2.ip} -j ACCEPT"))
    with backend.listen(topo.c2.ns, Proto.TCP, PORT):
        assert backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, PORT).ok
    assert backend.ping(topo.c1.ns, topo.c2.ip).received == 1
    # Nothing lets a new flow start from c2.
    with backend.listen(topo.c1.ns, Proto.TCP, PORT):
        result = backend.connect(topo.c2.ns, Proto.TCP, topo.c1.ip, PORT, timeout=SILENCE)
    assert result.outcome is ConnectOutcome.TIMEOUT


def test_without_the_established_rule_a_one_way_accept_loses_the_replies(
    backend: Backend, topo: NatTopology
) -> None:
    accept = f"-A FORWARD -s {topo.c1.ip}/32 -d {topo.c2.ip}/32 -j ACCEPT"
    backend.iptables_restore(topo.host, _filter(":FORWARD DROP [0:0]", accept))
    with backend.listen(topo.c2.ns, Proto.TCP, PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, PORT, timeout=SILENCE)
        assert listener.peers() == []  # c2 answered the SYN, its SYN-ACK was dropped
    assert result.outcome is ConnectOutcome.TIMEOUT
    assert rule_packets(backend, topo.host, "filter", accept) >= 1


def test_ctstate_new_matches_only_the_first_packet_of_a_flow(
    backend: Backend, topo: NatTopology
) -> None:
    new = f"-A FORWARD -s {topo.c1.ip}/32 -m conntrack --ctstate NEW -j ACCEPT"
    established = f"-A FORWARD -s {topo.c1.ip}/32 -m conntrack --ctstate ESTABLISHED -j ACCEPT"
    backend.iptables_restore(topo.host, _filter(new, established))
    assert backend.ping(topo.c1.ns, topo.c2.ip, count=3, interval=0.05).received == 3
    # The first echo request was NEW; the later ones followed a reply: ESTABLISHED.
    assert rule_packets(backend, topo.host, "filter", new) == 1
    assert rule_packets(backend, topo.host, "filter", established) == 2


# -- REJECT and DROP -------------------------------------------------------------------------
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP])
def test_reject_refuses_at_once_while_drop_times_out(
    backend: Backend, topo: NatTopology, proto: Proto
) -> None:
    flag = f"-p {proto} -m {proto}"
    backend.iptables_restore(topo.host, _filter(
        f"-A FORWARD -d {WAN_IP}/32 {flag} --dport {PORT} -j REJECT",
        f"-A FORWARD -d {WAN_IP}/32 {flag} --dport {PORT + 1} -j DROP"))
    with backend.listen(topo.wan, proto, PORT) as rejected, \
            backend.listen(topo.wan, proto, PORT + 1) as dropped:
        start = backend.now()
        result = backend.connect(topo.c1.ns, proto, WAN_IP, PORT, timeout=2 * SILENCE)
        # The host's ICMP port unreachable comes back before any retransmission.
        assert result.outcome is ConnectOutcome.REFUSED
        assert backend.now() - start < SILENCE
        start = backend.now()
        result = backend.connect(topo.c1.ns, proto, WAN_IP, PORT + 1, timeout=SILENCE)
        assert result.outcome is ConnectOutcome.TIMEOUT
        assert backend.now() - start >= SILENCE * 0.9
        assert rejected.peers() == [] and dropped.peers() == []


def test_reject_with_tcp_reset_refuses_a_bridged_neighbour(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _filter(
        f"-A FORWARD -d {topo.c2.ip}/32 -p tcp -m tcp --dport {PORT} -j REJECT "
        "--reject-with tcp-reset"))
    with backend.listen(topo.c2.ns, Proto.TCP, PORT) as listener:
        result = backend.connect(topo.c1.ns, Proto.TCP, topo.c2.ip, PORT, timeout=SILENCE)
        assert listener.peers() == []
    assert result.outcome is ConnectOutcome.REFUSED


def test_reject_with_a_prohibited_code_makes_a_tcp_client_unreachable(
    backend: Backend, topo: NatTopology
) -> None:
    backend.iptables_restore(topo.host, _filter(
        f"-A FORWARD -d {WAN_IP}/32 -p tcp -m tcp --dport {PORT} -j REJECT "
        "--reject-with icmp-host-prohibited"))
    with backend.listen(topo.wan, Proto.TCP, PORT):
        result = backend.connect(topo.c1.ns, Proto.TCP, WAN_IP, PORT, timeout=SILENCE)
    # tcp_v4_err: any destination-unreachable ends a connection in SYN_SENT (EHOSTUNREACH).
    assert result.outcome is ConnectOutcome.UNREACHABLE


# -- ebtables --------------------------------------------------------------------------------
@pytest.mark.requires("ebtables")
def test_ebtables_forward_rule_blocks_a_forged_source_mac_but_not_the_bridge_itself(
    backend: Backend, topo: NatTopology
) -> None:
    mac = backend.link_get(topo.c1.ns, "eth0").mac
    backend.ebtables(topo.host, ["-A", "FORWARD", "-i", topo.c1.port, "-s", "!", mac,
                                 "-j", "DROP"])
    assert backend.ping(topo.c1.ns, topo.c2.ip).received == 1  # its own MAC passes
    backend.link_set_mac(topo.c1.ns, "eth0", "02:00:00:00:be:ef")
    assert backend.ping(topo.c1.ns, topo.c2.ip, timeout=SILENCE).received == 0
    # Frames to the bridge's own address are local (ebtables INPUT), not forwarded.
    assert backend.ping(topo.c1.ns, GATEWAY).received == 1
    listing = backend.ebtables(topo.host, ["-L", "FORWARD", "--Lc"])
    assert f"-s ! {mac} -i {topo.c1.port} -j DROP" in listing
    assert "pcnt = 0 " not in listing


@pytest.mark.requires("ebtables")
def test_ebtables_lists_the_filter_table(backend: Backend, topo: NatTopology) -> None:
    backend.ebtables(topo.host, ["-P", "FORWARD", "DROP"])
    listing = backend.ebtables(topo.host, ["-L"])
    assert listing.splitlines()[:3] == [
        "Bridge table: filter", "", "Bridge chain: INPUT, entries: 0, policy: ACCEPT"]
    assert "Bridge chain: FORWARD, entries: 0, policy: DROP" in listing
    assert backend.ping(topo.c1.ns, topo.c2.ip, timeout=SILENCE).received == 0


@pytest.mark.requires("ebtables")
def test_deleting_an_ebtables_rule_that_is_not_there_fails_with_enoent(backend: Backend) -> None:
    # ebtables (like iptables) reports "Bad rule (does a matching rule exist in that
    # chain?)": libxtables' words for ENOENT. Nothing else changes.
    backend.ebtables(backend.host_ns, ["-A", "FORWARD", "-s", "02:00:00:00:00:02", "-j", "DROP"])
    before = backend.ebtables(backend.host_ns, ["-L", "FORWARD"])
    with pytest.raises(BackendError) as caught:
        backend.ebtables(backend.host_ns,
                         ["-D", "FORWARD", "-s", "02:00:00:00:00:01", "-j", "DROP"])
    assert caught.value.errno == errno.ENOENT
    assert backend.ebtables(backend.host_ns, ["-L", "FORWARD"]) == before


@pytest.mark.requires("iptables")
def test_deleting_an_iptables_rule_that_is_not_there_fails_with_enoent(backend: Backend) -> None:
    backend.iptables_restore(
        backend.host_ns, "*filter\n-A FORWARD -s 10.9.0.1/32 -j DROP\nCOMMIT\n"
    )
    before = backend.iptables_save(backend.host_ns, table="filter")
    with pytest.raises(BackendError) as caught:
        backend.iptables_restore(backend.host_ns,
                                 "*filter\n-D FORWARD -s 10.9.0.2/32 -j DROP\nCOMMIT\n")
    assert caught.value.errno == errno.ENOENT
    assert backend.iptables_save(backend.host_ns, table="filter") == before
