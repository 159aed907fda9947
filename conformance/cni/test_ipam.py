"""ipam — the guide's §4.2 (and §8.2): IP address management hands out addresses of the
subnet, each to one container only, never the network, gateway or broadcast address; it
manages a pool (a freed address can be given again; an empty pool refuses with an error);
and, as §8.2 shows with its mutex, allocations made at the same moment must not collide.
The addresses judged are the ones the containers hold, not the ones the plugin printed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from .network import Attachment, CniNetwork, Finding, add_quietly
from .verdict import own

pytestmark = pytest.mark.checklist("ipam")

#: Addresses of the small /29 pool that may be handed out: all but network, gateway, broadcast.
SMALL_POOL_SIZE = 5


def _judge(network: CniNetwork, attachment: Attachment) -> None:
    """The first address problem of `attachment`, as this check's failure."""
    with own("ipam"):
        network.require_good_address(attachment)


def test_addresses_are_distinct_and_inside_the_subnet(network: CniNetwork) -> None:
    """§4.2: each container gets its own address of the subnet; the reserved ones (network,
    gateway, broadcast) are never handed out."""
    for n in range(1, 4):
        _judge(network, network.add(f"c{n}"))


def test_concurrent_adds_get_distinct_addresses(network: CniNetwork) -> None:
    """§8.2: allocation under a lock — six ADDs at the same moment get six addresses."""
    _judge(network, network.add("c1"))  # the network exists before the storm
    for n in range(2, 8):  # namespaces first: only the plugin calls overlap
        network.make_namespace(f"c{n}")
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda n: add_quietly(network, f"c{n}"), range(2, 8)))
    failed = [o for o in outcomes if isinstance(o, str)]
    if failed:
        raise Finding(f"of 6 concurrent ADDs, {len(failed)} failed: {failed[0]}",
                      ja=f"同時に行った 6 回の ADD のうち {len(failed)} 回が失敗しました: "
                         f"{failed[0]}")
    for attachment in outcomes:
        assert isinstance(attachment, Attachment)
        _judge(network, attachment)


def test_full_pool_hands_out_no_reserved_address_and_refuses_one_more(
        small_network: CniNetwork) -> None:
    """§4.2: the pool of a /29 is five addresses; the sixth ADD finds none and fails (the
    guide's Allocate returns "no available IP addresses") instead of handing out a reserved
    or a taken one."""
    for n in range(1, SMALL_POOL_SIZE + 1):
        _judge(small_network, small_network.add(f"c{n}"))
    extra = add_quietly(small_network, "c6")
    if not isinstance(extra, str):
        _judge(small_network, extra)  # names the reserved address it got, if it is one
        held = ", ".join(str(a.ip) for a in small_network.held_addresses(extra)) or "nothing"
        raise Finding(f"container c6 got {held} from a pool whose {SMALL_POOL_SIZE} addresses "
                      "are all held: ADD must fail",
                      ja=f"{SMALL_POOL_SIZE} 個のアドレスがすべて使われているプールから、"
                         f"コンテナ c6 に {held} が割り当てられました: この ADD は失敗しなければ"
                         "なりません")


def test_del_releases_the_address_for_reuse(small_network: CniNetwork) -> None:
    """§4.2: managing the pool — the address of a deleted container is free again."""
    attached = [small_network.add(f"c{n}") for n in range(1, SMALL_POOL_SIZE + 1)]
    freed = attached[2]
    freed_ip = small_network.ip(freed)
    small_network.delete(freed)
    again = add_quietly(small_network, "c6")
    if isinstance(again, str):
        raise Finding(f"after DEL of {freed.container_id}, ADD fails: {again}",
                      ja=f"{freed.container_id} の DEL の後、ADD が失敗します: {again}")
    got = small_network.ip(again)
    if got != freed_ip:
        raise Finding(f"container c6 got {got}; the only free address is {freed_ip}",
                      ja=f"コンテナ c6 に {got} が割り当てられました。空いているアドレスは "
                         f"{freed_ip} だけです")
