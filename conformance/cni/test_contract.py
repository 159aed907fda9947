"""The CNI contract beyond the six items: CHECK after ADD, DEL of a container never added,
ADD's result in the CNI 1.0 format (checked on every ADD by the fixtures)."""

from __future__ import annotations

import pytest

from .network import IFNAME, CniNetwork

pytestmark = pytest.mark.topic("cni")


def test_check_succeeds_after_add(network: CniNetwork) -> None:
    c1 = network.add("c1")
    network.plugin.check(c1.container_id, c1.ns, c1.result, IFNAME)


def test_del_of_a_container_never_added_succeeds(network: CniNetwork) -> None:
    network.backend.netns_add("c9")
    network.plugin.delete("c9", "c9", IFNAME)


def test_result_names_the_container_interface_with_its_sandbox(network: CniNetwork) -> None:
    c1 = network.add("c1")
    inside = [i for i in c1.result.interfaces if i.name == IFNAME and i.sandbox]
    assert inside, f"the result lists no interface {IFNAME} with its sandbox (netns path)"
