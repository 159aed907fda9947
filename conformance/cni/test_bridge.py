"""bridge: the host ends are ports of the configured bridge, which holds the gateway
address, so containers reach each other and the gateway; DEL releases the port."""

from __future__ import annotations

import pytest

from ctrnet.types import LinkKind

from .network import CniNetwork

pytestmark = pytest.mark.checklist("bridge")


def test_host_end_is_a_port_of_the_configured_bridge(network: CniNetwork) -> None:
    c1 = network.add("c1")
    name = network.config.bridge
    bridges = {link.name: link for link in network.backend.link_list(network.backend.host_ns)
               if link.kind is LinkKind.BRIDGE}
    assert name in bridges, f"no bridge {name} in the host (bridges: {sorted(bridges) or 'none'})"
    assert bridges[name].up, f"bridge {name} is down"
    outside = network.host_end(c1)
    assert outside.master == name, (
        f"c1: host end {outside.name} is attached to {outside.master or 'no bridge'}, not {name}")


def test_bridge_holds_the_gateway_address(network: CniNetwork) -> None:
    network.add("c1")
    name = network.config.bridge
    cidr = f"{network.config.gateway}/{network.subnet.prefixlen}"
    held = [a.cidr for a in network.backend.addr_list(network.backend.host_ns, name)]
    assert cidr in held, f"bridge {name} holds {held or 'no address'}, expected {cidr}"


def test_container_reaches_the_gateway(network: CniNetwork) -> None:
    c1 = network.add("c1")
    reply = network.backend.ping(c1.ns, network.config.gateway, count=2, timeout=2.0)
    assert reply.received, f"c1 ({c1.ip}) gets no reply from the gateway {network.config.gateway}"


def test_containers_reach_each_other_through_the_bridge(network: CniNetwork) -> None:
    c1, c2 = network.add("c1"), network.add("c2")
    reply = network.backend.ping(c1.ns, c2.ip, count=2, timeout=2.0)
    assert reply.received, f"c1 ({c1.ip}) gets no reply from c2 ({c2.ip}) across the bridge"


def test_del_releases_the_bridge_port(network: CniNetwork) -> None:
    c1, c2 = network.add("c1"), network.add("c2")
    gone = network.host_end(c1).name
    network.delete(c1)
    ports = [link.name for link in network.backend.link_list(network.backend.host_ns)
             if link.master == network.config.bridge]
    assert gone not in ports, f"c1's port {gone} is still on the bridge after DEL"
    assert network.host_end(c2).name in ports, "c2's port left the bridge when c1 was deleted"
