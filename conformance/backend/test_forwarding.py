"""IPv4 end to end: ARP resolution and the neighbour tables it leaves, ICMP echo on one
bridge and through routers (ip_forward, TTL), local delivery through lo, and what ping
reports when there is no route or no answer. Pinned on Linux 6.18 with iputils ping.
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import Unreachable
from ctrnet.types import NeighState

#: ip_default_ttl: what a reply carries when it leaves its sender.
DEFAULT_TTL = 64


def _veth(backend: Backend, left: tuple[str, str, str], right: tuple[str, str, str]) -> None:
    """A point-to-point veth: (namespace, ifname, cidr) at each end, all up."""
    (lns, lif, _), (rns, rif, _) = left, right
    backend.veth_add(lns, lif, rif, rns)
    for ns, ifname, cidr in (left, right):
        backend.addr_add(ns, ifname, cidr)
        backend.link_set_up(ns, ifname)
        backend.link_set_up(ns, "lo")


def _namespaces(backend: Backend, *names: str) -> None:
    for name in names:
        backend.netns_add(name)


def _bridge_with_containers(backend: Backend, count: int = 2) -> None:
    """br0 (10.0.0.1/24) in the host namespace; containers c1.. at 10.0.0.2.. on it, each
    with a default route via the bridge."""
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.addr_add(host, "br0", "10.0.0.1/24")
    backend.link_set_up(host, "br0")
    for i in range(1, count + 1):
        ns = f"c{i}"
        backend.netns_add(ns)
        backend.veth_add(host, f"veth{i}", "eth0", ns)
        backend.link_set_master(host, f"veth{i}", "br0")
        backend.link_set_up(host, f"veth{i}")
        backend.addr_add(ns, "eth0", f"10.0.0.{i + 1}/24")
        backend.link_set_up(ns, "eth0")
        backend.link_set_up(ns, "lo")
        backend.route_add(ns, "default", gateway="10.0.0.1")


def _router_between_two_subnets(backend: Backend, forwarding: bool) -> None:
    """left (10.1.0.2) -- router (10.1.0.1 | 10.2.0.1) -- right (10.2.0.2)."""
    _namespaces(backend, "left", "router", "right")
    _veth(backend, ("left", "eth0", "10.1.0.2/24"), ("router", "left0", "10.1.0.1/24"))
    _veth(backend, ("right", "eth0", "10.2.0.2/24"), ("router", "right0", "10.2.0.1/24"))
    backend.route_add("left", "default", gateway="10.1.0.1")
    backend.route_add("right", "default", gateway="10.2.0.1")
    backend.sysctl_set("router", "net.ipv4.ip_forward", "1" if forwarding else "0")


def _neighbours(backend: Backend, ns: str) -> dict[str, tuple[str | None, NeighState]]:
    return {n.ip: (n.mac, n.state) for n in backend.neigh_list(ns)}


# -- one bridge ---------------------------------------------------------------------------------
def test_containers_on_one_bridge_see_ttl_64(backend: Backend) -> None:
    _bridge_with_containers(backend)
    result = backend.ping("c1", "10.0.0.3")
    assert (result.sent, result.received, result.ttls) == (1, 1, (DEFAULT_TTL,))


def test_ping_sends_count_requests_interval_apart(backend: Backend) -> None:
    _bridge_with_containers(backend)
    start = backend.now()
    result = backend.ping("c1", "10.0.0.3", count=3, interval=0.2)
    assert (result.sent, result.received, result.ttls) == (3, 3, (DEFAULT_TTL,) * 3)
    assert backend.now() - start >= 0.4


def test_a_ping_nobody_answers_waits_for_its_timeout(backend: Backend) -> None:
    _bridge_with_containers(backend)
    start = backend.now()
    result = backend.ping("c1", "10.0.0.99", timeout=0.5)
    assert (result.sent, result.received) == (1, 0)
    assert backend.now() - start >= 0.5


# -- ARP and the neighbour table ------------------------------------------------------------------
def test_after_a_ping_the_sender_holds_the_targets_mac_reachable(backend: Backend) -> None:
    _bridge_with_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    target_mac = backend.link_get("c2", "eth0").mac
    assert _neighbours(backend, "c1")["10.0.0.3"] == (target_mac, NeighState.REACHABLE)


def test_the_target_of_an_arp_request_learns_the_sender(backend: Backend) -> None:
    _bridge_with_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    sender_mac = backend.link_get("c1", "eth0").mac
    mac, state = _neighbours(backend, "c2")["10.0.0.2"]
    # arp_process leaves a STALE entry for the asker; sending the echo reply through it
    # moved it on to DELAY (no confirmation yet).
    assert (mac, state) == (sender_mac, NeighState.DELAY)


def test_a_bystander_on_the_bridge_learns_nothing_from_a_broadcast_request(
    backend: Backend,
) -> None:
    _bridge_with_containers(backend, count=3)
    assert backend.ping("c1", "10.0.0.3").received == 1
    # arp_accept is 0: a request for somebody else creates no entry.
    assert "10.0.0.2" not in _neighbours(backend, "c3")


def test_neigh_flush_removes_learned_entries(backend: Backend) -> None:
    _bridge_with_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    assert "10.0.0.3" in _neighbours(backend, "c1")
    backend.neigh_flush("c1")
    # Only what flush keeps may remain (NOARP multicast entries of IGMP, PERMANENT ones).
    kept = (NeighState.NOARP, NeighState.PERMANENT)
    assert [n for n in backend.neigh_list("c1") if n.state not in kept] == []


def test_an_unanswered_request_leaves_incomplete_then_failed(backend: Backend) -> None:
    _bridge_with_containers(backend)
    start = backend.now()
    assert backend.ping("c1", "10.0.0.99", timeout=0.5).received == 0
    assert _neighbours(backend, "c1")["10.0.0.99"] == (None, NeighState.INCOMPLETE)
    # mcast_solicit 3 probes, retrans_time 1 s apart, then the entry fails.
    remaining = start + 3.5 - backend.now()
    backend.sleep(max(remaining, 0.0))
    assert _neighbours(backend, "c1")["10.0.0.99"][1] == NeighState.FAILED


def test_a_down_link_loses_its_neighbours(backend: Backend) -> None:
    _bridge_with_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    backend.link_set_up("c1", "eth0", False)
    assert backend.neigh_list("c1", "eth0") == []


# -- routers ------------------------------------------------------------------------------------
def test_a_router_with_ip_forward_on_joins_two_subnets_and_costs_one_ttl(
    backend: Backend,
) -> None:
    _router_between_two_subnets(backend, forwarding=True)
    result = backend.ping("left", "10.2.0.2")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL - 1,))
    assert backend.ping("right", "10.1.0.2").received == 1


def test_a_router_with_ip_forward_off_drops_transit_traffic(backend: Backend) -> None:
    _router_between_two_subnets(backend, forwarding=False)
    assert backend.ping("left", "10.2.0.2", timeout=0.5).received == 0


def test_a_router_without_forwarding_still_answers_on_its_far_address(backend: Backend) -> None:
    _router_between_two_subnets(backend, forwarding=False)
    # Addresses belong to the host, not the interface: 10.2.0.1 is local to the router.
    result = backend.ping("left", "10.2.0.1")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL,))


def test_each_router_on_the_path_takes_one_off_the_ttl(backend: Backend) -> None:
    _namespaces(backend, "left", "r1", "r2", "right")
    _veth(backend, ("left", "eth0", "10.1.0.2/24"), ("r1", "a0", "10.1.0.1/24"))
    _veth(backend, ("r1", "b0", "10.9.0.1/30"), ("r2", "b0", "10.9.0.2/30"))
    _veth(backend, ("r2", "c0", "10.2.0.1/24"), ("right", "eth0", "10.2.0.2/24"))
    backend.route_add("left", "default", gateway="10.1.0.1")
    backend.route_add("right", "default", gateway="10.2.0.1")
    backend.route_add("r1", "10.2.0.0/24", gateway="10.9.0.2")
    backend.route_add("r2", "10.1.0.0/24", gateway="10.9.0.1")
    for router in ("r1", "r2"):
        backend.sysctl_set(router, "net.ipv4.ip_forward", "1")
    result = backend.ping("left", "10.2.0.2")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL - 2,))


def test_the_host_routes_containers_to_an_uplink_namespace(backend: Backend) -> None:
    _bridge_with_containers(backend, count=1)
    backend.netns_add("wan")
    _veth(backend, (backend.host_ns, "uplink", "198.51.100.1/24"),
          ("wan", "eth0", "198.51.100.2/24"))
    backend.route_add("wan", "10.0.0.0/24", gateway="198.51.100.1")
    assert backend.ping("c1", "198.51.100.2", timeout=0.5).received == 0
    backend.sysctl_set(backend.host_ns, "net.ipv4.ip_forward", "1")
    result = backend.ping("c1", "198.51.100.2")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL - 1,))


def test_a_reply_needs_a_route_back(backend: Backend) -> None:
    _router_between_two_subnets(backend, forwarding=True)
    backend.route_delete("right", "default")
    assert backend.ping("left", "10.2.0.2", timeout=0.5).received == 0


# -- no route, and local delivery ---------------------------------------------------------------
def test_ping_without_a_route_fails_with_enetunreach(backend: Backend) -> None:
    _namespaces(backend, "c1")
    backend.veth_add("c1", "eth0", "eth1")
    backend.addr_add("c1", "eth0", "10.0.0.2/24")
    backend.link_set_up("c1", "eth0")
    with pytest.raises(Unreachable) as caught:
        backend.ping("c1", "203.0.113.9")
    assert caught.value.errno == errno.ENETUNREACH


def test_127_0_0_1_is_unreachable_while_lo_was_never_up(backend: Backend) -> None:
    _namespaces(backend, "c1")
    with pytest.raises(Unreachable) as caught:
        backend.ping("c1", "127.0.0.1")
    assert caught.value.errno == errno.ENETUNREACH


def test_127_0_0_1_answers_once_lo_is_up(backend: Backend) -> None:
    _namespaces(backend, "c1")
    backend.link_set_up("c1", "lo")
    result = backend.ping("c1", "127.0.0.1")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL,))


def test_own_address_answers_only_while_lo_is_up(backend: Backend) -> None:
    _namespaces(backend, "c1")
    backend.veth_add("c1", "eth0", "eth1")
    backend.addr_add("c1", "eth0", "10.0.0.2/24")
    backend.link_set_up("c1", "eth0")
    # The local route exists, so the request is sent; it loops through lo, which is down.
    result = backend.ping("c1", "10.0.0.2", timeout=0.5)
    assert (result.sent, result.received) == (1, 0)
    backend.link_set_up("c1", "lo")
    result = backend.ping("c1", "10.0.0.2")
    assert (result.received, result.ttls) == (1, (DEFAULT_TTL,))
