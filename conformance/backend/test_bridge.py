"""The Linux bridge at work: carrier and operstate as ports come and go, MAC learning,
ageing, flooding of unknown unicast, STP port states, ports that are down, the port limit,
and forward_delay clamping. Pinned on Linux 6.18 (net/bridge); traffic is ICMP echo between
namespaces attached to one bridge of the host namespace.
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import BackendError
from ctrnet.types import OperState, PortState

#: Short enough to keep the kernel run brief, long enough for a ping to finish well inside.
AGEING_TIME = 2.0
#: How late the kernel's FDB garbage collection may remove an aged entry (br_fdb_cleanup
#: reschedules itself for the next expiry, at least 10 ms later, on a jiffy clock).
GC_SLACK = 1.0
#: BR_MIN_FORWARD_DELAY: the shortest forward_delay STP allows.
MIN_FORWARD_DELAY = 2.0


def _bridge(backend: Backend, **options: float) -> None:
    backend.bridge_add(backend.host_ns, "br0", **options)  # type: ignore[arg-type]
    backend.addr_add(backend.host_ns, "br0", "10.0.0.1/24")
    backend.link_set_up(backend.host_ns, "br0")


def _container(backend: Backend, ns: str, host_end: str, cidr: str) -> None:
    """A namespace whose eth0 is the peer of `host_end`, a port of br0; everything up."""
    host = backend.host_ns
    backend.netns_add(ns)
    backend.veth_add(host, host_end, "eth0", ns)
    backend.link_set_master(host, host_end, "br0")
    backend.link_set_up(host, host_end)
    backend.addr_add(ns, "eth0", cidr)
    backend.link_set_up(ns, "lo")
    backend.link_set_up(ns, "eth0")


def _two_containers(backend: Backend, **options: float) -> None:
    _bridge(backend, **options)
    _container(backend, "c1", "veth1", "10.0.0.2/24")
    _container(backend, "c2", "veth2", "10.0.0.3/24")


def _learned(backend: Backend, ns: str = "", bridge: str = "br0") -> dict[str, str]:
    """Learned FDB entries of `bridge`: MAC -> port."""
    entries = backend.fdb_list(ns or backend.host_ns, bridge)
    return {e.mac: e.port for e in entries if e.learned}


def _mac(backend: Backend, ns: str, ifname: str = "eth0") -> str:
    return backend.link_get(ns, ifname).mac


def _wait_until(backend: Backend, moment: float) -> None:
    remaining = moment - backend.now()
    if remaining > 0:
        backend.sleep(remaining)


# -- carrier and operstate ---------------------------------------------------------------------
def test_an_up_bridge_that_never_had_a_port_is_unknown_with_carrier(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0")
    backend.link_set_up(backend.host_ns, "br0")
    br = backend.link_get(backend.host_ns, "br0")
    assert (br.operstate, br.carrier) == (OperState.UNKNOWN, True)


def test_a_bridge_whose_ports_are_all_down_has_no_carrier(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.link_set_up(host, "br0")
    backend.veth_add(host, "veth1", "peer1")
    backend.link_set_master(host, "veth1", "br0")
    br = backend.link_get(host, "br0")
    assert (br.operstate, br.carrier) == (OperState.DOWN, False)
    assert backend.link_get(host, "veth1").port.state == PortState.DISABLED  # type: ignore[union-attr]


def test_a_bridge_gets_carrier_when_a_port_forwards_and_loses_it_with_the_port(
    backend: Backend,
) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.link_set_up(host, "br0")
    backend.veth_add(host, "veth1", "peer1")
    backend.link_set_master(host, "veth1", "br0")
    backend.link_set_up(host, "veth1")
    # The port is up but its peer is not: no carrier on the port, so none on the bridge.
    assert backend.link_get(host, "br0").carrier is False
    backend.link_set_up(host, "peer1")
    br = backend.link_get(host, "br0")
    assert (br.operstate, br.carrier) == (OperState.UP, True)
    assert backend.link_get(host, "veth1").port.state == PortState.FORWARDING  # type: ignore[union-attr]
    backend.link_set_up(host, "peer1", False)
    br = backend.link_get(host, "br0")
    assert (br.operstate, br.carrier) == (OperState.DOWN, False)


def test_removing_the_last_forwarding_port_drops_the_bridge_carrier(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.link_set_up(host, "br0")
    backend.veth_add(host, "veth1", "peer1")
    backend.link_set_master(host, "veth1", "br0")
    backend.link_set_up(host, "veth1")
    backend.link_set_up(host, "peer1")
    assert backend.link_get(host, "br0").carrier is True
    backend.link_set_master(host, "veth1", None)
    br = backend.link_get(host, "br0")
    assert (br.operstate, br.carrier) == (OperState.DOWN, False)


def test_ports_of_a_down_bridge_are_disabled(backend: Backend) -> None:
    _two_containers(backend)
    backend.link_set_up(backend.host_ns, "br0", False)
    port = backend.link_get(backend.host_ns, "veth1").port
    assert port is not None and port.state == PortState.DISABLED
    assert backend.ping("c1", "10.0.0.3", timeout=0.5).received == 0


# -- traffic and learning -----------------------------------------------------------------------
def test_two_containers_on_one_bridge_ping_each_other(backend: Backend) -> None:
    _two_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    assert backend.ping("c2", "10.0.0.2").received == 1
    assert backend.ping("c1", "10.0.0.1").received == 1  # the bridge's own address


def test_the_fdb_holds_each_container_mac_on_its_port_after_traffic(backend: Backend) -> None:
    _two_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    learned = _learned(backend)
    assert learned[_mac(backend, "c1")] == "veth1"
    assert learned[_mac(backend, "c2")] == "veth2"


def test_a_ports_own_mac_is_a_local_entry_not_a_learned_one(backend: Backend) -> None:
    _two_containers(backend)
    entries = backend.fdb_list(backend.host_ns, "br0")
    own = {e.mac: e for e in entries if e.port == "veth1"}
    veth1_mac = _mac(backend, backend.host_ns, "veth1")
    assert own[veth1_mac].local and not own[veth1_mac].learned


def test_nothing_is_learned_on_a_port_with_learning_off(backend: Backend) -> None:
    _two_containers(backend)
    backend.bridge_port_set(backend.host_ns, "veth1", learning=False)
    assert backend.ping("c1", "10.0.0.3").received == 1
    learned = _learned(backend)
    assert _mac(backend, "c1") not in learned
    assert learned[_mac(backend, "c2")] == "veth2"


def test_learned_entries_age_out_after_ageing_time(backend: Backend) -> None:
    _two_containers(backend, ageing_time=AGEING_TIME)
    start = backend.now()
    assert backend.ping("c1", "10.0.0.3").received == 1
    c1_mac, c2_mac = _mac(backend, "c1"), _mac(backend, "c2")
    _wait_until(backend, start + AGEING_TIME / 2)
    assert {c1_mac, c2_mac} <= set(_learned(backend))
    _wait_until(backend, start + AGEING_TIME + GC_SLACK)
    assert not {c1_mac, c2_mac} & set(_learned(backend))


def test_a_static_entry_does_not_age(backend: Backend) -> None:
    _two_containers(backend, ageing_time=AGEING_TIME)
    backend.fdb_add(backend.host_ns, "veth2", "02:00:00:00:00:42")
    backend.sleep(AGEING_TIME + GC_SLACK)
    entries = {e.mac: e for e in backend.fdb_list(backend.host_ns, "br0")}
    assert entries["02:00:00:00:00:42"].static
    assert entries["02:00:00:00:00:42"].port == "veth2"


def test_a_learned_entry_of_a_port_going_down_is_flushed(backend: Backend) -> None:
    _two_containers(backend)
    assert backend.ping("c1", "10.0.0.3").received == 1
    backend.link_set_up(backend.host_ns, "veth2", False)
    learned = _learned(backend)
    assert _mac(backend, "c2") not in learned
    assert learned[_mac(backend, "c1")] == "veth1"


def test_nothing_passes_through_a_port_that_is_down(backend: Backend) -> None:
    _two_containers(backend)
    backend.link_set_up(backend.host_ns, "veth2", False)
    assert backend.link_get("c2", "eth0").carrier is False
    assert backend.ping("c1", "10.0.0.3", timeout=0.5).received == 0
    backend.link_set_up(backend.host_ns, "veth2")
    assert backend.ping("c1", "10.0.0.3").received == 1


def _sniffer(backend: Backend) -> None:
    """c3's eth0 is a port of a bridge inside c3: whatever reaches c3 is learned there."""
    _container(backend, "c3", "veth3", "10.0.0.4/24")
    backend.bridge_add("c3", "sniff0")
    backend.link_set_master("c3", "eth0", "sniff0")
    backend.link_set_up("c3", "sniff0")


def test_unicast_to_an_unknown_mac_is_flooded_to_every_port(backend: Backend) -> None:
    _two_containers(backend)
    _sniffer(backend)
    c1_mac, c2_mac = _mac(backend, "c1"), _mac(backend, "c2")
    assert backend.ping("c1", "10.0.0.3").received == 1  # c1 now knows c2's MAC
    backend.fdb_delete(backend.host_ns, "veth2", c2_mac)  # ...but the bridge does not
    backend.fdb_delete("c3", "eth0", c1_mac)
    assert backend.ping("c1", "10.0.0.3").received == 1
    # The echo request to the unknown MAC also went out veth3: c3's bridge saw c1.
    assert _learned(backend, "c3", "sniff0").get(c1_mac) == "eth0"


def test_unicast_to_a_known_mac_goes_only_to_its_port(backend: Backend) -> None:
    _two_containers(backend)
    _sniffer(backend)
    c1_mac = _mac(backend, "c1")
    assert backend.ping("c1", "10.0.0.3").received == 1
    # c1's ARP broadcast reached c3; forget it, then send known unicast only.
    assert _learned(backend, "c3", "sniff0").get(c1_mac) == "eth0"
    backend.fdb_delete("c3", "eth0", c1_mac)
    assert backend.ping("c1", "10.0.0.3").received == 1
    assert c1_mac not in _learned(backend, "c3", "sniff0")


def _container_behind_a_switch(backend: Backend) -> None:
    """c1 sits behind bridge sw0 of namespace sw, whose uplink up0 is br0's port veth1:
    sw0 learns on which side c1's frames arrive."""
    host = backend.host_ns
    backend.netns_add("sw")
    backend.veth_add(host, "veth1", "up0", "sw")
    backend.link_set_master(host, "veth1", "br0")
    backend.link_set_up(host, "veth1")
    backend.bridge_add("sw", "sw0")
    backend.link_set_up("sw", "sw0")
    backend.netns_add("c1")
    backend.veth_add("sw", "in0", "eth0", "c1")
    for port in ("up0", "in0"):
        backend.link_set_master("sw", port, "sw0")
        backend.link_set_up("sw", port)
    backend.addr_add("c1", "eth0", "10.0.0.2/24")
    backend.link_set_up("c1", "eth0")


def test_without_hairpin_a_frame_never_leaves_by_its_ingress_port(backend: Backend) -> None:
    _bridge(backend)
    _container_behind_a_switch(backend)
    _container(backend, "c2", "veth2", "10.0.0.3/24")
    assert backend.ping("c1", "10.0.0.3").received == 1
    assert _learned(backend, "sw", "sw0")[_mac(backend, "c1")] == "in0"


def test_with_hairpin_a_broadcast_is_reflected_out_of_its_ingress_port(backend: Backend) -> None:
    _bridge(backend)
    _container_behind_a_switch(backend)
    _container(backend, "c2", "veth2", "10.0.0.3/24")
    backend.bridge_port_set(backend.host_ns, "veth1", hairpin=True)
    # c1's ARP broadcast comes back to sw0 through up0: sw0 now believes c1 is upstream
    # (and so drops c2's answer, which arrives on that very port).
    backend.ping("c1", "10.0.0.3", timeout=0.5)
    assert _learned(backend, "sw", "sw0")[_mac(backend, "c1")] == "up0"


# -- STP -----------------------------------------------------------------------------------------
def test_without_stp_a_port_forwards_at_once(backend: Backend) -> None:
    _two_containers(backend, stp_state=0, forward_delay=MIN_FORWARD_DELAY)
    port = backend.link_get(backend.host_ns, "veth1").port
    assert port is not None and port.state == PortState.FORWARDING
    assert backend.ping("c1", "10.0.0.3").received == 1


def test_with_stp_a_port_listens_learns_then_forwards_after_two_forward_delays(
    backend: Backend,
) -> None:
    delay = MIN_FORWARD_DELAY
    _two_containers(backend, stp_state=1, forward_delay=delay)
    start = backend.now()  # the ports were enabled just now

    def state(port: str) -> PortState:
        info = backend.link_get(backend.host_ns, port).port
        assert info is not None
        return info.state

    assert state("veth1") == PortState.LISTENING
    assert backend.link_get(backend.host_ns, "br0").carrier is False
    assert backend.ping("c1", "10.0.0.3", timeout=0.5).received == 0

    _wait_until(backend, start + delay + 0.4)
    assert state("veth1") == PortState.LEARNING
    assert backend.ping("c1", "10.0.0.3", timeout=0.5).received == 0
    # LEARNING ports learn what they receive, but forward nothing.
    assert _learned(backend).get(_mac(backend, "c1")) == "veth1"

    _wait_until(backend, start + 2 * delay + 0.4)
    assert state("veth1") == PortState.FORWARDING
    assert backend.link_get(backend.host_ns, "br0").carrier is True
    assert backend.ping("c1", "10.0.0.3").received == 1


def test_a_port_starting_to_forward_under_stp_shortens_ageing_to_two_forward_delays(
    backend: Backend,
) -> None:
    delay = MIN_FORWARD_DELAY
    _two_containers(backend, stp_state=1, forward_delay=delay, ageing_time=300.0)
    start = backend.now()
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None and info.ageing_time == 300.0
    # A port reaching FORWARDING is a topology change; while it lasts (forward_delay +
    # max_age) the kernel ages the FDB after 2 * forward_delay (__br_set_topology_change).
    _wait_until(backend, start + 2 * delay + 0.4)
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None and info.ageing_time == 2 * delay


def test_stp_clamps_a_short_forward_delay_to_two_seconds(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0", stp_state=1, forward_delay=1.0)
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None and (info.stp_state, info.forward_delay) == (1, MIN_FORWARD_DELAY)


def test_without_stp_any_forward_delay_is_kept(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0", stp_state=0, forward_delay=1.0)
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None and info.forward_delay == 1.0


@pytest.mark.parametrize("delay", [1.0, 31.0])
def test_with_stp_on_a_forward_delay_outside_2_to_30_s_fails_with_erange(
    backend: Backend, delay: float
) -> None:
    backend.bridge_add(backend.host_ns, "br0", stp_state=1, forward_delay=5.0)
    with pytest.raises(BackendError) as caught:
        backend.bridge_set(backend.host_ns, "br0", forward_delay=delay)
    assert caught.value.errno == errno.ERANGE
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None and info.forward_delay == 5.0


# -- limits -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_bridge_takes_1023_ports_and_the_next_fails_with_exfull(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    for i in range(1023):
        backend.veth_add(host, f"p{i}", f"q{i}")
        backend.link_set_master(host, f"p{i}", "br0")
    backend.veth_add(host, "p1023", "q1023")
    with pytest.raises(BackendError) as caught:
        backend.link_set_master(host, "p1023", "br0")
    assert caught.value.errno == errno.EXFULL
    assert backend.link_get(host, "p1023").master is None
