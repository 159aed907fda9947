"""Isolation between networks, ICC off, MAC and IP anti-spoofing (topics isolation and
antispoof): br_netfilter sends bridged frames through iptables FORWARD and ebtables sees
every frame a port brings in."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.types import Proto

from .adapter import Implementation
from .conftest import make_containers
from .observe import uplink

N1 = {"name": "n1", "bridge": "ctr1", "subnet": "10.125.1.0/24"}
N2 = {"name": "n2", "bridge": "ctr2", "subnet": "10.125.2.0/24"}


@pytest.mark.topic("isolation")
@pytest.mark.impl_requires("isolation")
def test_containers_of_two_networks_cannot_reach_each_other_but_both_reach_the_wan(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(N1)
    impl.setup(N2)
    c1, c2 = make_containers(backend, 2)
    a1, a2 = impl.add("n1", c1), impl.add("n2", c2)
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok
    assert not backend.ping(c2, a1.ip, timeout=0.5).ok
    assert backend.ping(c1, wan.ip).ok and backend.ping(c2, wan.ip).ok


@pytest.mark.topic("isolation")
@pytest.mark.impl_requires("icc")
def test_icc_off_drops_container_to_container_but_not_container_to_gateway(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**N1, "icc": False})
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok
    assert backend.ping(c1, "10.125.1.1").ok


@pytest.mark.topic("isolation")
def test_icc_on_lets_containers_of_one_network_talk(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_frames_with_a_forged_source_mac_are_dropped(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok  # control: the honest container gets through
    backend.link_set_mac(c1, "eth0", "02:00:00:00:00:99")
    backend.neigh_flush(c2)
    backend.neigh_flush(c1)
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok
    assert not backend.ping(c1, "10.125.1.1", timeout=0.5).ok


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_packets_with_a_forged_source_ip_are_dropped(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    a1 = impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok
    backend.addr_delete(c1, "eth0", f"{a1.ip}/{a1.prefixlen}")
    backend.addr_add(c1, "eth0", f"10.125.1.200/{a1.prefixlen}")
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok
    assert not backend.ping(c1, "10.125.1.1", timeout=0.5).ok


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_a_forged_neighbours_mac_does_not_steal_its_bridge_fdb_entry(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    victim_port = backend.link_get(c2, "eth0").peer
    assert backend.ping(c2, "10.125.1.1").ok  # the bridge knows c2's MAC behind its port
    backend.link_set_mac(c1, "eth0", a2.mac)
    backend.ping(c1, "10.125.1.1", timeout=0.5)  # frames with c2's MAC from c1's port
    ports = {e.port for e in backend.fdb_list(backend.host_ns, "ctr1") if e.mac == a2.mac}
    assert ports == {victim_port}
    assert backend.ping(c2, "10.125.1.1").ok


@pytest.mark.topic("isolation")
@pytest.mark.impl_requires("icc", "ports")
def test_icc_off_still_lets_a_neighbour_reach_a_published_port_through_the_host_address(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup({**N1, "icc": False})
    c1, c2 = make_containers(backend, 2)
    a1 = impl.add("n1", c1, runtime={"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
    impl.add("n1", c2)
    with backend.listen(c1, Proto.TCP, 80) as listener:
        assert not backend.connect(c2, Proto.TCP, a1.ip, 80, timeout=0.5).ok  # direct: ICC
        assert backend.connect(c2, Proto.TCP, wan.host_ip, 8080).ok  # published: allowed
        assert len(listener.peers()) == 1
