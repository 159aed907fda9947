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
    forwarding = backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward")
    assert forwarding == "1", f"host has net.ipv4.ip_forward = {forwarding}, expected 1"
    with backend.listen(wan.ns, Proto.TCP, 9000) as listener:
        result = backend.connect(c1, Proto.TCP, wan.ip, 9000)
        assert result.ok, (f"{c1} cannot connect to the wan {wan.ip}:9000 ({result.outcome}; "
                           "the wan has no route back: MASQUERADE missing?)")
        sources = [peer.ip for peer in listener.peers()]
        assert sources == [wan.host_ip], (
            f"wan saw source {', '.join(sources) or 'nothing'}, expected the uplink "
            f"{wan.host_ip} (MASQUERADE missing?)")
    assert backend.ping(c1, wan.ip).ok, f"{c1} cannot ping the wan {wan.ip}"


@pytest.mark.checklist("nat")
def test_without_masquerade_the_wan_cannot_answer_a_container(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup({**NET, "ipMasq": False})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    assert not backend.ping(c1, wan.ip, timeout=0.5).ok, (
        f"with ipMasq off, {c1} still got an answer from the wan {wan.ip}: its source was "
        "rewritten (a MASQUERADE rule that should not be there?)")


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
        result = backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080)
        assert result.ok, (f"wan cannot connect to published port {wan.host_ip}:8080 "
                           f"({result.outcome}; DNAT to {attachment.ip}:80 missing?)")
        # DNAT only: the container sees the wan's own address.
        sources = [peer.ip for peer in listener.peers()]
        assert sources == [wan.ip], (
            f"{c1} saw source {', '.join(sources) or 'nothing'}, expected the wan's own "
            f"{wan.ip} (published traffic must not be masqueraded)")
    assert attachment.ip, f"the ADD of {c1} reported no address"


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
        assert result.ok and result.reply == b"q", (
            f"UDP to published {wan.host_ip}:5353 got {result.outcome}, reply {result.reply!r}: "
            f"expected the echo b'q' from {c1}:53")


@pytest.mark.topic("publishing")
@pytest.mark.impl_requires("ports")
def test_published_port_answers_the_host_itself(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
    with backend.listen(c1, Proto.TCP, 80) as listener:
        result = backend.connect(backend.host_ns, Proto.TCP, wan.host_ip, 8080)
        assert result.ok, (f"the host cannot connect to its own published port "
                           f"{wan.host_ip}:8080 ({result.outcome}; DNAT in OUTPUT missing?)")
        peers = len(listener.peers())
        assert peers == 1, f"{c1} accepted {peers} connections, expected the host's one"


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
        for client in (c2, c1):
            result = backend.connect(client, Proto.TCP, wan.host_ip, 8080)
            assert result.ok, (f"{client} cannot reach the published port {wan.host_ip}:8080 "
                               f"({result.outcome}; hairpin NAT missing?)")
        # Hairpin NAT: both come from the gateway, so the replies go back through the host.
        sources = [peer.ip for peer in listener.peers()]
        assert sources == ["10.124.0.1", "10.124.0.1"], (
            f"{c1} saw sources {sources}, expected the gateway 10.124.0.1 twice (hairpin "
            "traffic must be masqueraded so its replies pass the host)")


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
        result = backend.connect(wan.ns, Proto.TCP, "198.51.100.3", 8080)
        assert result.ok, ("wan cannot connect to 198.51.100.3:8080, the address the port "
                           f"is published on ({result.outcome})")
        assert not backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080, timeout=0.5).ok, (
            f"port 8080 published on 198.51.100.3 only also answers on {wan.host_ip} "
            "(DNAT rule without -d?)")
        peers = len(listener.peers())
        assert peers == 1, f"{c1} accepted {peers} connections, expected 1"


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
    left = [line for line in nat.splitlines() if "--dport 8080" in line]
    assert not left, f"nat rules for port 8080 are left after DEL: {left}"
    assert not backend.connect(wan.ns, Proto.TCP, wan.host_ip, 8080, timeout=0.5).ok, (
        f"{wan.host_ip}:8080 still accepts connections after DEL of its container")
