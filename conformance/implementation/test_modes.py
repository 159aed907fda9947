"""The host and none modes (topic modes): host shares the host namespace and builds nothing;
none leaves the container with loopback only, up."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend

from .adapter import Implementation
from .conftest import make_containers
from .expect import refused, world_diff
from .observe import snapshot


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_none_mode_leaves_only_loopback_up_and_no_route(
        backend: Backend, impl: Implementation) -> None:
    [c1] = make_containers(backend, 1)
    impl.add("none", c1)
    links = [(link.name, link.up) for link in backend.link_list(c1)]
    assert links == [("lo", True)], (
        f"{c1} in none mode holds links (name, up) {links}, expected only lo, up")
    routes = [(r.dst, r.dev) for r in backend.route_list(c1)]
    assert routes == [], f"{c1} in none mode has routes {routes}, expected none"
    assert backend.ping(c1, "127.0.0.1").ok, f"{c1} in none mode cannot ping 127.0.0.1"
    impl.delete("none", c1)
    assert not backend.link_get(c1, "lo").up, (
        f"loopback of {c1} is still up after DEL, expected down as before the ADD")


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_host_mode_builds_nothing_anywhere(backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.126.0.0/24"})
    before = snapshot(backend)
    impl.add("host", "web")
    after = snapshot(backend)
    assert after == before, f"host mode changed the world: {world_diff(before, after)}"
    impl.delete("host", "web")


@pytest.mark.topic("modes")
@pytest.mark.impl_requires("modes")
def test_a_container_in_none_mode_cannot_join_a_bridge_network_too(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.126.0.0/24"})
    [c1] = make_containers(backend, 1)
    impl.add("none", c1)
    before = snapshot(backend)
    with refused(f"{c1} in none mode was also attached to bridge network n1"):
        impl.add("n1", c1)
    after = snapshot(backend)
    assert after == before, f"the refused ADD changed the world: {world_diff(before, after)}"
