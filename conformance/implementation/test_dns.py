"""The container's resolv.conf (topic dns): /etc/netns/NS/resolv.conf, which `ip netns exec`
shows the container's programs as /etc/resolv.conf."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend

from .adapter import Implementation
from .conftest import make_containers


@pytest.mark.topic("dns")
@pytest.mark.impl_requires("dns")
def test_network_nameservers_land_in_the_containers_resolv_conf_and_leave_with_it(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.128.0.0/24",
                "dns": {"nameservers": ["192.0.2.53", "192.0.2.54"]}})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1)
    text = backend.etc_read(c1, "resolv.conf")
    assert text is not None, f"{c1} has no /etc/netns/{c1}/resolv.conf after ADD"
    servers = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver")]
    assert servers == ["192.0.2.53", "192.0.2.54"], (
        f"resolv.conf of {c1} names nameservers {servers}, expected the network's "
        "192.0.2.53 and 192.0.2.54 in that order")
    impl.delete("n1", c1)
    left = backend.etc_read(c1, "resolv.conf")
    assert left is None, f"resolv.conf of {c1} is still there after DEL: {left!r}"


@pytest.mark.topic("dns")
@pytest.mark.impl_requires("dns")
def test_per_container_nameservers_override_the_networks(
        backend: Backend, impl: Implementation) -> None:
    impl.setup({"name": "n1", "subnet": "10.128.0.0/24",
                "dns": {"nameservers": ["192.0.2.53"]}})
    [c1] = make_containers(backend, 1)
    impl.add("n1", c1, runtime={"dns": {"nameservers": ["203.0.113.53"]}})
    text = backend.etc_read(c1, "resolv.conf")
    assert text == "nameserver 203.0.113.53\n", (
        f"resolv.conf of {c1} is {text!r}, expected only the container's own "
        "'nameserver 203.0.113.53'")
