"""The reference model on a backend (sim by default; `--backend kernel` for the real one):
modes, idempotent teardown, persistence in the state directory, gc, validation against the
world, and the world exactly as it was after a failure at any step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.conformance.implementation.observe import snapshot
from ctrnet.errors import InvalidConfig
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, FieldError, Mode, NetworkSpec, PortMapping
from ctrnet.plan import InjectedFault, fail_at

pytestmark = pytest.mark.requires("iptables", "ebtables")

N1 = NetworkSpec(name="n1", subnet="10.60.0.0/24", bridge="br1")


@pytest.fixture
def manager(backend: Backend, tmp_path: Path) -> Iterator[NetworkManager]:
    mgr = NetworkManager(backend, tmp_path / "state", fsync=False)
    yield mgr
    mgr.close()


def test_bridge_connect_builds_the_link_address_and_route_and_disconnect_removes_them(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    backend.netns_add("c1")
    before = snapshot(backend, ["c1"])
    record = manager.connect(EndpointSpec("c1", "n1"))
    assert record.active and record.mode is Mode.BRIDGE
    assert [a.cidr for a in backend.addr_list("c1", "eth0")] == [f"{record.ip}/24"]
    assert backend.link_get(backend.host_ns, record.host_ifname).master == "br1"
    assert backend.ping("c1", "10.60.0.1").ok
    manager.disconnect("n1", "c1")
    assert snapshot(backend, ["c1"]) == before
    assert manager.endpoints() == []


def test_none_mode_brings_loopback_up_and_disconnect_puts_it_back_down(
        backend: Backend, manager: NetworkManager) -> None:
    backend.netns_add("c1")
    manager.connect(EndpointSpec("c1", "none"))
    assert [(link.name, link.up) for link in backend.link_list("c1")] == [("lo", True)]
    manager.disconnect("none", "c1")
    assert not backend.link_get("c1", "lo").up


def test_host_mode_needs_no_namespace_and_is_only_recorded(manager: NetworkManager) -> None:
    record = manager.connect(EndpointSpec("web", "host"))
    assert record.mode is Mode.HOST and record.active
    assert [e.container for e in manager.endpoints()] == ["web"]
    assert manager.disconnect("host", "web")
    assert not manager.disconnect("host", "web")


def test_a_second_manager_on_the_same_state_dir_sees_networks_and_endpoints(
        backend: Backend, manager: NetworkManager, tmp_path: Path) -> None:
    manager.create_network(N1)
    backend.netns_add("c1")
    record = manager.connect(EndpointSpec("c1", "n1"))
    other = NetworkManager(backend, tmp_path / "state", fsync=False)
    assert other.network("n1") == N1
    assert other.endpoints("n1") == [record]
    backend.netns_add("c2")
    assert other.connect(EndpointSpec("c2", "n1")).ip != record.ip  # one pool on disk
    other.close()


@pytest.mark.parametrize(("spec", "field"), [
    (NetworkSpec(name="n1", subnet="10.61.0.0/24"), "name"),
    (NetworkSpec(name="n2", subnet="10.60.0.128/25"), "subnet"),
    (NetworkSpec(name="n3", subnet="10.62.0.0/24", bridge="br1"), "bridge"),
])
def test_duplicate_names_bridges_and_overlapping_subnets_are_refused(
        manager: NetworkManager, spec: NetworkSpec, field: str) -> None:
    manager.create_network(N1)
    with pytest.raises(FieldError) as caught:
        manager.create_network(spec)
    assert caught.value.field == field


def test_connect_refuses_a_missing_namespace_a_second_connect_and_a_taken_host_port(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    with pytest.raises(FieldError, match="^container: .*does not exist"):
        manager.connect(EndpointSpec("ghost", "n1"))
    with pytest.raises(FieldError, match="^network: "):
        manager.connect(EndpointSpec("c1", "nope"))
    backend.netns_add("c1")
    backend.netns_add("c2")
    manager.connect(EndpointSpec("c1", "n1", ports=(PortMapping(8080, 80),)))
    with pytest.raises(FieldError, match="^container: .*already"):
        manager.connect(EndpointSpec("c1", "n1"))
    with pytest.raises(FieldError, match="^ports: .*published by n1/c1"):
        manager.connect(EndpointSpec("c2", "n1", ports=(PortMapping(8080, 81),)))


def test_delete_refuses_a_network_in_use_unless_forced_and_is_idempotent(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    backend.netns_add("c1")
    manager.connect(EndpointSpec("c1", "n1"))
    with pytest.raises(InvalidConfig, match="connected containers: c1"):
        manager.delete_network("n1")
    assert manager.delete_network("n1", force=True)
    assert not manager.delete_network("n1")
    assert manager.state_files() == []
    assert "CTRNET" not in backend.iptables_save(backend.host_ns)


def test_gc_cleans_up_after_a_vanished_namespace(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    backend.netns_add("c1")
    backend.netns_add("c2")
    gone = manager.connect(EndpointSpec("c1", "n1", ports=(PortMapping(8080, 80),)))
    manager.connect(EndpointSpec("c2", "n1"))
    backend.netns_delete("c1")
    assert [e.container for e in manager.gc()] == ["c1"]
    assert [e.container for e in manager.endpoints()] == ["c2"]
    assert "--dport 8080" not in backend.iptables_save(backend.host_ns, table="nat")
    assert gone.mac not in backend.ebtables(backend.host_ns, ["-L"])
    assert manager.allocator(N1).lookup("c1") is None


def test_gc_removes_orphan_links_and_reservations_no_record_accounts_for(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    backend.veth_add(backend.host_ns, "vc00000000000", "orphan-peer")
    manager.allocator(N1).allocate("lost")
    manager.gc()
    names = [link.name for link in backend.link_list(backend.host_ns)]
    assert "vc00000000000" not in names
    assert manager.allocator(N1).lookup("lost") is None


def _steps(manager: NetworkManager, operation: str, action: object) -> list[str]:
    seen: list[str] = []
    manager.trace = lambda op, step: seen.append(step) if op == operation else None
    assert callable(action)
    action()
    manager.trace = None
    return seen


def test_connect_failing_at_every_step_leaves_world_and_state_as_they_were(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(NetworkSpec(name="n1", subnet="10.60.0.0/24", bridge="br1",
                                       icc=False))
    backend.netns_add("c1")
    spec = EndpointSpec("c1", "n1", ports=(PortMapping(8080, 80),))
    steps = _steps(manager, "connect", lambda: manager.connect(spec))
    manager.disconnect("n1", "c1")
    for step in steps:
        before = snapshot(backend, state_dir=str(manager.state_dir))
        manager.fault = fail_at(step, "connect")
        with pytest.raises(InjectedFault):
            manager.connect(spec)
        manager.fault = None
        assert snapshot(backend, state_dir=str(manager.state_dir)) == before, step


def test_create_failing_at_every_step_leaves_world_and_state_as_they_were(
        backend: Backend, manager: NetworkManager) -> None:
    steps = _steps(manager, "create", lambda: manager.create_network(N1))
    manager.delete_network("n1")
    before = snapshot(backend, state_dir=str(manager.state_dir))
    for step in steps:
        manager.fault = fail_at(step, "create")
        with pytest.raises(InjectedFault):
            manager.create_network(N1)
        manager.fault = None
        assert snapshot(backend, state_dir=str(manager.state_dir)) == before, step
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "0"


def test_last_network_gone_restores_the_sysctls_it_changed(
        backend: Backend, manager: NetworkManager) -> None:
    manager.create_network(N1)
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "1"
    manager.create_network(NetworkSpec(name="n2", subnet="10.60.1.0/24"))
    manager.delete_network("n1")
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "1"
    manager.delete_network("n2")
    assert backend.sysctl_get(backend.host_ns, "net.ipv4.ip_forward") == "0"
