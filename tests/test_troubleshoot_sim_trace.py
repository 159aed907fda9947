"""What only the simulator's trace can say (the kernel's TRACE sees netfilter only): the
route that matched, the bridge's decision, why a packet was dropped outside netfilter, NAT
rewrites and conntrack states, hop by hop."""

from __future__ import annotations

import pytest

from ctrnet.backends.sim import SimBackend
from ctrnet.conformance.backend.topology import (
    BRIDGE,
    HOST_WAN_IP,
    SUBNET,
    UPLINK,
    WAN_IP,
    NatTopology,
    nat_topology,
)
from ctrnet.troubleshoot.trace import Direction, PacketTrace, Step


@pytest.fixture
def sim() -> SimBackend:
    return SimBackend()


def details(trace: PacketTrace, step: Step, direction: Direction = Direction.REQUEST,
            ns: str | None = None) -> list[str]:
    return [h.detail for h in trace.hops
            if h.step is step and h.direction is direction and (ns is None or h.ns == ns)]


def test_the_route_that_matched_is_named(sim: SimBackend) -> None:
    topo = nat_topology(sim)
    trace = sim.trace(topo.c1.ns, WAN_IP, timeout=0.5)
    assert details(trace, Step.ROUTE, ns=topo.c1.ns)[0] == (
        f"route default via 172.20.0.1 dev eth0 src {topo.c1.ip} matches {WAN_IP}")
    assert f"forwarded: route 198.51.100.0/24 dev {UPLINK} src {HOST_WAN_IP} matches " \
           f"{WAN_IP}" in details(trace, Step.ROUTE, ns=topo.host)


def test_forwarding_off_is_the_reason_for_the_drop(sim: SimBackend) -> None:
    topo = nat_topology(sim, ip_forward=False)
    trace = sim.trace(topo.c1.ns, WAN_IP, timeout=0.5)
    assert trace.outcome == "timeout"
    dropped = trace.dropped()
    assert dropped is not None and dropped.ns == topo.host
    assert "forwarding is off on br0 (net.ipv4.ip_forward=0)" in dropped.detail


def test_a_port_still_listening_under_stp_drops_the_frame(sim: SimBackend) -> None:
    topo: NatTopology = nat_topology(sim)
    sim.bridge_set(topo.host, BRIDGE, stp_state=1)
    sim.link_set_up(topo.host, topo.c1.port, False)
    sim.link_set_up(topo.host, topo.c1.port)
    trace = sim.trace(topo.c1.ns, topo.c2.ip, timeout=0.5)
    assert trace.outcome == "timeout"
    assert f"{BRIDGE}: port {topo.c1.port} is LISTENING: frame dropped (STP)" in details(
        trace, Step.BRIDGE)


def test_bridge_decisions_fdb_hit_and_flood(sim: SimBackend) -> None:
    topo = nat_topology(sim)
    trace = sim.trace(topo.c1.ns, topo.c2.ip)
    bridge = details(trace, Step.BRIDGE)
    assert any("broadcast/multicast: flooded" in d for d in bridge)  # the ARP request
    assert any(f"is behind {topo.c2.port}" in d for d in bridge)  # the echo request


def test_masquerade_shows_the_rewrite_and_conntrack_the_states(sim: SimBackend) -> None:
    topo = nat_topology(sim)
    sim.iptables_restore(topo.host, f"*nat\n-A POSTROUTING -s {SUBNET} -o {UPLINK} "
                         "-j MASQUERADE\nCOMMIT\n")
    trace = sim.trace(topo.c1.ns, WAN_IP)
    assert trace.outcome == "answered"
    assert details(trace, Step.NAT, ns=topo.host) == [
        f"SNAT {topo.c1.ip} > {WAN_IP} -> {HOST_WAN_IP} > {WAN_IP}"]
    assert details(trace, Step.NAT, Direction.REPLY, ns=topo.host) == [
        f"DNAT {WAN_IP} > {HOST_WAN_IP} -> {WAN_IP} > {topo.c1.ip}"]
    assert "connection state ESTABLISHED" in details(trace, Step.CONNTRACK, Direction.REPLY)


def test_delivery_ends_the_request_and_the_reply(sim: SimBackend) -> None:
    topo = nat_topology(sim)
    trace = sim.trace(topo.c1.ns, topo.c2.ip)
    assert details(trace, Step.DELIVER) == [f"delivered to the local stack of {topo.c2.ns}"]
    assert details(trace, Step.DELIVER, Direction.REPLY) == [
        f"delivered to the local stack of {topo.c1.ns}"]
    assert trace.dropped() is None
