"""The host and none modes (topic modes): host shares the host namespace and builds nothing;
none leaves the container with loopback only, up."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend

from .adapter import Implementation
from .conftest import make_containers
from .observe import snapshot


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_none_mode_leaves_only_loopback_up_and_no_route(
        backend: Backend, impl: Implementation) -> None:
    [c1] = make_containers(backend, 1)
    impl.add("none", c1)
    links = backend.link_list(c1)
    assert [(link.name, link.up) for link in links] == [("lo", True)]
    assert backend.route_list(c1) == []
    assert backend.ping(c1, "127.0.0.1").ok
    impl.delete("none", c1)
    assert not backend.link_get(c1, "lo").up


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_host_mode_builds_nothing_anywhere(backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.126.0.0/24"})
    before = snapshot(backend)
    impl.add("host", "web")
    after = snapshot(backend)
    assert after == before
    impl.delete("host", "web")


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_a_container_in_none_mode_cannot_join_a_bridge_network_too(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.126.0.0/24"})
    [c1] = make_containers(backend, 1)
    impl.add("none", c1)
    before = snapshot(backend)
    with pytest.raises(Exception):  # noqa: B017 - refused, whatever the error type
        impl.add("n1", c1)
    assert snapshot(backend) == before
