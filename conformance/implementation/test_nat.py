"""Egress NAT and published ports, seen from a wan namespace with no route back to the
containers (checklist item nat; topic publishing). Docker's layout is the anchor: MASQUERADE
of the subnet out of anything but the bridge, DNAT for local destinations, hairpin NAT."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.types import Proto

from .adapter import Implementation
from .conftest import make_containers
from .observe import uplink

NET = {"name": "n1", "bridge": "ctr0", "subnet": "10.124.0.0/24", "gateway": "10.124.0.1"}


@pytest.mark.checklist("nat")
def test_egress_reaches_the_wan_with_the_hosts_uplink_address_as_source(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup({**NET, "ipMasq": True})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "1"
    with backend.listen(wan.ns, Proto.TCP, 9000) as listener:
        assert backend.connect(c1, Proto.TCP, wan.ip, 9000).ok
        assert [peer.ip for peer in listener.peers()] == [wan.host_ip]
    assert backend.ping(c1, wan.ip).ok


@pytest.mark.checklist("nat")
def test_without_masquerade_the_wan_cannot_answer_a_container(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup({**NET, "ipMasq": False})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    assert not backend.ping(c1, wan.ip, timeout=0.5).ok


@pytest.mark.checklist("nat")
@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_published_port_forwards_from_the_wan_to_the_container(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    attachment = impl.add("n1", c1, runtime={"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    with backend.listen(c1, Proto.TCP, 80) as listener:
        assert backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080).ok
        # DNAT only: the container sees the wan's own address.
        assert [peer.ip for peer in listener.peers()] == [wan.ip]
    assert attachment.ip


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_published_udp_port_echoes_back_to_the_wan(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"portMappings": [
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]})
    with backend.listen(c1, Proto.UDP, 53):
        result = backend.connect(wan.ns, Proto.UDP, wan.host_ip, 5353, payload=b"q")
        assert result.ok and result.reply == b"q"


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_published_port_answers_the_host_itself(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
    with backend.listen(c1, Proto.TCP, 80) as listener:
        assert backend.connect(backend.host_ns, Proto.TCP, wan.host_ip, 8080).ok
        assert len(listener.peers()) == 1


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_neighbour_and_the_container_itself_reach_the_port_through_the_host_address(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1, runtime={"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
    impl.add("n1", c2)
    with backend.listen(c1, Proto.TCP, 80) as listener:
        assert backend.connect(c2, Proto.TCP, wan.host_ip, 8080).ok
        assert backend.connect(c1, Proto.TCP, wan.host_ip, 8080).ok
        # Hairpin NAT: both come from the gateway, so the replies go back through the host.
        assert [peer.ip for peer in listener.peers()] == ["10.124.0.1", "10.124.0.1"]


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_port_published_on_one_host_address_ignores_the_others(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    backend.addr_add(backend.host_ns, "uplink", "198.51.100.3/24")
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "hostIP": "198.51.100.3"}]})
    with backend.listen(c1, Proto.TCP, 80) as listener:
        assert backend.connect(wan.ns, Proto.TCP, "198.51.100.3", 8080).ok
        assert not backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080, timeout=0.5).ok
        assert len(listener.peers()) == 1


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_deleting_the_container_unpublishes_its_port(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
    impl.delete("n1", c1)
    nat = backend.iptables_save(backend.host_ns, table="nat")
    assert "--dport 8080" not in nat
    assert not backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080, timeout=0.5).ok
