"""Traffic control: the default root qdisc of container devices, a token-bucket filter read
back as tc prints it, deleted again, and shaping a TCP transfer to its configured rate.
Pinned on Linux 6.18: veth, bridge and lo are IFF_NO_QUEUE devices (root qdisc `noqueue` once
up; `noop` while down), and a transfer through a tbf achieves its rate (the bucket counts
whole frames, so TCP's payload gets ~95 % of it; the initial burst gives a few % back).
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError
from ctrnet.types import Proto

from .topology import BRIDGE, nat_topology, point_to_point

pytestmark = pytest.mark.requires("tc")

RATE = 4_000_000  # bit/s
BURST = 32_000  # bytes
LATENCY = 0.05  # seconds
PORT = 5001
#: About a megabyte: two seconds at RATE on the kernel.
NBYTES = 1_000_000
#: How far the achieved rate may stray from the configured one.
TOLERANCE = 0.15


def test_default_root_qdisc_is_noqueue_on_up_veth_bridge_and_lo(backend: Backend) -> None:
    topo = nat_topology(backend)
    for ns, dev in ((topo.host, BRIDGE), (topo.host, topo.c1.port), (topo.host, "lo"),
                    (topo.c1.ns, "eth0")):
        assert backend.tc_qdisc_get(ns, dev).kind == "noqueue"


def test_a_device_that_is_down_has_the_noop_qdisc(backend: Backend) -> None:
    backend.netns_add("box")
    backend.veth_add("box", "a", "b")
    assert backend.tc_qdisc_get("box", "a").kind == "noop"
    assert backend.tc_qdisc_get("box", "lo").kind == "noop"


def test_tbf_reads_back_its_rate_burst_and_latency(backend: Backend) -> None:
    point_to_point(backend)
    backend.tc_tbf_set(backend.host_ns, "to-peer", rate_bps=RATE, burst=BURST, latency=LATENCY)
    qdisc = backend.tc_qdisc_get(backend.host_ns, "to-peer")
    assert (qdisc.kind, qdisc.rate_bps, qdisc.burst) == ("tbf", RATE, BURST)
    assert qdisc.latency == pytest.approx(LATENCY, abs=1e-4)


def test_setting_tbf_again_replaces_it(backend: Backend) -> None:
    point_to_point(backend)
    host = backend.host_ns
    backend.tc_tbf_set(host, "to-peer", rate_bps=RATE, burst=BURST, latency=LATENCY)
    backend.tc_tbf_set(host, "to-peer", rate_bps=RATE // 4, burst=BURST // 2, latency=0.02)
    qdisc = backend.tc_qdisc_get(host, "to-peer")
    assert (qdisc.kind, qdisc.rate_bps, qdisc.burst) == ("tbf", RATE // 4, BURST // 2)


def test_deleting_tbf_restores_the_default_qdisc(backend: Backend) -> None:
    point_to_point(backend)
    host = backend.host_ns
    backend.tc_tbf_set(host, "to-peer", rate_bps=RATE, burst=BURST, latency=LATENCY)
    backend.tc_qdisc_delete(host, "to-peer")
    assert backend.tc_qdisc_get(host, "to-peer").kind == "noqueue"


def test_the_default_qdisc_cannot_be_deleted(backend: Backend) -> None:
    point_to_point(backend)
    with pytest.raises(CtrnetError) as caught:
        backend.tc_qdisc_delete(backend.host_ns, "to-peer")
    assert caught.value.errno == errno.ENOENT


def test_tbf_on_a_missing_device_is_enodev(backend: Backend) -> None:
    with pytest.raises(CtrnetError) as caught:
        backend.tc_tbf_set(backend.host_ns, "nope0", rate_bps=RATE, burst=BURST,
                           latency=LATENCY)
    assert caught.value.errno == errno.ENODEV


def test_tbf_shapes_a_transfer_to_its_rate(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    backend.tc_tbf_set(backend.host_ns, "to-peer", rate_bps=RATE, burst=BURST, latency=LATENCY)
    with backend.listen("peer", Proto.TCP, PORT) as listener:
        result = backend.transfer(backend.host_ns, peer_ip, PORT, NBYTES)
        assert listener.received() == NBYTES
    assert result.nbytes == NBYTES
    assert result.rate_bps == pytest.approx(RATE, rel=TOLERANCE)


def test_the_tbf_shapes_only_its_own_direction(backend: Backend) -> None:
    host_ip, _ = point_to_point(backend)
    backend.tc_tbf_set(backend.host_ns, "to-peer", rate_bps=RATE, burst=BURST, latency=LATENCY)
    with backend.listen(backend.host_ns, Proto.TCP, PORT):
        # peer -> host leaves by the peer's eth0, which has no tbf (the host's qdisc only
        # delays the ACKs coming back, which are small).
        result = backend.transfer("peer", host_ip, PORT, NBYTES)
    assert result.rate_bps > 5 * RATE
