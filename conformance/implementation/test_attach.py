"""Bridge-mode attachment, observed through the backend: the veth pair, the container's
namespace, its address, route and neighbours (checklist items veth, bridge, netns, netlink,
ipam)."""

from __future__ import annotations

import ipaddress

import pytest

from ctrnet.backend import Backend
from ctrnet.types import LinkKind

from .adapter import Implementation
from .conftest import make_containers

NET = {"name": "n1", "bridge": "ctr0", "subnet": "10.123.0.0/24", "gateway": "10.123.0.1"}


@pytest.mark.checklist("veth")
def test_container_interface_is_a_veth_whose_peer_is_a_port_of_the_bridge(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    eth0 = backend.link_get(c1, "eth0")
    assert eth0.kind is LinkKind.VETH
    assert eth0.peer_ns == backend.host_ns and eth0.peer is not None
    host_end = backend.link_get(backend.host_ns, eth0.peer)
    assert host_end.kind is LinkKind.VETH and host_end.master == "ctr0"
    assert host_end.up and eth0.up and eth0.carrier


@pytest.mark.checklist("netns")
def test_container_namespace_holds_loopback_up_and_its_interface_only(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    assert sorted(link.name for link in backend.link_list(c1)) == ["eth0", "lo"]
    assert backend.link_get(c1, "lo").up
    assert backend.ping(c1, "127.0.0.1").ok


@pytest.mark.checklist("netlink")
def test_attachment_reported_matches_the_address_and_default_route_in_the_namespace(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    attachment = impl.add("n1", c1)
    assert [a.cidr for a in backend.addr_list(c1, "eth0")] == [
        f"{attachment.ip}/{attachment.prefixlen}"]
    assert backend.link_get(c1, "eth0").mac == attachment.mac
    default = [r for r in backend.route_list(c1) if r.dst == "default"]
    assert [(r.gateway, r.dev) for r in default] == [("10.123.0.1", "eth0")]
    impl.check("n1", c1)


@pytest.mark.checklist("netlink")
def test_mtu_of_the_network_is_set_on_both_ends_of_the_veth(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**NET, "mtu": 1400})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    eth0 = backend.link_get(c1, "eth0")
    assert eth0.mtu == 1400
    assert eth0.peer is not None and backend.link_get(backend.host_ns, eth0.peer).mtu == 1400


@pytest.mark.checklist("bridge")
def test_container_reaches_its_gateway_on_the_bridge(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    bridge = backend.link_get(backend.host_ns, "ctr0")
    assert bridge.kind is LinkKind.BRIDGE and bridge.up
    assert "10.123.0.1/24" in [a.cidr for a in backend.addr_list(backend.host_ns, "ctr0")]
    assert backend.ping(c1, "10.123.0.1").ok


@pytest.mark.checklist("bridge")
def test_containers_of_one_network_reach_each_other_and_the_bridge_knows_their_ports(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    a1, a2 = impl.add("n1", c1), impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok and backend.ping(c2, a1.ip).ok
    # Learned, or pinned as static entries (anti-spoofing): either way behind their ports.
    learned = {(e.mac, e.port) for e in backend.fdb_list(backend.host_ns, "ctr0")
               if not e.local}
    port1 = backend.link_get(c1, "eth0").peer
    port2 = backend.link_get(c2, "eth0").peer
    assert (a1.mac, port1) in learned and (a2.mac, port2) in learned


@pytest.mark.checklist("ipam")
def test_fifty_containers_get_fifty_distinct_addresses_of_the_subnet(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    containers = make_containers(backend, 50)
    for ns in containers:
        impl.add("n1", ns)
    seen = [a.ip for ns in containers for a in backend.addr_list(ns, "eth0")]
    assert len(seen) == 50 and len(set(seen)) == 50
    subnet = ipaddress.ip_network("10.123.0.0/24")
    assert all(ipaddress.ip_address(ip) in subnet for ip in seen)
    assert "10.123.0.1" not in seen  # the gateway is never handed out


@pytest.mark.checklist("ipam")
def test_a_deleted_containers_address_is_free_again_and_its_link_is_gone(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**NET, "subnet": "10.123.0.0/29"})  # gateway + 5 addresses
    containers = make_containers(backend, 6)
    for ns in containers[:5]:
        impl.add("n1", ns)
    port = backend.link_get(containers[0], "eth0").peer
    with pytest.raises(Exception):  # noqa: B017 - any error: the pool is exhausted
        impl.add("n1", containers[5])
    impl.delete("n1", containers[0])
    assert port not in [link.name for link in backend.link_list(backend.host_ns)]
    assert [link.name for link in backend.link_list(containers[0])] == ["lo"]
    attachment = impl.add("n1", containers[5])
    assert ipaddress.ip_address(attachment.ip) in ipaddress.ip_network("10.123.0.0/29")


@pytest.mark.topic("lifecycle")
def test_delete_is_idempotent_and_survives_a_vanished_namespace(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    impl.add("n1", c2)
    impl.delete("n1", c1)
    impl.delete("n1", c1)
    backend.netns_delete(c2)
    impl.delete("n1", c2)
    ours = [link.name for link in backend.link_list(backend.host_ns)
            if link.kind is LinkKind.VETH]
    assert ours == []
    backend.netns_add("c3")
    assert impl.add("n1", "c3").ip  # the pool is usable again
