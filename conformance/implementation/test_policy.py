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
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok, (
        f"{c1} on n1 pinged {c2} at {a2.ip} on n2: networks are not isolated")
    assert not backend.ping(c2, a1.ip, timeout=0.5).ok, (
        f"{c2} on n2 pinged {c1} at {a1.ip} on n1: networks are not isolated")
    for ns in (c1, c2):
        assert backend.ping(ns, wan.ip).ok, (
            f"{ns} cannot ping the wan {wan.ip} (isolation must not block egress)")


@pytest.mark.topic("isolation")
@pytest.mark.impl_requires("icc")
def test_icc_off_drops_container_to_container_but_not_container_to_gateway(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({**N1, "icc": False})
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok, (
        f"with icc off, {c1} still pinged its neighbour {c2} at {a2.ip}")
    assert backend.ping(c1, "10.125.1.1").ok, (
        f"with icc off, {c1} cannot ping its gateway 10.125.1.1 (only container-to-container "
        "may be dropped)")


@pytest.mark.topic("isolation")
def test_icc_on_lets_containers_of_one_network_talk(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok, f"{c1} cannot ping its neighbour {c2} at {a2.ip}"


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_frames_with_a_forged_source_mac_are_dropped(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok, (  # control: the honest container gets through
        f"{c1} cannot ping {c2} at {a2.ip} even before forging its MAC")
    backend.link_set_mac(c1, "eth0", "02:00:00:00:00:99")
    backend.neigh_flush(c2)
    backend.neigh_flush(c1)
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok, (
        f"{c1} with forged MAC 02:00:00:00:00:99 still reached {c2} (no ebtables FORWARD "
        "rule dropping other source MACs from its port?)")
    assert not backend.ping(c1, "10.125.1.1", timeout=0.5).ok, (
        f"{c1} with forged MAC 02:00:00:00:00:99 still reached the gateway (no ebtables "
        "INPUT rule?)")


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_packets_with_a_forged_source_ip_are_dropped(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    a1 = impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    assert backend.ping(c1, a2.ip).ok, (
        f"{c1} cannot ping {c2} at {a2.ip} even before forging its address")
    backend.addr_delete(c1, "eth0", f"{a1.ip}/{a1.prefixlen}")
    backend.addr_add(c1, "eth0", f"10.125.1.200/{a1.prefixlen}")
    assert not backend.ping(c1, a2.ip, timeout=0.5).ok, (
        f"{c1} with forged source 10.125.1.200 (given {a1.ip}) still reached {c2} "
        "(no iptables rule dropping other sources from its port?)")
    assert not backend.ping(c1, "10.125.1.1", timeout=0.5).ok, (
        f"{c1} with forged source 10.125.1.200 (given {a1.ip}) still reached the gateway")


@pytest.mark.topic("antispoof")
@pytest.mark.impl_requires("antispoof")
def test_a_forged_neighbours_mac_does_not_steal_its_bridge_fdb_entry(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(N1)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1)
    a2 = impl.add("n1", c2)
    victim_port = backend.link_get(c2, "eth0").peer
    assert backend.ping(c2, "10.125.1.1").ok, (  # the bridge knows c2's MAC behind its port
        f"{c2} cannot ping its gateway 10.125.1.1")
    backend.link_set_mac(c1, "eth0", a2.mac)
    backend.ping(c1, "10.125.1.1", timeout=0.5)  # frames with c2's MAC from c1's port
    ports = {e.port for e in backend.fdb_list(backend.host_ns, "ctr1") if e.mac == a2.mac}
    assert ports == {victim_port}, (
        f"after {c1} sent frames with {c2}'s MAC {a2.mac}, bridge ctr1 has that MAC behind "
        f"ports {sorted(p or '' for p in ports)}, expected only {c2}'s port {victim_port} "
        "(learning on, no static FDB entry?)")
    assert backend.ping(c2, "10.125.1.1").ok, (
        f"{c2} lost its gateway after {c1} forged its MAC: its traffic was stolen")


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
        assert not backend.connect(c2, Proto.TCP, a1.ip, 80, timeout=0.5).ok, (  # ICC
            f"with icc off, {c2} connected directly to {c1} at {a1.ip}:80")
        result = backend.connect(c2, Proto.TCP, wan.host_ip, 8080)  # published: allowed
        assert result.ok, (
            f"with icc off, {c2} cannot reach {c1}'s published port {wan.host_ip}:8080 "
            f"({result.outcome}): the icc DROP must not catch DNATed traffic")
        peers = len(listener.peers())
        assert peers == 1, f"{c1} accepted {peers} connections, expected the published one"
