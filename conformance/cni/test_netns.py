"""netns: the container's side is configured inside the namespace CNI_NETNS names, not in the
host; DEL leaves the namespace (the runtime owns it) and succeeds when it is already gone."""

from __future__ import annotations

import pytest

from ctrnet.errors import Unreachable

from .network import IFNAME, CniNetwork

pytestmark = pytest.mark.checklist("netns")


def test_interface_and_address_are_inside_the_container(network: CniNetwork) -> None:
    c1 = network.add("c1")
    names = [link.name for link in network.backend.link_list(c1.ns)]
    assert IFNAME in names, f"c1: no {IFNAME} inside the container namespace (links: {names})"
    held = [a.ip for a in network.backend.addr_list(network.backend.host_ns)]
    assert c1.ip not in held, f"c1's address {c1.ip} was put on a link of the host"


def test_container_routes_are_inside_the_container(network: CniNetwork) -> None:
    c1 = network.add("c1")
    try:
        decision = network.backend.route_get(c1.ns, "198.51.100.7")
    except Unreachable:
        pytest.fail("c1 has no route off its subnet: its default route is missing")
    assert decision.dev == IFNAME, f"c1 sends off-subnet traffic via {decision.dev}, not {IFNAME}"


def test_del_keeps_the_container_namespace(network: CniNetwork) -> None:
    c1 = network.add("c1")
    network.delete(c1)
    assert c1.ns in network.backend.netns_list(), "DEL removed the container's namespace"


def test_del_succeeds_when_the_namespace_is_gone(network: CniNetwork) -> None:
    c1 = network.add("c1")
    path = network.launcher.netns_path(c1.ns)
    host_end = network.host_end(c1).name
    network.backend.netns_delete(c1.ns)
    network.plugin.delete(c1.container_id, None, IFNAME, c1.result, netns_path=path)
    c1.deleted = True
    assert host_end not in network.veths_in_host(), f"{host_end} outlived c1's namespace"
