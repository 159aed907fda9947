"""Every operation's errors: the errno the kernel gives for a missing namespace (ENOENT, as
opening /run/netns/NAME does), a missing device (ENODEV) and the like, carried by the typed
error of `ctrnet.errors` whose kind matches the errno, with a message naming the object."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import BackendError, CtrnetError, NotFound, from_errno

Operation = Callable[[Backend], object]

#: Every namespace-taking operation, aimed at a namespace that does not exist.
IN_MISSING_NAMESPACE: dict[str, Operation] = {
    "netns_delete": lambda b: b.netns_delete("ghost"),
    "veth_add": lambda b: b.veth_add("ghost", "eth0", "eth1"),
    "veth_add peer_ns": lambda b: b.veth_add(b.host_ns, "eth0", "eth1", peer_ns="ghost"),
    "bridge_add": lambda b: b.bridge_add("ghost", "br0"),
    "bridge_set": lambda b: b.bridge_set("ghost", "br0", stp_state=0),
    "link_set_up": lambda b: b.link_set_up("ghost", "lo"),
    "link_set_master": lambda b: b.link_set_master("ghost", "eth0", None),
    "link_set_mtu": lambda b: b.link_set_mtu("ghost", "lo", 1500),
    "link_set_mac": lambda b: b.link_set_mac("ghost", "eth0", "02:00:00:00:00:01"),
    "link_rename": lambda b: b.link_rename("ghost", "eth0", "eth9"),
    "link_set_netns": lambda b: b.link_set_netns("ghost", "eth0", b.host_ns),
    "link_set_netns target": lambda b: b.link_set_netns(b.host_ns, "lo", "ghost"),
    "bridge_port_set": lambda b: b.bridge_port_set("ghost", "eth0", hairpin=True),
    "link_delete": lambda b: b.link_delete("ghost", "eth0"),
    "link_list": lambda b: b.link_list("ghost"),
    "link_get": lambda b: b.link_get("ghost", "lo"),
    "addr_add": lambda b: b.addr_add("ghost", "lo", "10.0.0.1/24"),
    "addr_delete": lambda b: b.addr_delete("ghost", "lo", "10.0.0.1/24"),
    "addr_list": lambda b: b.addr_list("ghost"),
    "route_add": lambda b: b.route_add("ghost", "default", gateway="10.0.0.1"),
    "route_delete": lambda b: b.route_delete("ghost", "default"),
    "route_list": lambda b: b.route_list("ghost"),
    "route_get": lambda b: b.route_get("ghost", "10.0.0.1"),
    "neigh_list": lambda b: b.neigh_list("ghost"),
    "neigh_flush": lambda b: b.neigh_flush("ghost"),
    "fdb_list": lambda b: b.fdb_list("ghost"),
    "fdb_add": lambda b: b.fdb_add("ghost", "eth0", "02:00:00:00:00:01"),
    "fdb_delete": lambda b: b.fdb_delete("ghost", "eth0", "02:00:00:00:00:01"),
    "sysctl_get": lambda b: b.sysctl_get("ghost", "net.ipv4.ip_forward"),
    "sysctl_set": lambda b: b.sysctl_set("ghost", "net.ipv4.ip_forward", "1"),
    "ping": lambda b: b.ping("ghost", "10.0.0.1"),
}

#: Every device-taking operation, aimed at a device that does not exist in c1.
ON_MISSING_DEVICE: dict[str, Operation] = {
    "bridge_set": lambda b: b.bridge_set("c1", "ghost0", stp_state=0),
    "link_set_up": lambda b: b.link_set_up("c1", "ghost0"),
    "link_set_down": lambda b: b.link_set_up("c1", "ghost0", up=False),
    "link_set_master": lambda b: b.link_set_master("c1", "ghost0", None),
    "link_set_master master": lambda b: b.link_set_master("c1", "eth0", "ghost0"),
    "link_set_mtu": lambda b: b.link_set_mtu("c1", "ghost0", 1400),
    "link_set_mac": lambda b: b.link_set_mac("c1", "ghost0", "02:00:00:00:00:01"),
    "link_rename": lambda b: b.link_rename("c1", "ghost0", "eth9"),
    "link_set_netns": lambda b: b.link_set_netns("c1", "ghost0", b.host_ns),
    "bridge_port_set": lambda b: b.bridge_port_set("c1", "ghost0", learning=False),
    "link_delete": lambda b: b.link_delete("c1", "ghost0"),
    "link_get": lambda b: b.link_get("c1", "ghost0"),
    "addr_add": lambda b: b.addr_add("c1", "ghost0", "10.0.0.1/24"),
    "addr_delete": lambda b: b.addr_delete("c1", "ghost0", "10.0.0.1/24"),
    "addr_list": lambda b: b.addr_list("c1", "ghost0"),
    "route_add": lambda b: b.route_add("c1", "10.9.0.0/16", dev="ghost0"),
    "route_delete": lambda b: b.route_delete("c1", "10.9.0.0/16", dev="ghost0"),
    "neigh_list": lambda b: b.neigh_list("c1", "ghost0"),
    "neigh_flush": lambda b: b.neigh_flush("c1", "ghost0"),
    "fdb_list": lambda b: b.fdb_list("c1", "ghost0"),
    "fdb_add": lambda b: b.fdb_add("c1", "ghost0", "02:00:00:00:00:01"),
    "fdb_delete": lambda b: b.fdb_delete("c1", "ghost0", "02:00:00:00:00:01"),
}


def assert_kernel_error(caught: pytest.ExceptionInfo[BackendError], err: int, *named: str) -> None:
    """The error carries `err`, is the kind `from_errno` picks for it, and names `named`."""
    assert caught.value.errno == err, caught.value
    assert type(caught.value) is type(from_errno(err, ""))
    for name in named:
        assert name in str(caught.value)


@pytest.mark.parametrize("operation", IN_MISSING_NAMESPACE.values(), ids=IN_MISSING_NAMESPACE)
def test_every_operation_in_a_missing_namespace_fails_with_enoent(
    backend: Backend, operation: Operation
) -> None:
    with pytest.raises(NotFound) as caught:
        operation(backend)
    assert_kernel_error(caught, errno.ENOENT, "ghost")


@pytest.mark.parametrize("operation", ON_MISSING_DEVICE.values(), ids=ON_MISSING_DEVICE)
def test_every_operation_on_a_missing_device_fails_with_enodev(
    backend: Backend, operation: Operation
) -> None:
    backend.netns_add("c1")
    backend.veth_add("c1", "eth0", "eth1")
    with pytest.raises(NotFound) as caught:
        operation(backend)
    assert_kernel_error(caught, errno.ENODEV, "ghost0")


def test_a_failed_operation_changes_nothing(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.veth_add("c1", "eth0", "eth1")
    before = (backend.link_list("c1"), backend.addr_list("c1"), backend.route_list("c1"))
    for operation in ON_MISSING_DEVICE.values():
        with pytest.raises(NotFound):
            operation(backend)
    assert (backend.link_list("c1"), backend.addr_list("c1"), backend.route_list("c1")) == before


def test_errors_are_ctrnet_errors_with_the_errno_name(backend: Backend) -> None:
    with pytest.raises(CtrnetError) as caught:
        backend.netns_delete("ghost")
    assert caught.value.errno_name == "ENOENT"
    assert "ENOENT" in str(caught.value)


def test_a_duplicate_device_names_the_device_and_namespace(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.bridge_add("c1", "br0")
    with pytest.raises(BackendError) as caught:
        backend.veth_add("c1", "br0", "eth1")
    assert_kernel_error(caught, errno.EEXIST, "br0", "c1")


def test_a_duplicate_bridge_fails_with_eexist(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0")
    with pytest.raises(BackendError) as caught:
        backend.bridge_add(backend.host_ns, "br0")
    assert_kernel_error(caught, errno.EEXIST, "br0")


def test_fdb_entries_on_a_link_that_is_no_bridge_port_fail_with_eopnotsupp(
    backend: Backend,
) -> None:
    backend.netns_add("c1")
    backend.veth_add("c1", "eth0", "eth1")
    with pytest.raises(BackendError) as caught:
        backend.fdb_add("c1", "eth0", "02:00:00:00:00:01")
    assert_kernel_error(caught, errno.EOPNOTSUPP, "eth0")


def test_a_duplicate_static_fdb_entry_fails_with_eexist(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    backend.fdb_add(host, "veth0", "02:00:00:00:00:01")
    with pytest.raises(BackendError) as caught:
        backend.fdb_add(host, "veth0", "02:00:00:00:00:01")
    assert_kernel_error(caught, errno.EEXIST)


def test_deleting_a_missing_fdb_entry_fails_with_enoent(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    with pytest.raises(BackendError) as caught:
        backend.fdb_delete(host, "veth0", "02:00:00:00:00:01")
    assert_kernel_error(caught, errno.ENOENT)


def test_an_invalid_sysctl_value_fails_with_einval(backend: Backend) -> None:
    with pytest.raises(BackendError) as caught:
        backend.sysctl_set(backend.host_ns, "net.ipv4.ip_forward", "yes")
    assert_kernel_error(caught, errno.EINVAL, "ip_forward")
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "0"
