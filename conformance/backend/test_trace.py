"""Packet traces (`Backend.trace`): which netfilter chains a packet and its reply went
through, which rule decided and what, namespace by namespace. The kernel reports this with
TRACE; the simulator from its packet path; `PacketTrace.decisive` is what both must agree on
(chains where a rule matched or a policy other than ACCEPT applied).
"""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.troubleshoot.trace import ChainVerdict, Direction, PacketTrace, Step
from ctrnet.types import Proto

from .topology import HOST_WAN_IP, SUBNET, UPLINK, WAN_IP, NatTopology, nat_topology

pytestmark = pytest.mark.requires("trace", "iptables", "ping")

REQUEST, REPLY = Direction.REQUEST, Direction.REPLY


@pytest.fixture
def topo(backend: Backend) -> NatTopology:
    return nat_topology(backend)


def restore(backend: Backend, ns: str, table: str, *lines: str) -> None:
    backend.iptables_restore(ns, f"*{table}\n" + "\n".join(lines) + "\nCOMMIT\n")


def namespaces(trace: PacketTrace, direction: Direction) -> list[str]:
    """The namespaces the IP packet crossed (ARP floods reach others, and only the simulator
    reports ARP)."""
    seen: list[str] = []
    for hop in trace.hops:
        if hop.direction is direction and hop.step is not Step.NEIGH and hop.ns not in seen:
            seen.append(hop.ns)
    return seen


def test_a_forward_rule_that_drops_is_named_with_its_number(
        backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.host, "filter", f"-A FORWARD -d {WAN_IP}/32 -p udp -j ACCEPT",
            f"-A FORWARD -s {topo.c1.ip}/32 -d {WAN_IP}/32 -j DROP")
    trace = backend.trace(topo.c1.ns, WAN_IP, proto="icmp", timeout=0.5)
    assert trace.outcome == "timeout"
    assert trace.decisive() == [ChainVerdict(REQUEST, topo.host, "filter", "FORWARD", 2, "DROP")]
    assert trace.dropped() is not None
    assert namespaces(trace, REPLY) == []


def test_a_drop_policy_is_reported_as_the_chains_policy(
        backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.host, "filter", ":FORWARD DROP [0:0]")
    trace = backend.trace(topo.c1.ns, WAN_IP, proto="icmp", timeout=0.5)
    assert trace.outcome == "timeout"
    assert trace.decisive() == [ChainVerdict(REQUEST, topo.host, "filter", "FORWARD", None,
                                             "DROP")]


def test_reject_drops_the_request_and_its_icmp_error_is_the_reply(
        backend: Backend, topo: NatTopology) -> None:
    c1, c2 = topo.c1, topo.c2
    restore(backend, c2.ns, "filter", "-A INPUT -p tcp --dport 81 -j REJECT")
    trace = backend.trace(c1.ns, c2.ip, proto="tcp", port=81)
    assert trace.outcome == "refused"
    assert trace.decisive() == [ChainVerdict(REQUEST, c2.ns, "filter", "INPUT", 1, "DROP")]
    assert namespaces(trace, REPLY) == [c2.ns, topo.host, c1.ns]


def test_masquerade_decides_in_postrouting_for_the_first_packet_only(
        backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.host, "nat", f"-A POSTROUTING -s {SUBNET} -o {UPLINK} -j MASQUERADE")
    with backend.listen(topo.wan, Proto.TCP, 9000):
        trace = backend.trace(topo.c1.ns, WAN_IP, proto="tcp", port=9000)
    assert trace.outcome == "answered"
    # The reply is de-NATed by conntrack: no nat chain runs for it.
    assert trace.decisive() == [ChainVerdict(REQUEST, topo.host, "nat", "POSTROUTING", 1,
                                             "ACCEPT")]


def test_request_and_reply_cross_the_namespaces_in_opposite_orders(
        backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.host, "nat", f"-A POSTROUTING -s {SUBNET} -o {UPLINK} -j MASQUERADE")
    restore(backend, topo.wan, "filter", "-A INPUT -p icmp -j ACCEPT")
    trace = backend.trace(topo.c1.ns, WAN_IP)
    assert trace.outcome == "answered"
    assert namespaces(trace, REQUEST) == [topo.c1.ns, topo.host, topo.wan]
    assert namespaces(trace, REPLY) == [topo.wan, topo.host, topo.c1.ns]
    assert trace.decisive(REPLY) == []
    assert ChainVerdict(REQUEST, topo.wan, "filter", "INPUT", 1, "ACCEPT") in trace.decisive()
    assert not any(h.step is Step.DROP for h in trace.hops)


def test_trace_leaves_the_rules_as_they_were(backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.c1.ns, "raw", "-A OUTPUT -p udp -j ACCEPT")
    before = {ns: backend.iptables_save(ns) for ns in (topo.host, topo.c1.ns, topo.c2.ns)}
    backend.trace(topo.c1.ns, topo.c2.ip)
    assert {ns: backend.iptables_save(ns) for ns in before} == before


def test_dnat_of_a_published_port_decides_in_prerouting(
        backend: Backend, topo: NatTopology) -> None:
    restore(backend, topo.host, "nat", f"-A PREROUTING -d {HOST_WAN_IP}/32 -p tcp --dport 8080 "
            f"-j DNAT --to-destination {topo.c1.ip}:80")
    with backend.listen(topo.c1.ns, Proto.TCP, 80):
        trace = backend.trace(topo.wan, HOST_WAN_IP, proto="tcp", port=8080)
    assert trace.outcome == "answered"
    assert trace.decisive() == [ChainVerdict(REQUEST, topo.host, "nat", "PREROUTING", 1,
                                             "ACCEPT")]
    assert namespaces(trace, REQUEST) == [topo.wan, topo.host, topo.c1.ns]
