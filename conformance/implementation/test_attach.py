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
from .expect import refused

NET = {"name": "n1", "bridge": "ctr0", "subnet": "10.123.0.0/24", "gateway": "10.123.0.1"}


@pytest.mark.checklist("veth")
def test_container_interface_is_a_veth_whose_peer_is_a_port_of_the_bridge(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    eth0 = backend.link_get(c1, "eth0")
    assert eth0.kind is LinkKind.VETH, f"eth0 of {c1} is a {eth0.kind}, expected a veth"
    assert eth0.peer_ns == backend.host_ns and eth0.peer is not None, (
        f"eth0 of {c1} has its peer {eth0.peer!r} in namespace {eth0.peer_ns!r}, expected "
        f"the host namespace {backend.host_ns!r}")
    host_end = backend.link_get(backend.host_ns, eth0.peer)
    assert host_end.kind is LinkKind.VETH and host_end.master == "ctr0", (
        f"host end {host_end.name} is a {host_end.kind} with master {host_end.master!r}, "
        "expected a veth enslaved to bridge ctr0")
    assert host_end.up and eth0.up and eth0.carrier, (
        f"veth not up: host end {host_end.name} up={host_end.up}, {c1}'s eth0 up={eth0.up} "
        f"carrier={eth0.carrier}")


@pytest.mark.checklist("netns")
def test_container_namespace_holds_loopback_up_and_its_interface_only(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    links = sorted(link.name for link in backend.link_list(c1))
    assert links == ["eth0", "lo"], f"{c1} holds links {links}, expected exactly eth0 and lo"
    assert backend.link_get(c1, "lo").up, f"loopback of {c1} is down, expected up"
    assert backend.ping(c1, "127.0.0.1").ok, f"{c1} cannot ping 127.0.0.1 over its loopback"


@pytest.mark.checklist("netlink")
def test_attachment_reported_matches_the_address_and_default_route_in_the_namespace(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    attachment = impl.add("n1", c1)
    reported = f"{attachment.ip}/{attachment.prefixlen}"
    held = [a.cidr for a in backend.addr_list(c1, "eth0")]
    assert held == [reported], f"eth0 of {c1} holds {held}, the ADD reported {reported}"
    mac = backend.link_get(c1, "eth0").mac
    assert mac == attachment.mac, f"eth0 of {c1} has MAC {mac}, the ADD reported {attachment.mac}"
    default = [(r.gateway, r.dev) for r in backend.route_list(c1) if r.dst == "default"]
    assert default == [("10.123.0.1", "eth0")], (
        f"{c1} has default routes (gateway, dev) {default}, expected one via 10.123.0.1 on eth0")
    impl.check("n1", c1)


@pytest.mark.checklist("netlink")
def test_mtu_of_the_network_is_set_on_both_ends_of_the_veth(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**NET, "mtu": 1400})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    eth0 = backend.link_get(c1, "eth0")
    assert eth0.mtu == 1400, f"eth0 of {c1} has MTU {eth0.mtu}, expected the network's 1400"
    assert eth0.peer is not None, f"eth0 of {c1} has no peer"
    host_mtu = backend.link_get(backend.host_ns, eth0.peer).mtu
    assert host_mtu == 1400, f"host end {eth0.peer} has MTU {host_mtu}, expected 1400"


@pytest.mark.checklist("bridge")
def test_container_reaches_its_gateway_on_the_bridge(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    bridge = backend.link_get(backend.host_ns, "ctr0")
    assert bridge.kind is LinkKind.BRIDGE and bridge.up, (
        f"ctr0 is a {bridge.kind}, up={bridge.up}: expected a bridge that is up")
    held = [a.cidr for a in backend.addr_list(backend.host_ns, "ctr0")]
    assert "10.123.0.1/24" in held, f"bridge ctr0 holds {held}, expected the gateway 10.123.0.1/24"
    assert backend.ping(c1, "10.123.0.1").ok, f"{c1} cannot ping its gateway 10.123.0.1"


@pytest.mark.checklist("bridge")
def test_containers_of_one_network_reach_each_other_and_the_bridge_knows_their_ports(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    a1, a2 = impl.add("n1", c1), impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok, f"{c1} cannot ping its neighbour {c2} at {a2.ip}"
    assert backend.ping(c2, a1.ip).ok, f"{c2} cannot ping its neighbour {c1} at {a1.ip}"
    # Learned, or pinned as static entries (anti-spoofing): either way behind their ports.
    learned = {(e.mac, e.port) for e in backend.fdb_list(backend.host_ns, "ctr0")
               if not e.local}
    port1 = backend.link_get(c1, "eth0").peer
    port2 = backend.link_get(c2, "eth0").peer
    for ns, attachment, port in ((c1, a1, port1), (c2, a2, port2)):
        assert (attachment.mac, port) in learned, (
            f"bridge ctr0 has no FDB entry for {ns}'s MAC {attachment.mac} behind its port "
            f"{port} (entries: {sorted(learned)})")


@pytest.mark.checklist("ipam")
def test_fifty_containers_get_fifty_distinct_addresses_of_the_subnet(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    containers = make_containers(backend, 50)
    for ns in containers:
        impl.add("n1", ns)
    holders: dict[str, list[str]] = {}
    for ns in containers:
        for a in backend.addr_list(ns, "eth0"):
            holders.setdefault(a.ip, []).append(ns)
    seen = [ip for ip, owners in holders.items() for _ in owners]
    shared = {ip: owners for ip, owners in holders.items() if len(owners) > 1}
    assert not shared, "; ".join(f"container {owners[1]} got {ip}, already held by {owners[0]}"
                                 for ip, owners in shared.items())
    assert len(seen) == 50, f"the 50 containers hold {len(seen)} addresses on eth0, expected 50"
    subnet = ipaddress.ip_network("10.123.0.0/24")
    outside = [ip for ip in seen if ipaddress.ip_address(ip) not in subnet]
    assert not outside, f"addresses {outside} are outside the network's subnet {subnet}"
    assert "10.123.0.1" not in seen, (  # the gateway is never handed out
        f"container {holders.get('10.123.0.1')} got the gateway's address 10.123.0.1")


@pytest.mark.checklist("ipam")
def test_a_deleted_containers_address_is_free_again_and_its_link_is_gone(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**NET, "subnet": "10.123.0.0/29"})  # gateway + 5 addresses
    containers = make_containers(backend, 6)
    for ns in containers[:5]:
        impl.add("n1", ns)
    port = backend.link_get(containers[0], "eth0").peer
    with refused(f"a sixth ADD to 10.123.0.0/29 (gateway + 5 addresses, all taken) "
                 f"succeeded: {containers[5]} got an address that does not exist"):
        impl.add("n1", containers[5])
    impl.delete("n1", containers[0])
    assert port not in [link.name for link in backend.link_list(backend.host_ns)], (
        f"host end {port} of {containers[0]} is still there after DEL")
    left = [link.name for link in backend.link_list(containers[0])]
    assert left == ["lo"], f"{containers[0]} still holds {left} after DEL, expected only lo"
    attachment = impl.add("n1", containers[5])
    assert ipaddress.ip_address(attachment.ip) in ipaddress.ip_network("10.123.0.0/29"), (
        f"{containers[5]} got {attachment.ip}, outside 10.123.0.0/29")


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
    assert ours == [], f"veths {ours} are left in the host namespace after both DELs"
    backend.netns_add("c3")
    assert impl.add("n1", "c3").ip, "c3 got no address after the DELs freed the pool"
