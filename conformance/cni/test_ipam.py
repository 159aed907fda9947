"""ipam: distinct addresses inside the subnet, never the network, gateway or broadcast
address, also for ADDs at the same moment; DEL releases an address for reuse; a full pool
refuses ADD with an error result and leaves nothing behind."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

import pytest

from .network import IFNAME, Attachment, CniNetwork, add_quietly

pytestmark = pytest.mark.checklist("ipam")

#: Addresses of the small /29 pool that may be handed out: all but network, gateway, broadcast.
SMALL_POOL_SIZE = 5


def _judge(network: CniNetwork, attachment: Attachment) -> None:
    """One line for the first address problem of `attachment`, if it has one."""
    ip = ipaddress.IPv4Address(attachment.ip)
    who = f"container {attachment.container_id} got {ip}"
    subnet = network.subnet
    assert ip in subnet, f"{who}, outside the subnet {subnet}"
    assert ip != subnet.network_address, f"{who}, the network address"
    assert ip != subnet.broadcast_address, f"{who}, the broadcast address"
    assert str(ip) != network.config.gateway, f"{who}, the gateway"
    holder = network.holder_of(str(ip), besides=attachment.container_id)
    assert holder is None, f"{who}, already held by {holder}"


def test_addresses_are_distinct_and_inside_the_subnet(network: CniNetwork) -> None:
    for n in range(1, 4):
        _judge(network, network.add(f"c{n}"))


def test_concurrent_adds_get_distinct_addresses(network: CniNetwork) -> None:
    for n in range(1, 7):  # namespaces first: only the plugin calls overlap
        network.backend.netns_add(f"c{n}")
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda n: add_quietly(network, f"c{n}"), range(1, 7)))
    failed = [o for o in outcomes if isinstance(o, str)]
    assert not failed, f"of 6 concurrent ADDs, {len(failed)} failed: {failed[0]}"
    for attachment in outcomes:
        assert isinstance(attachment, Attachment)
        _judge(network, attachment)


def test_full_pool_hands_out_no_reserved_address_and_refuses_one_more(
        small_network: CniNetwork) -> None:
    for n in range(1, SMALL_POOL_SIZE + 1):
        _judge(small_network, small_network.add(f"c{n}"))
    veths_before = small_network.veths_in_host()
    extra = add_quietly(small_network, "c6")
    if not isinstance(extra, str):
        _judge(small_network, extra)  # names the reserved address it got, if it is one
        pytest.fail(f"container c6 got {extra.ip} from a pool whose {SMALL_POOL_SIZE} "
                    "addresses are all held")
    assert "failed with error" in extra, f"a full pool must give a CNI error result: {extra}"
    # A runtime follows a failed ADD with DEL (containerd and CRI-O do), so that is when
    # whatever the failed ADD built must be gone.
    small_network.plugin.delete("c6", "c6", IFNAME)
    left = [link.name for link in small_network.backend.link_list("c6") if link.name == IFNAME]
    assert not left, f"after the failed ADD of c6 and its DEL, {IFNAME} is still in c6"
    assert small_network.veths_in_host() == veths_before, (
        "after the failed ADD of c6 and its DEL, a veth of c6 is still in the host")


def test_del_releases_the_address_for_reuse(small_network: CniNetwork) -> None:
    attached = [small_network.add(f"c{n}") for n in range(1, SMALL_POOL_SIZE + 1)]
    freed = attached[2]
    small_network.delete(freed)
    again = add_quietly(small_network, "c6")
    assert not isinstance(again, str), f"after DEL of {freed.container_id}, ADD fails: {again}"
    assert again.ip == freed.ip, (
        f"container c6 got {again.ip}; the only free address is {freed.ip}")
    held = [a.ip for a in small_network.backend.addr_list("c6", IFNAME)]
    assert again.ip in held
