"""Property (topic rollback): over generated network configurations and sequences of
operations, with a fault injected at any step, every operation either completes or leaves the
world exactly as it was; removing everything at the end leaves the world as it started."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

import pytest

from ctrnet.backend import Backend
from ctrnet.registry import open_backend

from .adapter import Implementation
from .expect import world_diff
from .observe import snapshot

if TYPE_CHECKING:  # typed as the modules; at run time, a suite without hypothesis skips this
    import hypothesis
    from hypothesis import strategies as st
else:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

NETWORKS = ("n1", "n2")
SUBNETS = ("10.131.0.0/24", "10.131.1.0/24", "10.131.0.0/16", "10.131.2.0/30")
CONTAINERS = ("c1", "c2")
_setup = st.tuples(st.just("setup"), st.sampled_from(NETWORKS), st.sampled_from(SUBNETS),
                   st.booleans(), st.booleans())
_add = st.tuples(st.just("add"), st.sampled_from(CONTAINERS), st.sampled_from(NETWORKS),
                 st.lists(st.sampled_from((8080, 8081)), max_size=2, unique=True))
_delete = st.tuples(st.just("delete"), st.sampled_from(CONTAINERS), st.sampled_from(NETWORKS))
_remove = st.tuples(st.just("remove"), st.sampled_from(NETWORKS))


def _steps(backend: Backend, impl: Implementation) -> list[str]:
    """The steps a setup and an ADD with published ports go through, as the implementation
    reports them (discovered, not listed: a list would go stale without a sound)."""
    with open_backend(backend.name) as world, tempfile.TemporaryDirectory() as work:
        subject = type(impl)(world, work)
        try:
            world.netns_add(CONTAINERS[0])
            found = subject.steps("create", lambda: _apply(
                subject, ("setup", NETWORKS[0], SUBNETS[0], False, True)))
            found += subject.steps("connect", lambda: _apply(
                subject, ("add", CONTAINERS[0], NETWORKS[0], [8080])))
        finally:
            subject.teardown()
    assert len(found) >= 10, f"only {len(found)} steps discovered: {found}"
    return sorted(set(found))


def _apply(impl: Implementation, op: tuple[Any, ...]) -> None:
    if op[0] == "setup":
        _, name, subnet, icc, masquerade = op
        impl.setup({"name": name, "subnet": subnet, "icc": icc, "ipMasq": masquerade})
    elif op[0] == "add":
        _, container, network, ports = op
        impl.add(network, container, runtime={"portMappings": [
            {"hostPort": port, "containerPort": 80} for port in ports]})
    elif op[0] == "delete":
        impl.delete(op[2], op[1])
    else:
        impl.remove(op[1])


@pytest.mark.topic("rollback")
@pytest.mark.impl_requires("fault-injection", "remove", "ports")
def test_every_operation_completes_or_changes_nothing(
        backend: Backend, impl: Implementation) -> None:
    operation = st.tuples(st.one_of(_setup, _add, _delete, _remove),
                          st.one_of(st.none(), st.sampled_from(_steps(backend, impl))))

    @hypothesis.settings(max_examples=25, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(st.lists(operation, max_size=6))
    def run(ops: list[tuple[tuple[Any, ...], str | None]]) -> None:
        with open_backend(backend.name) as world, tempfile.TemporaryDirectory() as work:
            subject = type(impl)(world, work)
            for container in CONTAINERS:
                world.netns_add(container)
            initial = snapshot(world, state_dir=subject.state_dir)
            try:
                for op, fault in ops:
                    before = snapshot(world, state_dir=subject.state_dir)
                    # Only ADD and setup are transactions; DEL and remove go on past a failure.
                    subject.inject(fault if op[0] in ("setup", "add") else None)
                    try:
                        _apply(subject, op)
                    except Exception as err:  # noqa: BLE001 - refused or failed: no change
                        after = snapshot(world, state_dir=subject.state_dir)
                        assert after == before, (
                            f"{op} failed ({err}) with fault at {fault} but changed the world: "
                            f"{world_diff(before, after)}")
                    finally:
                        subject.inject(None)
                for container in CONTAINERS:
                    for network in NETWORKS:
                        subject.delete(network, container)
                for network in NETWORKS:
                    subject.remove(network)
                final = snapshot(world, state_dir=subject.state_dir)
                assert final == initial, (
                    f"after {[op for op, _ in ops]} and removing everything, left: "
                    f"{world_diff(initial, final)}")
            finally:
                subject.teardown()

    run()
