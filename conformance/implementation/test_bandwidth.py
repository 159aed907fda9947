"""Rate limits with a token-bucket filter (topic bandwidth): the rate a bulk transfer achieves
through the limited direction, measured by the backend's transfer probe."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.types import Proto

from .adapter import Implementation
from .conftest import make_containers
from .observe import uplink

NET = {"name": "n1", "subnet": "10.127.0.0/24"}
RATE = 4_000_000  # bit/s: 500 kB take a second
NBYTES = 500_000


@pytest.mark.topic("bandwidth")
@pytest.mark.impl_requires("bandwidth")
@pytest.mark.requires("tc")
def test_ingress_limit_caps_what_the_container_receives(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    attachment = impl.add("n1", c1, runtime={"bandwidth": {"ingressRate": RATE}})
    # From the host: the wan has no route to the containers (that is what NAT is for).
    with backend.listen(c1, Proto.TCP, 5001):
        result = backend.transfer(backend.host_ns, attachment.ip, 5001, NBYTES)
    # The bucket starts full, so a little more than the rate gets through.
    assert result.nbytes == NBYTES, (
        f"{c1} received {result.nbytes} of the {NBYTES} bytes sent to it")
    assert 0.5 * RATE < result.rate_bps < 1.6 * RATE, (
        f"{c1} received at {result.rate_bps / 1e6:.2f} Mbit/s, expected about its ingress "
        f"limit of {RATE / 1e6:.0f} Mbit/s (no tbf on the host end of its veth?)")


@pytest.mark.topic("bandwidth")
@pytest.mark.impl_requires("bandwidth")
@pytest.mark.requires("tc")
def test_egress_limit_caps_what_the_container_sends(
        backend: Backend, impl: Implementation) -> None:
    wan = uplink(backend)
    impl.setup(NET)
    c1, c2 = make_containers(backend, 2)
    impl.add("n1", c1, runtime={"bandwidth": {"egressRate": RATE}})
    impl.add("n1", c2)
    with backend.listen(wan.ns, Proto.TCP, 5001):
        limited = backend.transfer(c1, wan.ip, 5001, NBYTES)
        free = backend.transfer(c2, wan.ip, 5001, NBYTES)
    assert 0.5 * RATE < limited.rate_bps < 1.6 * RATE, (
        f"{c1} sent at {limited.rate_bps / 1e6:.2f} Mbit/s, expected about its egress limit "
        f"of {RATE / 1e6:.0f} Mbit/s (no tbf on its eth0?)")
    assert free.rate_bps > 3 * RATE, (  # control: the unlimited neighbour is not held back
        f"unlimited {c2} sent at only {free.rate_bps / 1e6:.2f} Mbit/s, expected more than "
        f"{3 * RATE / 1e6:.0f} Mbit/s (a limit applied to the wrong container?)")
