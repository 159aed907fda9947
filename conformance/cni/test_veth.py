"""veth — the guide's §1.2: a veth pair is a virtual cable with two ends; what goes in at one
end comes out at the other, which is how traffic crosses from the container's namespace to
the host's. One end inside the container, the other in the host, both up; removing the
container's network removes the cable."""

from __future__ import annotations

import pytest

from .network import CniNetwork, Finding
from .verdict import own

pytestmark = pytest.mark.checklist("veth")


def test_container_interface_is_a_veth_whose_other_end_is_in_the_host(
        network: CniNetwork) -> None:
    """§1.2: the pair spans the two namespaces (the guide's picture: one end in the host,
    the other in the container)."""
    c1 = network.add("c1")
    with own("veth"):
        outside = network.host_end(c1)
    if outside.kind.value != "veth":
        raise Finding(f"c1: host end {outside.name} is not a veth",
                      ja=f"c1: ホスト側の端 {outside.name} が veth ではありません")


def test_both_ends_are_up_with_carrier(network: CniNetwork) -> None:
    """§1.2: a cable carries nothing unless both of its ends are up."""
    c1 = network.add("c1")
    with own("veth"):
        network.require_up(c1)
    inside = network.interface(c1)
    if not inside.carrier:
        raise Finding(f"c1: {inside.name} has no carrier although both ends are up",
                      ja=f"c1: veth ペアの両端が up なのに {inside.name} にキャリアがありません")


def test_del_removes_both_ends(network: CniNetwork) -> None:
    """§1.2: the two ends exist together; when the container's network goes, so does the
    cable — no end is left behind in the container or in the host."""
    c1 = network.add("c1")
    inside = network.interface(c1).name
    with own("veth"):
        host_end = network.host_end(c1).name
    network.delete(c1)
    left = [link.name for link in network.links(c1.ns) if link.name == inside]
    if left:
        raise Finding(f"c1: {inside} is still in the container after DEL",
                      ja=f"c1: DEL の後もコンテナの中に {inside} が残っています")
    if host_end in network.veths_in_host():
        raise Finding(f"c1: host end {host_end} left after DEL",
                      ja=f"c1: DEL の後もホスト側の端 {host_end} が残っています")
