"""IPv4 addresses and the main routing table: adding and removing addresses, the connected
route that comes and goes with the link, static and default routes, the kernel's route
lookup (`ip route get`) and its errnos. Pinned on Linux 6.x (net/ipv4/devinet.c, fib_*.c)."""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import AlreadyExists, InvalidArgument, NotFound, Unreachable
from ctrnet.types import Address, Route, RouteDecision


@pytest.fixture
def c1(backend: Backend) -> str:
    """c1 with eth0, whose peer stays down in c1: link states are the test's to choose."""
    backend.netns_add("c1")
    backend.veth_add("c1", "eth0", "peer0")
    return "c1"


def up_with_address(backend: Backend, ns: str, cidr: str = "10.1.0.2/24") -> None:
    backend.addr_add(ns, "eth0", cidr)
    backend.link_set_up(ns, "eth0")


def connected(ns: str, prefix: str, src: str, dev: str = "eth0") -> Route:
    return Route(ns=ns, dst=prefix, dev=dev, prefsrc=src, scope="link", proto="kernel")


# -- addresses ----------------------------------------------------------------------------


def test_an_added_address_is_listed(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    assert backend.addr_list(c1) == [Address(c1, "eth0", "10.1.0.2", 24)]
    assert backend.addr_list(c1, "eth0")[0].cidr == "10.1.0.2/24"


def test_addr_list_filters_by_device(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    backend.addr_add(c1, "peer0", "10.2.0.2/24")
    assert [a.cidr for a in backend.addr_list(c1, "peer0")] == ["10.2.0.2/24"]
    assert sorted(a.ifname for a in backend.addr_list(c1)) == ["eth0", "peer0"]


def test_a_device_holds_several_addresses(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    backend.addr_add(c1, "eth0", "10.1.0.3/24")
    backend.addr_add(c1, "eth0", "192.168.7.1/30")
    assert sorted(a.cidr for a in backend.addr_list(c1, "eth0")) == [
        "10.1.0.2/24", "10.1.0.3/24", "192.168.7.1/30"]


def test_adding_an_address_twice_fails_with_eexist(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    with pytest.raises(AlreadyExists) as caught:
        backend.addr_add(c1, "eth0", "10.1.0.2/24")
    assert caught.value.errno == errno.EEXIST
    assert len(backend.addr_list(c1)) == 1


def test_the_same_address_with_another_prefix_length_is_another_address(
    backend: Backend, c1: str
) -> None:
    # An IPv4 address is keyed by (local, prefixlen) on its device (inet_rtm_newaddr).
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    backend.addr_add(c1, "eth0", "10.1.0.2/16")
    assert sorted(a.cidr for a in backend.addr_list(c1)) == ["10.1.0.2/16", "10.1.0.2/24"]
    backend.addr_delete(c1, "eth0", "10.1.0.2/16")
    assert [a.cidr for a in backend.addr_list(c1)] == ["10.1.0.2/24"]


def test_a_deleted_address_is_gone(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    backend.addr_delete(c1, "eth0", "10.1.0.2/24")
    assert backend.addr_list(c1) == []


def test_deleting_a_missing_address_fails_with_eaddrnotavail(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    with pytest.raises(NotFound) as caught:
        backend.addr_delete(c1, "eth0", "10.1.0.9/24")
    assert caught.value.errno == errno.EADDRNOTAVAIL


def test_deleting_an_address_from_the_wrong_device_fails_with_eaddrnotavail(
    backend: Backend, c1: str
) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    with pytest.raises(NotFound) as caught:
        backend.addr_delete(c1, "peer0", "10.1.0.2/24")
    assert caught.value.errno == errno.EADDRNOTAVAIL
    assert len(backend.addr_list(c1)) == 1


# -- connected routes ---------------------------------------------------------------------


def test_no_connected_route_while_the_link_is_down(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    assert backend.route_list(c1) == []


def test_the_connected_route_appears_when_the_link_comes_up(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    backend.link_set_up(c1, "eth0")
    assert backend.route_list(c1) == [connected(c1, "10.1.0.0/24", "10.1.0.2")]


def test_the_connected_route_needs_only_the_link_up_not_carrier(backend: Backend, c1: str) -> None:
    # eth0's peer is down: eth0 has no carrier, yet fib_add_ifaddr runs on NETDEV_UP.
    backend.link_set_up(c1, "eth0")
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    assert not backend.link_get(c1, "eth0").carrier
    assert backend.route_list(c1) == [connected(c1, "10.1.0.0/24", "10.1.0.2")]


def test_the_connected_route_goes_with_the_address(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.addr_delete(c1, "eth0", "10.1.0.2/24")
    assert backend.route_list(c1) == []


def test_the_connected_route_goes_when_the_link_goes_down(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.link_set_up(c1, "eth0", up=False)
    assert backend.route_list(c1) == []
    assert [a.cidr for a in backend.addr_list(c1)] == ["10.1.0.2/24"]  # the address stays


def test_a_host_address_has_no_connected_route(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1, "10.1.0.2/32")
    assert backend.route_list(c1) == []


def test_the_routes_of_a_deleted_link_are_gone(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "10.9.0.0/16", gateway="10.1.0.1")
    backend.link_delete(c1, "eth0")
    assert backend.route_list(c1) == []


# -- static and default routes ------------------------------------------------------------


def test_a_default_route_via_a_gateway_is_listed(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "default", gateway="10.1.0.1")
    routes = backend.route_list(c1)
    assert Route(ns=c1, dst="default", dev="eth0", gateway="10.1.0.1", scope="universe",
                 proto="boot") in routes
    assert len(routes) == 2


def test_a_route_with_only_a_device_is_link_scope(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "10.6.0.0/16", dev="eth0", metric=100)
    assert Route(ns=c1, dst="10.6.0.0/16", dev="eth0", scope="link", proto="boot",
                 metric=100) in backend.route_list(c1)


def test_a_gateway_not_on_a_connected_network_fails_with_enetunreach(
    backend: Backend, c1: str
) -> None:
    up_with_address(backend, c1)
    with pytest.raises(Unreachable) as caught:
        backend.route_add(c1, "default", gateway="10.7.0.1")
    assert caught.value.errno == errno.ENETUNREACH


def test_a_gateway_is_unreachable_while_its_link_is_down(backend: Backend, c1: str) -> None:
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    with pytest.raises(Unreachable) as caught:
        backend.route_add(c1, "default", gateway="10.1.0.1")
    assert caught.value.errno == errno.ENETUNREACH


def test_adding_a_route_twice_fails_with_eexist(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "default", gateway="10.1.0.1")
    with pytest.raises(AlreadyExists) as caught:
        backend.route_add(c1, "default", gateway="10.1.0.1")
    assert caught.value.errno == errno.EEXIST


def test_the_same_prefix_with_another_metric_is_another_route(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "10.6.0.0/16", dev="eth0")
    backend.route_add(c1, "10.6.0.0/16", dev="eth0", metric=100)
    metrics = sorted(r.metric for r in backend.route_list(c1) if r.dst == "10.6.0.0/16")
    assert metrics == [0, 100]


def test_a_prefix_with_host_bits_set_fails_with_einval(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    with pytest.raises(InvalidArgument) as caught:
        backend.route_add(c1, "10.6.0.1/16", dev="eth0")
    assert caught.value.errno == errno.EINVAL


def test_a_deleted_route_is_gone(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "default", gateway="10.1.0.1")
    backend.route_delete(c1, "default", gateway="10.1.0.1")
    assert [r.dst for r in backend.route_list(c1)] == ["10.1.0.0/24"]


def test_deleting_a_missing_route_fails_with_esrch(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    with pytest.raises(NotFound) as caught:
        backend.route_delete(c1, "10.8.0.0/16")
    assert caught.value.errno == errno.ESRCH


def test_deleting_a_route_with_the_wrong_metric_fails_with_esrch(
    backend: Backend, c1: str
) -> None:
    up_with_address(backend, c1)
    backend.route_add(c1, "10.6.0.0/16", dev="eth0", metric=100)
    with pytest.raises(NotFound) as caught:
        backend.route_delete(c1, "10.6.0.0/16", metric=5)
    assert caught.value.errno == errno.ESRCH
    backend.route_delete(c1, "10.6.0.0/16", metric=100)
    assert [r.dst for r in backend.route_list(c1)] == ["10.1.0.0/24"]


# -- route lookup -------------------------------------------------------------------------


def test_route_get_takes_the_longest_matching_prefix(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    backend.addr_add(c1, "peer0", "10.2.0.2/24")
    backend.link_set_up(c1, "peer0")
    backend.route_add(c1, "default", gateway="10.1.0.1")
    backend.route_add(c1, "10.5.0.0/16", gateway="10.2.0.1")
    backend.route_add(c1, "10.5.7.0/24", gateway="10.1.0.254")
    assert backend.route_get(c1, "10.5.7.9") == RouteDecision(
        "10.5.7.9", "unicast", "eth0", gateway="10.1.0.254", prefsrc="10.1.0.2")
    assert backend.route_get(c1, "10.5.8.9") == RouteDecision(
        "10.5.8.9", "unicast", "peer0", gateway="10.2.0.1", prefsrc="10.2.0.2")
    assert backend.route_get(c1, "203.0.113.9") == RouteDecision(
        "203.0.113.9", "unicast", "eth0", gateway="10.1.0.1", prefsrc="10.1.0.2")
    assert backend.route_get(c1, "10.2.0.77") == RouteDecision(
        "10.2.0.77", "unicast", "peer0", prefsrc="10.2.0.2")


def test_route_get_to_an_own_address_is_local_via_lo(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    assert backend.route_get(c1, "10.1.0.2") == RouteDecision(
        "10.1.0.2", "local", "lo", prefsrc="10.1.0.2")


def test_an_address_is_local_even_while_its_link_is_down(backend: Backend, c1: str) -> None:
    # The local-table entry is made when the address is added (fib_add_ifaddr), link or not.
    backend.addr_add(c1, "eth0", "10.1.0.2/24")
    assert backend.route_get(c1, "10.1.0.2").type == "local"


def test_route_get_without_a_route_fails_with_enetunreach(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    with pytest.raises(Unreachable) as caught:
        backend.route_get(c1, "203.0.113.9")
    assert caught.value.errno == errno.ENETUNREACH


def test_ping_without_a_route_fails_with_enetunreach(backend: Backend, c1: str) -> None:
    up_with_address(backend, c1)
    with pytest.raises(Unreachable) as caught:
        backend.ping(c1, "203.0.113.9")
    assert caught.value.errno == errno.ENETUNREACH
