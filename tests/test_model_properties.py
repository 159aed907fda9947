"""Property: whatever the configuration and the sequence of operations, each operation either
completes or leaves the world (links, addresses, routes, rules, sysctls, state files) exactly
as it was, also when a fault is injected at any step; and removing everything at the end
leaves the world as it started.

The steps a fault can hit are discovered from the code (the plan's trace hook, as
conformance/implementation/test_rollback.py does), never listed by hand: a list would go
stale silently, injecting at names no code runs. Each injection records whether it fired.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrnet.backend import Backend
from ctrnet.conformance.implementation.observe import snapshot
from ctrnet.errors import CtrnetError
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec, PortMapping
from ctrnet.plan import InjectedFault
from ctrnet.registry import open_backend

NETWORKS = ("n1", "n2", "n3")
SUBNETS = ("10.80.0.0/24", "10.80.1.0/24", "10.80.0.0/16", "10.80.1.0/30", "10.80.2.0/29")
CONTAINERS = ("c1", "c2", "c3")
#: Operations that are transactions: a fault in one must leave the world as it was.
TRANSACTIONS = ("create", "connect")

Op = tuple[Any, ...]

create = st.tuples(st.just("create"), st.sampled_from(NETWORKS), st.sampled_from(SUBNETS),
                   st.booleans(), st.booleans())
connect = st.tuples(st.just("connect"), st.sampled_from(CONTAINERS),
                    st.sampled_from((*NETWORKS, "none", "host")),
                    st.lists(st.sampled_from((8080, 8081, 53)), max_size=2, unique=True))
disconnect = st.tuples(st.just("disconnect"), st.sampled_from(CONTAINERS),
                       st.sampled_from((*NETWORKS, "none", "host")))
delete = st.tuples(st.just("delete"), st.sampled_from(NETWORKS))
operation = st.one_of(create, connect, disconnect, delete)

#: Operations that between them run every step of network setup and of connect: a network
#: with masquerade and ICC off, a bridge endpoint with published ports, host and none modes.
DISCOVERY: tuple[Op, ...] = (
    ("create", "n1", "10.80.0.0/24", False, True),
    ("connect", "c1", "n1", [8080, 53]),
    ("connect", "c2", "host", []),
    ("connect", "c3", "none", []),
)


def _apply(mgr: NetworkManager, op: Op) -> None:
    kind = op[0]
    if kind == "create":
        _, name, subnet, icc, masquerade = op
        mgr.create_network(NetworkSpec(name=name, subnet=subnet, icc=icc,
                                       masquerade=masquerade))
    elif kind == "connect":
        _, container, network, ports = op
        mapped = tuple(PortMapping(port, 80) for port in ports) if network not in (
            "none", "host") else ()
        mgr.connect(EndpointSpec(container, network, ports=mapped))
    elif kind == "disconnect":
        mgr.disconnect(op[2], op[1])
    else:
        mgr.delete_network(op[1], force=True)


@dataclass
class Fault:
    """A fault hook failing `step` of `operation`, which remembers whether it fired."""

    operation: str
    step: str
    fired: list[str] = field(default_factory=list)

    def __call__(self, op: str, name: str) -> None:
        if op == self.operation and name == self.step:
            self.fired.append(name)
            raise InjectedFault(f"injected fault at step {op}:{name}")


@dataclass
class World:
    backend: Backend
    state: str
    mgr: NetworkManager


@contextmanager
def opened(backend_name: str) -> Iterator[World]:
    """A fresh world with the containers' namespaces and a manager; closed afterwards."""
    with open_backend(backend_name) as backend, tempfile.TemporaryDirectory() as state:
        if backend.missing("iptables") or backend.missing("ebtables"):
            pytest.skip("needs iptables and ebtables")
        for container in CONTAINERS:
            backend.netns_add(container)
        mgr = NetworkManager(backend, state, fsync=False)
        try:
            yield World(backend, state, mgr)
        finally:
            mgr.close()


def discover(world: World) -> list[tuple[int, str, str]]:
    """(index in DISCOVERY, operation, step) for every step the transactions run, in order."""
    seen: list[tuple[int, str, str]] = []
    for index, op in enumerate(DISCOVERY):
        def record(operation: str, step: str, index: int = index) -> None:
            if operation in TRANSACTIONS and (operation, step) not in {s[1:] for s in seen}:
                seen.append((index, operation, step))

        world.mgr.trace = record
        try:
            _apply(world.mgr, op)
        finally:
            world.mgr.trace = None
    return seen


@pytest.fixture
def steps(backend_name: str) -> list[tuple[int, str, str]]:
    with opened(backend_name) as world:
        found = discover(world)
    operations = {operation for _, operation, _ in found}
    assert operations == set(TRANSACTIONS), f"discovery ran only {operations}"
    assert len(found) >= 15, f"only {len(found)} steps discovered: {found}"
    return found


def test_a_fault_at_every_discovered_step_fires_and_leaves_the_world_as_it_was(
        backend_name: str, steps: list[tuple[int, str, str]]) -> None:
    for index, operation, step in steps:
        with opened(backend_name) as world:
            for earlier in DISCOVERY[:index]:
                _apply(world.mgr, earlier)
            before = snapshot(world.backend, state_dir=world.state)
            world.mgr.fault = fault = Fault(operation, step)
            with pytest.raises(InjectedFault):
                _apply(world.mgr, DISCOVERY[index])
            world.mgr.fault = None
            assert fault.fired == [step]
            assert snapshot(world.backend, state_dir=world.state) == before, (operation, step)
            _apply(world.mgr, DISCOVERY[index])  # nothing left behind stands in the way


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, max_size=8), data=st.data())
def test_every_operation_completes_or_leaves_the_world_as_it_was(
        backend_name: str, steps: list[tuple[int, str, str]], ops: list[Op],
        data: st.DataObject) -> None:
    with opened(backend_name) as world:
        mgr = world.mgr
        initial = snapshot(world.backend, state_dir=world.state)
        for op in ops:
            fault: Fault | None = None
            if op[0] in TRANSACTIONS:
                names = sorted({step for _, operation, step in steps if operation == op[0]})
                step = data.draw(st.one_of(st.none(), st.sampled_from(names)), label="fault")
                fault = Fault(op[0], step) if step is not None else None
            before = snapshot(world.backend, state_dir=world.state)
            mgr.fault = fault
            try:
                _apply(mgr, op)
            except CtrnetError as exc:
                assert snapshot(world.backend, state_dir=world.state) == before, (op, fault)
                # A fault that fired is what failed the operation; one that did not fire was
                # on a step this operation does not run (another mode): it is not the cause.
                assert isinstance(exc, InjectedFault) == bool(fault and fault.fired), (op, exc)
            else:
                assert not (fault and fault.fired), f"{op} succeeded through {fault}"
            finally:
                mgr.fault = None
        for endpoint in mgr.endpoints():
            mgr.disconnect(endpoint.network, endpoint.container)
        for network in mgr.networks():
            mgr.delete_network(network.name)
        assert snapshot(world.backend, state_dir=world.state) == initial
