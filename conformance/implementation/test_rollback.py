"""Transactions (topic rollback): an ADD or a network setup failing at ANY of its steps leaves
the world exactly as it was: links, addresses, routes, sysctls, iptables, ebtables, files,
and the implementation's own records and address reservations."""

from __future__ import annotations

from typing import Any

import pytest

from ctrnet.backend import Backend

from .adapter import Implementation
from .conftest import make_containers
from .expect import refused, world_diff
from .observe import snapshot, uplink

NET = {"name": "n1", "bridge": "ctr1", "subnet": "10.129.0.0/24"}
RUNTIME: dict[str, Any] = {
    "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
    "bandwidth": {"ingressRate": 10_000_000, "egressRate": 10_000_000},
}


def _needs(backend: Backend) -> dict[str, Any]:
    """RUNTIME minus what the backend cannot do (then those steps are not exercised)."""
    runtime = dict(RUNTIME)
    if backend.missing("tc"):
        runtime.pop("bandwidth")
    runtime["dns"] = {"nameservers": ["192.0.2.53"]}
    return runtime


@pytest.mark.topic("rollback")
@pytest.mark.impl_requires("fault-injection")
def test_add_failing_at_any_step_leaves_the_world_as_it_was(
        backend: Backend, impl: Implementation) -> None:
    uplink(backend)
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c2, runtime={"portMappings": [{"hostPort": 8081, "containerPort": 80}]})
    runtime = _needs(backend)
    steps = impl.steps("connect", lambda: impl.add("n1", c1, runtime=runtime))
    impl.delete("n1", c1)
    assert len(steps) >= 10, f"ADD went through only {len(steps)} steps {steps}, expected 10+"
    for step in steps:
        before = snapshot(backend, state_dir=impl.state_dir)
        impl.inject(step, "connect")
        with refused(f"ADD succeeded although step {step!r} was made to fail",
                     match="injected fault"):
            impl.add("n1", c1, runtime=runtime)
        impl.inject(None)
        after = snapshot(backend, state_dir=impl.state_dir)
        assert after == before, (
            f"ADD failing at step {step!r} left: {world_diff(before, after)}")
    impl.add("n1", c1, runtime=runtime)  # and nothing left behind stands in the way
    impl.check("n1", c1)


@pytest.mark.topic("rollback")
@pytest.mark.impl_requires("fault-injection")
def test_network_setup_failing_at_any_step_leaves_the_world_as_it_was(
        backend: Backend, impl: Implementation) -> None:
    uplink(backend)
    steps = impl.steps("create", lambda: impl.setup(NET))
    impl.remove("n1")
    assert len(steps) >= 5, f"setup went through only {len(steps)} steps {steps}, expected 5+"
    for first in (True, False):  # as the first network (chains, jumps, sysctls) and a second
        if not first:
            impl.setup({"name": "n0", "subnet": "10.129.9.0/24"})
        for step in steps:
            before = snapshot(backend, state_dir=impl.state_dir)
            impl.inject(step, "create")
            which = "first" if first else "second"
            with refused(f"setup of the {which} network succeeded although step {step!r} "
                         "was made to fail", match="injected fault"):
                impl.setup(NET)
            impl.inject(None)
            after = snapshot(backend, state_dir=impl.state_dir)
            assert after == before, (
                f"setup of the {which} network failing at step {step!r} left: "
                f"{world_diff(before, after)}")


@pytest.mark.topic("rollback")
@pytest.mark.impl_requires("remove")
def test_removing_the_last_network_leaves_nothing_of_the_implementation(
        backend: Backend, impl: Implementation) -> None:
    uplink(backend)
    before = snapshot(backend, state_dir=impl.state_dir)
    impl.setup(NET)
    impl.setup({"name": "n2", "subnet": "10.129.2.0/24", "icc": False})
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1, runtime=_needs(backend))
    impl.add("n2", c2)
    impl.delete("n1", c1)
    impl.delete("n2", c2)
    impl.remove("n1")
    impl.remove("n2")
    impl.remove("n2")  # idempotent
    after = snapshot(backend, state_dir=impl.state_dir)
    for key in [k for k in after if k.startswith(("c1/", "c2/"))]:
        del after[key]
    after["namespaces"] = [ns for ns in after["namespaces"] if ns not in (c1, c2)]
    assert after == before, f"removing every network left: {world_diff(before, after)}"
