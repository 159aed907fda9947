"""Fixtures and markers of the implementation-conformance suite.

`impl` is the implementation under test (`--impl` or $CTRNET_IMPL: "ctrnet", the default, or
"cni:PATH") acting on the `backend` world; it is torn down, and every network it set up
removed, after the test, skipped or not. Markers: `checklist(item)` (one of the guide's six
items), `topic(name)` (the extras), `impl_requires(capability, ...)` (skip when the
implementation lacks one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ctrnet.backend import Backend

from .adapter import IMPLEMENTATIONS, Implementation

CHECKLIST = ("veth", "bridge", "nat", "netlink", "netns", "ipam")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "checklist(item): the guide's checklist item a test "
                                       f"evidences, one of {', '.join(CHECKLIST)}")
    config.addinivalue_line("markers", "topic(name): an extra beyond the checklist (modes, "
                                       "publishing, isolation, rollback, ...)")
    config.addinivalue_line("markers", "impl_requires(capability, ...): skip unless the "
                                       "implementation has these capabilities")


@pytest.fixture
def impl(backend: Backend, tmp_path: object, impl_spec: str, request: pytest.FixtureRequest
         ) -> Iterator[Implementation]:
    name = impl_spec
    if name.startswith("cni:"):
        from .cni_adapter import cni_factory

        IMPLEMENTATIONS.setdefault(name, cni_factory(name))
    factory = IMPLEMENTATIONS.get(name)
    if factory is None:
        raise pytest.UsageError(f"--impl {name!r}: use ctrnet or cni:PATH")
    for capability in sorted(factory.backend_needs):
        reason = backend.missing(capability)
        if reason:
            pytest.skip(f"implementation {name!r} needs it: {reason}")
    implementation = factory(backend, str(tmp_path))
    # The skip below raises after the implementation exists: teardown must still run (a
    # CNI adapter may hold a launcher, the reference model its state store).
    try:
        for marker in request.node.iter_markers("impl_requires"):
            for capability in marker.args:
                reason = implementation.missing(capability)
                if reason:
                    pytest.skip(reason)
        yield implementation
    finally:
        implementation.teardown()

def make_containers(backend: Backend, count: int, prefix: str = "c") -> list[str]:
    """`count` empty container namespaces c1..cN (what a runtime makes before calling ADD)."""
    names = [f"{prefix}{i}" for i in range(1, count + 1)]
    for name in names:
        backend.netns_add(name)
    return names
