"""Property: whatever the configuration and the sequence of operations, each operation either
completes or leaves the world (links, addresses, routes, rules, sysctls, state files) exactly
as it was, also when a fault is injected at any step; and removing everything at the end
leaves the world as it started."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrnet.conformance.implementation.observe import snapshot
from ctrnet.errors import CtrnetError
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec, PortMapping
from ctrnet.plan import fail_at
from ctrnet.registry import open_backend

NETWORKS = ("n1", "n2", "n3")
SUBNETS = ("10.80.0.0/24", "10.80.1.0/24", "10.80.0.0/16", "10.80.1.0/30", "10.80.2.0/29")
CONTAINERS = ("c1", "c2", "c3")
STEPS = ("record-network", "ipam-pool", "create-bridge", "gateway-address", "bridge-up",
         "host-sysctls", "iptables", "claim-endpoint", "loopback-up", "allocate-address",
         "record-address", "create-veth", "container-mac", "attach-to-bridge", "port-hairpin",
         "host-side-up", "container-address", "container-side-up", "default-route",
         "mac-antispoof", "record-endpoint")

create = st.tuples(st.just("create"), st.sampled_from(NETWORKS), st.sampled_from(SUBNETS),
                   st.booleans(), st.booleans())
connect = st.tuples(st.just("connect"), st.sampled_from(CONTAINERS),
                    st.sampled_from((*NETWORKS, "none", "host")),
                    st.lists(st.sampled_from((8080, 8081, 53)), max_size=2, unique=True))
disconnect = st.tuples(st.just("disconnect"), st.sampled_from(CONTAINERS),
                       st.sampled_from((*NETWORKS, "none", "host")))
delete = st.tuples(st.just("delete"), st.sampled_from(NETWORKS))
operation = st.tuples(st.one_of(create, connect, disconnect, delete),
                      st.one_of(st.none(), st.sampled_from(STEPS)))


def _apply(mgr: NetworkManager, op: tuple[Any, ...]) -> None:
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


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(operation, max_size=8))
def test_every_operation_completes_or_leaves_the_world_as_it_was(
        backend_name: str, ops: list[tuple[tuple[Any, ...], str | None]]) -> None:
    with open_backend(backend_name) as world, tempfile.TemporaryDirectory() as state:
        if world.missing("iptables") or world.missing("ebtables"):
            pytest.skip("needs iptables and ebtables")
        for container in CONTAINERS:
            world.netns_add(container)
        mgr = NetworkManager(world, state, fsync=False)
        initial = snapshot(world, state_dir=state)
        for op, fault in ops:
            before = snapshot(world, state_dir=state)
            mgr.fault = fail_at(fault) if fault and op[0] in ("create", "connect") else None
            try:
                _apply(mgr, op)
            except CtrnetError:
                assert snapshot(world, state_dir=state) == before, (op, fault)
            finally:
                mgr.fault = None
        for endpoint in mgr.endpoints():
            mgr.disconnect(endpoint.network, endpoint.container)
        for network in mgr.networks():
            mgr.delete_network(network.name)
        assert snapshot(world, state_dir=state) == initial
        mgr.close()
