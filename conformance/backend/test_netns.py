"""Network namespaces: creation, listing, deletion, what a new namespace holds, and sysctls
being per namespace. Pinned on the kernel (Linux 6.x, `ip netns` semantics)."""

from __future__ import annotations

import errno
import os

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import AlreadyExists, NotFound
from ctrnet.types import LinkKind, OperState


def test_added_namespaces_are_listed_sorted_without_the_host(backend: Backend) -> None:
    backend.netns_add("c2")
    backend.netns_add("c1")
    assert backend.netns_list() == ["c1", "c2"]


def test_a_new_world_lists_no_namespace(backend: Backend) -> None:
    assert backend.netns_list() == []


def test_adding_a_namespace_twice_fails_with_eexist(backend: Backend) -> None:
    backend.netns_add("c1")
    with pytest.raises(AlreadyExists) as caught:
        backend.netns_add("c1")
    assert caught.value.errno == errno.EEXIST
    assert backend.netns_list() == ["c1"]


def test_the_host_namespace_exists_already(backend: Backend) -> None:
    with pytest.raises(AlreadyExists) as caught:
        backend.netns_add(backend.host_ns)
    assert caught.value.errno == errno.EEXIST


def test_deleting_an_unknown_namespace_fails_with_enoent(backend: Backend) -> None:
    with pytest.raises(NotFound) as caught:
        backend.netns_delete("c1")
    assert caught.value.errno == errno.ENOENT


def test_a_deleted_namespace_is_unlisted_and_its_name_free_again(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.veth_add("c1", "eth0", "eth1")
    backend.netns_delete("c1")
    assert backend.netns_list() == []
    backend.netns_add("c1")
    # A namespace of the same name is a new one: nothing of the old survives.
    assert [link.name for link in backend.link_list("c1")] == ["lo"]


def test_a_new_namespace_holds_only_lo_and_it_is_down(backend: Backend) -> None:
    backend.netns_add("c1")
    [lo] = backend.link_list("c1")
    assert (lo.name, lo.kind, lo.up) == ("lo", LinkKind.LOOPBACK, False)
    assert lo.operstate is OperState.DOWN
    assert lo.mac == "00:00:00:00:00:00"
    assert lo.mtu == 65536


def test_the_host_namespace_starts_like_any_other(backend: Backend) -> None:
    assert [(link.name, link.up) for link in backend.link_list(backend.host_ns)] == [("lo", False)]


def test_loopback_operstate_is_unknown_when_up(backend: Backend) -> None:
    # The loopback driver never reports an operational state: IF_OPER_UNKNOWN, carrier on.
    backend.netns_add("c1")
    backend.link_set_up("c1", "lo")
    lo = backend.link_get("c1", "lo")
    assert (lo.up, lo.operstate, lo.carrier) == (True, OperState.UNKNOWN, True)


def test_loopback_gets_127_0_0_1_when_brought_up(backend: Backend) -> None:
    backend.netns_add("c1")
    assert backend.addr_list("c1") == []
    backend.link_set_up("c1", "lo")
    assert [a.cidr for a in backend.addr_list("c1", "lo")] == ["127.0.0.1/8"]


def test_a_new_namespace_has_no_routes(backend: Backend) -> None:
    backend.netns_add("c1")
    assert backend.route_list("c1") == []


def test_ip_forward_is_off_in_a_new_namespace(backend: Backend) -> None:
    backend.netns_add("c1")
    assert backend.sysctl_get("c1", "net.ipv4.ip_forward") == "0"


def test_ipv6_is_disabled_in_a_new_namespace(backend: Backend) -> None:
    backend.netns_add("c1")
    assert backend.sysctl_get("c1", "net.ipv6.conf.all.disable_ipv6") == "1"
    assert backend.sysctl_get("c1", "net.ipv6.conf.default.disable_ipv6") == "1"


def test_sysctl_set_reads_back(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.sysctl_set("c1", "net.ipv4.ip_forward", "1")
    assert backend.sysctl_get("c1", "net.ipv4.ip_forward") == "1"


def test_sysctls_are_independent_between_namespaces(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.netns_add("c2")
    backend.sysctl_set("c1", "net.ipv4.ip_forward", "1")
    assert backend.sysctl_get("c2", "net.ipv4.ip_forward") == "0"
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "0"


def test_a_new_namespace_does_not_inherit_a_changed_sysctl(backend: Backend) -> None:
    backend.sysctl_set(backend.host_ns, "net.ipv4.ip_forward", "1")
    backend.netns_add("c1")
    assert backend.sysctl_get("c1", "net.ipv4.ip_forward") == "0"


def test_an_unknown_sysctl_fails_with_enoent(backend: Backend) -> None:
    backend.netns_add("c1")
    with pytest.raises(NotFound) as caught:
        backend.sysctl_get("c1", "net.ipv4.no_such_key")
    assert caught.value.errno == errno.ENOENT
    with pytest.raises(NotFound) as caught:
        backend.sysctl_set("c1", "net.ipv4.no_such_key", "1")
    assert caught.value.errno == errno.ENOENT


def test_per_device_sysctls_appear_with_the_device(backend: Backend) -> None:
    backend.netns_add("c1")
    with pytest.raises(NotFound):
        backend.sysctl_get("c1", "net.ipv4.conf.eth0.forwarding")
    backend.veth_add("c1", "eth0", "eth1")
    assert backend.sysctl_get("c1", "net.ipv4.conf.eth0.forwarding") == "0"


def test_deleting_a_namespace_removes_the_peer_of_its_veth(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.veth_add(backend.host_ns, "veth-c1", "eth0", peer_ns="c1")
    backend.netns_delete("c1")
    assert [link.name for link in backend.link_list(backend.host_ns)] == ["lo"]


@pytest.mark.requires("testinfra")
def test_testinfra_inside_the_host_namespace_agrees_with_the_backend(backend: Backend) -> None:
    """Cross-check the kernel backend's netlink view against `ip`/`sysctl` run in the namespace."""
    from ctrnet.conformance.testinfra_netns import netns_host

    host_ns = backend.host_ns
    backend.bridge_add(host_ns, "br0")
    backend.link_set_up(host_ns, "br0")
    backend.addr_add(host_ns, "br0", "172.20.0.1/24")
    backend.sysctl_set(host_ns, "net.ipv4.ip_forward", "1")
    host = netns_host(os.path.basename(backend.netns_path(host_ns)))

    listed = sorted(link.name for link in backend.link_list(host_ns))
    assert sorted(host.interface.names()) == listed
    br0 = host.interface("br0")
    assert br0.exists
    assert br0.addresses == [a.ip for a in backend.addr_list(host_ns, "br0")]
    assert br0.link[0]["address"] == backend.link_get(host_ns, "br0").mac
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert str(host.sysctl("net.ipv6.conf.all.disable_ipv6")) == backend.sysctl_get(
        host_ns, "net.ipv6.conf.all.disable_ipv6"
    )
