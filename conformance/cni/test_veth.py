"""veth — the guide's §1.2: a veth pair is a virtual cable with two ends; what goes in at one
end comes out at the other, which is how traffic crosses from the container's namespace to
the host's. One end inside the container, the other in the host, both up; removing the
container's network removes the cable."""

from __future__ import annotations

import pytest

from .network import CniNetwork
from .verdict import own

pytestmark = pytest.mark.checklist("veth")


def test_container_interface_is_a_veth_whose_other_end_is_in_the_host(
        network: CniNetwork) -> None:
    """§1.2: the pair spans the two namespaces (the guide's picture: one end in the host,
    the other in the container)."""
    c1 = network.add("c1")
    with own("veth"):
        outside = network.host_end(c1)
    assert outside.kind.value == "veth", f"c1: host end {outside.name} is not a veth"


def test_both_ends_are_up_with_carrier(network: CniNetwork) -> None:
    """§1.2: a cable carries nothing unless both of its ends are up."""
    c1 = network.add("c1")
    with own("veth"):
        network.require_up(c1)
    inside = network.interface(c1)
    assert inside.carrier, f"c1: {inside.name} has no carrier although both ends are up"


def test_del_removes_both_ends(network: CniNetwork) -> None:
    """§1.2: the two ends exist together; when the container's network goes, so does the
    cable — no end is left behind in the container or in the host."""
    c1 = network.add("c1")
    inside = network.interface(c1).name
    with own("veth"):
        host_end = network.host_end(c1).name
    network.delete(c1)
    left = [link.name for link in network.links(c1.ns) if link.name == inside]
    assert not left, f"c1: {inside} is still in the container after DEL"
    assert host_end not in network.veths_in_host(), f"c1: host end {host_end} left after DEL"
