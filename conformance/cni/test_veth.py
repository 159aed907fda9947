"""veth: ADD gives the container one end of a veth pair and leaves the other in the host;
DEL removes the pair, and a second DEL succeeds as CNI requires."""

from __future__ import annotations

import pytest

from ctrnet.types import LinkKind

from .network import IFNAME, CniNetwork

pytestmark = pytest.mark.checklist("veth")


def test_container_gets_a_veth_whose_peer_is_in_the_host(network: CniNetwork) -> None:
    c1 = network.add("c1")
    inside = network.backend.link_get(c1.ns, IFNAME)
    assert inside.kind is LinkKind.VETH, f"c1: {IFNAME} is a {inside.kind.value} link, not a veth"
    outside = network.host_end(c1)
    assert outside.kind is LinkKind.VETH, f"c1: host end {outside.name} is not a veth"


def test_both_ends_are_up_with_carrier(network: CniNetwork) -> None:
    c1 = network.add("c1")
    inside = network.backend.link_get(c1.ns, IFNAME)
    outside = network.host_end(c1)
    assert outside.up, f"c1: host end {outside.name} is down (bring it up)"
    assert inside.up, f"c1: {IFNAME} is down inside the container (bring it up)"
    assert inside.carrier, f"c1: {IFNAME} has no carrier although both ends are up"


def test_del_removes_both_ends(network: CniNetwork) -> None:
    c1 = network.add("c1")
    host_end = network.host_end(c1).name
    network.delete(c1)
    left = [link.name for link in network.backend.link_list(c1.ns) if link.name == IFNAME]
    assert not left, f"c1: {IFNAME} is still in the container after DEL"
    assert host_end not in network.veths_in_host(), f"c1: host end {host_end} left after DEL"


def test_second_del_succeeds(network: CniNetwork) -> None:
    c1 = network.add("c1")
    network.delete(c1)
    network.delete(c1)  # CNI: DEL of what is already gone must succeed
